// The host side of the editor protocol: answers the webview's requests from an opened checkpoint
// (a .ckpt image or a CRIU checkpoint) through the Checkpoint interface. It has no vscode import,
// so the unit tests run it on real checkpoints as they are.
// Every answer is bounded: children are paged, byte reads are capped, field trees are trimmed.

import * as path from 'path';
import type { Checkpoint, ProcessState } from '../checkpoint';
import { ThreadStacks } from '../checkpoint/threadStacks';
import { parseLog } from '../criu/criuLog';
import { enumLabel, FieldNode, hex, ImageProblem, MAX_SHOWN_STRINGS, MemoryMap, problemSeverity, protString } from '../image';
import type { RecordRef } from '../image/memoryMap';
import { MAX_SHARERS } from '../shared/models';
import type {
  AddressSpaceModel,
  BacktraceModel,
  BytesModel,
  FdHolderModel,
  FdModel,
  FieldModel,
  FilesModel,
  LogModel,
  MemoryLayoutModel,
  MemoryPieceModel,
  MemorySpanModel,
  ProblemModel,
  ProcessDetailModel,
  RecordDetailModel,
  RecordNodeModel,
  SummaryModel,
  TextModel,
  VerificationModel,
} from '../shared/models';
import { backtraceModel } from './backtraceModel';
import { addrHex, addrParam, intParam, MAX_BYTES_PER_REQUEST, MAX_CHILDREN_PER_REQUEST, RequestMessage, RequestMethod, RequestParams, RequestResult, SearchMethod } from '../shared/protocol';

/** Children of one field sent at most; arrays of thousands of runs or rlimits are trimmed. */
const MAX_FIELD_CHILDREN = 256;
/** Spans of one memory layout; an address space with more is cut short (and says so). */
const MAX_SPANS = 20000;
/** Most bytes of a member shown as text or as a log, and most files of a tar listed. */
const MAX_TEXT_BYTES = 4 * 1024 * 1024;
const MAX_LOG_LINES = 50_000;
const MAX_FILES = 20_000;

export function problemModel(p: ImageProblem): ProblemModel {
  return { code: p.code, message: p.message, record: p.record, severity: problemSeverity(p.code) };
}

/** Every request but the searches, which each editor answers for itself (imageSearch.ts). */
type Handlers = { [M in Exclude<RequestMethod, SearchMethod>]: (params: RequestParams<M>) => Promise<RequestResult<M>> };

export class ImageRequests implements Handlers {
  /** Records with problems, and the records above them, recomputed when the problem list changes. */
  private damage?: { problems: ProblemModel[]; own: Map<number, string>; below: Set<number> };
  /** Who holds each open file description, made on the first process view. */
  private holders?: Map<string, FdHolderModel[]>;
  /** Threads' backtraces, each computed when first asked for. */
  readonly stacks: ThreadStacks;

  constructor(
    readonly checkpoint: Checkpoint,
    private readonly verification: () => VerificationModel,
    stacks?: ThreadStacks,
  ) {
    this.stacks = stacks ?? new ThreadStacks(checkpoint);
  }

  /** Answers one request; throws (RangeError, ImageError) with a message for the webview. */
  handle(m: Exclude<RequestMessage, { method: SearchMethod }>): Promise<unknown> {
    const fn = (this as unknown as Record<string, (p: unknown) => Promise<unknown>>)[m.method];
    return fn.call(this, m.params);
  }

  async summary(): Promise<SummaryModel> {
    const s = await this.checkpoint.summary();
    return {
      format: s.format,
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
      processes: s.processes,
      verification: this.verification(),
      ...(s.container ? { container: s.container } : {}),
      extras: s.extras,
      restorable: s.restorable,
    };
  }

  async children(params: RequestParams<'children'>): Promise<{ items: RecordNodeModel[]; total: number }> {
    const parent = params.parent === undefined ? undefined : this.entry(intParam(params, 'parent')!);
    const offset = intParam(params, 'offset', { optional: true }) ?? 0;
    const limit = intParam(params, 'limit', { optional: true, min: 1, max: MAX_CHILDREN_PER_REQUEST }) ?? MAX_CHILDREN_PER_REQUEST;
    const all = this.checkpoint.children(parent);
    const items: RecordNodeModel[] = [];
    for (const r of all.slice(offset, offset + limit)) items.push(await this.node(r));
    return { items, total: all.length };
  }

  /** One record as a tree row: what the webview's tree and the Image Records view both show. */
  async node(index: number): Promise<RecordNodeModel> {
    const d = await this.checkpoint.describe(index);
    const damage = this.damageMap();
    const own = damage.own.get(index) ?? d.error;
    const below = !own && damage.below.has(index);
    return {
      index,
      ...(d.tag !== undefined ? { tag: d.tag } : {}),
      title: d.title,
      detail: d.detail,
      childCount: this.checkpoint.children(index).length,
      ...(own ? { problem: own } : below ? { problem: 'a record below this one is damaged', problemBelow: true } : {}),
    };
  }

  /** File-order indices of the ancestors of a record, top level first. A parent always comes before its child, so this ends. */
  pathTo(index: number): number[] {
    const out: number[] = [];
    for (let p = this.checkpoint.parent(index); p !== undefined; p = this.checkpoint.parent(p)) out.push(p);
    return out.reverse();
  }

  async record(params: RequestParams<'record'>): Promise<RecordDetailModel> {
    const index = this.entry(intParam(params, 'index')!);
    const l = await this.checkpoint.layout(index);
    return {
      node: await this.node(index),
      path: this.pathTo(index),
      offset: l.offset,
      payloadOffset: l.payloadOffset,
      length: l.length,
      header: l.header.map((f) => fieldModel(f, l.offset)),
      fields: l.fields?.map((f) => fieldModel(f, l.payloadOffset)),
      decodeError: l.decodeError,
      problems: this.damageMap().problems.filter((p) => p.record === index),
      views: l.views,
      process: l.process,
      memoryRange: l.memoryRange ? { start: addrHex(l.memoryRange.start), end: addrHex(l.memoryRange.end) } : undefined,
      ...(l.file ? { file: l.file } : {}),
    };
  }

  async bytes(params: RequestParams<'bytes'>): Promise<BytesModel> {
    const index = this.entry(intParam(params, 'index')!);
    const offset = intParam(params, 'offset')!;
    const length = intParam(params, 'length', { max: MAX_BYTES_PER_REQUEST })!;
    const { offset: start, end } = this.checkpoint.bounds(index);
    if (offset < start || offset + length > end) {
      throw new RangeError(`bytes ${offset}+${length} are outside record #${index} (file offsets ${start} to ${end})`);
    }
    return { offset, bytes: ownBytes(await this.checkpoint.source.read(offset, length)) };
  }

  async addressSpace(params: RequestParams<'addressSpace'>): Promise<AddressSpaceModel> {
    const proc = this.processRecord(intParam(params, 'process')!);
    const map = await this.checkpoint.memory(proc);
    return {
      process: proc,
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
    const map = await this.checkpoint.memory(proc);
    const first = minBig(map.vmas[0]?.start, map.segments[0]?.start);
    const last = maxBig(map.vmas[map.vmas.length - 1]?.end, map.segments[map.segments.length - 1]?.end);
    const start = addrParam(params, 'start', true) ?? first ?? 0n;
    const end = addrParam(params, 'end', true) ?? last ?? 0n;
    if (end < start) throw new RangeError('the end of the range is before its start');
    const { spans, truncated } = layoutSpans(map, start, end);
    return { process: proc, start: addrHex(start), end: addrHex(end), spans, truncated };
  }

  async memory(params: RequestParams<'memory'>): Promise<MemoryPieceModel[]> {
    const proc = this.processRecord(intParam(params, 'process')!);
    const addr = addrParam(params, 'addr')!;
    const length = intParam(params, 'length', { max: MAX_BYTES_PER_REQUEST })!;
    const map = await this.checkpoint.memory(proc);
    return (await map.read(addr, length)).map((p) => ({
      addr: addrHex(p.addr),
      length: p.length,
      state: p.state,
      ...(p.bytes ? { bytes: ownBytes(p.bytes) } : {}),
    }));
  }

  async process(params: RequestParams<'process'>): Promise<ProcessDetailModel> {
    const index = this.processRecord(intParam(params, 'process')!);
    const all = await this.checkpoint.processes();
    const p = all.find((x) => x.record === index);
    if (!p) throw new RangeError(`the process of record #${index} cannot be read`);
    this.holders ??= fileHolders(all);
    return processDetail(p, this.holders);
  }

  async backtrace(params: RequestParams<'backtrace'>): Promise<BacktraceModel> {
    const process = this.processRecord(intParam(params, 'process')!);
    const tid = intParam(params, 'tid')!;
    return backtraceModel(process, tid, await this.stacks.backtrace(process, tid));
  }

  /** The source line of a frame of a backtrace the host computed, for opening it; undefined when it has none. */
  async frameSource(process: number, tid: number, frame: number): Promise<{ file: string; line: number } | undefined> {
    const b = await this.stacks.backtrace(this.processRecord(process), tid);
    const src = b.frames[frame]?.source;
    return src ? { file: src.file, line: src.line } : undefined;
  }

  async text(params: RequestParams<'text'>): Promise<TextModel> {
    const index = this.entry(intParam(params, 'index')!);
    const bytes = await this.member(index, MAX_TEXT_BYTES + 1);
    let text = Buffer.from(bytes.subarray(0, MAX_TEXT_BYTES)).toString('utf8');
    if (bytes.length <= MAX_TEXT_BYTES && /^\s*[[{]/.test(text)) {
      try {
        text = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON after all: shown as it is
      }
    }
    return { name: await this.memberName(index), text, truncated: bytes.length > MAX_TEXT_BYTES };
  }

  async log(params: RequestParams<'log'>): Promise<LogModel> {
    const index = this.entry(intParam(params, 'index')!);
    const bytes = await this.member(index, MAX_TEXT_BYTES);
    const view = parseLog(Buffer.from(bytes).toString('utf8'), MAX_LOG_LINES);
    return { name: await this.memberName(index), ...view };
  }

  async files(params: RequestParams<'files'>): Promise<FilesModel> {
    const index = this.entry(intParam(params, 'index')!);
    if (!this.checkpoint.memberFiles) throw new RangeError(`record #${index} holds no files`);
    const files = await this.checkpoint.memberFiles(index);
    return { name: await this.memberName(index), files: files.slice(0, MAX_FILES), more: Math.max(0, files.length - MAX_FILES) };
  }

  /** A member's path in its checkpoint. */
  private async memberName(index: number): Promise<string> {
    return (await this.checkpoint.layout(index)).file?.name ?? `record #${index}`;
  }

  private async member(index: number, max: number): Promise<Uint8Array> {
    const bytes = await this.checkpoint.memberBytes?.(index, max);
    if (!bytes) throw new RangeError(`record #${index} is not a file of the checkpoint`);
    return bytes;
  }

  /** A record index that exists, or a RangeError. */
  entry(index: number): number {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.checkpoint.recordCount) {
      throw new RangeError(`there is no record #${index} (the image has ${this.checkpoint.recordCount})`);
    }
    return index;
  }

  private processRecord(index: number): number {
    this.entry(index);
    if (!this.checkpoint.processRecords().includes(index)) throw new RangeError(`record #${index} is not a process`);
    return index;
  }

  private damageMap(): { problems: ProblemModel[]; own: Map<number, string>; below: Set<number> } {
    const problems = this.verification().problems;
    if (this.damage?.problems === problems) return this.damage;
    const own = new Map<number, string>();
    const below = new Set<number>();
    for (const p of problems) {
      if (p.severity !== 'error' || p.record === undefined || p.record >= this.checkpoint.recordCount) continue;
      if (!own.has(p.record)) own.set(p.record, p.message);
      // Up to the first ancestor already marked: its own ancestors are marked too. Walking every
      // path whole took time in the depth times the problems (a hostile image has both).
      for (let a = this.checkpoint.parent(p.record); a !== undefined && !below.has(a); a = this.checkpoint.parent(a)) below.add(a);
    }
    this.damage = { problems, own, below };
    return this.damage;
  }
}

const O_FLAGS: [number, string][] = [
  [0o1, 'O_WRONLY'],
  [0o2, 'O_RDWR'],
  [0o100, 'O_CREAT'],
  [0o200, 'O_EXCL'],
  [0o1000, 'O_TRUNC'],
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o40000, 'O_DIRECT'],
  [0o100000, 'O_LARGEFILE'],
  [0o200000, 'O_DIRECTORY'],
  [0o1000000, 'O_NOATIME'],
  [0o2000000, 'O_CLOEXEC'],
  [0o10000000, 'O_PATH'],
];

function openFlags(flags: number): string {
  const names = O_FLAGS.filter(([bit]) => (flags & bit) === bit).map(([, n]) => n);
  return names.length ? names.join('|') : 'O_RDONLY';
}

function sharers(list: FdHolderModel[]): Pick<FdModel, 'sharedWith' | 'sharedMore'> {
  return { sharedWith: list.slice(0, MAX_SHARERS), ...(list.length > MAX_SHARERS ? { sharedMore: list.length - MAX_SHARERS } : {}) };
}

const signalLabel = (n: number) => (enumLabel('signal', n) ?? `signal ${n}`).toUpperCase();

/** Every descriptor of every process, by the open file description it refers to. */
export function fileHolders(all: ProcessState[]): Map<string, FdHolderModel[]> {
  const m = new Map<string, FdHolderModel[]>();
  for (const p of all) {
    for (const f of p.fds) {
      const h: FdHolderModel = { process: p.record, pid: p.pid, comm: p.comm, fd: f.fd };
      const list = m.get(f.file.id);
      if (list) list.push(h);
      else m.set(f.file.id, [h]);
    }
  }
  return m;
}

/** What the process view shows of a process of the common model; `holders` says who shares each file. */
export function processDetail(p: ProcessState, holders: Map<string, FdHolderModel[]> = fileHolders([p])): ProcessDetailModel {
  const others = (fd: number, id: string) => (holders.get(id) ?? []).filter((h) => !(h.process === p.record && h.fd === fd));
  return {
    process: p.record,
    pid: p.pid,
    ppid: p.ppid,
    pgid: p.pgid,
    sid: p.sid,
    comm: p.comm,
    state: p.state,
    exe: p.exe,
    cwd: p.cwd,
    cmdline: p.cmdline.slice(0, MAX_SHOWN_STRINGS),
    ...(p.cmdline.length > MAX_SHOWN_STRINGS ? { cmdlineOmitted: p.cmdline.length - MAX_SHOWN_STRINGS } : {}),
    uids: p.uids,
    threads: p.threads.map((t) => ({
      tid: t.tid,
      comm: t.comm,
      record: t.record,
      registers: Object.entries(t.regs).map(([name, v]) => ({ name, value: hex(v as bigint) })),
      sigmask: hex(t.sigmask),
      pending: t.pending.map(signalLabel),
    })),
    fds: p.fds.map((f) => ({
      fd: f.fd,
      kind: f.file.kind,
      path: f.file.path,
      flags: openFlags(f.file.flags),
      pos: f.file.pos.toString(),
      cloexec: f.cloexec,
      file: f.file.id,
      ...sharers(others(f.fd, f.file.id)),
      detail: f.file.pipe
        ? `${f.file.pipe.end ?? ''} end, ${f.file.pipe.buffered} bytes buffered`.trim()
        : f.file.socket
          ? `${f.file.socket.family} ${f.file.socket.type}, ${f.file.socket.state}`
          : '',
      ...(f.record !== undefined ? { record: f.record } : {}),
    })),
    sockets: p.fds
      .filter((f) => f.file.socket)
      .map((f) => {
        const s = f.file.socket!;
        return {
          fd: f.fd,
          family: s.family,
          type: s.type,
          state: s.state,
          local: s.local ?? (s.ino !== undefined ? `ino ${s.ino}` : ''),
          remote: s.remote ?? (s.peer !== undefined ? `peer ino ${s.peer}` : ''),
          queued: s.queued,
        };
      }),
    sigactions: p.sigactions.map((a) => ({
      signal: signalLabel(a.signo),
      handler: a.handler === 1n ? 'SIG_IGN' : a.handler === 0n ? 'SIG_DFL' : hex(a.handler),
      flags: hex(a.flags),
      mask: hex(a.mask),
    })),
    pending: p.pending.map(signalLabel),
  };
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
export function dumpedIn(map: MemoryMap<RecordRef>, start: bigint, end: bigint): number {
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
export function layoutSpans(map: MemoryMap<RecordRef>, start: bigint, end: bigint): { spans: MemorySpanModel[]; truncated: boolean } {
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

/**
 * The bytes in a Uint8Array of their own: a source's read may be a view into a larger buffer (a
 * Node Buffer from its pool, a block cache), which postMessage would not carry as these bytes.
 */
function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.constructor === Uint8Array ? b : new Uint8Array(b);
}
