// Shared machinery of the native checkpointer tests: the ckpt binary under test (CKPT_BIN),
// the target programs (built from test/native/targets into build/native-test), the identities
// the tests run as (root and an ordinary user, or just the current user), and a Lab that
// remembers every process, directory and mount a test made so that it is all cleaned up even
// when the test fails. Waiting is always polling a condition with a bounded timeout.

import * as assert from 'assert';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CKPT = path.resolve(ROOT, process.env.CKPT_BIN || 'dist/bin/ckpt');
export const ASAN = /asan/.test(CKPT);
const TARGETS_SRC = path.join(__dirname, 'targets');
const TARGETS_BIN = path.join(ROOT, 'build', 'native-test');
export const TEST_USER = 'ckpttest';

/** Exit codes of the CLI contract (src/native/README.md). */
export const EXIT = { ok: 0, fail: 1, usage: 2, noProcess: 3, permission: 4, unsupported: 5, badImage: 6, io: 7, cancelled: 8 };

const TARGETS: Record<string, string[]> = {
  counter: [],
  heaplike: [],
  threads: ['-pthread'],
  selfcheck: ['-pthread'],
  execer: ['-pthread'],
  tracer: [],
  nostack: ['-pthread'],
  blocker: [],
  fds: [],
  reaper: [],
  unsupported: [],
  holder: [],
  family: [],
  clonefiles: [],
  timers: ['-pthread'],
  specialfds: [],
  attrs: ['-pthread'],
  unixsock: [],
  inetsock: [],
  sockserver: [],
  nopath: [],
  perfile: [],
  snapwriter: ['-pthread'],
  // -O0 after the default -O2: a debugger sees every frame and variable as written (issue 15)
  debuggee: ['-O0', '-fno-omit-frame-pointer', '-pthread'],
};

/** Compiles the target programs that are missing or older than their source. */
export function buildTargets(): void {
  if (!fs.existsSync(CKPT)) throw new Error(`${CKPT} does not exist: run "npm run build:native" (or make -C src/native${ASAN ? ' SANITIZE=1' : ''})`);
  fs.mkdirSync(TARGETS_BIN, { recursive: true });
  fs.chmodSync(TARGETS_BIN, 0o755);
  for (const [name, flags] of Object.entries(TARGETS)) {
    const src = path.join(TARGETS_SRC, `${name}.c`);
    const bin = path.join(TARGETS_BIN, name);
    if (fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= fs.statSync(src).mtimeMs) continue;
    const r = spawnSync('gcc', ['-O2', '-g', '-Wall', '-Wextra', '-Werror', ...flags, '-o', bin, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot build ${name}: ${r.error?.message ?? r.stderr}`);
  }
}

/** A target program: built (test/native/targets/NAME.c) or a script used as it is (NAME.py, NAME.js). */
export function target(name: string): string {
  return /\.(py|js)$/.test(name) ? path.join(TARGETS_SRC, name) : path.join(TARGETS_BIN, name);
}

export function targetSource(name: string): string {
  return path.join(TARGETS_SRC, name);
}

export interface Identity {
  name: string;
  uid: number;
  gid: number;
  /** The command line that runs `cmd` as this identity. */
  argv(cmd: string[]): string[];
}

function ensureTestUser(): { uid: number; gid: number } {
  let r = spawnSync('id', ['-u', TEST_USER], { encoding: 'utf8' });
  if (r.status !== 0) {
    const add = spawnSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', TEST_USER], { encoding: 'utf8' });
    // another test process may have created it meanwhile: only a still-missing user is an error
    r = spawnSync('id', ['-u', TEST_USER], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot create the test user ${TEST_USER}: ${add.stderr}`);
  }
  const uid = Number(r.stdout.trim());
  const gid = Number(spawnSync('id', ['-g', TEST_USER], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}

let cachedIdentities: Identity[] | undefined;

/** Root and an ordinary user when the tests run as root; otherwise the current user alone. */
export function identities(): Identity[] {
  if (cachedIdentities) return cachedIdentities;
  const me = os.userInfo();
  if (me.uid !== 0) {
    cachedIdentities = [{ name: `user ${me.username}`, uid: me.uid, gid: me.gid, argv: (c) => c }];
  } else {
    const u = ensureTestUser();
    cachedIdentities = [
      { name: 'root', uid: 0, gid: 0, argv: (c) => c },
      {
        name: `user ${TEST_USER}`,
        uid: u.uid,
        gid: u.gid,
        argv: (c) => ['setpriv', `--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', '--', ...c],
      },
    ];
  }
  return cachedIdentities;
}

const samePid = new Map<number, boolean>();

/** Whether `ckpt check` says restore can give back the original PID (CAP_CHECKPOINT_RESTORE). */
export function samePidPossible(id: Identity): boolean {
  if (!samePid.has(id.uid)) {
    const argv = id.argv([CKPT, 'check', '--format=json']);
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    const c = JSON.parse(r.stdout) as { checks: Array<{ name: string; ok: boolean }> };
    samePid.set(
      id.uid,
      c.checks.some((x) => x.name === 'same_pid' && x.ok),
    );
  }
  return samePid.get(id.uid)!;
}

/** The unprivileged identity (the test user when running as root, else ourselves). */
export function unprivileged(): Identity {
  const ids = identities();
  return ids[ids.length - 1];
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Started {
  child: ChildProcess;
  pid: number;
  out: () => string;
  err: () => string;
  exited: Promise<RunResult>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Deterministic pseudo-random numbers in [0, 1) (print the seed, to replay a failure). */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/** The seed of a test's random choices: CKPT_TEST_SEED replays one. */
export function testSeed(): number {
  return Number(process.env.CKPT_TEST_SEED ?? Date.now() % 100000);
}

/** The JSON lines of `--progress=json` output (a last, partial line is left out). */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  const all = stdout.split('\n');
  all.pop();
  return all.filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The children of a process (/proc/PID/task/PID/children), e.g. the worker of `ckpt dump`. */
export function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * A ckpt that CKPT_TEST_FAULT=stop:... stops: waits for its fault-point event and then for the
 * stop itself (the event comes just before it, and a SIGCONT sent in between would be lost).
 * Resolves with the stopped worker's pid, or 0 when the run ended without reaching the point.
 */
export async function stoppedAtFaultPoint(s: Started, what: string): Promise<number> {
  const ev = await waitFor(`${what}: ckpt to reach its fault point`, () => jsonLines(s.out()).find((e) => e.event === 'fault-point') ?? (s.child.exitCode !== null ? { pid: 0 } : undefined), 30000);
  const pid = Number(ev.pid);
  if (pid) await waitFor(`${what}: ckpt ${pid} to stop`, () => /^[TZX]/.test(procStatus(pid)?.get('State') ?? 'X'), 10000);
  return pid;
}

/** Polls `fn` every 10 ms until it returns something truthy, for at most `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 15000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** /proc/PID/status as a map, or undefined when the process is gone. */
export function procStatus(pid: number): Map<string, string> | undefined {
  try {
    const m = new Map<string, string>();
    for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim());
    }
    return m;
  } catch {
    return undefined;
  }
}

/** The pids of every process (thread group) that matches: its comm, its real uid. */
export function processesWhere(match: { comm?: string; uid?: number }): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStatus(Number(name));
    if (!s) continue;
    if (match.comm !== undefined && s.get('Name') !== match.comm) continue;
    if (match.uid !== undefined && Number(s.get('Uid')?.split(/\s+/)[0]) !== match.uid) continue;
    found.push(Number(name));
  }
  return found;
}

/** Every living descendant of `pid`, by the PPid of each process in /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = Number(procStatus(Number(name))?.get('PPid'));
    if (ppid) children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const found: number[] = [];
  for (let todo = [pid]; todo.length;) {
    const next = children.get(todo.pop()!) ?? [];
    found.push(...next);
    todo.push(...next);
  }
  return found;
}

/** The living processes of a process group (field 5 of /proc/PID/stat). */
export function processGroup(pgid: number): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && !/^[ZX]/.test(f[0])) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Alive: exists and is neither a zombie nor dead. */
export function alive(pid: number): boolean {
  const s = procStatus(pid)?.get('State');
  return s !== undefined && !/^[ZX]/.test(s);
}

export function tracerPid(pid: number): number {
  return Number(procStatus(pid)?.get('TracerPid') ?? 0);
}

/** The syscall a process is blocked in (/proc/PID/syscall), or undefined when it runs. */
export function blockedIn(pid: number): number | undefined {
  try {
    const f = fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').trim().split(' ');
    return f[0] === 'running' ? undefined : Number(f[0]);
  } catch {
    return undefined;
  }
}

/** Complete lines of a text file (a last line without its newline is left out). */
export function lines(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const all = text.split('\n');
  all.pop();
  return all;
}

/** Asserts that values are exactly 0, 1, 2, ...: no gap, no duplicate, nothing out of order. */
export function assertCounting(values: number[], what: string): void {
  assert.ok(values.length > 0, `${what}: no values`);
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== i) {
      const around = values.slice(Math.max(0, i - 3), i + 4).join(', ');
      assert.fail(`${what}: value #${i} is ${values[i]} (a gap or a duplicate): ... ${around} ...`);
    }
  }
}

/**
 * Everything one test starts, made and mounts: cleaned up by `cleanup()` in afterEach, also when
 * the test failed halfway.
 */
export class Lab {
  private readonly children = new Set<ChildProcess>();
  private readonly groups = new Set<ChildProcess>();
  private readonly pids = new Set<number>();
  private readonly dirs: string[] = [];
  private readonly mounts: string[] = [];

  /** A fresh directory owned by `id`. */
  dir(id: Identity, mode = 0o755): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-native-'));
    this.dirs.push(d);
    fs.chownSync(d, id.uid, id.gid);
    fs.chmodSync(d, mode);
    return d;
  }

  mounted(dir: string): void {
    this.mounts.push(dir);
  }

  /** Something else to kill at the end (a restored process). */
  track(pid: number): void {
    this.pids.add(pid);
  }

  /**
   * Starts a command as `id`; stdio other than pipes for our reading is closed. `detached`: in a
   * session and process group of its own (its pid is the group's id), as `timeout` or a closed
   * terminal would kill it.
   */
  start(id: Identity, cmd: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; cleanFds?: boolean; detached?: boolean } = {}): Started {
    const argv = id.argv(opts.cleanFds ? [target('reaper'), '--exec', ...cmd] : cmd);
    const t0 = Date.now();
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      detached: opts.detached,
    });
    this.children.add(child);
    if (opts.detached) this.groups.add(child);
    let out = '',
      err = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
    const exited = new Promise<RunResult>((resolve) => {
      child.on('close', (code, signal) => {
        this.children.delete(child);
        resolve({ code, signal, stdout: out, stderr: err, ms: Date.now() - t0 });
      });
      child.on('error', (e) => {
        err += String(e);
      });
    });
    if (child.pid === undefined) throw new Error(`cannot start ${argv.join(' ')}`);
    return { child, pid: child.pid, out: () => out, err: () => err, exited };
  }

  /** A target program: fds above 2 closed, stdio to /dev/null (by 'ignore' and unread pipes). */
  startTarget(id: Identity, cmd: string[], env?: NodeJS.ProcessEnv): Started {
    return this.start(id, cmd, { cleanFds: true, env });
  }

  async run(id: Identity, cmd: string[], timeoutMs = 60000): Promise<RunResult> {
    const s = this.start(id, cmd);
    const timer = setTimeout(() => s.child.kill('SIGKILL'), timeoutMs);
    const r = await s.exited;
    clearTimeout(timer);
    return r;
  }

  dump(id: Identity, pid: number, image: string, extra: string[] = []): Promise<RunResult> {
    return this.run(id, [CKPT, 'dump', String(pid), '-o', image, ...extra]);
  }

  /**
   * `ckpt restore` under a child subreaper: the restored process is the reaper's to reap. Resolves
   * once ckpt itself exited, with the new pid when it succeeded.
   */
  async restore(
    id: Identity,
    image: string,
    extra: string[] = ['--stdio=null'],
    /** A command that runs ckpt, e.g. prlimit with its options and `--`. */
    via: string[] = [],
    /** How long ckpt may take: a restore that has not ended by then fails the test. */
    timeoutMs = 60000,
  ): Promise<{ code: number; pid?: number; stderr: string; stdout: string; reaperDone: Promise<RunResult> }> {
    const s = this.start(id, [target('reaper'), ...via, CKPT, 'restore', image, ...extra]);
    const code = await waitFor(
      `ckpt restore ${path.basename(image)} to exit`,
      () => {
        const m = /reaper: exit (\d+)/.exec(s.err());
        return m ? { code: Number(m[1]) } : undefined;
      },
      timeoutMs,
    );
    // ckpt's stdout and the reaper's stderr are two pipes: the PID may come after "reaper: exit 0"
    if (code.code === 0) await waitFor('the PID on stdout', () => /^(\d+)\n/.test(s.out()), 5000).catch(() => undefined);
    const stdout = s.out();
    const m = /^(\d+)\n/.exec(stdout);
    const pid = code.code === 0 && m ? Number(m[1]) : undefined;
    if (pid) this.track(pid);
    return { code: code.code, pid, stderr: s.err().replace(/reaper: exit \d+\n/, ''), stdout, reaperDone: s.exited };
  }

  async cleanup(): Promise<void> {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const waits: Promise<unknown>[] = [];
    for (const c of this.children) {
      // what it started first (a ckpt that hangs would outlive its reaper and hold its tracees)
      for (const pid of descendants(c.pid!)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      waits.push(new Promise((r) => c.once('close', r)));
      c.kill('SIGKILL');
      if (this.groups.has(c)) {
        try {
          process.kill(-c.pid!, 'SIGKILL'); // what it started in its group (a dump's worker)
        } catch {
          // the group is gone
        }
      }
    }
    this.groups.clear();
    // reapers exit once the processes they reap are gone; bounded, so a stuck one cannot hang the suite
    await Promise.race([Promise.all(waits), sleep(10000)]);
    for (const m of this.mounts.reverse()) spawnSync('umount', ['-l', m]);
    for (const d of this.dirs) fs.rmSync(d, { recursive: true, force: true });
    this.pids.clear();
    this.mounts.length = 0;
    this.dirs.length = 0;
  }
}

/** One line on stderr, "ckpt: ...". */
export function assertOneErrorLine(stderr: string, pattern: RegExp): void {
  const errs = stderr.split('\n').filter((l) => l.startsWith('ckpt: ') && !l.startsWith('ckpt: warning:'));
  assert.strictEqual(errs.length, 1, `expected one "ckpt: ..." error line, got:\n${stderr}`);
  assert.match(errs[0], pattern);
}

/** The image is absent, and so is any temp file of ckpt's in its directory. */
export function assertNoImage(image: string): void {
  assert.ok(!fs.existsSync(image), `${image} must not exist`);
  const leftovers = fs.readdirSync(path.dirname(image)).filter((n) => n.includes('.tmp-'));
  assert.deepStrictEqual(leftovers, [], 'no temp file may be left behind');
}

/**
 * Asks a self-checking target (timers, specialfds, attrs) to check itself, by creating OUT.go,
 * and waits for its report: its PASS/FAIL lines, and the item names of the PASSes (a PASS line
 * may add detail after the item's name).
 */
export async function selfCheck(out: string, items: string[], what: string): Promise<{ lines: string[]; passed: string[] }> {
  const before = lines(out).filter((l) => l === 'done').length;
  fs.writeFileSync(`${out}.go`, '');
  fs.chmodSync(`${out}.go`, 0o666);
  await waitFor(`${what}: the target to check itself`, () => lines(out).filter((l) => l === 'done').length > before, 20000);
  const all = lines(out);
  let start = all.length - 1;
  while (start > 0 && all[start - 1] !== 'done' && !all[start - 1].startsWith('ready')) start--;
  const mine = all.slice(start, -1).filter((l) => /^(PASS|FAIL) /.test(l));
  const passed = mine.filter((l) => l.startsWith('PASS ')).map((l) => items.find((i) => l === `PASS ${i}` || l.startsWith(`PASS ${i} `)) ?? l);
  return { lines: mine, passed };
}

/** ckpt-inspect from the sources, as a process of its own. */
export function inspect(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'src/cli/ckptInspect.ts'), ...args], { encoding: 'utf8', timeout: 60000 });
}
