// A .ckpt image as a Checkpoint: its records are the image's records, its processes are read off
// the PROCESS, THREAD, FILES/FD and SIGACTIONS records. What the editor used to compute itself
// from the image (a record's header fields, its views, the range its memory view opens at) is here.

import {
  CheckpointImage,
  describeRecord,
  enumLabel,
  FieldNode,
  HEADER_SIZE,
  flagLabels,
  ImageError,
  imageSearchTarget,
  MemoryMap,
  nulStrings,
  payloadTypeName,
  problem,
  RecordEntry,
  RecordType,
  renderFields,
  schema,
  processState,
  summarizeImage,
  verifyImage,
} from '../image';
import type { RecordRef } from '../image/memoryMap';
import type { VerifyOptions, VerifyReport } from '../image/verify';
import type { Checkpoint, CheckpointSummary, RecordDescription, RecordLayout, RecordView } from './checkpoint';
import { SocketDetails, sockaddrText, socketQualifiers } from '../image/socketText';
import { FdState, FileKind, OpenFile, ProcessState, REGISTER_NAMES, Registers, RLIMIT_NAMES, SigactionState, socketStateName, ThreadState } from './model';

/** What a record without children has, shared rather than made per record. */
const NO_CHILDREN: readonly number[] = Object.freeze([]);

/** NUL-separated strings, decoded exactly (see src/image/text.ts). */
const nul = (b: Uint8Array) => [...nulStrings(b)];

const FD_KINDS: Record<string, FileKind> = {
  regular: 'regular',
  memfd: 'regular',
  directory: 'directory',
  chr: 'device',
  blk: 'device',
  fifo: 'fifo',
  pipe: 'pipe',
  tty: 'tty',
  eventfd: 'eventfd',
  epoll: 'epoll',
  socket: 'socket',
};
const SOCKET_FAMILIES: Record<number, string> = { 1: 'unix', 2: 'inet', 10: 'inet6' };
const SOCKET_TYPES: Record<number, string> = { 1: 'stream', 2: 'dgram', 3: 'raw', 5: 'seqpacket' };

/** An inode number as a JS number, or undefined when it is absent or beyond 2^53 (no silent rounding). */
function safeNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return undefined;
}

export class CkptCheckpoint implements Checkpoint {
  readonly format = 'ckpt';

  /** Children's indices by parent, made once: the Records view and the editor's tree ask again and again. */
  private readonly openFiles = new Map<number, OpenFile>();
  private readonly childIndices = new Map<RecordEntry | undefined, readonly number[]>();

  constructor(readonly image: CheckpointImage) {}

  static async open(file: string): Promise<CkptCheckpoint> {
    return new CkptCheckpoint(await CheckpointImage.open(file));
  }

  get name(): string {
    return this.image.source.name;
  }
  get size(): number {
    return this.image.source.size;
  }
  get source() {
    return this.image.source;
  }
  get pageSize(): number {
    return this.image.pageSize;
  }
  get recordCount(): number {
    return this.image.records.length;
  }
  get problems() {
    return this.image.problems;
  }
  get layoutProblems() {
    return this.image.layoutProblems;
  }

  private entry(index: number): RecordEntry {
    const r = this.image.records[index];
    if (!r) throw new RangeError(`there is no record #${index} (the image has ${this.image.records.length})`);
    return r;
  }

  children(index?: number): readonly number[] {
    const r = index === undefined ? undefined : this.entry(index);
    let out = this.childIndices.get(r);
    if (!out) {
      const list = this.image.children(r);
      if (list.length === 0) return NO_CHILDREN;
      this.childIndices.set(r, (out = list.map((c) => c.index)));
    }
    return out;
  }

  parent(index: number): number | undefined {
    return this.image.parent(this.entry(index))?.index;
  }

  bounds(index: number): { offset: number; end: number } {
    const r = this.entry(index);
    return { offset: r.offset, end: r.payloadOffset + r.len };
  }

  async describe(index: number): Promise<RecordDescription> {
    const r = this.entry(index);
    return { ...(await describeRecord(this.image, r)), tag: r.tag };
  }

  async fields(index: number): Promise<FieldNode[] | undefined> {
    const r = this.entry(index);
    const typeName = payloadTypeName(r.type);
    if (!typeName || r.type === RecordType.PAGES) return undefined;
    const payload = await this.image.decode(r);
    return payload ? renderFields(typeName, payload as never) : undefined;
  }

  async layout(index: number): Promise<RecordLayout> {
    const r = this.entry(index);
    let fields: FieldNode[] | undefined;
    let decodeError: string | undefined;
    try {
      fields = await this.fields(index);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      decodeError = e.message;
    }
    const proc = this.processOf(r);
    const views: RecordView[] = ['fields'];
    if (r.type === RecordType.PROCESS) views.unshift('process');
    if (proc && [RecordType.PROCESS, RecordType.MM, RecordType.VMA].includes(r.type)) views.push('addressSpace');
    if (proc && [RecordType.PROCESS, RecordType.MM, RecordType.VMA, RecordType.PAGEMAP, RecordType.PAGES, RecordType.PAGES_ZSTD].includes(r.type)) views.push('memory');
    return {
      offset: r.offset,
      payloadOffset: r.payloadOffset,
      length: r.len,
      header: await this.headerFields(r),
      fields,
      decodeError,
      views,
      process: proc?.index,
      memoryRange: proc ? await this.memoryRangeOf(r, proc) : undefined,
    };
  }

  /** The process record a record belongs to (itself for a process). */
  private processOf(r: RecordEntry): RecordEntry | undefined {
    const seen = new Set<RecordEntry>();
    for (let p: RecordEntry | undefined = r; p && !seen.has(p); p = this.image.parent(p)) {
      if (p.type === RecordType.PROCESS) return p;
      seen.add(p);
    }
    return undefined;
  }

  private async memoryRangeOf(r: RecordEntry, proc: RecordEntry): Promise<{ start: bigint; end: bigint } | undefined> {
    if (r.type === RecordType.VMA) {
      try {
        const v = await this.image.decodeAs(r, 'vma');
        return { start: v.start, end: v.end };
      } catch (e) {
        if (e instanceof ImageError) return undefined;
        throw e;
      }
    }
    if (r.type !== RecordType.PAGEMAP && r.type !== RecordType.PAGES && r.type !== RecordType.PAGES_ZSTD) return undefined;
    const map = await this.image.memory(proc);
    const mine = map.segments.filter((s) => s.pagemap === r || s.pages === r);
    if (mine.length === 0) return undefined;
    return { start: mine[0].start, end: mine[mine.length - 1].end };
  }

  /** The 32-byte record header as fields, from the schema's record_header type. */
  private async headerFields(r: RecordEntry): Promise<FieldNode[]> {
    const bytes = await this.image.source.read(r.offset, HEADER_SIZE);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out: FieldNode[] = [];
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
      out.push({ name: f.id, display, json: typeof v === 'bigint' ? v.toString() : v, doc: f.doc || undefined, offset: at, size });
      at += size;
    }
    return out;
  }

  async summary(): Promise<CheckpointSummary> {
    const s = await summarizeImage(this.image);
    return {
      ...s,
      format: 'ckpt',
      processes: s.processes.map((p) => ({ ...p, index: this.image.byTag(p.tag)?.index ?? -1 })),
      extras: [],
      restorable: true,
    };
  }

  processRecords(): readonly number[] {
    return this.image.processes().map((r) => r.index);
  }

  async memory(processRecord: number): Promise<MemoryMap<RecordRef>> {
    const r = this.entry(processRecord);
    // A zombie is a process of the tree too, with no memory: its map is empty.
    if (r.type !== RecordType.PROCESS && r.type !== RecordType.ZOMBIE) throw new RangeError(`record #${processRecord} is not a process`);
    return this.image.memory(r);
  }

  searchTarget() {
    return imageSearchTarget(this.image);
  }

  verify(opts?: VerifyOptions): Promise<VerifyReport> {
    return verifyImage(this.image, opts);
  }

  async processes(): Promise<ProcessState[]> {
    const out: ProcessState[] = [];
    for (const r of this.image.processes()) {
      let p;
      try {
        p = await this.image.decodeAs(r, 'process');
      } catch (e) {
        if (!(e instanceof ImageError)) throw e;
        continue;
      }
      const threads: ThreadState[] = [];
      for (const t of this.image.childrenOfType(r, RecordType.THREAD)) {
        try {
          const th = await this.image.decodeAs(t, 'thread');
          const regs: Registers = {};
          const raw = th.regs as unknown as Record<string, bigint>;
          for (const name of REGISTER_NAMES) {
            const v = raw[name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())];
            if (typeof v === 'bigint') regs[name] = v;
          }
          threads.push({ tid: th.tid, comm: th.comm.value, record: t.index, regs, sigmask: th.sigmask, pending: await this.pending(t) });
        } catch (e) {
          if (!(e instanceof ImageError)) throw e;
        }
      }
      const fds: FdState[] = [];
      for (const files of this.image.childrenOfType(r, RecordType.FILES)) {
        for (const f of this.image.childrenOfType(files, RecordType.FD)) {
          try {
            fds.push(await this.fdState(f));
          } catch (e) {
            if (!(e instanceof ImageError)) throw e;
          }
        }
      }
      const sigactions: SigactionState[] = [];
      for (const s of this.image.childrenOfType(r, RecordType.SIGACTIONS)) {
        try {
          const a = await this.image.decodeAs(s, 'sigactions');
          a.actions.forEach((x, i) => {
            if (x.handler !== 0n || x.flags !== 0n || x.mask !== 0n) sigactions.push({ signo: i + 1, handler: x.handler, flags: x.flags, restorer: x.restorer, mask: x.mask });
          });
        } catch (e) {
          if (!(e instanceof ImageError)) throw e;
        }
      }
      out.push({
        record: r.index,
        pid: p.pid,
        ppid: p.ppid,
        pgid: p.pgid,
        sid: p.sid,
        comm: p.comm.value,
        exe: p.exe.value,
        cwd: p.cwd.value,
        root: p.root.value,
        cmdline: nul(p.cmdline.value),
        environ: nul(p.environ.value),
        state: processState(p),
        uids: [...p.uids],
        gids: [...p.gids],
        umask: p.umask,
        threads,
        fds,
        sigactions,
        pending: await this.pending(r),
        rlimits: p.rlimits.map((l, i) => ({ resource: RLIMIT_NAMES[i] ?? String(i), cur: l.cur, max: l.max })),
      });
      out.push(...(await this.zombiesOf(r, p.pid)));
    }
    return out;
  }

  /** Exited children not yet reaped: processes of the tree too (CRIU lists them in its pstree). */
  private async zombiesOf(parent: RecordEntry, ppid: number): Promise<ProcessState[]> {
    const out: ProcessState[] = [];
    for (const z of this.image.childrenOfType(parent, RecordType.ZOMBIE)) {
      try {
        const d = await this.image.decodeAs(z, 'zombie');
        out.push({
          record: z.index,
          pid: d.pid,
          ppid,
          pgid: d.pgid,
          sid: d.sid,
          comm: d.comm.value,
          exe: '',
          cwd: '',
          root: '',
          cmdline: [],
          environ: [],
          state: 'zombie',
          uids: [],
          gids: [],
          threads: [],
          fds: [],
          sigactions: [],
          pending: [],
          rlimits: [],
        });
      } catch (e) {
        if (!(e instanceof ImageError)) throw e;
      }
    }
    return out;
  }

  private async pending(parent: RecordEntry): Promise<number[]> {
    const out: number[] = [];
    for (const q of this.image.childrenOfType(parent, RecordType.PENDING_SIGNALS)) {
      try {
        for (const s of (await this.image.decodeAs(q, 'pending_signals')).signals) out.push(s.siSigno);
      } catch (e) {
        if (!(e instanceof ImageError)) throw e;
      }
    }
    return out;
  }

  private async fdState(r: RecordEntry): Promise<FdState> {
    const f = await this.image.decodeAs(r, 'fd');
    const cloexec = (f.fdFlags & 1) !== 0;
    const fileRecord = this.image.fileRecord(f);
    if (!fileRecord)
      throw new ImageError(problem('dangling-ptag', { record: r.index, type: r.type, tag: r.tag, field: 'file', offset: r.offset }, `fd ${f.fd} names file tag ${f.file}, which is not a file record`));
    // Descriptors that share an open file description (dup, fork) name one file record: one OpenFile.
    let file = this.openFiles.get(fileRecord.index);
    if (!file) {
      file = await this.openFile(fileRecord);
      this.openFiles.set(fileRecord.index, file);
    }
    return { fd: f.fd, cloexec, file, record: r.index };
  }

  private pipeBytes_?: Promise<Map<number, number>>;

  /** The bytes buffered in each pipe of the image, by its inode. */
  private pipeBytes(): Promise<Map<number, number>> {
    this.pipeBytes_ ??= (async () => {
      const out = new Map<number, number>();
      for (const r of this.image.ofType(RecordType.FILE)) {
        try {
          const f = await this.image.decodeAs(r, 'file');
          const x = f.extra as unknown as { pipeIno?: bigint; data?: { value: Uint8Array } } | Uint8Array;
          if (x instanceof Uint8Array || !x?.data?.value.length) continue;
          const ino = safeNumber(x.pipeIno);
          if (ino !== undefined) out.set(ino, (out.get(ino) ?? 0) + x.data.value.length);
        } catch (e) {
          if (!(e instanceof ImageError)) throw e;
        }
      }
      return out;
    })();
    return this.pipeBytes_;
  }

  private async openFile(r: RecordEntry): Promise<OpenFile> {
    const f = await this.image.decodeAs(r, 'file');
    const kindLabel = enumLabel('fd_kind', f.kind) ?? 'unknown';
    const kind: FileKind = FD_KINDS[kindLabel] ?? 'other';
    const file: OpenFile = { id: `file${r.tag}`, kind, path: f.path.value, flags: f.flags, pos: f.pos, record: r.index };
    const extra = f.extra as unknown as Record<string, unknown> | Uint8Array | undefined;
    if (extra && !(extra instanceof Uint8Array)) {
      if (kind === 'pipe' || kind === 'fifo') {
        const data = (extra.data as { value: Uint8Array } | undefined)?.value;
        const ino = safeNumber(extra.pipeIno) ?? 0;
        // The bytes are stored once, on the first file of the pipe, but are in the pipe for every end (as CRIU says).
        file.pipe = { ino, end: (f.flags & 3) === 1 ? 'write' : 'read', buffered: data?.length || (await this.pipeBytes()).get(ino) || 0 };
        if (!file.path) file.path = `pipe:[${ino}]`;
      } else if (kind === 'socket') {
        const family = Number(extra.family ?? 0),
          type = Number(extra.type ?? 0);
        const queued = (extra.queued as { value: Uint8Array } | undefined)?.value;
        const det = extra.details as { flags: number; backlog: number; local: { value: Uint8Array }; remote: { value: Uint8Array }; peerOwner: { value: string } } | undefined;
        const d: SocketDetails | undefined = det && { flags: det.flags, backlog: det.backlog, local: det.local?.value, remote: det.remote?.value, peerOwner: det.peerOwner?.value };
        const peerIno = safeNumber(extra.peerIno);
        const local = sockaddrText(d?.local),
          remote = d?.peerOwner || sockaddrText(d?.remote);
        file.socket = {
          family: SOCKET_FAMILIES[family] ?? String(family),
          type: SOCKET_TYPES[type] ?? String(type),
          state: extra.state === undefined ? '' : [socketStateName(Number(extra.state)), ...socketQualifiers(d)].join(', '),
          ...(safeNumber(f.ino) !== undefined ? { ino: safeNumber(f.ino) } : {}),
          ...(peerIno !== undefined ? { peer: peerIno } : {}),
          ...(local ? { local } : {}),
          ...(remote ? { remote } : {}),
          queued: queued?.length ?? 0,
        };
      }
    }
    return file;
  }

  async close(): Promise<void> {
    await this.image.close();
  }
}
