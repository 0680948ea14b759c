// `npm run bench`: every case of every test/bench/*.bench.ts, median of 5 runs after a warm-up,
// printed with a ratio against the machine's own limit measured right beside it (sequential
// reading of the same bytes from the page cache, or writing as many to a new file), so that the
// figures mean something on any machine. Usage: npm run bench [-- name-filter]

import fs from 'fs';
import os from 'os';
import path from 'path';
import { BenchCase, BenchResult } from './benchCase';

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
  for (let i = 0; i < buf.length; i += 8) buf.writeUInt32LE(i * 2654435761 >>> 0, i);
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
  const runs: BenchResult[] = [];
  const base: BenchResult[] = [];
  for (let i = 0; i < RUNS; i++) {
    runs.push(await c.run());
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
  if (c.budgetMs !== undefined) line += `  | budget ${c.budgetMs} ms: ${ms <= c.budgetMs ? 'within' : 'OVER'}`;
  return line;
}

async function main(): Promise<void> {
  const filter = process.argv[2];
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.bench.ts')).sort();
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

main().catch((e) => {
  console.error(e);
  process.exitCode = 2;
});
