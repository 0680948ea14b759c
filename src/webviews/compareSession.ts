// The host side of the compare editor: two opened images, their comparison (run once, with
// progress and cancellation, by the image library's compareImages), and the answers to the compare
// webview's requests. The ImageDiff stays here; the webview gets it in bounded pieces: one level of
// rows at a time, one node's detail, its changed pages in pages, one page's bytes. Like
// ImageRequests it has no vscode import, so the unit tests run it on real images.

import * as path from 'path';
import { ThreadStacks } from '../checkpoint/threadStacks';
import type { ProcessState } from '../checkpoint';
import { pairThreads } from '../image/diff/pairProcesses';
import { backtraceModel } from './backtraceModel';
import type { BacktraceModel } from '../shared/models';
import { Checkpoint, checkpointPageBytes, checkpointSide, compareCheckpoints, diffNodeRecord, openCheckpoint, OpenCheckpointOptions } from '../checkpoint';
import { DIFF_KINDS, DiffNode, ImageDiff, ImageSide } from '../image';
import {
  CompareMethod,
  CompareOverviewModel,
  CompareRequest,
  CompareRequestMap,
  CompareSideModel,
  CompareStatusModel,
  DiffDetailModel,
  DiffRowModel,
  MAX_DIFF_ROWS_PER_REQUEST,
  MAX_FIELDS_PER_NODE,
  MAX_PAGES_PER_REQUEST,
  MAX_THREAD_KEY,
  PageRowModel,
  ProcessSides,
} from '../shared/compareProtocol';
import { addrParam, intParam } from '../shared/protocol';

/** A node of the diff with its place in the tree. */
interface Flat {
  node: DiffNode;
  parent?: number;
  children: number[];
  /** The process the node belongs to, by its record on each side (PIDs may differ between the sides). */
  process?: ProcessSides;
  /** Pages before each range, for paging a VMA's changed pages (made on first use). */
  pageStarts?: number[];
}

type Handlers = { [M in CompareMethod]: (params: CompareRequestMap[M]['params']) => Promise<CompareRequestMap[M]['result']> };

export class CompareSession implements Handlers {
  private _status: CompareStatusModel = { state: 'running', done: 0, total: 0 };
  private diff?: ImageDiff;
  private flat: Flat[] = [];
  private roots: number[] = [];
  private running?: Promise<CompareStatusModel>;
  /** Requests answered, by method: the integration tests see that the webview asked. */
  readonly served = new Map<CompareMethod, number>();
  /** Each image's threads' backtraces, computed when asked for. */
  private readonly stacks: { a: ThreadStacks; b: ThreadStacks };

  private constructor(
    readonly a: Checkpoint,
    readonly b: Checkpoint,
    private readonly sides: { a: ImageSide; b: ImageSide },
  ) {
    this.stacks = { a: new ThreadStacks(a), b: new ThreadStacks(b) };
  }

  /**
   * Opens both checkpoints, of either format (headers only). With `order: 'time'` the earlier
   * checkpoint becomes A, as two files picked together have no order of their own; with 'given'
   * A is the first path.
   */
  static async open(pathA: string, pathB: string, order: 'given' | 'time' = 'given', opts: OpenCheckpointOptions = {}): Promise<CompareSession> {
    const a = await openNamed(pathA, opts);
    let b: Checkpoint;
    let sa: ImageSide, sb: ImageSide;
    try {
      b = await openNamed(pathB, opts);
      sa = await checkpointSide(a);
      sb = await checkpointSide(b);
    } catch (e) {
      await a.close();
      throw e;
    }
    return order === 'time' && BigInt(sb.timeNs) < BigInt(sa.timeNs) ? new CompareSession(b, a, { a: sb, b: sa }) : new CompareSession(a, b, { a: sa, b: sb });
  }

  get pathA(): string {
    return this.a.name;
  }

  get pathB(): string {
    return this.b.name;
  }

  get status(): CompareStatusModel {
    return this._status;
  }

  /** The comparison, once done. */
  get result(): ImageDiff | undefined {
    return this.diff;
  }

  /**
   * Compares the images (again, when asked after a cancel); one run at a time, a second call joins
   * the first. Never throws: a failure or a cancel is the resulting status.
   */
  run(opts: { signal?: AbortSignal; onProgress?: (s: CompareStatusModel) => void; pages?: 'auto' | 'bytes' } = {}): Promise<CompareStatusModel> {
    if (this.running) return this.running;
    this.diff = undefined;
    this.flat = [];
    this.roots = [];
    this._status = { state: 'running', done: 0, total: 0 };
    this.running = compareCheckpoints(this.a, this.b, {
      pages: opts.pages,
      signal: opts.signal,
      onProgress: (p) => {
        this._status = { state: 'running', done: p.done, total: p.total };
        opts.onProgress?.(this._status);
      },
    })
      .then(
        (d): CompareStatusModel => {
          this.diff = d;
          this.index(d.nodes);
          return { state: 'done' };
        },
        (e: unknown): CompareStatusModel => (opts.signal?.aborted ? { state: 'cancelled' } : { state: 'failed', error: e instanceof Error ? e.message : String(e) }),
      )
      .then((s) => {
        this._status = s;
        this.running = undefined;
        return s;
      });
    return this.running;
  }

  /** Answers one request; throws (RangeError) with a message for the webview. */
  handle(m: CompareRequest): Promise<unknown> {
    this.served.set(m.method, (this.served.get(m.method) ?? 0) + 1);
    const fn = (this as unknown as Record<string, (p: unknown) => Promise<unknown>>)[m.method];
    return fn.call(this, m.params);
  }

  async overview(): Promise<CompareOverviewModel> {
    const o: CompareOverviewModel = { a: sideModel(this.sides.a), b: sideModel(this.sides.b), status: this._status };
    const d = this.diff;
    if (d) {
      o.result = {
        same: d.same,
        counts: DIFF_KINDS.map((kind) => ({ kind, ...d.counts.byKind[kind] })).filter((c) => c.added + c.removed + c.changed > 0),
        pages: d.counts.pages,
        total: d.counts.total,
        pageMethod: d.pageMethod,
        stats: d.stats,
        problems: d.problems,
      };
    }
    return o;
  }

  async children(params: CompareRequestMap['children']['params']): Promise<{ items: DiffRowModel[]; total: number }> {
    this.needDiff();
    const all = params.parent === undefined ? this.roots : this.entry(intParam(params, 'parent')!).children;
    const offset = intParam(params, 'offset', { optional: true }) ?? 0;
    const limit = intParam(params, 'limit', { optional: true, min: 1, max: MAX_DIFF_ROWS_PER_REQUEST }) ?? MAX_DIFF_ROWS_PER_REQUEST;
    return { items: all.slice(offset, offset + limit).map((id) => this.row(id)), total: all.length };
  }

  async node(params: CompareRequestMap['node']['params']): Promise<DiffDetailModel> {
    this.needDiff();
    const id = intParam(params, 'id')!;
    const f = this.entry(id);
    const n = f.node;
    const d: DiffDetailModel = {
      row: this.row(id),
      path: this.pathTo(id),
      fields: n.fields.slice(0, MAX_FIELDS_PER_NODE).map((c) => ({ path: c.path, a: c.aText, b: c.bText, ...(c.bytes ? { bytes: c.bytes } : {}) })),
    };
    if (f.process) d.process = { ...f.process };
    if (n.fields.length > MAX_FIELDS_PER_NODE) d.moreFields = n.fields.length - MAX_FIELDS_PER_NODE;
    if (n.vma) d.vma = { ...(n.vma.a ? { a: { ...n.vma.a } } : {}), ...(n.vma.b ? { b: { ...n.vma.b } } : {}) };
    if (n.aspects) d.aspects = [...n.aspects];
    if (n.registers) d.registers = n.registers.map((r) => ({ ...r }));
    if (n.pages) {
      const p = n.pages;
      d.pages = { modified: p.modified, added: p.added, removed: p.removed, total: p.modified + p.added + p.removed, ranges: p.ranges.length };
    }
    return d;
  }

  async pages(params: CompareRequestMap['pages']['params']): Promise<{ items: PageRowModel[]; total: number }> {
    this.needDiff();
    const f = this.entry(intParam(params, 'id')!);
    const offset = intParam(params, 'offset', { optional: true }) ?? 0;
    const limit = intParam(params, 'limit', { optional: true, min: 1, max: MAX_PAGES_PER_REQUEST }) ?? MAX_PAGES_PER_REQUEST;
    const ranges = f.node.pages?.ranges ?? [];
    if (!f.pageStarts) {
      let n = 0;
      f.pageStarts = ranges.map((r) => {
        const at = n;
        n += r.pages;
        return at;
      });
    }
    const starts = f.pageStarts;
    const total = ranges.length ? starts[starts.length - 1] + ranges[ranges.length - 1].pages : 0;
    const items: PageRowModel[] = [];
    // The range holding page `offset`, then page by page from there.
    let lo = 0,
      hi = ranges.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    for (let i = lo; i < ranges.length && items.length < limit; i++) {
      const r = ranges[i];
      const size = (BigInt(r.end) - BigInt(r.start)) / BigInt(r.pages);
      for (let k = Math.max(0, offset - starts[i]); k < r.pages && items.length < limit; k++) {
        items.push({ addr: `0x${(BigInt(r.start) + BigInt(k) * size).toString(16)}`, change: r.change });
      }
    }
    return { items, total };
  }

  async pageBytes(params: CompareRequestMap['pageBytes']['params']): Promise<CompareRequestMap['pageBytes']['result']> {
    this.needDiff();
    const f = this.entry(intParam(params, 'id')!);
    const addr = addrParam(params, 'addr')!;
    if (!f.process) throw new RangeError(`node ${params.id} is not in a process`);
    return checkpointPageBytes(this.a, this.b, addr, f.process);
  }

  async threads(params: CompareRequestMap['threads']['params']): Promise<{ pairs: { key: string; label: string; a?: number; b?: number }[] }> {
    const pairs = await this.threadPairs(intParam(params, 'id')!);
    return {
      pairs: pairs.map((p) => ({
        key: p.key,
        label: p.a && p.b && p.a.tid !== p.b.tid ? `thread ${p.a.tid} → ${p.b.tid} "${p.b.comm}"` : `thread ${(p.a ?? p.b)!.tid} "${(p.a ?? p.b)!.comm}"`,
        ...(p.a ? { a: p.a.tid } : {}),
        ...(p.b ? { b: p.b.tid } : {}),
      })),
    };
  }

  async backtraces(params: CompareRequestMap['backtraces']['params']): Promise<{ a?: BacktraceModel; b?: BacktraceModel }> {
    const id = intParam(params, 'id')!;
    const key = (params as Record<string, unknown>).key;
    if (typeof key !== 'string' || key.length > MAX_THREAD_KEY) throw new RangeError(`parameter 'key' must be a thread's key`);
    const pair = (await this.threadPairs(id)).find((p) => p.key === key);
    if (!pair) throw new RangeError(`the process of difference #${id} has no thread ${key}`);
    const side = async (s: 'a' | 'b') => {
      const t = pair[s],
        proc = this.flat[id].process![s];
      return t && proc !== undefined ? { [s]: backtraceModel(proc, t.tid, await this.stacks[s].backtrace(proc, t.tid)) } : {};
    };
    return { ...(await side('a')), ...(await side('b')) };
  }

  /** The threads of a node's process on both sides, paired as the comparison pairs them. */
  private async threadPairs(id: number) {
    this.needDiff();
    const f = this.entry(id);
    if (!f.process) throw new RangeError(`difference #${id} is not in a process`);
    const find = async (c: Checkpoint, record: number | undefined): Promise<ProcessState | undefined> => (record === undefined ? undefined : (await c.processes()).find((p) => p.record === record));
    const pa = await find(this.a, f.process.a),
      pb = await find(this.b, f.process.b);
    const members = (p: ProcessState | undefined) => (p ? p.threads.map((t) => ({ tid: t.tid, comm: t.comm, main: t.tid === p.pid, value: t })) : []);
    return pairThreads(members(pa), members(pb), !pa || !pb || pa.pid === pb.pid);
  }

  /** A process node's record on each side that has it. */
  private processSides(n: DiffNode): ProcessSides {
    const a = this.recordOf(n, 'a'),
      b = this.recordOf(n, 'b');
    return { ...(a !== undefined ? { a } : {}), ...(b !== undefined ? { b } : {}) };
  }

  /** The record of a node in image A or B, by file-order index, to open it there. */
  recordIndex(id: number, side: 'a' | 'b'): number | undefined {
    const n = this.flat[id]?.node;
    return n && this.recordOf(n, side);
  }

  private recordOf(n: DiffNode, side: 'a' | 'b'): number | undefined {
    return diffNodeRecord(side === 'a' ? this.a : this.b, n, side);
  }

  async close(): Promise<void> {
    await Promise.all([this.a.close(), this.b.close()]);
  }

  private needDiff(): void {
    if (!this.diff) throw new RangeError(this._status.state === 'running' ? 'the comparison has not finished' : 'there is no comparison to show');
  }

  private entry(id: number): Flat {
    const f = this.flat[id];
    if (!f) throw new RangeError(`there is no difference #${id}`);
    return f;
  }

  private row(id: number): DiffRowModel {
    const f = this.flat[id];
    const n = f.node;
    const r: DiffRowModel = { id, kind: n.kind, key: n.key, label: n.label, change: n.change, childCount: f.children.length, fields: n.fields.length };
    if (n.pages) r.pages = { modified: n.pages.modified, added: n.pages.added, removed: n.pages.removed };
    return r;
  }

  private pathTo(id: number): number[] {
    const out: number[] = [];
    for (let p = this.flat[id].parent; p !== undefined; p = this.flat[p].parent) out.unshift(p);
    return out;
  }

  private index(nodes: DiffNode[]): void {
    const walk = (list: DiffNode[], parent: number | undefined, process: ProcessSides | undefined): number[] =>
      list.map((node) => {
        const id = this.flat.length;
        const own = node.kind === 'process' ? this.processSides(node) : process;
        const f: Flat = { node, parent, children: [], ...(own ? { process: own } : {}) };
        this.flat.push(f);
        f.children = walk(node.children, id, f.process);
        return id;
      });
    this.roots = walk(nodes, undefined, undefined);
  }
}

/** Opens an image; a failure names the file, since a comparison has two. */
async function openNamed(file: string, opts: OpenCheckpointOptions): Promise<Checkpoint> {
  try {
    return await openCheckpoint(file, opts);
  } catch (e) {
    throw new Error(`${path.basename(file)}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function sideModel(s: ImageSide): CompareSideModel {
  return { fileName: path.basename(s.name), path: s.name, size: s.size, time: s.time, checkpointer: s.checkpointer, pageSize: s.pageSize, processes: s.processes };
}
