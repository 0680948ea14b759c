// The host side of the editor protocol: answers the webview's requests from an opened image through
// the image library. It has no vscode import, so the unit tests run it on real images as they are.
// Every answer is bounded: children are paged, byte reads are capped, field trees are trimmed.

import * as path from 'path';
import {
  bytesToHex,
  CheckpointImage,
  describeRecord,
  enumLabel,
  FieldNode,
  flagLabels,
  ImageError,
  ImageProblem,
  MemoryMap,
  payloadTypeName,
  protString,
  RecordEntry,
  RecordType,
  renderFields,
  schema,
  summarizeImage,
} from '../image';
import type {
  AddressSpaceModel,
  BytesModel,
  FieldModel,
  MemoryLayoutModel,
  MemoryPieceModel,
  MemorySpanModel,
  ProblemModel,
  RecordDetailModel,
  RecordNodeModel,
  RecordView,
  SummaryModel,
  VerificationModel,
} from '../shared/models';
import {
  addrHex,
  addrParam,
  intParam,
  MAX_BYTES_PER_REQUEST,
  MAX_CHILDREN_PER_REQUEST,
  RequestMessage,
  RequestMethod,
  RequestParams,
  RequestResult,
  SearchMethod,
} from '../shared/protocol';

/** Children of one field sent at most; arrays of thousands of runs or rlimits are trimmed. */
const MAX_FIELD_CHILDREN = 256;
/** Spans of one memory layout; an address space with more is cut short (and says so). */
const MAX_SPANS = 20000;
const HEADER_SIZE = 32;

export function problemModel(p: ImageProblem): ProblemModel {
  return { code: p.code, message: p.message, record: p.record, severity: p.code === 'unknown-type' ? 'note' : 'error' };
}

/** Every request but the searches, which each editor answers for itself (imageSearch.ts). */
type Handlers = { [M in Exclude<RequestMethod, SearchMethod>]: (params: RequestParams<M>) => Promise<RequestResult<M>> };

export class ImageRequests implements Handlers {
  /** Records with problems, and the records above them, recomputed when the problem list changes. */
  private damage?: { problems: ProblemModel[]; own: Map<number, string>; below: Set<number> };

  constructor(
    readonly image: CheckpointImage,
    private readonly verification: () => VerificationModel,
  ) {}

  /** Answers one request; throws (RangeError, ImageError) with a message for the webview. */
  handle(m: Exclude<RequestMessage, { method: SearchMethod }>): Promise<unknown> {
    const fn = (this as unknown as Record<string, (p: unknown) => Promise<unknown>>)[m.method];
    return fn.call(this, m.params);
  }

  async summary(): Promise<SummaryModel> {
    const img = this.image;
    const s = await summarizeImage(img);
    return {
      fileName: path.basename(s.name),
      path: s.name,
      size: s.size,
      records: s.records,
      version: s.version,
      arch: s.arch,
      pageSize: s.pageSize,
      kernel: `${s.sysname} ${s.kernel}`,
      kernelVersion: s.kernelVersion,
      hostname: s.hostname,
      machine: s.machine,
      checkpointer: s.checkpointer,
      time: s.time,
      flags: s.flags,
      complete: s.complete,
      processes: s.processes.map((p) => ({ ...p, index: img.byTag(p.tag)?.index ?? -1 })),
      verification: this.verification(),
    };
  }

  async children(params: RequestParams<'children'>): Promise<{ items: RecordNodeModel[]; total: number }> {
    const parent = params.parent === undefined ? undefined : this.entry(intParam(params, 'parent')!);
    const offset = intParam(params, 'offset', { optional: true }) ?? 0;
    const limit = intParam(params, 'limit', { optional: true, min: 1, max: MAX_CHILDREN_PER_REQUEST }) ?? MAX_CHILDREN_PER_REQUEST;
    const all = this.image.children(parent);
    const items: RecordNodeModel[] = [];
    for (const r of all.slice(offset, offset + limit)) items.push(await this.node(r));
    return { items, total: all.length };
  }

  /** One record as a tree row: what the webview's tree and the Image Records view both show. */
  async node(r: RecordEntry): Promise<RecordNodeModel> {
    const d = await describeRecord(this.image, r);
    const damage = this.damageMap();
    const own = damage.own.get(r.index) ?? d.error;
    const below = !own && damage.below.has(r.index);
    return {
      index: r.index,
      tag: r.tag,
      title: d.title,
      detail: d.detail,
      childCount: this.image.children(r).length,
      ...(own ? { problem: own } : below ? { problem: 'a record below this one is damaged', problemBelow: true } : {}),
    };
  }

  /** File-order indices of the ancestors of a record, top level first. A parent always comes before its child, so this ends. */
  pathTo(r: RecordEntry): number[] {
    const out: number[] = [];
    for (let p = this.image.parent(r); p; p = this.image.parent(p)) out.push(p.index);
    return out.reverse();
  }

  async record(params: RequestParams<'record'>): Promise<RecordDetailModel> {
    const img = this.image;
    const r = this.entry(intParam(params, 'index')!);
    const typeName = payloadTypeName(r.type);
    let fields: FieldModel[] | undefined;
    let decodeError: string | undefined;
    if (typeName && r.type !== RecordType.PAGES) {
      try {
        const payload = await img.decode(r);
        if (payload) fields = renderFields(typeName, payload as never).map((f) => fieldModel(f, r.payloadOffset));
      } catch (e) {
        if (!(e instanceof ImageError)) throw e;
        decodeError = e.message;
      }
    }
    const proc = this.processOf(r);
    const views: RecordView[] = ['fields'];
    if (proc && [RecordType.PROCESS, RecordType.MM, RecordType.VMA].includes(r.type)) views.push('addressSpace');
    if (proc && [RecordType.PROCESS, RecordType.MM, RecordType.VMA, RecordType.PAGEMAP, RecordType.PAGES].includes(r.type)) views.push('memory');
    return {
      node: await this.node(r),
      path: this.pathTo(r),
      offset: r.offset,
      payloadOffset: r.payloadOffset,
      length: r.len,
      header: await this.headerFields(r),
      fields,
      decodeError,
      problems: this.damageMap().problems.filter((p) => p.record === r.index),
      views,
      process: proc?.index,
      memoryRange: proc ? await this.memoryRangeOf(r, proc) : undefined,
    };
  }

  async bytes(params: RequestParams<'bytes'>): Promise<BytesModel> {
    const r = this.entry(intParam(params, 'index')!);
    const offset = intParam(params, 'offset')!;
    const length = intParam(params, 'length', { max: MAX_BYTES_PER_REQUEST })!;
    const end = r.payloadOffset + r.len;
    if (offset < r.offset || offset + length > end) {
      throw new RangeError(`bytes ${offset}+${length} are outside record #${r.index} (file offsets ${r.offset} to ${end})`);
    }
    return { offset, hex: bytesToHex(await this.image.source.read(offset, length)) };
  }

  async addressSpace(params: RequestParams<'addressSpace'>): Promise<AddressSpaceModel> {
    const proc = this.processRecord(intParam(params, 'process')!);
    const map = await this.image.memory(proc);
    return {
      process: proc.index,
      pageSize: map.pageSize,
      dumpedBytes: map.dumpedBytes,
      vmas: map.vmas.map((v) => ({
        index: v.entry.index,
        start: addrHex(v.start),
        end: addrHex(v.end),
        size: Number(v.end - v.start),
        prot: protString(v.prot, v.flags),
        kind: v.kind,
        path: v.path,
        offset: addrHex(v.offset),
        dumpedBytes: dumpedIn(map, v.start, v.end),
      })),
    };
  }

  async memoryLayout(params: RequestParams<'memoryLayout'>): Promise<MemoryLayoutModel> {
    const proc = this.processRecord(intParam(params, 'process')!);
    const map = await this.image.memory(proc);
    const first = minBig(map.vmas[0]?.start, map.segments[0]?.start);
    const last = maxBig(map.vmas[map.vmas.length - 1]?.end, map.segments[map.segments.length - 1]?.end);
    const start = addrParam(params, 'start', true) ?? first ?? 0n;
    const end = addrParam(params, 'end', true) ?? last ?? 0n;
    if (end < start) throw new RangeError('the end of the range is before its start');
    const { spans, truncated } = layoutSpans(map, start, end);
    return { process: proc.index, start: addrHex(start), end: addrHex(end), spans, truncated };
  }

  async memory(params: RequestParams<'memory'>): Promise<MemoryPieceModel[]> {
    const proc = this.processRecord(intParam(params, 'process')!);
    const addr = addrParam(params, 'addr')!;
    const length = intParam(params, 'length', { max: MAX_BYTES_PER_REQUEST })!;
    const map = await this.image.memory(proc);
    return (await map.read(addr, length)).map((p) => ({
      addr: addrHex(p.addr),
      length: p.length,
      state: p.state,
      ...(p.bytes ? { hex: bytesToHex(p.bytes) } : {}),
    }));
  }

  entry(index: number): RecordEntry {
    const r = this.image.records[index];
    if (!r) throw new RangeError(`there is no record #${index} (the image has ${this.image.records.length})`);
    return r;
  }

  /** The process record a record belongs to (itself for a process). */
  processOf(r: RecordEntry): RecordEntry | undefined {
    const seen = new Set<RecordEntry>();
    for (let p: RecordEntry | undefined = r; p && !seen.has(p); p = this.image.parent(p)) {
      if (p.type === RecordType.PROCESS) return p;
      seen.add(p);
    }
    return undefined;
  }

  private processRecord(index: number): RecordEntry {
    const r = this.entry(index);
    if (r.type !== RecordType.PROCESS) throw new RangeError(`record #${index} is not a process`);
    return r;
  }

  private async memoryRangeOf(r: RecordEntry, proc: RecordEntry): Promise<{ start: string; end: string } | undefined> {
    if (r.type === RecordType.VMA) {
      try {
        const v = await this.image.decodeAs(r, 'vma');
        return { start: addrHex(v.start), end: addrHex(v.end) };
      } catch (e) {
        if (e instanceof ImageError) return undefined;
        throw e;
      }
    }
    if (r.type !== RecordType.PAGEMAP && r.type !== RecordType.PAGES) return undefined;
    const map = await this.image.memory(proc);
    const mine = map.segments.filter((s) => s.pagemap === r || s.pages === r);
    if (mine.length === 0) return undefined;
    return { start: addrHex(mine[0].start), end: addrHex(mine[mine.length - 1].end) };
  }

  /** The 32-byte record header as fields, from the schema's record_header type. */
  private async headerFields(r: RecordEntry): Promise<FieldModel[]> {
    const bytes = await this.image.source.read(r.offset, HEADER_SIZE);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out: FieldModel[] = [];
    let at = 0;
    for (const f of schema.types.record_header?.fields ?? []) {
      const size = f.kind === 'u8' ? 8 : f.kind === 'u4' ? 4 : f.kind === 'u2' ? 2 : 1;
      if (at + size > HEADER_SIZE) break;
      const v = size === 8 ? dv.getBigUint64(at, true) : size === 4 ? dv.getUint32(at, true) : size === 2 ? dv.getUint16(at, true) : dv.getUint8(at);
      let display: string;
      if (f.enum) display = `${enumLabel(f.enum, v) ?? 'unknown'} (${v})`;
      else if (f.flags) {
        const labels = flagLabels(f.flags, Number(v));
        display = `${labels.length ? labels.join('|') : 'none'} (0x${v.toString(16)})`;
      } else if (f.display === 'hex' || size === 8) display = `0x${v.toString(16)}`;
      else display = v.toString();
      out.push({ name: f.id, display, doc: f.doc || undefined, fileOffset: r.offset + at, size });
      at += size;
    }
    return out;
  }

  private damageMap(): { problems: ProblemModel[]; own: Map<number, string>; below: Set<number> } {
    const problems = this.verification().problems;
    if (this.damage?.problems === problems) return this.damage;
    const own = new Map<number, string>();
    const below = new Set<number>();
    for (const p of problems) {
      if (p.severity !== 'error' || p.record === undefined) continue;
      const r = this.image.records[p.record];
      if (!r) continue;
      if (!own.has(r.index)) own.set(r.index, p.message);
      // Up to the first ancestor already marked: its own ancestors are marked too. Walking every
      // path whole took time in the depth times the problems (a hostile image has both).
      for (let a = this.image.parent(r); a && !below.has(a.index); a = this.image.parent(a)) below.add(a.index);
    }
    this.damage = { problems, own, below };
    return this.damage;
  }
}

/** A FieldNode with file offsets, and its children trimmed to a bounded number. */
export function fieldModel(f: FieldNode, payloadOffset: number): FieldModel {
  const m: FieldModel = { name: f.name, display: wideDisplay(f), fileOffset: payloadOffset + f.offset, size: f.size };
  if (f.doc) m.doc = f.doc;
  if (f.children) {
    m.children = f.children.slice(0, MAX_FIELD_CHILDREN).map((c) => fieldModel(c, payloadOffset));
    if (f.children.length > MAX_FIELD_CHILDREN) m.moreChildren = f.children.length - MAX_FIELD_CHILDREN;
  }
  return m;
}

/**
 * 64-bit values in hex: the library shows a u8 without a display hint in decimal (a count, a time);
 * its hex follows, so that every 64-bit value can be read both ways.
 */
function wideDisplay(f: FieldNode): string {
  if (f.size === 8 && typeof f.json === 'string' && f.json === f.display && /^\d+$/.test(f.display)) {
    return `${f.display} (0x${BigInt(f.display).toString(16)})`;
  }
  return f.display;
}

function minBig(...xs: (bigint | undefined)[]): bigint | undefined {
  let m: bigint | undefined;
  for (const x of xs) if (x !== undefined && (m === undefined || x < m)) m = x;
  return m;
}

function maxBig(...xs: (bigint | undefined)[]): bigint | undefined {
  let m: bigint | undefined;
  for (const x of xs) if (x !== undefined && (m === undefined || x > m)) m = x;
  return m;
}

/** Dumped bytes of a process between two addresses. */
export function dumpedIn(map: MemoryMap, start: bigint, end: bigint): number {
  let n = 0n;
  for (let i = map.segmentFrom(start); i < map.segments.length && map.segments[i].start < end; i++) {
    const s = map.segments[i];
    n += minBig(s.end, end)! - maxBig(s.start, start)!;
  }
  return Number(n);
}

/**
 * The memory view's rows for [start, end): the dumped stretches in full, and each stretch without
 * bytes as one gap (split where a VMA starts or ends, so that each gap can say what it is).
 */
export function layoutSpans(map: MemoryMap, start: bigint, end: bigint): { spans: MemorySpanModel[]; truncated: boolean } {
  const spans: MemorySpanModel[] = [];
  let truncated = false;
  const push = (s: bigint, e: bigint, kind: MemorySpanModel['kind'], label?: string): boolean => {
    if (e <= s) return true;
    const prev = spans[spans.length - 1];
    // Adjacent data (segments of two pagemaps) and adjacent unmapped holes read as one span.
    if (prev && prev.kind === kind && kind !== 'not-dumped' && BigInt(prev.end) === s) {
      prev.end = addrHex(e);
      return true;
    }
    if (spans.length >= MAX_SPANS) {
      truncated = true;
      return false;
    }
    spans.push({ start: addrHex(s), end: addrHex(e), kind, ...(label ? { label } : {}) });
    return true;
  };
  const gap = (s: bigint, e: bigint): boolean => {
    let cur = s;
    while (cur < e) {
      const vma = map.vmaAt(cur);
      if (vma) {
        const stop = vma.end < e ? vma.end : e;
        if (!push(cur, stop, 'not-dumped', vmaLabel(vma))) return false;
        cur = stop;
      } else {
        const next = map.vmas.find((v) => v.start > cur);
        const stop = next && next.start < e ? next.start : e;
        if (!push(cur, stop, 'unmapped')) return false;
        cur = stop;
      }
    }
    return true;
  };
  let cur = start;
  for (let i = map.segmentFrom(start); i < map.segments.length && map.segments[i].start < end; i++) {
    const seg = map.segments[i];
    const s = seg.start > cur ? seg.start : cur;
    const e = seg.end < end ? seg.end : end;
    if (!gap(cur, s) || !push(s, e, 'data')) return { spans, truncated };
    cur = e;
  }
  gap(cur, end);
  return { spans, truncated };
}

function vmaLabel(v: { kind: string; path: string; prot: number; flags: number }): string {
  return `${protString(v.prot, v.flags)} ${v.kind}${v.path ? ` ${v.path}` : ''}`;
}
