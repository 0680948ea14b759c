// Comparing two checkpoints of any formats by meaning: two .ckpt images as compareImages does
// (field by field, through the .ksy's schema, pages by their stored hashes); any pair with a CRIU
// checkpoint through the common model, which both formats map onto: processes by their place in the
// tree (pairProcesses), threads by tid or place with every register, VMAs by address range, descriptors by number (what they refer to and
// where), signal handlers by signal, limits by resource, and the pages of each VMA, by hashes
// where a side stores them and by their bytes where it does not. The result is the same ImageDiff,
// so the CLI and the compare editor show either. No vscode import.

import { compareImages, matchVmas } from '../image/diff';
import { countNodes, renumbered } from '../image/diff/compareImages';
import { cmdlineChange, environChanges } from '../image/diff/fieldDiff';
import { pairProcesses, pairThreads, TreeMember } from '../image/diff/pairProcesses';
import { attribute, comparePlanned, MemorySide, imageMemorySide, Owned, ownersOf, pageDiffOf, planMemoryOf, RawPageRange } from '../image/diff/pageDiff';
import type { CompareOptions, DiffKind, DiffNode, FieldChange, ImageDiff, ImageSide, PageMethod, RegisterRow, VmaAspect, VmaSide } from '../image/diff/types';
import { hex, JsonValue } from '../image/fields';
import { MemoryMap, protString, RecordRef, VmaInfo } from '../image/memoryMap';
import { problemSeverity } from '../image/errors';
import { quote } from '../image/text';
import type { Checkpoint } from './checkpoint';
import { CkptCheckpoint } from './ckptCheckpoint';
import { FdState, ProcessState, REGISTER_NAMES, ThreadState } from './model';

interface Pair<T> {
  key: string;
  a?: T;
  b?: T;
}

/** Pair two lists by key, A's order first, then what only B has. Repeated keys get a suffix. */
function pairUp<T>(a: T[], b: T[], keyOf: (x: T) => string): Pair<T>[] {
  const keyed = (list: T[]) => {
    const seen = new Map<string, number>();
    return list.map((x) => {
      const k = keyOf(x);
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      return { key: n === 1 ? k : `${k}#${n}`, x };
    });
  };
  const ka = keyed(a),
    kb = keyed(b);
  const mb = new Map(kb.map((e) => [e.key, e.x]));
  const ma = new Set(ka.map((e) => e.key));
  return [...ka.map((e) => ({ key: e.key, a: e.x, b: mb.get(e.key) })), ...kb.filter((e) => !ma.has(e.key)).map((e) => ({ key: e.key, b: e.x }))];
}

function field(path: string, a: JsonValue, b: JsonValue, aText = a === null ? '' : String(a), bText = b === null ? '' : String(b)): FieldChange {
  return { path, a, b, aText, bText };
}

/** A change for each value that differs. */
function changes(list: [string, JsonValue, JsonValue][]): FieldChange[] {
  return list.filter(([, a, b]) => JSON.stringify(a) !== JSON.stringify(b)).map(([p, a, b]) => field(p, a, b));
}

function node(kind: DiffKind, key: string, label: string, change: DiffNode['change'], extra: Partial<DiffNode> = {}): DiffNode {
  const n = { kind, key, label, change } as DiffNode;
  if (extra.aRecord !== undefined) n.aRecord = extra.aRecord;
  if (extra.bRecord !== undefined) n.bRecord = extra.bRecord;
  n.fields = extra.fields ?? [];
  if (extra.vma) n.vma = extra.vma;
  if (extra.aspects) n.aspects = extra.aspects;
  if (extra.pages) n.pages = extra.pages;
  if (extra.registers) n.registers = extra.registers;
  n.children = extra.children ?? [];
  return n;
}

const big = (v: bigint | undefined) => (v === undefined ? null : hex(v));
const SIGNALS = [
  '',
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGKILL',
  'SIGUSR1',
  'SIGSEGV',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGSTKFLT',
  'SIGCHLD',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
];
const signalName = (n: number) => SIGNALS[n] ?? `SIGRTMIN+${n - 34}`;

/** The processes of a model as a tree, each one's parent found by its ppid. */
function treeMembers(list: ProcessState[]): TreeMember<ProcessState>[] {
  const at = new Map(list.map((p, i) => [p.pid, i]));
  return list.map((p) => ({ pid: p.pid, comm: p.comm, parent: p.ppid !== p.pid ? at.get(p.ppid) : undefined, value: p }));
}

class ModelComparison {
  readonly problems: ImageDiff['problems'] = [];
  pagesCompared = 0;
  bytesRead = 0;
  private readonly methods = new Set<PageMethod>();
  private readonly progress = { done: 0, total: 0 };

  constructor(
    readonly a: Checkpoint,
    readonly b: Checkpoint,
    readonly opts: CompareOptions,
  ) {}

  get pageMethod(): PageMethod {
    const m = [...this.methods].filter((x) => x !== 'none');
    return m.length === 0 ? 'none' : m.length === 1 ? m[0] : 'mixed';
  }

  private side(c: Checkpoint, mem: MemoryMap<RecordRef>): MemorySide {
    return c instanceof CkptCheckpoint ? imageMemorySide(c.image, mem as never) : { mem, source: c.source };
  }

  async run(): Promise<DiffNode[]> {
    const pa = await this.a.processes(),
      pb = await this.b.processes();
    const pairs = pairProcesses(treeMembers(pa), treeMembers(pb), this.opts.match);
    // Plan every process's pages first, so that progress has one total.
    const plans = new Map<string, { memA: MemoryMap<RecordRef>; memB: MemoryMap<RecordRef>; plan: Awaited<ReturnType<typeof planMemoryOf>> }>();
    for (const p of pairs) {
      if (!p.a || !p.b) continue;
      const memA = await this.a.memory(p.a.record),
        memB = await this.b.memory(p.b.record);
      const plan = await planMemoryOf(this.side(this.a, memA), this.side(this.b, memB), this.opts);
      plans.set(p.key, { memA, memB, plan });
      this.progress.total += plan.readBytes;
    }
    const out: DiffNode[] = [];
    for (const p of pairs) {
      this.opts.signal?.throwIfAborted();
      const label = (x: ProcessState) => `process ${x.pid} ${quote(x.comm)}`;
      if (!p.b) out.push(node('process', p.key, label(p.a!), 'removed', { aRecord: p.a!.record }));
      else if (!p.a) out.push(node('process', p.key, label(p.b), 'added', { bRecord: p.b.record }));
      else {
        const n = await this.process(p.key, p.a, p.b, plans.get(p.key)!);
        if (n) out.push(n);
      }
    }
    for (const [side, c] of [
      ['a', this.a],
      ['b', this.b],
    ] as const) {
      for (const pr of [...c.problems, ...c.layoutProblems]) if (problemSeverity(pr.code) === 'error') this.problems.push({ side, message: pr.message });
    }
    return out;
  }

  private async process(
    key: string,
    a: ProcessState,
    b: ProcessState,
    mem: { memA: MemoryMap<RecordRef>; memB: MemoryMap<RecordRef>; plan: Awaited<ReturnType<typeof planMemoryOf>> },
  ): Promise<DiffNode | undefined> {
    const fields = changes([
      ['ppid', a.ppid, b.ppid],
      ['pgid', a.pgid, b.pgid],
      ['sid', a.sid, b.sid],
      ['comm', a.comm, b.comm],
      ['exe', a.exe, b.exe],
      ['cwd', a.cwd, b.cwd],
      ['root', a.root, b.root],
      ['state', a.state, b.state],
      ['uids', a.uids, b.uids],
      ['gids', a.gids, b.gids],
      ['umask', a.umask ?? null, b.umask ?? null],
    ]);
    // A side that cannot say (CRIU without the stack dumped) is not a difference. The command
    // line and the environment are compared as compareImages compares them: in linear time, with
    // at most MAX_SHOWN_STRINGS arguments in the text and MAX_ENV_CHANGES variables listed.
    if (a.cmdline.length && b.cmdline.length) fields.push(...cmdlineChange(a.cmdline, b.cmdline));
    if (a.environ.length && b.environ.length) for (const c of environChanges(a.environ, b.environ)) fields.push(c);
    if (a.pid !== b.pid) fields.unshift(field('pid', a.pid, b.pid));
    const children = [
      ...this.threads(a, b),
      ...(await this.memory(mem.memA, mem.memB, mem.plan)),
      ...this.fds(a.fds, b.fds),
      ...this.signals(a, b),
      ...this.rlimits(a, b),
      ...this.pending(a.pending, b.pending),
    ];
    if (!fields.length && !children.length) return undefined;
    return node('process', key, `process ${renumbered(a.pid, b.pid)} ${quote(b.comm)}`, 'changed', { aRecord: a.record, bRecord: b.record, fields, children });
  }

  private threads(pa: ProcessState, pb: ProcessState): DiffNode[] {
    const A = pa.threads,
      B = pb.threads;
    const out: DiffNode[] = [];
    const rows = (a?: ThreadState, b?: ThreadState): RegisterRow[] =>
      REGISTER_NAMES.filter((r) => a?.regs[r] !== undefined || b?.regs[r] !== undefined).map((name) => {
        const x = big(a?.regs[name]),
          y = big(b?.regs[name]);
        return { name, a: x, b: y, changed: a !== undefined && b !== undefined && x !== y };
      });
    const members = (p: ProcessState, list: ThreadState[]) => list.map((t) => ({ tid: t.tid, comm: t.comm, main: t.tid === p.pid, value: t }));
    const pairs = pairThreads(members(pa, A), members(pb, B), pa.pid === pb.pid);
    for (const p of pairs) {
      const label = (t: ThreadState) => `thread ${t.tid} ${quote(t.comm)}`;
      if (!p.b) out.push(node('thread', p.key, label(p.a!), 'removed', { aRecord: p.a!.record, registers: rows(p.a) }));
      else if (!p.a) out.push(node('thread', p.key, label(p.b), 'added', { bRecord: p.b.record, registers: rows(undefined, p.b) }));
      else {
        const regs = rows(p.a, p.b);
        const fields = [
          ...changes([
            ['comm', p.a.comm, p.b.comm],
            ['sigmask', hex(p.a.sigmask), hex(p.b.sigmask)],
          ]),
          ...regs.filter((r) => r.changed).map((r) => field(`regs.${r.name}`, r.a, r.b)),
        ];
        const pending = this.pending(p.a.pending, p.b.pending);
        if (fields.length || pending.length)
          out.push(
            node('thread', p.key, `thread ${renumbered(p.a.tid, p.b.tid)} ${quote(p.b.comm)}`, 'changed', { aRecord: p.a.record, bRecord: p.b.record, fields, children: pending, registers: regs }),
          );
      }
    }
    return out;
  }

  private async memory(memA: MemoryMap<RecordRef>, memB: MemoryMap<RecordRef>, plan: Awaited<ReturnType<typeof planMemoryOf>>): Promise<DiffNode[]> {
    interface VmaPair {
      a?: VmaInfo<RecordRef>;
      b?: VmaInfo<RecordRef>;
      fields: FieldChange[];
      ranges: RawPageRange[];
    }
    const pairs: VmaPair[] = [];
    const aAreas: Owned<VmaPair>[] = [],
      bAreas: Owned<VmaPair>[] = [];
    for (const { a, b } of matchVmas(memA.vmas, memB.vmas)) {
      const pair: VmaPair = { a, b, fields: [], ranges: [] };
      if (a && b) {
        pair.fields = changes([
          ['start', hex(a.start), hex(b.start)],
          ['end', hex(a.end), hex(b.end)],
          ['prot', protString(a.prot, 0).slice(0, 3), protString(b.prot, 0).slice(0, 3)],
          ['flags', a.flags, b.flags],
          ['kind', a.kind, b.kind],
          ['path', a.path, b.path],
          ['offset', hex(a.offset), hex(b.offset)],
        ]);
      }
      pairs.push(pair);
      if (a) aAreas.push({ start: a.start, end: a.end, owner: pair });
      if (b) bAreas.push({ start: b.start, end: b.end, owner: pair });
    }
    const cmp = await comparePlanned(plan, this.progress, this.opts);
    this.pagesCompared += cmp.pagesCompared;
    this.bytesRead += cmp.bytesRead;
    this.methods.add(cmp.method);
    const outside: RawPageRange[] = [];
    attribute(cmp.ranges, ownersOf(bAreas, aAreas), (owner, r) => (owner ? owner.ranges : outside).push(r));
    const out: DiffNode[] = [];
    const sideOf = (v: VmaInfo<RecordRef>): VmaSide => ({ start: hex(v.start), end: hex(v.end), prot: protString(v.prot, v.flags), kind: v.kind, path: v.path });
    for (const { a, b, fields, ranges } of pairs) {
      if (a && b && fields.length === 0 && ranges.length === 0) continue;
      const ref = (a ?? b)!;
      const key = `${hex(ref.start)}-${hex(ref.end)}`;
      const label = `${key} ${protString(ref.prot, ref.flags)} ${ref.path || ref.kind}`;
      const pages = ranges.length ? pageDiffOf(ranges, cmp.pageSize) : undefined;
      const vma = { ...(a ? { a: sideOf(a) } : {}), ...(b ? { b: sideOf(b) } : {}) };
      if (a && b) {
        const aspects: VmaAspect[] = [];
        const has = (...names: string[]) => fields.some((f) => names.includes(f.path));
        if (has('start', 'end')) aspects.push('resized');
        if (has('prot')) aspects.push('protection');
        if (has('flags')) aspects.push('flags');
        if (has('path', 'offset')) aspects.push('backing-file');
        if (has('kind')) aspects.push('kind');
        if (pages) aspects.push('pages');
        out.push(node('vma', key, label, 'changed', { aRecord: a.entry.index, bRecord: b.entry.index, fields, vma, aspects, pages }));
      } else if (a) out.push(node('vma', key, label, 'removed', { aRecord: a.entry.index, vma, pages }));
      else out.push(node('vma', key, label, 'added', { bRecord: b!.entry.index, vma, pages }));
    }
    if (outside.length) out.push(node('vma', 'outside', 'pages outside any VMA', 'changed', { pages: pageDiffOf(outside, cmp.pageSize) }));
    return out;
  }

  private fds(A: FdState[], B: FdState[]): DiffNode[] {
    const out: DiffNode[] = [];
    const facts = (f: FdState): [string, JsonValue][] => [
      ['kind', f.file.kind],
      ['path', f.file.path],
      ['flags', `0o${f.file.flags.toString(8)}`],
      ['pos', f.file.pos.toString()],
      ['cloexec', f.cloexec],
      ['pipe.buffered', f.file.pipe?.buffered ?? null],
      ['socket.state', f.file.socket?.state ?? null],
      ['socket.queued', f.file.socket?.queued ?? null],
      ['socket.local', f.file.socket?.local ?? null],
      ['socket.remote', f.file.socket?.remote ?? null],
    ];
    for (const p of pairUp(A, B, (f) => String(f.fd))) {
      // a socket by what names it: family, type, its address and its peer's (its path is an inode)
      const sockName = (s: NonNullable<FdState['file']['socket']>) => `${s.family} ${s.type} ${s.local || 'unnamed'}${s.remote ? ` -> ${s.remote}` : ''}`;
      const label = (f: FdState) => `fd ${f.fd} ${f.file.socket ? sockName(f.file.socket) : f.file.path || f.file.kind}`;
      if (!p.b) out.push(node('fd', p.key, label(p.a!), 'removed', { aRecord: p.a!.record }));
      else if (!p.a) out.push(node('fd', p.key, label(p.b), 'added', { bRecord: p.b.record }));
      else {
        const fa = facts(p.a),
          fb = new Map(facts(p.b));
        // Pipes and sockets are named by inode, which is new in every checkpoint: compare what they are, not their numbers.
        const fields = changes(fa.filter(([k]) => !(k === 'path' && (p.a!.file.pipe || p.a!.file.socket))).map(([k, v]) => [k, v, fb.get(k) ?? null]));
        if (fields.length) out.push(node('fd', p.key, label(p.a), 'changed', { aRecord: p.a.record, bRecord: p.b.record, fields }));
      }
    }
    return out;
  }

  private signals(a: ProcessState, b: ProcessState): DiffNode[] {
    const out: DiffNode[] = [];
    for (const p of pairUp(a.sigactions, b.sigactions, (s) => String(s.signo))) {
      const s = (p.a ?? p.b)!;
      const label = `signal ${signalName(s.signo)}`;
      const fields = changes([
        ['handler', big(p.a?.handler), big(p.b?.handler)],
        ['flags', big(p.a?.flags), big(p.b?.flags)],
        ['mask', big(p.a?.mask), big(p.b?.mask)],
      ]);
      if (fields.length) out.push(node('signal', p.key, label, p.a && p.b ? 'changed' : p.a ? 'removed' : 'added', { fields }));
    }
    return out;
  }

  private rlimits(a: ProcessState, b: ProcessState): DiffNode[] {
    const out: DiffNode[] = [];
    const B = new Map(b.rlimits.map((l) => [l.resource, l]));
    for (const l of a.rlimits) {
      const m = B.get(l.resource);
      if (!m) continue;
      const fields = changes([
        ['cur', rlimitText(l.cur), rlimitText(m.cur)],
        ['max', rlimitText(l.max), rlimitText(m.max)],
      ]);
      if (fields.length) out.push(node('rlimit', l.resource, `rlimit ${l.resource}`, 'changed', { fields }));
    }
    return out;
  }

  private pending(A: number[], B: number[]): DiffNode[] {
    const out: DiffNode[] = [];
    for (const p of pairUp(A, B, String)) {
      if (p.a !== undefined && p.b !== undefined) continue;
      const n = (p.a ?? p.b)!;
      out.push(node('pending-signal', p.key, `pending ${signalName(n)}`, p.a !== undefined ? 'removed' : 'added'));
    }
    return out;
  }
}

/** What a comparison says of each side. */
export async function checkpointSide(c: Checkpoint): Promise<ImageSide> {
  const s = await c.summary();
  return { name: c.name, size: c.size, time: s.time, timeNs: s.timeNs, checkpointer: s.checkpointer, pageSize: c.pageSize, processes: c.processRecords().length };
}

/** Compare checkpoint A with checkpoint B, of either format. */
export async function compareCheckpoints(a: Checkpoint, b: Checkpoint, opts: CompareOptions = {}): Promise<ImageDiff> {
  if (a instanceof CkptCheckpoint && b instanceof CkptCheckpoint) return compareImages(a.image, b.image, opts);
  return compareModels(a, b, opts);
}

/** Compare two checkpoints through the common model, whatever their formats (two .ckpt images too). */
export async function compareModels(a: Checkpoint, b: Checkpoint, opts: CompareOptions = {}): Promise<ImageDiff> {
  const t0 = performance.now();
  opts.signal?.throwIfAborted();
  const cmp = new ModelComparison(a, b, opts);
  const nodes = await cmp.run();
  return {
    a: await checkpointSide(a),
    b: await checkpointSide(b),
    same: nodes.length === 0,
    counts: countNodes(nodes),
    nodes,
    pageMethod: cmp.pageMethod,
    stats: { ms: Math.round((performance.now() - t0) * 100) / 100, pagesCompared: cmp.pagesCompared, bytesRead: cmp.bytesRead },
    problems: cmp.problems,
  };
}

/** A resource limit as people read it: RLIM_INFINITY is "unlimited". */
function rlimitText(v: bigint): string {
  return v === 0xffffffffffffffffn ? 'unlimited' : v.toString();
}

/** The record (file-order index) of a diff node in checkpoint `c`, side `side` of the comparison, to open or read it there. */
export function diffNodeRecord(c: Checkpoint, n: DiffNode, side: 'a' | 'b'): number | undefined {
  const record = side === 'a' ? n.aRecord : n.bRecord;
  if (record !== undefined) return record;
  const tag = side === 'a' ? n.aTag : n.bTag;
  if (tag === undefined || !(c instanceof CkptCheckpoint)) return undefined;
  return c.image.byTag(tag)?.index;
}

/** The page holding `address` in both checkpoints, for process `pid` (default: the first), with the bytes that differ. */
export async function checkpointPageBytes(
  a: Checkpoint,
  b: Checkpoint,
  address: bigint,
  process?: { a?: number; b?: number },
): Promise<{ address: string; pageSize: number; a: Uint8Array | null; b: Uint8Array | null; changed: { offset: number; length: number }[] }> {
  const size = Math.min(a.pageSize, b.pageSize);
  const page = (address / BigInt(size)) * BigInt(size);
  // The process by its record on each side: a tree and its restored copy pair processes whose PIDs differ.
  const read = async (c: Checkpoint, record: number | undefined): Promise<Uint8Array | undefined> => {
    const procs = (await c.searchTarget()).processes;
    const p = process === undefined ? procs[0] : procs.find((x) => x.record === record);
    if (!p) return undefined;
    const pieces = await (await p.memory()).read(page, size);
    return pieces.length === 1 && pieces[0].state === 'dumped' ? pieces[0].bytes : undefined;
  };
  const x = await read(a, process?.a),
    y = await read(b, process?.b);
  const changed: { offset: number; length: number }[] = [];
  if (!x || !y) {
    if (x || y) changed.push({ offset: 0, length: size });
  } else {
    for (let i = 0; i < size; i++) {
      if (x[i] === y[i]) continue;
      const last = changed[changed.length - 1];
      if (last && last.offset + last.length === i) last.length++;
      else changed.push({ offset: i, length: 1 });
    }
  }
  // Copies, each in a buffer of its own: what postMessage carries to the compare editor as binary.
  return { address: hex(page), pageSize: size, a: x ? new Uint8Array(x) : null, b: y ? new Uint8Array(y) : null, changed };
}
