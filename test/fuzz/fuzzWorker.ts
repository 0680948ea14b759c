// The fuzzer's worker: runs every ckpt-inspect command, in process, on one mutant at a time and
// says how each ended. It runs on a thread of its own with a heap limit, so that a command that
// loops is ended by the driver's timeout and one that allocates without bound by the limit,
// each as a failure of its own instead of a stuck or dead test run.

import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { main } from '../../src/cli/ckptInspect';
import { Output } from '../../src/cli/output';
import { CkptCheckpoint } from '../../src/checkpoint';
import { ThreadStacks } from '../../src/checkpoint/threadStacks';
import { CheckpointImage, ImageError } from '../../src/image';
import { ElfModules } from '../../src/image/stacks';

export interface FuzzJob {
  id: number;
  /** The base image's name (its file is written once) and the mutant's bytes. */
  base: string;
  bytes: Uint8Array;
  /** An address to read with `pages`, from the base image. */
  addr: string;
}

export interface CommandResult {
  args: string[];
  code: number;
  ms: number;
  outBytes: number;
  /** What the command wrote on standard error. */
  err: string;
  /** An exception main() did not turn into an exit code. */
  thrown?: string;
}

export interface FuzzReply {
  id: number;
  results: CommandResult[];
  /** A library call that threw something other than an ImageError. */
  library?: string;
}

/** A folder of the driver's, which it removes. */
const dir = workerData.dir as string;
const baseFiles = new Map<string, string>();
for (const [name, bytes] of Object.entries(workerData.bases as Record<string, Uint8Array>)) {
  const file = path.join(dir, `${name}.ckpt`);
  fs.writeFileSync(file, bytes);
  baseFiles.set(name, file);
}
const mutantFile = path.join(dir, 'mutant.ckpt');

/** Output that counts what it is given and keeps standard error. */
class CountingOutput extends Output {
  outBytes = 0;
  err = '';
  constructor() {
    super(
      (s) => void (this.outBytes += s.length),
      (s) => void (this.err += s),
    );
  }
}

async function run(args: string[]): Promise<CommandResult> {
  const out = new CountingOutput();
  const t0 = performance.now();
  let code = -1;
  let thrown: string | undefined;
  try {
    code = await main(args, out);
  } catch (e) {
    thrown = (e as Error)?.stack ?? String(e);
  }
  return { args, code, ms: performance.now() - t0, outBytes: out.outBytes, err: out.err, thrown };
}

/** The files the mutants' threads mapped (libc, the target), opened once for every mutant. */
const modules = new ElfModules();

/** Memory reads at the mutant's own VMA and segment boundaries, and backtraces of its threads (garbage registers and stacks), through the library. */
async function readMemory(bytes: Uint8Array): Promise<string | undefined> {
  let img: CheckpointImage;
  try {
    img = await CheckpointImage.open(bytes);
  } catch (e) {
    return e instanceof ImageError ? undefined : (e as Error).stack;
  }
  try {
    for (const proc of img.processes().slice(0, 4)) {
      const mem = await img.memory(proc);
      const starts = [...mem.vmas.slice(0, 16).map((v) => v.start), ...mem.segments.slice(0, 16).map((s) => s.end - 1n)];
      for (const a of starts) if (a >= 0n && a + 8192n <= 1n << 64n) await mem.read(a, 8192);
    }
    const cp = new CkptCheckpoint(img);
    const stacks = new ThreadStacks(cp, modules);
    for (const p of (await cp.processes()).slice(0, 4)) for (const t of p.threads.slice(0, 8)) await stacks.backtrace(p.record, t.tid);
    return undefined;
  } catch (e) {
    return e instanceof ImageError ? undefined : (e as Error).stack;
  } finally {
    await img.close();
  }
}

// eslint-disable-next-line @typescript-eslint/no-misused-promises -- one job at a time; a rejection ends the worker, which the fuzzer reports
parentPort!.on('message', async (job: FuzzJob) => {
  fs.writeFileSync(mutantFile, job.bytes);
  const M = mutantFile,
    B = baseFiles.get(job.base)!;
  const commands = [
    ['show', M],
    ['show', '-v', M],
    ['json', M],
    ['verify', M],
    ['verify', '--format=json', M],
    ['pages', M, '--addr', job.addr, '--len', '8192'],
    ['search', M, 'ckpt', '--max', '20'],
    ['search', M, '--hex', '00 ?? 41', '--max', '20', '--format=json'],
    ['diff', B, M],
    ['diff', M, B, '--format=json', '--bytes'],
  ];
  const results: CommandResult[] = [];
  for (const args of commands) results.push(await run(args));
  const reply: FuzzReply = { id: job.id, results, library: await readMemory(job.bytes) };
  parentPort!.postMessage(reply);
});
