// `npm run bench`: the checkpointer against the machine's limits (machine.ts), printed as a table
// and written as JSON:
//   npm run bench [-- --sizes 1M,64M,256M,1G] [--kinds random,heap] [--runs 5] [--json FILE] [--no-peers] [--no-inspect]
//   npm run bench -- --ci      16 MiB, one run, no peers: for correctness (CI, `npm test`)
//   npm run bench -- --cases [name-filter]
// --cases runs the finer cases of test/bench/*.bench.ts instead (decoder, diff, search, CRIU
// folders, freeze with and without snapshot): each the median of 5 runs after a warm-up, with a
// ratio against the machine's own limit measured right beside it, or against a peer (another way
// to do the same work) run alternately with it.

import fs from 'fs';
import os from 'os';
import path from 'path';
import { BenchCase, BenchResult } from './benchCase';
import { runMachine, table } from './machine';

const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The machine's limit: read `bytes` of `file` in order, 128 KiB synchronous reads (see src/image/byteSource.ts). */
function readBaseline(file: string, bytes: number): BenchResult {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafeSlow(128 * 1024);
  const t0 = performance.now();
  let done = 0;
  try {
    const size = Math.min(bytes, fs.fstatSync(fd).size);
    while (done < size) done += fs.readSync(fd, buf, 0, Math.min(buf.length, size - done), done);
  } finally {
    fs.closeSync(fd);
  }
  return { bytes: done, ms: performance.now() - t0 };
}

/** The machine's limit for storing: write `bytes` to a new file beside `file` in 4 MiB writes, fsync, remove it. */
function writeBaseline(file: string, bytes: number): BenchResult {
  const scratch = path.join(path.dirname(file), `.write-baseline-${process.pid}`);
  const buf = Buffer.alloc(4 << 20);
  for (let i = 0; i < buf.length; i += 8) buf.writeUInt32LE((i * 2654435761) >>> 0, i);
  const fd = fs.openSync(scratch, 'w', 0o600);
  const t0 = performance.now();
  let done = 0;
  try {
    while (done < bytes) done += fs.writeSync(fd, buf, 0, Math.min(buf.length, bytes - done), done);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(scratch, { force: true });
  }
  return { bytes: done, ms: performance.now() - t0 };
}

const gbps = (r: BenchResult) => (r.bytes ?? 0) / r.ms / 1e6;

async function measure(c: BenchCase): Promise<string> {
  await c.run(); // warm-up: page cache, JIT
  await c.peer?.run();
  const runs: BenchResult[] = [];
  const base: BenchResult[] = [];
  const peer: BenchResult[] = [];
  for (let i = 0; i < RUNS; i++) {
    // With a peer, each goes first in every other round, so that neither always runs on the other's heels.
    if (c.peer && i % 2 === 1) peer.push(await c.peer.run());
    runs.push(await c.run());
    if (c.peer && i % 2 === 0) peer.push(await c.peer.run());
    if (c.baseline === 'read' && c.file) base.push(readBaseline(c.file(), runs[i].bytes ?? Infinity));
    if (c.baseline === 'write' && c.file && runs[i].bytes) base.push(writeBaseline(c.file(), runs[i].bytes!));
  }
  const ms = median(runs.map((r) => r.ms));
  const bytes = runs[0].bytes;
  let line = `${c.name.padEnd(56)} ${ms.toFixed(1).padStart(8)} ms`;
  if (bytes) line += `  ${(bytes / ms / 1e6).toFixed(2).padStart(6)} GB/s`;
  if (base.length) {
    const b = median(base.map(gbps));
    line += `  | ${c.baseline} limit ${b.toFixed(2)} GB/s, ratio ${(bytes! / ms / 1e6 / b).toFixed(2)}`;
  }
  if (peer.length) {
    const p = median(peer.map((r) => r.ms));
    line += `  | ${c.peer!.name} ${p.toFixed(1)} ms`;
    if (peer[0].bytes) line += ` ${(peer[0].bytes / p / 1e6).toFixed(2)} GB/s`;
    line += `, ours/theirs time ${(ms / p).toFixed(2)}`;
  }
  if (c.budgetMs !== undefined) line += `  | budget ${c.budgetMs} ms: ${ms <= c.budgetMs ? 'within' : 'OVER'}`;
  return line;
}

async function cases(filter: string | undefined): Promise<void> {
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort();
  console.log(`ckpt-explorer bench: node ${process.version}, ${os.cpus().length} CPUs, median of ${RUNS} runs`);
  let over = false;
  for (const f of files) {
    const mod = (await import(path.join(__dirname, f))) as { cases: BenchCase[]; cleanup?: () => Promise<void> };
    try {
      for (const c of mod.cases) {
        if (filter && !c.name.includes(filter)) continue;
        try {
          await c.setup?.();
          const line = await measure(c);
          over ||= line.endsWith('OVER');
          console.log(line);
        } finally {
          await c.teardown?.();
        }
      }
    } finally {
      await mod.cleanup?.();
    }
  }
  if (over) process.exitCode = 1;
}

function parseSize(s: string): number {
  const m = /^(\d+)([MG])i?B?$/i.exec(s.trim());
  if (!m) throw new Error(`a size is like 16M or 1G, not ${s}`);
  return Number(m[1]) * (m[2].toUpperCase() === 'G' ? 1024 : 1);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (args.includes('--cases')) return cases(value('--cases'));
  const ci = args.includes('--ci');
  const sizes = (value('--sizes') ?? (ci ? '16M' : '1M,64M,256M,1G')).split(',').map(parseSize);
  const kinds = (value('--kinds') ?? 'random,heap').split(',') as ('random' | 'heap')[];
  if (kinds.some((k) => k !== 'random' && k !== 'heap')) throw new Error('--kinds: random, heap');
  const runs = Number(value('--runs') ?? (ci ? 1 : 5));
  if (!(runs >= 1)) throw new Error('--runs: 1 or more');
  const json = value('--json') ?? path.join(__dirname, '..', '..', 'build', 'bench', 'results.json');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-bench-'));
  console.log(`ckpt bench: sizes ${sizes.map((m) => `${m} MiB`).join(', ')}; ${kinds.join(', ')} memory; median of ${runs} run${runs > 1 ? 's' : ''}`);
  try {
    const { rows, env } = await runMachine({
      sizesMiB: sizes,
      kinds,
      runs,
      peers: !ci && !args.includes('--no-peers'),
      inspect: !ci && !args.includes('--no-inspect'),
      dir,
      log: (line) => console.log(line),
    });
    console.log(`\n${env.cpus}, ${env.memory}, Linux ${env.kernel}, ${env.filesystem}; load average at the end ${env.loadavg}\n`);
    console.log(table(rows));
    fs.mkdirSync(path.dirname(json), { recursive: true });
    fs.writeFileSync(json, JSON.stringify({ env, rows }, null, 2));
    console.log(`\nwritten: ${json}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 2;
});
