// The fuzzer of the TypeScript decoder and ckpt-inspect: fast-check makes mutants of real and
// synthetic images (test/support/mutate.ts, resealed so that they get past the checksums), and
// every ckpt-inspect command runs on each in a worker thread (fuzzWorker.ts). Each must end
// with its documented exit code (0, 1 or 2) and, for an error, one line naming the file;
// never an internal error, an exception, a hang (the worker is stopped after WORKER_TIMEOUT),
// unbounded allocation (the worker's heap is limited), or time or output out of proportion
// to the mutant's size. Library memory reads must throw nothing but ImageError.

import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Worker } from 'node:worker_threads';
import { applyMutant, FuzzBase, Mutant, mutantArb, mutantJson } from '../support/mutate';
import type { CommandResult, FuzzJob, FuzzReply } from './fuzzWorker';

/** A command set that takes longer than this on one mutant is a hang. */
const WORKER_TIMEOUT = 60_000;
/** The worker's heap: far more than any mutant here needs (they are at most a few hundred KiB). */
const WORKER_HEAP_MB = 768;

/** Time allowed for all commands on a mutant of `bytes` bytes: generous, for a loaded machine. */
export const timeBudget = (bytes: number) => 10_000 + bytes / 20;
/** Output allowed per command: linear in the input. */
export const outputBudget = (bytes: number) => 1_000_000 + 200 * bytes;

export interface Verdict {
  ok: boolean;
  /** Why not, for the failure message. */
  why?: string;
}

/** The worker, restarted after a timeout or a crash. */
export class FuzzRunner {
  private worker?: Worker;
  private nextId = 1;
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-fuzz-'));

  constructor(private readonly bases: FuzzBase[]) {}

  private start(): Worker {
    const bases = Object.fromEntries(this.bases.map((b) => [b.name, b.bytes]));
    const w = new Worker(path.join(__dirname, 'fuzzWorker.ts'), {
      execArgv: ['--require', require.resolve('tsx/cjs')],
      workerData: { bases, dir: this.dir },
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    w.unref();
    return w;
  }

  /** Run every command on `bytes` (a mutant of `base`) and judge how they ended. */
  async check(base: FuzzBase, bytes: Uint8Array, addr: bigint): Promise<Verdict> {
    const w = (this.worker ??= this.start());
    const job: FuzzJob = { id: this.nextId++, base: base.name, bytes, addr: `0x${addr.toString(16)}` };
    const t0 = performance.now();
    const reply = await new Promise<FuzzReply | Error>((resolve) => {
      const timer = setTimeout(() => resolve(new Error(`no answer within ${WORKER_TIMEOUT} ms: a command hangs`)), WORKER_TIMEOUT);
      const done = (x: FuzzReply | Error) => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        resolve(x);
      };
      const onMessage = (m: FuzzReply) => m.id === job.id && done(m);
      const onError = (e: Error) => done(new Error(`the worker died: ${e.message}`));
      const onExit = (code: number) => done(new Error(`the worker exited (${code})`));
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.postMessage(job);
    });
    if (reply instanceof Error) {
      await this.stop();
      return { ok: false, why: reply.message };
    }
    const ms = performance.now() - t0;
    if (reply.library) return { ok: false, why: `a memory read threw: ${reply.library}` };
    for (const r of reply.results) {
      const why = judge(r, bytes.length);
      if (why) return { ok: false, why: `ckpt-inspect ${r.args.join(' ')}: ${why}` };
    }
    if (ms > timeBudget(bytes.length)) return { ok: false, why: `the commands took ${Math.round(ms)} ms on ${bytes.length} bytes` };
    return { ok: true };
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function judge(r: CommandResult, size: number): string | undefined {
  if (r.thrown) return `threw ${r.thrown}`;
  if (![0, 1, 2].includes(r.code)) return `exit code ${r.code}`;
  if (/internal error/.test(r.err)) return r.err.trim();
  if (/\n\s+at /.test(r.err)) return `a stack trace: ${r.err}`;
  const lines = r.err.split('\n').filter(Boolean);
  // diff names each record it left out on a line of its own; every other error is one line.
  if (r.args[0] !== 'diff' && lines.length > 1) return `${lines.length} lines on standard error: ${r.err}`;
  if (r.code === 2 && lines.length === 0) return 'exit 2 without a message';
  if (r.outBytes > outputBudget(size)) return `${r.outBytes} bytes of output for ${size} bytes of image`;
  return undefined;
}

export interface FuzzOptions {
  seed: number;
  /** Stop after this long (ms), or after numRuns mutants, whichever comes first. */
  timeLimit: number;
  numRuns?: number;
  /** Called with a failing mutant, once fast-check has shrunk it. */
  onFailure?: (base: FuzzBase, mutant: Mutant, bytes: Uint8Array, why: string) => void;
}

export interface FuzzReport {
  seed: number;
  executions: number;
  /** Mutants per base image. */
  perBase: Record<string, number>;
  failed: boolean;
  counterexample?: string;
  ms: number;
}

/** Fuzz for a while over all bases, one fast-check run. */
export async function fuzz(runner: FuzzRunner, bases: FuzzBase[], opts: FuzzOptions): Promise<FuzzReport> {
  const t0 = performance.now();
  const perBase: Record<string, number> = {};
  let lastWhy = '';
  const arb = fc.integer({ min: 0, max: bases.length - 1 }).chain((b) => fc.tuple(fc.constant(b), mutantArb(bases[b]), fc.nat()));
  const details = await fc.check(
    fc.asyncProperty(arb, async ([b, mutant, n]) => {
      const base = bases[b];
      perBase[base.name] = (perBase[base.name] ?? 0) + 1;
      const bytes = applyMutant(base, mutant);
      const v = await runner.check(base, bytes, base.addresses[n % base.addresses.length]);
      if (!v.ok) lastWhy = v.why!;
      return v.ok;
    }),
    { seed: opts.seed, numRuns: opts.numRuns ?? 1_000_000, interruptAfterTimeLimit: opts.timeLimit, markInterruptAsFailure: false, endOnFailure: true },
  );
  let counterexample: string | undefined;
  if (details.failed && details.counterexample) {
    const [b, mutant] = details.counterexample[0];
    const base = bases[b];
    counterexample = `${base.name} ${mutantJson(mutant)}: ${lastWhy}`;
    opts.onFailure?.(base, mutant, applyMutant(base, mutant), lastWhy);
  }
  return { seed: opts.seed, executions: details.numRuns, perBase, failed: details.failed, counterexample, ms: performance.now() - t0 };
}

// ---- the corpus: small regression inputs kept in the repository, each run every time --------

export const CORPUS_DIR = path.join(__dirname, 'ts-corpus');
/** Where a run leaves what it found, to be moved into the corpus once fixed. */
export const FOUND_DIR = path.join(__dirname, '..', '..', 'build', 'fuzz', 'ts-found');

/** The corpus files: gzipped images, each a few KiB at most. */
export function corpusFiles(dir = CORPUS_DIR): string[] {
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.ckpt.gz'))
        .sort()
        .map((f) => path.join(dir, f))
    : [];
}

export function readCorpus(file: string): Uint8Array {
  return new Uint8Array(zlib.gunzipSync(fs.readFileSync(file)));
}

/** Save an input as NAME.ckpt.gz (a failure into FOUND_DIR; into the corpus once fixed); returns its path. */
export function saveInput(bytes: Uint8Array, name: string, dir = FOUND_DIR): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.ckpt.gz`);
  fs.writeFileSync(file, zlib.gzipSync(bytes, { level: 9 }));
  return file;
}
