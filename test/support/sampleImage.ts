// A small but realistic image built with the test writer: one process with two threads,
// memory with a heap, a stack and a file mapping, open files of several kinds, signal state.
// Tests assert against the values kept in SAMPLE.

import { REGISTER_NAMES } from '../../src/checkpoint/model';
import { camelRegister } from '../../src/convert/criuFacts';
import { Ckpt } from '../../src/image';
import { ImageWriter } from '../../src/image/write/imageWriter';

export const PAGE = 4096;
export const HEAP = 0x55555555a000n;
export const STACK = 0x7ffcd0000000n;
/** A register value above 2^53, which a JS Number cannot hold exactly. */
export const BIG_R15 = 0xfedcba9876543211n;
/** Planted so that it crosses the boundary between the first and second heap pages. */
export const HEAP_STRING = 'hello from the heap, across a page boundary';
export const HEAP_STRING_ADDR = HEAP + BigInt(PAGE - 20);
export const SECRET_ENV = 'API_TOKEN=s3cr3t';

export interface SampleOptions {
  /** Add a record of a type this reader does not know, under the process. */
  unknownRecord?: boolean;
  /** Damage the stored hash of one page. */
  corruptHashOfPage?: number;
  /** Leave the tail off (a truncated image). */
  noTail?: boolean;
  /** Write the page data with a payload_sum instead of per-page hashes. */
  unhashedPages?: boolean;
}

export interface Sample {
  bytes: Uint8Array;
  tags: { head: number; process: number; mainThread: number; worker: number; mm: number; pagemap: number; files: number; tail?: number };
}

function heapPages(): Uint8Array {
  const data = new Uint8Array(3 * PAGE);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  const s = Buffer.from(HEAP_STRING);
  data.set(s, Number(HEAP_STRING_ADDR - HEAP));
  return data;
}

function regs(rip: bigint, rsp: bigint): Record<string, bigint> {
  const r: Record<string, bigint> = Object.fromEntries(REGISTER_NAMES.map((n, i) => [camelRegister(n), BigInt(i)]));
  return { ...r, r15: BIG_R15, origRax: 0xffffffffffffffffn, rip, rsp, cs: 0x33n, ss: 0x2bn, eflags: 0x246n, fsBase: 0x7f1234567740n };
}

export function buildSample(opts: SampleOptions = {}): Sample {
  const w = ImageWriter.inMemory(PAGE);
  const head = w.head({ flags: Ckpt.ImageFlags.LEFT_RUNNING });
  const process = w.record('process', {
    pid: 4242,
    ppid: 1,
    pgid: 4242,
    sid: 4200,
    uids: [1000, 1000, 1000, 1000],
    gids: [1000, 1000, 1000, 1000],
    umask: 0o022,
    personality: 0,
    nthreads: 2,
    state: 'S'.charCodeAt(0),
    exitSignal: 17,
    flags: Ckpt.ProcessFlags.DUMPABLE,
    ttyNr: 0,
    startTime: 123456n,
    rlimits: Array.from({ length: 16 }, (_, i) => ({ cur: i === 7 ? 1024n : 0xffffffffffffffffn, max: 0xffffffffffffffffn })),
    comm: 'demo',
    exe: '/usr/bin/demo',
    cwd: '/home/user',
    root: '/',
    cmdline: ['demo', '--interval', '5'],
    environ: ['HOME=/home/user', SECRET_ENV],
    groups: [1000, 27],
  });
  const mainThread = w.record(
    'thread',
    {
      tid: 4242,
      flags: Ckpt.ThreadFlags.MAIN_THREAD,
      regs: regs(0x555555556123n, STACK + 0x1f00n),
      sigmask: 0n,
      sigpending: 0n,
      tidAddress: 0x7f1234567a10n,
      robustList: 0x7f1234567a20n,
      robustListLen: 24n,
      rseqAddr: 0x7f1234567fe0n,
      rseqLen: 32,
      rseqSig: 0x53053053,
      altstackSp: 0n,
      altstackSize: 0n,
      altstackFlags: 2,
      xstateKind: Ckpt.XstateKind.XSAVE,
      comm: 'demo',
      xstate: new Uint8Array(1024).fill(0xab),
    },
    { ptag: process },
  );
  const worker = w.record(
    'thread',
    {
      tid: 4243,
      flags: 0,
      regs: regs(0x7f12345a0000n, 0x7f1233fff000n),
      sigmask: 1n << 9n,
      comm: 'worker',
      xstateKind: Ckpt.XstateKind.XSAVE,
      xstate: new Uint8Array(1024).fill(0xcd),
    },
    { ptag: process },
  );
  const vmas = [
    { start: 0x555555554000n, end: 0x555555558000n, prot: 5, flags: 0, kind: Ckpt.VmaKind.FILE_PRIVATE, path: '/usr/bin/demo', inode: 1234n },
    { start: HEAP, end: HEAP + 0x21000n, prot: 3, flags: 0, kind: Ckpt.VmaKind.HEAP, path: '[heap]' },
    { start: 0x7f1234500000n, end: 0x7f1234600000n, prot: 0, flags: 0, kind: Ckpt.VmaKind.ANON_PRIVATE, path: '' },
    { start: STACK, end: STACK + 0x21000n, prot: 3, flags: Ckpt.VmaFlags.GROWS_DOWN, kind: Ckpt.VmaKind.STACK, path: '[stack]' },
    { start: 0x7ffcd0100000n, end: 0x7ffcd0102000n, prot: 5, flags: 0, kind: Ckpt.VmaKind.VDSO, path: '[vdso]' },
  ];
  const mm = w.record(
    'mm',
    {
      startCode: 0x555555554000n,
      endCode: 0x555555556800n,
      startBrk: HEAP,
      brk: HEAP + 0x21000n,
      startStack: STACK + 0x20000n,
      vdsoHash: 0x1122334455667788n,
      nvmas: vmas.length,
      auxv: [
        { key: 6n, value: 4096n },
        { key: 33n, value: 0x7ffcd0100000n },
        { key: 0n, value: 0n },
      ],
    },
    { ptag: process },
  );
  for (const v of vmas) w.record('vma', v, { ptag: mm });
  const stackPage = new Uint8Array(PAGE).fill(0x5a);
  const pagemap = w.pages(
    mm,
    [
      { vaddr: HEAP, data: heapPages() },
      { vaddr: STACK + 0x20000n, data: stackPage },
    ],
    { corruptHashOfPage: opts.corruptHashOfPage, hashed: !opts.unhashedPages },
  );
  const files = w.record('files', { nfds: 4, maxFds: 1024 }, { ptag: process });
  w.fd(files, { fd: 0 }, { kind: Ckpt.FdKind.CHR, flags: 0o100000, path: '/dev/null', mode: 0o20666 });
  w.fd(files, { fd: 1 }, { kind: Ckpt.FdKind.REGULAR, flags: 0o102001, pos: 123n, path: '/tmp/demo.log', mode: 0o100644, size: 123n });
  const pipe = w.fd(files, { fd: 3 }, { kind: Ckpt.FdKind.PIPE, path: 'pipe:[99]', extra: { pipeIno: 99n, capacity: 65536, data: Buffer.from('buffered') } });
  w.fd(files, { fd: 5, fdFlags: 1 }, { kind: Ckpt.FdKind.EPOLL, path: 'anon_inode:[eventpoll]', extra: { targets: [{ tfd: 3, file: pipe, events: 1, data: 0xdeadbeefcafef00dn }] } });
  const actions = Array.from({ length: 64 }, (_, i) => (i + 1 === 2 ? { handler: 0x555555556200n, flags: 0x4000000n, restorer: 0x7f1234520000n, mask: 0n } : {}));
  w.record('sigactions', { actions }, { ptag: process });
  w.record('pending_signals', { signals: [{ siSigno: 10, siErrno: 0, siCode: 0 }] }, { ptag: process });
  if (opts.unknownRecord) w.raw(999, Buffer.from('a record from the future'), { ptag: process });
  const tail = opts.noTail ? undefined : w.tail();
  return { bytes: w.bytes(), tags: { head, process, mainThread, worker, mm, pagemap, files, tail } };
}
