// What a benchmark module exports, in a file named `*.bench.ts` here: `cases: BenchCase[]`, and
// optionally `cleanup(): Promise<void>`, called once after its cases (remove big files there).

export interface BenchResult {
  /** Bytes processed, for a throughput figure. */
  bytes?: number;
  ms: number;
}

export interface BenchCase {
  name: string;
  setup?(): Promise<void>;
  run(): Promise<BenchResult>;
  /**
   * 'read': compare with reading the same bytes of `file()` sequentially, measured side by side
   * (the machine's own limit for anything that must look at every byte). 'write': compare with
   * writing as many bytes to a new file beside `file()` and fsyncing it (the limit for anything
   * that must store every byte). 'none': absolute figure.
   */
  baseline?: 'read' | 'write' | 'none';
  /** The file the case reads, or writes, for the baseline. */
  file?(): string;
  /**
   * Another way to do the same work (e.g. a library we could use instead), run alternately with
   * this case, run for run, and printed beside it with the ratio of their medians.
   */
  peer?: { name: string; run(): Promise<BenchResult> };
  /** A time the case must stay under, in ms, printed beside the figure. */
  budgetMs?: number;
  teardown?(): Promise<void>;
}
