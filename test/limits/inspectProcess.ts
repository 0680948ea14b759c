// ckpt-inspect as the bundle a user runs (dist/ckpt-inspect.js), in a process of its own, with
// what it took: wall time, peak resident memory, output size, exit code; optionally under a
// limit on address space (`ulimit -v`, through a shell: a test harness may; the product never
// spawns through one).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BUNDLE = path.resolve(__dirname, '..', '..', 'dist', 'ckpt-inspect.js');
const REPORT = path.join(__dirname, 'reportUsage.js');

export interface InspectProcess {
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  /** Peak resident set in MiB, as the process itself measured it at exit. */
  rssMiB: number;
  outBytes: number;
  /** The first 64 KiB of standard output, and all of standard error. */
  out: string;
  err: string;
  timedOut: boolean;
}

export async function inspectProcess(args: string[], opts: { timeoutMs: number; addressSpaceKiB?: number }): Promise<InspectProcess> {
  const usage = path.join(os.tmpdir(), `ckpt-usage-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  const node = [process.execPath, '--require', REPORT, BUNDLE, ...args];
  const [cmd, ...argv] = opts.addressSpaceKiB ? ['sh', '-c', `ulimit -v ${opts.addressSpaceKiB} && exec "$@"`, 'sh', ...node] : node;
  const t0 = performance.now();
  const child = spawn(cmd, argv, { env: { ...process.env, CKPT_USAGE_FILE: usage }, stdio: ['ignore', 'pipe', 'pipe'] });
  let outBytes = 0,
    out = '',
    err = '',
    timedOut = false;
  child.stdout.on('data', (d: Buffer) => {
    outBytes += d.length;
    if (out.length < 65536) out += d.toString('utf8');
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  const ms = performance.now() - t0;
  let rssMiB = NaN;
  try {
    rssMiB = JSON.parse(fs.readFileSync(usage, 'utf8')).maxRssKiB / 1024;
    fs.rmSync(usage);
  } catch {
    /* killed before it could say */
  }
  return { args, code, signal, ms, rssMiB, outBytes, out, err, timedOut };
}
