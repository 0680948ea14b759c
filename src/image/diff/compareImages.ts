// Comparing two images structurally. Things are matched by what they are, never by where their
// records lie: processes by pid, threads by tid, VMAs by address range, fds by number, signal
// handlers by signal, rlimits by resource, queued signals by signal number, interval timers by
// which, POSIX timers by id, inotify watches by watch descriptor. Fields are compared
// through the schema (fieldDiff), pages through their hashes (pageDiff). Record order, tags,
// checksums, padding and the split of pages into pagemaps are storage, not differences.

import { CheckpointImage } from '../checkpointImage';
import { ImageError, problemSeverity } from '../errors';
import { bytesToHex, FieldNode, hex } from '../fields';
import { Ckpt, enumLabel, RecordType, schema } from '../format';
import { protString, VmaInfo } from '../memoryMap';
import { PayloadByType, PayloadLabel } from '../payload';
import { pairProcesses, pairThreads, ThreadMember, TreeMember } from './pairProcesses';
import { RecordEntry } from '../recordIndex';
import { socketName } from '../socketText';
import { quote } from '../text';
import { cmdlineChange, diffFieldNodes, environChanges, equalDecoded, fieldsOf, nulList, signalName } from './fieldDiff';
import { attribute, comparePlanned, MemoryPlan, Owned, pageDiffOf, ownersOf, planMemory, RawPageRange } from './pageDiff';
import { ChangeCounts, CompareOptions, DIFF_KINDS, DiffCounts, DiffKind, DiffNode, FieldChange, ImageDiff, ImageSide, PageMethod, RegisterRow, VmaAspect, VmaSide } from './types';

type Side = 'a' | 'b';

/** One thing on one side, with the key it is matched by and the order it is listed in. */
interface Keyed<T> {
  key: string;
  order: number | bigint;
  value: T;
}

interface Pair<T> {
  key: string;
  a?: T;
  b?: T;
}

const byOrder = <T extends { order: number | bigint }>(x: T, y: T) => (x.order < y.order ? -1 : x.order > y.order ? 1 : 0);

/** Pair two keyed lists by key, in order (A's order first for keys on both sides). */
function pairUp<T>(a: Keyed<T>[], b: Keyed<T>[]): Pair<T>[] {
  const mb = new Map(b.map((k) => [k.key, k]));
  const ma = new Map(a.map((k) => [k.key, k]));
  const all: (Pair<T> & { order: number | bigint })[] = [];
  for (const x of a) all.push({ key: x.key, order: x.order, a: x.value, b: mb.get(x.key)?.value });
  for (const y of b) if (!ma.has(y.key)) all.push({ key: y.key, order: y.order, b: y.value });
  return all.sort(byOrder);
}

/** Give repeated keys a suffix (`10#2`), so that every thing on one side has its own key. */
function uniqueKeys<T>(list: Keyed<T>[]): Keyed<T>[] {
  const seen = new Map<string, number>();
  return list.map((k) => {
    const n = (seen.get(k.key) ?? 0) + 1;
    seen.set(k.key, n);
    return n === 1 ? k : { ...k, key: `${k.key}#${n}` };
  });
}

/** A PID or TID that is another number in B (a restored copy): "100 -> 1100". */
export function renumbered(a: number, b: number): string {
  return a === b ? String(a) : `${a} -> ${b}`;
}

function node(kind: DiffKind, key: string, label: string, change: DiffNode['change'], extra: Partial<DiffNode> = {}): DiffNode {
  // Properties in a fixed order, so that JSON output reads the same way for every node.
  const n = { kind, key, label, change } as DiffNode;
  if (extra.aTag !== undefined) n.aTag = extra.aTag;
  if (extra.bTag !== undefined) n.bTag = extra.bTag;
  n.fields = extra.fields ?? [];
  if (extra.vma) n.vma = extra.vma;
  if (extra.aspects) n.aspects = extra.aspects;
  if (extra.pages) n.pages = extra.pages;
  if (extra.registers) n.registers = extra.registers;
  n.children = extra.children ?? [];
  return n;
}

class Comparison {
  readonly problems: ImageDiff['problems'] = [];
  pagesCompared = 0;
  bytesRead = 0;
  private readonly methods = new Set<PageMethod>();
  /** Page comparisons planned up front, so that progress has one total for all processes. */
  private readonly plans = new Map<RecordEntry, MemoryPlan>();
  private readonly progress = { done: 0, total: 0 };

  constructor(
    readonly a: CheckpointImage,
    readonly b: CheckpointImage,
    readonly opts: CompareOptions,
  ) {}

  img(side: Side): CheckpointImage {
    return side === 'a' ? this.a : this.b;
  }

  get pageMethod(): PageMethod {
    const m = [...this.methods].filter((x) => x !== 'none');
    return m.length === 0 ? 'none' : m.length === 1 ? m[0] : 'mixed';
  }

  /** Decode a record, or note the problem and go on without it. */
  async decode<L extends PayloadLabel>(side: Side, r: RecordEntry, label: L): Promise<PayloadByType[L] | undefined> {
    try {
      return await this.img(side).decodeAs(r, label);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      this.problems.push({ side, message: e.message });
      return undefined;
    }
  }

  /** The decoded children of one type, keyed. */
  async children<L extends PayloadLabel>(
    side: Side,
    parent: RecordEntry | undefined,
    type: number,
    label: L,
    keyOf: (v: PayloadByType[L]) => { key: string; order: number | bigint },
  ): Promise<Keyed<{ r: RecordEntry; v: PayloadByType[L] }>[]> {
    if (!parent) return [];
    const out: Keyed<{ r: RecordEntry; v: PayloadByType[L] }>[] = [];
    for (const r of this.img(side).childrenOfType(parent, type)) {
      const v = await this.decode(side, r, label);
      if (v) out.push({ ...keyOf(v), value: { r, v } });
    }
    return uniqueKeys(out);
  }

  /**
   * True when two records decode to the same values, so that there is nothing to compare field
   * by field: most records of two checkpoints of one process are unchanged, and rendering their
   * fields would cost more than everything else in a comparison. The decoded payloads are
   * usually in the image's cache already (the memory maps decode every VMA).
   */
  async sameRecord(label: PayloadLabel, ra: RecordEntry, rb: RecordEntry): Promise<boolean> {
    const va = await this.decode('a', ra, label),
      vb = await this.decode('b', rb, label);
    return va !== undefined && vb !== undefined && equalDecoded(typeNameOf(label), va, vb);
  }

  firstChild(side: Side, parent: RecordEntry, type: number): RecordEntry | undefined {
    return this.img(side).childrenOfType(parent, type)[0];
  }

  async run(): Promise<DiffNode[]> {
    const nodes: DiffNode[] = [];
    const head = diffFieldNodes('head', fieldsOf('head', this.a.head), fieldsOf('head', this.b.head), '', [], new Set(['time_ns', 'frozen_ns', 'magic']));
    if (head.length) nodes.push(node('image', 'head', 'image', 'changed', { fields: head, aTag: this.a.records[0]?.tag, bTag: this.b.records[0]?.tag }));

    // Which process is which: by place in the tree, or by pid (see pairProcesses).
    const procs = async (side: Side) => {
      const img = this.img(side);
      const all: { r: RecordEntry; v: PayloadByType['process'] }[] = [];
      for (const r of img.processes()) {
        const v = await this.decode(side, r, 'process');
        if (v) all.push({ r, v });
      }
      const at = new Map(all.map((x, i) => [x.r, i]));
      return all.map((x): TreeMember<(typeof all)[number]> => ({ pid: x.v.pid, comm: x.v.comm.value, parent: at.get(img.parent(x.r)!), value: x }));
    };
    const pairs = pairProcesses(await procs('a'), await procs('b'), this.opts.match);
    for (const p of pairs) {
      if (!p.a || !p.b) continue;
      const plan = await planMemory(this.a, await this.a.memory(p.a.r), this.b, await this.b.memory(p.b.r), this.opts);
      this.plans.set(p.a.r, plan);
      this.progress.total += plan.readBytes;
    }
    for (const p of pairs) {
      this.opts.signal?.throwIfAborted();
      const label = (v: PayloadByType['process']) => `process ${v.pid} ${quote(v.comm.value)}`;
      if (!p.b) nodes.push(node('process', p.key, label(p.a!.v), 'removed', { aTag: p.a!.r.tag }));
      else if (!p.a) nodes.push(node('process', p.key, label(p.b.v), 'added', { bTag: p.b.r.tag }));
      else {
        const n = await this.process(p.key, p.a, p.b);
        if (n) nodes.push(n);
      }
    }
    for (const side of ['a', 'b'] as const) {
      const img = this.img(side);
      for (const p of [...img.problems, ...img.layoutProblems]) if (problemSeverity(p.code) === 'error') this.problems.push({ side, message: p.message });
    }
    return nodes;
  }

  private async process(key: string, pa: { r: RecordEntry; v: PayloadByType['process'] }, pb: { r: RecordEntry; v: PayloadByType['process'] }): Promise<DiffNode | undefined> {
    const same = await this.sameRecord('process', pa.r, pb.r);
    const fa = same ? [] : fieldsOf('process', pa.v),
      fb = same ? [] : fieldsOf('process', pb.v);
    const fields = diffFieldNodes('process', fa, fb, '', [], new Set(['nthreads', 'cmdline', 'environ', 'rlimits']));
    if (!same) {
      fields.push(...cmdlineChange(nulList(pa.v.cmdline.value), nulList(pb.v.cmdline.value)));
      for (const c of environChanges(nulList(pa.v.environ.value), nulList(pb.v.environ.value))) fields.push(c);
    }
    // The fd table's own fields (its size) belong to the process; its fds are nodes below.
    const filesA = this.firstChild('a', pa.r, RecordType.FILES),
      filesB = this.firstChild('b', pb.r, RecordType.FILES);
    const files = await this.recordFields('files', filesA, filesB, ['nfds']);
    fields.push(...files.map((c) => ({ ...c, path: `files.${c.path}` })));
    const attrs = await this.recordFields('process_attrs', this.firstChild('a', pa.r, RecordType.PROCESS_ATTRS), this.firstChild('b', pb.r, RecordType.PROCESS_ATTRS), []);
    fields.push(...attrs.map((c) => ({ ...c, path: `attrs.${c.path}` })));

    const children: DiffNode[] = [
      ...(await this.threads(pa.r, pb.r, pa.v.pid === pb.v.pid)),
      ...(await this.memory(pa.r, pb.r)),
      ...(await this.fds(filesA, filesB)),
      ...(await this.signals(pa.r, pb.r)),
      ...this.rlimits(fa, fb),
      ...(await this.pending(pa.r, pb.r)),
      ...(await this.timers(pa.r, pb.r)),
      ...(await this.unsupported(pa.r, pb.r)),
    ];
    if (fields.length === 0 && children.length === 0) return undefined;
    return node('process', key, `process ${renumbered(pa.v.pid, pb.v.pid)} ${quote(pb.v.comm.value)}`, 'changed', { aTag: pa.r.tag, bTag: pb.r.tag, fields, children });
  }

  /** Field changes of a record present once on each side (mm, files); none if either is missing. */
  private async recordFields<L extends PayloadLabel>(label: L, ra: RecordEntry | undefined, rb: RecordEntry | undefined, skip: string[]): Promise<FieldChange[]> {
    if (!ra || !rb || (await this.sameRecord(label, ra, rb))) return [];
    const va = await this.decode('a', ra, label),
      vb = await this.decode('b', rb, label);
    if (!va || !vb) return [];
    return diffFieldNodes(typeNameOf(label), fieldsOf(typeNameOf(label), va), fieldsOf(typeNameOf(label), vb), '', [], new Set(skip));
  }

  private async threads(ra: RecordEntry, rb: RecordEntry, samePid: boolean): Promise<DiffNode[]> {
    const members = async (side: Side, proc: RecordEntry) => {
      const out: ThreadMember<{ r: RecordEntry; v: PayloadByType['thread'] }>[] = [];
      for (const r of this.img(side).childrenOfType(proc, RecordType.THREAD)) {
        const v = await this.decode(side, r, 'thread');
        if (v) out.push({ tid: v.tid, comm: v.comm.value, main: (v.flags & Ckpt.ThreadFlags.MAIN_THREAD) !== 0, value: { r, v } });
      }
      return out;
    };
    const label = (t: PayloadByType['thread']) => `thread ${t.tid} ${quote(t.comm.value)}`;
    const out: DiffNode[] = [];
    for (const p of pairThreads(await members('a', ra), await members('b', rb), samePid)) {
      if (!p.b) out.push(node('thread', p.key, label(p.a!.v), 'removed', { aTag: p.a!.r.tag, registers: registerRows(fieldsOf('thread', p.a!.v), undefined) }));
      else if (!p.a) out.push(node('thread', p.key, label(p.b.v), 'added', { bTag: p.b.r.tag, registers: registerRows(undefined, fieldsOf('thread', p.b.v)) }));
      else {
        const same = await this.sameRecord('thread', p.a.r, p.b.r);
        const fa = same ? [] : fieldsOf('thread', p.a.v),
          fb = same ? [] : fieldsOf('thread', p.b.v);
        const fields = diffFieldNodes('thread', fa, fb, '', []);
        const children = await this.pending(p.a.r, p.b.r);
        if (fields.length || children.length)
          out.push(
            node('thread', p.key, `thread ${renumbered(p.a.v.tid, p.b.v.tid)} ${quote(p.b.v.comm.value)}`, 'changed', {
              aTag: p.a.r.tag,
              bTag: p.b.r.tag,
              fields,
              children,
              registers: registerRows(fa, fb),
            }),
          );
      }
    }
    return out;
  }

  /** The mm's own fields, the VMAs matched by range, and each VMA's changed pages. */
  private async memory(pa: RecordEntry, pb: RecordEntry): Promise<DiffNode[]> {
    const out: DiffNode[] = [];
    const mmA = this.firstChild('a', pa, RecordType.MM),
      mmB = this.firstChild('b', pb, RecordType.MM);
    if (mmA && mmB) {
      const fields = await this.recordFields('mm', mmA, mmB, ['nvmas']);
      if (fields.length) out.push(node('mm', 'mm', 'memory descriptor', 'changed', { aTag: mmA.tag, bTag: mmB.tag, fields }));
    } else if (mmA || mmB) {
      out.push(node('mm', 'mm', 'memory descriptor', mmA ? 'removed' : 'added', mmA ? { aTag: mmA.tag } : { bTag: mmB!.tag }));
    }

    const memA = await this.a.memory(pa),
      memB = await this.b.memory(pb);
    // One entry per pair of VMAs; nodes are made only for the pairs that turn out to differ.
    interface VmaPair {
      a?: VmaInfo;
      b?: VmaInfo;
      fields: FieldChange[];
      ranges: RawPageRange[];
    }
    const pairs: VmaPair[] = [];
    const aAreas: Owned<VmaPair>[] = [],
      bAreas: Owned<VmaPair>[] = [];
    for (const { a, b } of matchVmas(memA.vmas, memB.vmas)) {
      const pair: VmaPair = { a, b, fields: [], ranges: [] };
      if (a && b && !(await this.sameRecord('vma', a.entry, b.entry))) {
        const va = await this.decode('a', a.entry, 'vma'),
          vb = await this.decode('b', b.entry, 'vma');
        if (va && vb) pair.fields = diffFieldNodes('vma', fieldsOf('vma', va), fieldsOf('vma', vb), '', []);
      }
      if (a && b) {
        const change = await this.buildIdChange(a.entry, b.entry);
        if (change) pair.fields.push(change);
      }
      pairs.push(pair);
      if (a) aAreas.push({ start: a.start, end: a.end, owner: pair });
      if (b) bAreas.push({ start: b.start, end: b.end, owner: pair });
    }

    const cmp = await comparePlanned(this.plans.get(pa)!, this.progress, this.opts);
    this.pagesCompared += cmp.pagesCompared;
    this.bytesRead += cmp.bytesRead;
    this.methods.add(cmp.method);
    const outside: RawPageRange[] = [];
    attribute(cmp.ranges, ownersOf(bAreas, aAreas), (owner, r) => (owner ? owner.ranges : outside).push(r));

    for (const { a, b, fields, ranges } of pairs) {
      if (a && b && fields.length === 0 && ranges.length === 0) continue;
      const ref = (a ?? b)!;
      const key = `${hex(ref.start)}-${hex(ref.end)}`;
      const label = `${key} ${protText(ref.prot, ref.flags)} ${ref.path || ref.kind}`;
      const pages = ranges.length ? pageDiffOf(ranges, cmp.pageSize) : undefined;
      const vma = { ...(a ? { a: vmaSide(a) } : {}), ...(b ? { b: vmaSide(b) } : {}) };
      if (a && b) {
        const aspects = aspectsOf(fields);
        if (pages) aspects.push('pages');
        out.push(node('vma', key, label, 'changed', { aTag: a.entry.tag, bTag: b.entry.tag, fields, vma, aspects, pages }));
      } else if (a) {
        out.push(node('vma', key, label, 'removed', { aTag: a.entry.tag, vma, pages }));
      } else {
        out.push(node('vma', key, label, 'added', { bTag: b!.entry.tag, vma, pages }));
      }
    }
    if (outside.length) out.push(node('vma', 'outside', 'pages outside any VMA', 'changed', { pages: pageDiffOf(outside, cmp.pageSize) }));
    return out;
  }

  /** A VMA's file with another GNU build-id (format 2.2): another build of the binary, whatever its path and size say. */
  private async buildIdChange(a: RecordEntry, b: RecordEntry): Promise<FieldChange | undefined> {
    const idOf = async (img: CheckpointImage, vma: RecordEntry): Promise<string | null> => {
      const r = img.childrenOfType(vma, RecordType.BUILD_ID)[0];
      if (!r) return null;
      try {
        return bytesToHex((await img.decodeAs(r, 'build_id')).id);
      } catch (e) {
        if (e instanceof ImageError) return null; // a damaged record: verify reports it
        throw e;
      }
    };
    const ia = await idOf(this.a, a),
      ib = await idOf(this.b, b);
    if (ia === ib || ia === null || ib === null) return undefined; // an image without build-ids says nothing about them
    return { path: 'build_id', a: ia, b: ib, aText: ia, bText: ib };
  }

  /** The fds of two file tables by number: each one's own flags, and its open file description. */
  private async fds(fa: RecordEntry | undefined, fb: RecordEntry | undefined): Promise<DiffNode[]> {
    const keyOf = (f: PayloadByType['fd']) => ({ key: String(f.fd), order: f.fd });
    const fileOf = async (side: Side, f: PayloadByType['fd']) => {
      const r = this.img(side).fileRecord(f);
      return r ? { r, v: await this.decode(side, r, 'file') } : undefined;
    };
    const label = async (side: Side, f: PayloadByType['fd']) => {
      const file = (await fileOf(side, f))?.v;
      // a socket by its addresses and peer: its path (an inode number) is new in every checkpoint
      if (file && file.kind === Ckpt.FdKind.SOCKET && file.extra && !(file.extra instanceof Uint8Array)) return `fd ${f.fd} ${socketName(file.extra as Ckpt.FdSocket)}`;
      return `fd ${f.fd} ${file ? file.path.value || enumLabel('fd_kind', file.kind) || '' : ''}`.trimEnd();
    };
    const out: DiffNode[] = [];
    // An fd whose file record cannot be read is left out on its side, like an fd that cannot be
    // read itself: it shows as removed or added, and the problem is reported.
    const readable = async (side: Side, list: Keyed<{ r: RecordEntry; v: PayloadByType['fd'] }>[]) => {
      const out: typeof list = [];
      for (const x of list) if ((await fileOf(side, x.value.v))?.v) out.push(x);
      return out;
    };
    const fdsA = await readable('a', await this.children('a', fa, RecordType.FD, 'fd', keyOf));
    const fdsB = await readable('b', await this.children('b', fb, RecordType.FD, 'fd', keyOf));
    for (const p of pairUp(fdsA, fdsB)) {
      if (!p.b) out.push(node('fd', p.key, await label('a', p.a!.v), 'removed', { aTag: p.a!.r.tag }));
      else if (!p.a) out.push(node('fd', p.key, await label('b', p.b.v), 'added', { bTag: p.b.r.tag }));
      else {
        const fields = diffFieldNodes('fd', fieldsOf('fd', p.a.v), fieldsOf('fd', p.b.v), '', [], new Set(['file']));
        const fileA = await fileOf('a', p.a.v),
          fileB = await fileOf('b', p.b.v);
        let children: DiffNode[] = [];
        if (fileA?.v && fileB?.v && !(await this.sameRecord('file', fileA.r, fileB.r))) {
          // an inotify instance's watches are things of their own, matched by watch descriptor
          const watches = fileA.v.kind === Ckpt.FdKind.INOTIFY && fileB.v.kind === Ckpt.FdKind.INOTIFY;
          fields.push(...diffFieldNodes('file', fieldsOf('file', fileA.v), fieldsOf('file', fileB.v), 'file', [], new Set(watches ? ['extra', 'extra_len'] : [])));
          if (watches) children = inotifyWatches(fileA, fileB);
        }
        if (fileA?.v && fileB?.v) fields.push(...(await this.fileChildren(fileA.r, fileB.r)));
        if (fields.length || children.length) out.push(node('fd', p.key, await label('a', p.a.v), 'changed', { aTag: p.a.r.tag, bTag: p.b.r.tag, fields, children }));
      }
    }
    return out;
  }

  /**
   * What belongs to two open file descriptions as their children: the contents of a file without
   * a path (its file_content and each extent, by offset) and its locks (by kind, owner and start),
   * as field changes named for them, e.g. `file.lock posix pid 12 @10.len`.
   */
  private async fileChildren(ra: RecordEntry, rb: RecordEntry): Promise<FieldChange[]> {
    const out: FieldChange[] = [];
    const lockKey = (l: PayloadByType['file_lock']) => ({ key: `${enumLabel('lock_kind', l.kind) ?? l.kind}${l.pid ? ` pid ${l.pid}` : ''} @${l.start}`, order: l.start });
    for (const p of pairUp(await this.children('a', ra, RecordType.FILE_LOCK, 'file_lock', lockKey), await this.children('b', rb, RecordType.FILE_LOCK, 'file_lock', lockKey))) {
      const fa = p.a ? fieldsOf('file_lock', p.a.v) : [],
        fb = p.b ? fieldsOf('file_lock', p.b.v) : [];
      diffFieldNodes('file_lock', fa, fb, `file.lock ${p.key}`, out);
    }
    const ca = this.firstChild('a', ra, RecordType.FILE_CONTENT),
      cb = this.firstChild('b', rb, RecordType.FILE_CONTENT);
    const va = ca && (await this.decode('a', ca, 'file_content')),
      vb = cb && (await this.decode('b', cb, 'file_content'));
    if (va || vb) diffFieldNodes('file_content', va ? fieldsOf('file_content', va) : [], vb ? fieldsOf('file_content', vb) : [], 'file.file_content', out);
    const extKey = (x: PayloadByType['file_extent']) => ({ key: String(x.offset), order: x.offset });
    for (const p of pairUp(await this.children('a', ca, RecordType.FILE_EXTENT, 'file_extent', extKey), await this.children('b', cb, RecordType.FILE_EXTENT, 'file_extent', extKey))) {
      if (p.a && p.b && (await this.sameRecord('file_extent', p.a.r, p.b.r))) continue;
      diffFieldNodes('file_extent', p.a ? fieldsOf('file_extent', p.a.v) : [], p.b ? fieldsOf('file_extent', p.b.v) : [], `file.file_content.extent @${p.key}`, out);
    }
    return out;
  }

  /** Signal handlers, one node per signal whose sigaction differs. */
  private async signals(pa: RecordEntry, pb: RecordEntry): Promise<DiffNode[]> {
    const items = async (side: Side, proc: RecordEntry) => {
      const r = this.firstChild(side, proc, RecordType.SIGACTIONS);
      const v = r && (await this.decode(side, r, 'sigactions'));
      return { r, items: v ? (fieldsOf('sigactions', v).find((f) => f.name === 'actions')?.children ?? []) : [] };
    };
    const ra = this.firstChild('a', pa, RecordType.SIGACTIONS),
      rb = this.firstChild('b', pb, RecordType.SIGACTIONS);
    if (ra && rb && (await this.sameRecord('sigactions', ra, rb))) return [];
    const A = await items('a', pa),
      B = await items('b', pb);
    const out: DiffNode[] = [];
    for (let i = 0; i < Math.max(A.items.length, B.items.length); i++) {
      const signo = i + 1;
      const x = A.items[i],
        y = B.items[i];
      const label = `signal ${signo} ${signalName(signo)}`;
      if (!y) out.push(node('signal', String(signo), label, 'removed', { aTag: A.r?.tag }));
      else if (!x) out.push(node('signal', String(signo), label, 'added', { bTag: B.r?.tag }));
      else {
        const fields = diffFieldNodes('sigaction', x.children ?? [], y.children ?? [], '', []);
        if (fields.length) out.push(node('signal', String(signo), label, 'changed', { aTag: A.r?.tag, bTag: B.r?.tag, fields }));
      }
    }
    return out;
  }

  /** Resource limits, one node per resource whose limits differ. */
  private rlimits(fa: FieldNode[], fb: FieldNode[]): DiffNode[] {
    const list = (f: FieldNode[]) => f.find((n) => n.name === 'rlimits')?.children ?? [];
    const out: DiffNode[] = [];
    const B = new Map(list(fb).map((n) => [n.name, n]));
    for (const x of list(fa)) {
      const y = B.get(x.name);
      const name = x.name.slice(1, -1);
      if (!y) continue;
      const fields = diffFieldNodes('rlimit', x.children ?? [], y.children ?? [], '', []);
      if (fields.length) out.push(node('rlimit', name, `rlimit ${name}`, 'changed', { fields }));
    }
    return out;
  }

  /** Queued signals of a process or a thread, matched by signal number (and occurrence). */
  private async pending(pa: RecordEntry, pb: RecordEntry): Promise<DiffNode[]> {
    const items = async (side: Side, parent: RecordEntry) => {
      const out: Keyed<{ tag: number; signo: number; fields: FieldNode[] }>[] = [];
      for (const r of this.img(side).childrenOfType(parent, RecordType.PENDING_SIGNALS)) {
        const v = await this.decode(side, r, 'pending_signals');
        if (!v) continue;
        const rendered = fieldsOf('pending_signals', v).find((f) => f.name === 'signals')?.children ?? [];
        v.signals.forEach((s, i) => out.push({ key: String(s.siSigno), order: s.siSigno, value: { tag: r.tag, signo: s.siSigno, fields: rendered[i]?.children ?? [] } }));
      }
      return uniqueKeys(out);
    };
    const out: DiffNode[] = [];
    for (const p of pairUp(await items('a', pa), await items('b', pb))) {
      const label = `pending ${signalName((p.a ?? p.b)!.signo)}${p.key.includes('#') ? ` (${p.key.split('#')[1]})` : ''}`;
      if (!p.b) out.push(node('pending-signal', p.key, label, 'removed', { aTag: p.a!.tag }));
      else if (!p.a) out.push(node('pending-signal', p.key, label, 'added', { bTag: p.b.tag }));
      else {
        const fields = diffFieldNodes('siginfo', p.a.fields, p.b.fields, '', []);
        if (fields.length) out.push(node('pending-signal', p.key, label, 'changed', { aTag: p.a.tag, bTag: p.b.tag, fields }));
      }
    }
    return out;
  }

  /** Interval timers by which, the timer slack, and POSIX timers by id. */
  private async timers(pa: RecordEntry, pb: RecordEntry): Promise<DiffNode[]> {
    const out: DiffNode[] = [];
    const ra = this.firstChild('a', pa, RecordType.TIMERS),
      rb = this.firstChild('b', pb, RecordType.TIMERS);
    if (ra && rb && !(await this.sameRecord('timers', ra, rb))) {
      const va = await this.decode('a', ra, 'timers'),
        vb = await this.decode('b', rb, 'timers');
      if (va && vb) {
        const fa = fieldsOf('timers', va),
          fb = fieldsOf('timers', vb);
        const list = (f: FieldNode[]) => f.find((n) => n.name === 'itimers')?.children ?? [];
        const B = new Map(list(fb).map((n) => [n.name, n]));
        for (const x of list(fa)) {
          const y = B.get(x.name);
          const which = x.name.slice(1, -1);
          const fields = y ? diffFieldNodes('itimer', x.children ?? [], y.children ?? [], '', []) : [];
          if (fields.length) out.push(node('timer', `itimer:${which}`, `itimer ${which}`, 'changed', { aTag: ra.tag, bTag: rb.tag, fields }));
        }
        const slack = diffFieldNodes('timers', fa, fb, '', [], new Set(['itimers']));
        if (slack.length) out.push(node('timer', 'timer-slack', 'timer slack', 'changed', { aTag: ra.tag, bTag: rb.tag, fields: slack }));
      }
    } else if (ra || rb) {
      if (!ra || !rb) out.push(node('timer', 'itimers', 'interval timers', ra ? 'removed' : 'added', ra ? { aTag: ra.tag } : { bTag: rb!.tag }));
    }
    const keyOf = (t: PayloadByType['posix_timer']) => ({ key: `posix:${t.id}`, order: t.id });
    const label = (t: PayloadByType['posix_timer']) =>
      `POSIX timer ${t.id} ${(enumLabel('clock_id', t.clockId) ?? `clock ${t.clockId}`).toUpperCase()} ${t.notify === Ckpt.SigevNotify.NONE ? 'no signal' : signalName(t.signo)}`;
    const A = await this.children('a', pa, RecordType.POSIX_TIMER, 'posix_timer', keyOf),
      B = await this.children('b', pb, RecordType.POSIX_TIMER, 'posix_timer', keyOf);
    for (const p of pairUp(A, B)) {
      if (!p.b) out.push(node('timer', p.key, label(p.a!.v), 'removed', { aTag: p.a!.r.tag }));
      else if (!p.a) out.push(node('timer', p.key, label(p.b.v), 'added', { bTag: p.b.r.tag }));
      else if (!(await this.sameRecord('posix_timer', p.a.r, p.b.r))) {
        const fields = diffFieldNodes('posix_timer', fieldsOf('posix_timer', p.a.v), fieldsOf('posix_timer', p.b.v), '', []);
        if (fields.length) out.push(node('timer', p.key, label(p.a.v), 'changed', { aTag: p.a.r.tag, bTag: p.b.r.tag, fields }));
      }
    }
    return out;
  }

  /** What the checkpointer could not capture, matched by what it is. */
  private async unsupported(pa: RecordEntry, pb: RecordEntry): Promise<DiffNode[]> {
    const keyOf = (u: PayloadByType['unsupported']) => {
      const key = `${enumLabel('unsupported_kind', u.what) ?? u.what}:${u.fd}:${hex(u.addr)}:${u.detail.value}`;
      return { key, order: 0 };
    };
    const A = (await this.children('a', pa, RecordType.UNSUPPORTED, 'unsupported', keyOf)).sort((x, y) => (x.key < y.key ? -1 : 1));
    const B = (await this.children('b', pb, RecordType.UNSUPPORTED, 'unsupported', keyOf)).sort((x, y) => (x.key < y.key ? -1 : 1));
    const order = new Map(
      [...A, ...B]
        .map((k) => k.key)
        .sort()
        .map((k, i) => [k, i]),
    );
    const out: DiffNode[] = [];
    const label = (u: PayloadByType['unsupported']) => `unsupported ${enumLabel('unsupported_kind', u.what) ?? u.what}: ${u.detail.value}`;
    for (const p of pairUp(
      A.map((k) => ({ ...k, order: order.get(k.key)! })),
      B.map((k) => ({ ...k, order: order.get(k.key)! })),
    )) {
      if (!p.b) out.push(node('unsupported', p.key, label(p.a!.v), 'removed', { aTag: p.a!.r.tag }));
      else if (!p.a) out.push(node('unsupported', p.key, label(p.b.v), 'added', { bTag: p.b.r.tag }));
      else {
        const fields = diffFieldNodes('unsupported', fieldsOf('unsupported', p.a.v), fieldsOf('unsupported', p.b.v), '', []);
        if (fields.length) out.push(node('unsupported', p.key, label(p.a.v), 'changed', { aTag: p.a.r.tag, bTag: p.b.r.tag, fields }));
      }
    }
    return out;
  }
}

/** The watches of one inotify fd on both sides, matched by watch descriptor, named by their paths. */
function inotifyWatches(fa: { r: RecordEntry; v?: PayloadByType['file'] }, fb: { r: RecordEntry; v?: PayloadByType['file'] }): DiffNode[] {
  const watches = (f: FieldNode[]) => f.find((n) => n.name === 'extra')?.children?.find((n) => n.name === 'watches')?.children ?? [];
  const keyed = (f: FieldNode[]): Keyed<FieldNode>[] =>
    watches(f).map((w) => {
      const wd = Number(w.children?.find((c) => c.name === 'wd')?.json ?? -1);
      return { key: String(wd), order: wd, value: w };
    });
  const pathOf = (w: FieldNode) => String(w.children?.find((c) => c.name === 'path')?.json ?? '');
  const out: DiffNode[] = [];
  for (const p of pairUp(keyed(fieldsOf('file', fa.v!)), keyed(fieldsOf('file', fb.v!)))) {
    const label = `inotify watch ${p.key} ${quote(pathOf((p.a ?? p.b)!))}`;
    if (!p.b) out.push(node('inotify-watch', p.key, label, 'removed', { aTag: fa.r.tag }));
    else if (!p.a) out.push(node('inotify-watch', p.key, label, 'added', { bTag: fb.r.tag }));
    else {
      const fields = diffFieldNodes('inotify_watch', p.a.children ?? [], p.b.children ?? [], '', []);
      if (fields.length) out.push(node('inotify-watch', p.key, label, 'changed', { aTag: fa.r.tag, bTag: fb.r.tag, fields }));
    }
  }
  return out;
}

function typeNameOf(label: PayloadLabel): string {
  return schema.payloadTypes[label] ?? label;
}

/**
 * Pair VMAs whose ranges overlap, best pairs first: the same range, then the same start or the
 * same end (a heap that grew, a stack that grew down), then the largest overlap. What is left
 * over was added or removed.
 */
export function matchVmas<V extends { start: bigint; end: bigint } = VmaInfo>(A: V[], B: V[]): { a?: V; b?: V }[] {
  const candidates: { i: number; j: number; rank: number; overlap: bigint }[] = [];
  let j0 = 0;
  A.forEach((va, i) => {
    while (j0 < B.length && B[j0].end <= va.start) j0++;
    for (let j = j0; j < B.length && B[j].start < va.end; j++) {
      const vb = B[j];
      if (vb.end <= va.start) continue;
      const rank = va.start === vb.start && va.end === vb.end ? 0 : va.start === vb.start || va.end === vb.end ? 1 : 2;
      const overlap = (va.end < vb.end ? va.end : vb.end) - (va.start > vb.start ? va.start : vb.start);
      candidates.push({ i, j, rank, overlap });
    }
  });
  candidates.sort((x, y) => x.rank - y.rank || (x.overlap > y.overlap ? -1 : x.overlap < y.overlap ? 1 : 0) || x.i - y.i || x.j - y.j);
  const partnerOfA = new Map<number, number>(),
    takenB = new Set<number>();
  for (const c of candidates) {
    if (partnerOfA.has(c.i) || takenB.has(c.j)) continue;
    partnerOfA.set(c.i, c.j);
    takenB.add(c.j);
  }
  const out: { a?: V; b?: V; start: bigint }[] = [];
  A.forEach((a, i) => {
    const j = partnerOfA.get(i);
    const b = j === undefined ? undefined : B[j];
    out.push({ a, b, start: b && b.start < a.start ? b.start : a.start });
  });
  B.forEach((b, j) => {
    if (!takenB.has(j)) out.push({ b, start: b.start });
  });
  // By the lower start of the two; then by A's start, so that pieces of a split come in order.
  const cmp = (x: bigint, y: bigint) => (x < y ? -1 : x > y ? 1 : 0);
  out.sort((x, y) => cmp(x.start, y.start) || cmp((x.a ?? x.b)!.start, (y.a ?? y.b)!.start) || (x.a ? 0 : 1) - (y.a ? 0 : 1));
  return out.map(({ a, b }) => ({ a, b }));
}

const protTexts = new Map<number, string>();
/** protString, remembered: a process has hundreds of VMAs and a handful of protections. */
function protText(prot: number, flags: number): string {
  const key = prot * 2 ** 32 + flags;
  let t = protTexts.get(key);
  if (t === undefined) protTexts.set(key, (t = protString(prot, flags)));
  return t;
}

function vmaSide(v: VmaInfo): VmaSide {
  return { start: hex(v.start), end: hex(v.end), prot: protText(v.prot, v.flags), kind: v.kind, path: v.path };
}

const ASPECT_OF: Record<string, VmaAspect> = {
  start: 'resized',
  end: 'resized',
  prot: 'protection',
  flags: 'flags',
  kind: 'kind',
  path: 'backing-file',
  build_id: 'backing-file',
  inode: 'backing-file',
  dev_major: 'backing-file',
  dev_minor: 'backing-file',
  offset: 'backing-file',
  file_size: 'backing-file',
  file_mtime_ns: 'backing-file',
};

function aspectsOf(fields: FieldChange[]): VmaAspect[] {
  const set = new Set<VmaAspect>();
  for (const f of fields) {
    const a = ASPECT_OF[f.path.split(/[.[]/)[0]];
    if (a) set.add(a);
  }
  return (['resized', 'protection', 'flags', 'backing-file', 'kind'] as const).filter((a) => set.has(a));
}

/** Every register of a thread on both sides, from the rendered `regs` field. */
function registerRows(a: FieldNode[] | undefined, b: FieldNode[] | undefined): RegisterRow[] {
  const regs = (f: FieldNode[] | undefined) => new Map((f?.find((n) => n.name === 'regs')?.children ?? []).map((n) => [n.name, n.display]));
  const ra = regs(a),
    rb = regs(b);
  const names = [...ra.keys(), ...[...rb.keys()].filter((k) => !ra.has(k))];
  return names.map((name) => {
    const x = ra.get(name) ?? null,
      y = rb.get(name) ?? null;
    return { name, a: x, b: y, changed: a !== undefined && b !== undefined && x !== y };
  });
}

/** Counts of a tree of differences (also for comparisons through the common model). */
export function countNodes(nodes: DiffNode[]): DiffCounts {
  const byKind = Object.fromEntries(DIFF_KINDS.map((k) => [k, { added: 0, removed: 0, changed: 0 }])) as Record<DiffKind, ChangeCounts>;
  const pages = { modified: 0, added: 0, removed: 0 };
  const walk = (list: DiffNode[]) => {
    for (const n of list) {
      if (n.change !== 'changed' || n.fields.length > 0 || n.pages) byKind[n.kind][n.change]++;
      if (n.pages) {
        pages.modified += n.pages.modified;
        pages.added += n.pages.added;
        pages.removed += n.pages.removed;
      }
      walk(n.children);
    }
  };
  walk(nodes);
  let total = pages.modified + pages.added + pages.removed;
  for (const c of Object.values(byKind)) total += c.added + c.removed + c.changed;
  return { byKind, pages, total };
}

function imageSide(img: CheckpointImage): ImageSide {
  const h = img.head;
  const ms = h.timeNs / 1000000n;
  return {
    name: img.source.name,
    size: img.source.size,
    time: ms <= 8640000000000000n ? new Date(Number(ms)).toISOString() : 'out of range',
    timeNs: h.timeNs.toString(),
    checkpointer: h.checkpointer.value,
    pageSize: h.pageSize,
    processes: img.processes().length,
  };
}

/**
 * Compare image A with image B. Structural differences and, per VMA, the changed pages found
 * from the page hashes without reading page data (or, for pages without usable hashes, by
 * streaming their bytes, with progress and cancellation through `opts`).
 */
export async function compareImages(a: CheckpointImage, b: CheckpointImage, opts: CompareOptions = {}): Promise<ImageDiff> {
  const t0 = performance.now();
  opts.signal?.throwIfAborted();
  const cmp = new Comparison(a, b, opts);
  const nodes = await cmp.run();
  const counts = countNodes(nodes);
  return {
    a: imageSide(a),
    b: imageSide(b),
    same: nodes.length === 0,
    counts,
    nodes,
    pageMethod: cmp.pageMethod,
    stats: { ms: Math.round((performance.now() - t0) * 100) / 100, pagesCompared: cmp.pagesCompared, bytesRead: cmp.bytesRead },
    problems: cmp.problems,
  };
}
