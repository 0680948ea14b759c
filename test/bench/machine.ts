// The checkpointer against the machine's own limits (issue 12), as one table: for each size and
// kind of memory, dump, freeze, restore and image size, each the median of alternating runs,
// beside the limits measured in the same runs by the bench's own C helper (test/bench/native):
// a raw process_vm_readv copy of the same memory into a reused buffer, reading the image into
// freshly mapped memory, and writing as many bytes plus fsync. Every restored process checks its
// own memory (memtarget.c) before its time counts. gcore (and CRIU, where installed) are timed
// in the same runs as peers; `--lazy` and `--compress` rows appear once the binary has them.

import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const CKPT = process.env.CKPT_BIN ? path.resolve(process.env.CKPT_BIN) : path.join(ROOT, 'dist', 'bin', 'ckpt');
const INSPECT = path.join(ROOT, 'dist', 'ckpt-inspect.js');
const HELPERS_SRC = path.join(__dirname, 'native');
const HELPERS_BIN = path.join(ROOT, 'build', 'bench');

export interface MachineOptions {
  sizesMiB: number[];
  kinds: ('random' | 'heap')[];
  runs: number;
  /** gcore and criu as peers (when installed). */
  peers: boolean;
  /** ckpt-inspect open, diff and search on the largest random image. */
  inspect: boolean;
  dir: string;
  log: (line: string) => void;
}

/** One figure: every run's value (ms, or a ratio), and their median. */
export interface Figure {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export interface Row {
  size: string;
  kind: string;
  what: string;
  ckpt?: Figure;
  /** ckpt's CPU time (user + system, its worker and threads included): what load does not inflate. */
  cpu?: Figure;
  limit?: Figure;
  limitName?: string;
  /** ckpt's median over the limit's median. */
  ratio?: number;
  note?: string;
}

function figure(runs: number[]): Figure | undefined {
  if (!runs.length) return undefined;
  const s = [...runs].sort((a, b) => a - b);
  return { median: s[Math.floor((s.length - 1) / 2)], min: s[0], max: s[s.length - 1], runs };
}

function helpers(): { memtarget: string; limits: string } {
  fs.mkdirSync(HELPERS_BIN, { recursive: true });
  const out = { memtarget: path.join(HELPERS_BIN, 'memtarget'), limits: path.join(HELPERS_BIN, 'limits') };
  for (const [name, bin] of Object.entries(out)) {
    const src = path.join(HELPERS_SRC, `${name}.c`);
    if (fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= fs.statSync(src).mtimeMs) continue;
    const r = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-pthread', '-o', bin, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot build ${name}: ${r.error?.message ?? r.stderr}`);
  }
  return out;
}

/** Whether the binary's usage line offers `flag` for `command` (dump or restore). */
function offers(command: string, flag: string): boolean {
  const r = spawnSync(CKPT, [command, '--help'], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.includes(flag);
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFile(file: string, what: string, timeoutMs = 120_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    try {
      const s = fs.readFileSync(file, 'utf8');
      if (s.endsWith('\n')) return s.trim();
    } catch {
      /* not yet */
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface Target {
  pid: number;
  addr: string;
  len: number;
  report: string;
  child?: ChildProcess;
}

let tools: { memtarget: string; limits: string };

/** Runs `argv` under `limits time`: its wall time without node's spawn costs, and its CPU time. */
function timed(argv: string[], what: string): { ms: number; cpuMs: number; stdout: string; stderr: string } {
  const r = spawnSync(tools.limits, ['time', ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const m = /^time (\d+) (\d+) (\d+)$/m.exec(r.stderr);
  if (!m) throw new Error(`${what}: no time (${r.error?.message ?? r.stderr})`);
  if (m[2] !== '0') throw new Error(`${what} failed (exit ${m[2]}): ${r.stderr.replace(/^time .*$/m, '').trim()}`);
  return { ms: Number(m[1]) / 1e6, cpuMs: Number(m[3]) / 1e6, stdout: r.stdout, stderr: r.stderr };
}

function limit(args: string[]): number[] {
  const r = spawnSync(tools.limits, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`limits ${args[0]} failed: ${r.stderr}`);
  return r.stdout
    .trim()
    .split(/\s+/)
    .map((x) => Number(x) / 1e6);
}

async function startTarget(dir: string, mib: number, kind: string, probe: boolean): Promise<Target> {
  const report = path.join(dir, `report-${mib}-${kind}`);
  fs.rmSync(report, { force: true });
  const child = spawn(tools.memtarget, [String(mib), kind, report, ...(probe ? ['probe'] : [])], { stdio: 'ignore', detached: true });
  const [addr, len] = (await waitFile(report, `memtarget ${mib} MiB`)).split(' ');
  return { pid: child.pid!, addr, len: Number(len), report, child };
}

/** The target's answer to a signal: "ok" after SIGUSR2 (its memory checked), "gap US" after SIGUSR1. */
async function ask(t: Target, sig: 'SIGUSR1' | 'SIGUSR2'): Promise<string> {
  fs.rmSync(t.report, { force: true });
  process.kill(t.pid, sig);
  return waitFile(t.report, `process ${t.pid} to answer ${sig}`);
}

async function verify(t: Target, what: string): Promise<void> {
  const a = await ask(t, 'SIGUSR2');
  if (a !== 'ok') throw new Error(`${what}: the restored process found its memory wrong (${a})`);
}

function kill(t: Target): void {
  if (!(t.pid > 0)) return; // never -1 or 0: those signal every process, or the group
  try {
    process.kill(t.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** A restore of `image`, timed; the new process checks its memory, and is killed unless `keep`. */
async function restore(t0: Target, image: string, extra: string[], what: string, keep = false): Promise<{ ms: number; cpuMs: number; t: Target }> {
  fs.rmSync(t0.report, { force: true });
  const r = timed([CKPT, 'restore', image, '--stdio=null', ...extra], what);
  const t: Target = { ...t0, pid: Number(r.stdout.trim()), child: undefined };
  if (!(t.pid > 0)) throw new Error(`${what}: no pid (${r.stdout})`);
  let ok = false;
  try {
    await verify(t, what);
    ok = true;
  } finally {
    if (!keep || !ok) kill(t);
  }
  return { ms: r.ms, cpuMs: r.cpuMs, t };
}

function fmtMs(f?: Figure): string {
  if (!f) return 'n/a';
  const v = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  return f.runs.length > 1 ? `${v(f.median)} (${v(f.min)}-${v(f.max)})` : v(f.median);
}

export function table(rows: Row[]): string {
  const head = ['size', 'memory', 'what', 'ckpt ms (min-max)', 'ckpt CPU ms', 'limit', 'limit ms (min-max)', 'ratio'];
  const body = rows.map((r) => [
    r.size,
    r.kind,
    r.what,
    r.note !== undefined && !r.ckpt ? r.note : fmtMs(r.ckpt),
    r.cpu ? fmtMs({ ...r.cpu, runs: [r.cpu.median] }) : '',
    r.limitName ?? '',
    r.limit ? fmtMs(r.limit) : '',
    r.ratio !== undefined ? r.ratio.toFixed(2) : '',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

const sizeName = (mib: number) => (mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`);

export async function runMachine(o: MachineOptions): Promise<{ rows: Row[]; env: Record<string, unknown> }> {
  if (!fs.existsSync(CKPT)) throw new Error(`${CKPT} is missing: npm run build:native`);
  tools = helpers();
  const lazy = offers('restore', '--lazy');
  const compress = offers('dump', '--compress');
  const gcore = o.peers ? which('gcore') : undefined;
  const criu = o.peers ? which('criu') : undefined;
  const rows: Row[] = [];
  const add = (r: Row) => {
    if (r.ckpt && r.limit) r.ratio = r.ckpt.median / r.limit.median;
    rows.push(r);
    o.log(table([r]).split('\n')[2]);
  };
  let largest: { kill: string; live: string } | undefined;
  const biggest = Math.max(...o.sizesMiB);
  for (const mib of o.sizesMiB) {
    for (const kind of o.kinds) {
      const size = sizeName(mib);
      const f: Record<string, number[]> = {};
      const put = (k: string, v: number) => (f[k] ??= []).push(v);
      const sizes: Record<string, number> = {};
      for (let run = 0; run < o.runs; run++) {
        const kill_ = path.join(o.dir, `kill-${mib}-${kind}.ckpt`);
        const live = path.join(o.dir, `live-${mib}-${kind}.ckpt`);
        for (const p of [kill_, live]) fs.rmSync(p, { force: true });
        const t = await startTarget(o.dir, mib, kind, true);
        let alive = true;
        try {
          // the raw copy of the same memory, then ckpt's leave-running dump (its freeze, both views)
          put('copy', limit(['copy', String(t.pid), t.addr, String(t.len)])[0]);
          await ask(t, 'SIGUSR1'); // a fresh gap: only the dump's
          const d = timed([CKPT, 'dump', String(t.pid), '-o', live, '--leave-running', '--progress=json'], 'dump --leave-running');
          const ev = d.stdout
            .split('\n')
            .filter((l) => l.includes('"event":"frozen"'))
            .map((l) => JSON.parse(l) as { ms: number });
          if (ev.length !== 1) throw new Error(`expected one frozen event: ${d.stdout}`);
          put('live', d.ms);
          put('liveCpu', d.cpuMs);
          put('frozenCkpt', ev[0].ms);
          put('frozenTarget', Number((await ask(t, 'SIGUSR1')).split(' ')[1]) / 1000);
          if (compress) {
            const z = path.join(o.dir, `z-${mib}-${kind}.ckpt`);
            const dz = timed([CKPT, 'dump', String(t.pid), '-o', z, '--leave-running', '--no-fsync', '--compress'], 'dump --compress');
            put('compress', dz.ms);
            put('compressCpu', dz.cpuMs);
            sizes.compressed = fs.statSync(z).size;
            fs.rmSync(z);
          }
          if (gcore) {
            const core = path.join(o.dir, `core-${mib}-${kind}`);
            put('gcore', timed([gcore, '-o', core, String(t.pid)], 'gcore').ms);
            fs.rmSync(`${core}.${t.pid}`, { force: true });
          }
          // dump --kill, durable; then the write+fsync limit for as many bytes
          const k = timed([CKPT, 'dump', String(t.pid), '-o', kill_, '--kill'], 'dump --kill');
          put('kill', k.ms);
          put('killCpu', k.cpuMs);
          alive = false;
          sizes.image = fs.statSync(kill_).size;
          const [w, s] = limit(['write', path.join(o.dir, '.write-limit'), String(sizes.image)]);
          put('write', w);
          put('fsync', s);
          put('writeFsync', w + s);
          // and with O_DIRECT, as ckpt writes its pages: the disk's own speed
          const [dw, ds] = limit(['dwrite', path.join(o.dir, '.write-limit'), String(sizes.image)]);
          put('directWrite', dw + ds);
          // reading the image into fresh memory, then restores of it (the image read once before:
          // both from the page cache, whatever the dump left there)
          limit(['read', kill_]);
          put('fresh', limit(['read', kill_])[0]);
          const r = await restore(t, kill_, [], 'restore', true);
          put('restore', r.ms);
          put('restoreCpu', r.cpuMs);
          // the restored process (its memory checked) dumped again, as a scratch image: no disk wait
          const scratch = path.join(o.dir, `scratch-${mib}-${kind}.ckpt`);
          const ks = timed([CKPT, 'dump', String(r.t.pid), '-o', scratch, '--kill', '--no-fsync'], 'dump --kill --no-fsync');
          put('scratch', ks.ms);
          put('scratchCpu', ks.cpuMs);
          fs.rmSync(scratch);
          if (lazy) {
            put('freshLazy', limit(['read', kill_])[0]);
            put('lazy', (await restore(t, kill_, ['--lazy'], 'restore --lazy')).ms);
          }
          if (criu) {
            /* CRIU needs a process of its own: not timed here yet (no criu on this machine) */
          }
        } finally {
          if (alive) kill(t);
        }
        if (mib === biggest && kind === o.kinds[0] && run === o.runs - 1 && o.inspect) largest = { kill: kill_, live };
        else for (const p of [kill_, live]) fs.rmSync(p, { force: true });
      }
      const F = (k: string) => figure(f[k] ?? []);
      const touched = mib * 1024 * 1024;
      add({ size, kind, what: 'dump --kill (durable), wall', ckpt: F('kill'), cpu: F('killCpu'), limit: F('copy'), limitName: 'raw copy' });
      add({ size, kind, what: 'dump --kill: the disk limit', ckpt: F('kill'), limit: F('writeFsync'), limitName: 'write+fsync' });
      add({ size, kind, what: 'dump --kill: the disk, O_DIRECT', ckpt: F('kill'), limit: F('directWrite'), limitName: 'direct write+fsync' });
      add({ size, kind, what: 'dump --kill --no-fsync, wall', ckpt: F('scratch'), cpu: F('scratchCpu'), limit: F('copy'), limitName: 'raw copy' });
      add({ size, kind, what: '  of which fsync (the disk)', limit: F('fsync'), limitName: 'fsync alone', note: '' });
      add({ size, kind, what: 'dump --leave-running, wall', ckpt: F('live'), cpu: F('liveCpu'), limit: F('copy'), limitName: 'raw copy' });
      add({ size, kind, what: 'freeze, seen by ckpt', ckpt: F('frozenCkpt') });
      add({ size, kind, what: 'freeze, seen by the target', ckpt: F('frozenTarget') });
      add({ size, kind, what: 'restore, wall (memory checked)', ckpt: F('restore'), cpu: F('restoreCpu'), limit: F('fresh'), limitName: 'fresh read' });
      add(
        lazy
          ? { size, kind, what: 'restore --lazy, wall', ckpt: F('lazy'), limit: F('freshLazy'), limitName: 'fresh read' }
          : { size, kind, what: 'restore --lazy, wall', note: 'n/a (not in this ckpt)' },
      );
      add({ size, kind, what: 'image size / touched memory', note: (sizes.image / touched).toFixed(3) });
      if (compress) {
        // the bar: 3 times smaller at 0.8 GB/s; the speed is of the touched memory, in wall time
        const gbs = touched / F('compress')!.median / 1e6;
        add({ size, kind, what: 'dump --compress --no-fsync, wall', ckpt: F('compress'), cpu: F('compressCpu'), limit: F('copy'), limitName: 'raw copy' });
        add({ size, kind, what: 'image size / touched, --compress', note: `${(sizes.compressed / touched).toFixed(3)} at ${gbs.toFixed(2)} GB/s` });
      } else add({ size, kind, what: 'image size / touched, --compress', note: 'n/a (not in this ckpt)' });
      if (gcore) add({ size, kind, what: 'peer: gcore, wall', ckpt: F('gcore'), limit: F('copy'), limitName: 'raw copy' });
      if (o.peers) add({ size, kind, what: 'peer: criu dump', note: criu ? 'installed, not timed yet' : 'n/a (not installed)' });
    }
  }
  if (largest) {
    const f: Record<string, number[]> = {};
    const put = (k: string, v: number) => (f[k] ??= []).push(v);
    const inspect = (args: string[], codes: number[], what: string) => {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [INSPECT, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
      const ms = performance.now() - t0;
      if (!codes.includes(r.status ?? -1)) throw new Error(`ckpt-inspect ${what} failed (${r.status}): ${r.stderr}`);
      return ms;
    };
    for (let run = 0; run < o.runs; run++) {
      put('fresh', limit(['read', largest.kill])[0]);
      put('open', inspect(['show', largest.kill], [0], 'show'));
      put('diff', inspect(['diff', largest.kill, largest.live], [0, 1], 'diff'));
      put('search', inspect(['search', largest.kill, 'no such text: 5f0c1e2d'], [1], 'search'));
    }
    const size = sizeName(biggest);
    const F = (k: string) => figure(f[k] ?? []);
    add({ size, kind: o.kinds[0], what: 'ckpt-inspect show (open)', ckpt: F('open') });
    add({ size, kind: o.kinds[0], what: 'ckpt-inspect diff (two dumps)', ckpt: F('diff') });
    add({ size, kind: o.kinds[0], what: 'ckpt-inspect search (no match)', ckpt: F('search'), limit: F('fresh'), limitName: 'fresh read' });
    for (const p of Object.values(largest)) fs.rmSync(p, { force: true });
  }
  const env = {
    date: new Date().toISOString(),
    kernel: os.release(),
    cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    loadavg: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    filesystem: spawnSync('df', ['-T', o.dir], { encoding: 'utf8' }).stdout.trim().split('\n').pop(),
    runs: o.runs,
    lazy,
    compress,
    peers: { gcore: gcore ?? null, criu: criu ?? null },
  };
  return { rows, env };
}
