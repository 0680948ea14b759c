// Images for the diff tests, described as plain specs so that a test can copy the base spec,
// change exactly the things it means to change, and build both images with the test writer.
// `reverse` writes every list of records in the opposite order and splits the pages into other
// pagemaps, which must make no difference to the comparison.

import { REGISTER_NAMES } from '../../src/checkpoint/model';
import { camelRegister } from '../../src/convert/criuFacts';
import { Ckpt, RecordType } from '../../src/image';
import { ImageWriter } from '../../src/image/write/imageWriter';

export const PAGE = 4096;
export const EXE = 0x555555554000n;
export const HEAP = 0x55555555a000n;
export const ANON = 0x7f1234500000n;
export const STACK = 0x7ffcd0000000n;

export interface ThreadSpec {
  tid: number;
  comm: string;
  rip: bigint;
  rsp: bigint;
  sigmask?: bigint;
  flags?: number;
  pending?: number[];
}

export interface VmaSpec {
  start: bigint;
  end: bigint;
  prot: number;
  flags?: number;
  kind: number;
  path: string;
  inode?: bigint;
}

export interface RunSpec {
  vaddr: bigint;
  data: Uint8Array;
}

export interface ProcSpec {
  pid: number;
  /** Index of its parent in the spec's processes; a root without. */
  parent?: number;
  comm: string;
  cmdline: string[];
  environ: string[];
  rlimits: { cur: bigint; max: bigint }[];
  threads: ThreadSpec[];
  brk: bigint;
  vmas: VmaSpec[];
  /** Runs of dumped pages; each inner list is one pagemap. */
  pagemaps: RunSpec[][];
  fds: Record<string, unknown>[];
  /** Signal number -> sigaction; the others are SIG_DFL. */
  handlers: Record<number, { handler: bigint; flags?: bigint; restorer?: bigint; mask?: bigint }>;
  pending: number[];
}

export interface ImageSpec {
  timeNs?: bigint;
  processes: ProcSpec[];
  /** Records in the opposite order, pages in other pagemaps. */
  reverse?: boolean;
  /** Write page data without per-page hashes (default true: hashed). */
  hashed?: boolean;
}

/** Deterministic page bytes, different for each seed. */
export function pageBytes(seed: number, pages = 1): Uint8Array {
  const b = new Uint8Array(pages * PAGE);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < b.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const UNLIMITED = 0xffffffffffffffffn;

export function baseProcess(pid = 4242): ProcSpec {
  return {
    pid,
    comm: 'demo',
    cmdline: ['demo', '--interval', '5'],
    environ: ['HOME=/home/user', 'API_TOKEN=s3cr3t', 'PATH=/usr/bin'],
    rlimits: Array.from({ length: 16 }, (_, i) => ({ cur: i === 7 ? 1024n : UNLIMITED, max: UNLIMITED })),
    threads: [
      { tid: pid, comm: 'demo', rip: 0x555555556123n, rsp: STACK + 0x1f00n, flags: Ckpt.ThreadFlags.MAIN_THREAD, pending: [] },
      { tid: pid + 1, comm: 'worker', rip: 0x7f12345a0000n, rsp: 0x7f1233fff000n, sigmask: 1n << 9n, pending: [] },
    ],
    brk: HEAP + 0x21000n,
    vmas: [
      { start: EXE, end: EXE + 0x4000n, prot: 5, kind: Ckpt.VmaKind.FILE_PRIVATE, path: '/usr/bin/demo', inode: 1234n },
      { start: HEAP, end: HEAP + 0x21000n, prot: 3, kind: Ckpt.VmaKind.HEAP, path: '[heap]' },
      { start: ANON, end: ANON + 0x100000n, prot: 0, kind: Ckpt.VmaKind.ANON_PRIVATE, path: '' },
      { start: STACK, end: STACK + 0x21000n, prot: 3, flags: Ckpt.VmaFlags.GROWS_DOWN, kind: Ckpt.VmaKind.STACK, path: '[stack]' },
    ],
    pagemaps: [
      [
        { vaddr: HEAP, data: pageBytes(1, 3) },
        { vaddr: STACK + 0x20000n, data: pageBytes(2) },
      ],
      [{ vaddr: ANON + 0x10000n, data: pageBytes(3, 2) }],
    ],
    fds: [
      { fd: 0, kind: Ckpt.FdKind.CHR, flags: 0o100000, path: '/dev/null', mode: 0o20666 },
      { fd: 1, kind: Ckpt.FdKind.REGULAR, flags: 0o102001, pos: 123n, path: '/tmp/demo.log', mode: 0o100644, size: 123n },
      { fd: 3, kind: Ckpt.FdKind.PIPE, path: 'pipe:[99]', extra: { pipeIno: 99n, capacity: 65536, data: Buffer.from('buffered') } },
    ],
    handlers: { 2: { handler: 0x555555556200n, flags: 0x4000000n, restorer: 0x7f1234520000n } },
    pending: [10],
  };
}

export function baseSpec(): ImageSpec {
  return {
    processes: [
      baseProcess(4242),
      { ...baseProcess(4300), comm: 'child', threads: [{ tid: 4300, comm: 'child', rip: 0x555555556123n, rsp: STACK + 0x1e00n, flags: Ckpt.ThreadFlags.MAIN_THREAD, pending: [] }] },
    ],
  };
}

/** A deep copy, so that a test can change one spec and keep the other. */
export function copySpec(s: ImageSpec): ImageSpec {
  const copy = <T>(v: T): T => {
    if (v instanceof Uint8Array) return new Uint8Array(v) as T;
    if (Array.isArray(v)) return v.map(copy) as T;
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)])) as T;
    return v;
  };
  return copy(s);
}

function regs(t: ThreadSpec): Record<string, bigint> {
  return { ...Object.fromEntries(REGISTER_NAMES.map((n, i) => [camelRegister(n), BigInt(i)])), origRax: UNLIMITED, rip: t.rip, rsp: t.rsp, cs: 0x33n, ss: 0x2bn, eflags: 0x246n };
}

const ordered = <T>(list: T[], reverse: boolean | undefined): T[] => (reverse ? [...list].reverse() : list);

/** Page data without per-page hashes: the pages record's payload_sum covers its bytes instead. */
function unhashedPages(w: ImageWriter, mm: number, runs: RunSpec[]): void {
  const npages = runs.reduce((n, r) => n + r.data.length / PAGE, 0);
  const pm = w.record('pagemap', { runs: runs.map((r) => ({ vaddr: r.vaddr, npages: r.data.length / PAGE, flags: 0 })), npages, pageHashes: new Uint8Array(npages * 8) }, { ptag: mm });
  const gap = (PAGE - ((w.offset + 32) % PAGE)) % PAGE;
  if (gap !== 0) w.raw(RecordType.PAD, new Uint8Array(gap >= 32 ? gap - 32 : gap + PAGE - 32));
  const data = Buffer.concat(runs.map((r) => r.data));
  w.raw(RecordType.PAGES, data, { ptag: pm });
}

export function buildImage(spec: ImageSpec): Uint8Array {
  const w = ImageWriter.inMemory(PAGE);
  w.head({ timeNs: spec.timeNs ?? 1_790_000_000_123_456_789n });
  // Parents before their children (a ptag names a record already written), else in spec order.
  const depth = (p: ProcSpec): number => (p.parent === undefined ? 0 : 1 + depth(spec.processes[p.parent]));
  const procTags = new Map<ProcSpec, number>();
  for (const p of ordered(spec.processes, spec.reverse).sort((x, y) => depth(x) - depth(y))) {
    const parent = p.parent === undefined ? undefined : spec.processes[p.parent];
    const proc = w.record(
      'process',
      {
        pid: p.pid,
        ppid: parent?.pid ?? 1,
        pgid: p.pid,
        sid: p.pid,
        uids: [1000, 1000, 1000, 1000],
        gids: [1000, 1000, 1000, 1000],
        umask: 0o022,
        nthreads: p.threads.length,
        state: 'S'.charCodeAt(0),
        exitSignal: 17,
        flags: Ckpt.ProcessFlags.DUMPABLE,
        startTime: 123456n,
        rlimits: p.rlimits,
        comm: p.comm,
        exe: '/usr/bin/demo',
        cwd: '/home/user',
        root: '/',
        cmdline: p.cmdline,
        environ: p.environ,
        groups: [1000],
      },
      parent ? { ptag: procTags.get(parent) } : {},
    );
    procTags.set(p, proc);
    for (const t of ordered(p.threads, spec.reverse)) {
      const th = w.record(
        'thread',
        {
          tid: t.tid,
          flags: t.flags ?? 0,
          regs: regs(t),
          sigmask: t.sigmask ?? 0n,
          comm: t.comm,
          xstateKind: Ckpt.XstateKind.XSAVE,
          xstate: new Uint8Array(512).fill(0xab),
        },
        { ptag: proc },
      );
      if (t.pending?.length) w.record('pending_signals', { signals: t.pending.map((s) => ({ siSigno: s })) }, { ptag: th });
    }
    const mm = w.record(
      'mm',
      {
        startBrk: HEAP,
        brk: p.brk,
        startStack: STACK + 0x20000n,
        nvmas: p.vmas.length,
        auxv: [
          { key: 6n, value: 4096n },
          { key: 0n, value: 0n },
        ],
      },
      { ptag: proc },
    );
    for (const v of ordered(p.vmas, spec.reverse)) w.record('vma', { ...v, flags: v.flags ?? 0, inode: v.inode ?? 0n }, { ptag: mm });
    // Reversed: one pagemap per run, last run first.
    const pagemaps = spec.reverse
      ? p.pagemaps
          .flat()
          .reverse()
          .map((r) => [r])
      : p.pagemaps;
    for (const runs of pagemaps) {
      if (spec.hashed === false) unhashedPages(w, mm, runs);
      else w.pages(mm, runs);
    }
    const files = w.record('files', { nfds: p.fds.length, maxFds: 1024 }, { ptag: proc });
    // each fd with an open file description of its own: its kind, flags, position and path
    for (const { fd, fdFlags, ...file } of ordered(p.fds, spec.reverse) as Array<{ fd: number; fdFlags?: number }>) w.fd(files, { fd, fdFlags }, file);
    const actions = Array.from({ length: 64 }, (_, i) => p.handlers[i + 1] ?? {});
    w.record('sigactions', { actions }, { ptag: proc });
    if (p.pending.length) w.record('pending_signals', { signals: p.pending.map((s) => ({ siSigno: s })) }, { ptag: proc });
  }
  w.tail();
  return w.bytes();
}
