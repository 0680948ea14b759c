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
   * (the machine's own limit for anything that must look at every byte). 'none': absolute figure.
   */
  baseline?: 'read' | 'none';
  /** The file the case reads, for the 'read' baseline. */
  file?(): string;
  /** A time the case must stay under, in ms, printed beside the figure. */
  budgetMs?: number;
  teardown?(): Promise<void>;
}
