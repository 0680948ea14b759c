// A CRIU checkpoint as a Checkpoint: the records are its folders, files, entries and VMAs; the
// processes are what its images say (pstree.img, core-TID, ids/fdinfo/files.img, fs, mm), mapped
// onto the common model; the container is what the engine's files say.

import type { CoreEntry, FileEntry, SignalQueueEntry } from '../../build/formats/CriuMessages';
import { CRIU_REGISTERS } from '../convert/criuFacts';
import { containerInfo, parseEngineJson } from '../criu/container';
import { CriuCheckpoint, CriuRecord, criuSigactionSignals, OpenOptions, PAGE_SIZE } from '../criu/criuCheckpoint';
import { enumName } from '../criu/messages';
import { indexTar, TarMember } from '../criu/tar';
import { ImageError, ImageProblem, problemSeverity } from '../image/errors';
import { FieldNode, hex, MAX_SHOWN_STRINGS, nulStrings } from '../image/fields';
import { MemoryMap, RecordRef } from '../image/memoryMap';
import type { SearchTarget } from '../image/search/searchMemory';
import { ProcessSummary } from '../image/summary';
import type { VerifyOptions, VerifyReport } from '../image/verify';
import type { Checkpoint, CheckpointSummary, RecordDescription, RecordLayout, RecordView } from './checkpoint';
import { FdState, FileKind, OpenFile, ProcessState, Registers, RLIMIT_NAMES, SigactionState, socketStateName, ThreadState } from './model';

const TASK_STATES: Record<number, string> = { 1: 'alive', 2: 'dead', 3: 'stopped', 6: 'zombie' };
const UNIX_TYPES: Record<number, string> = { 1: 'stream', 2: 'dgram', 3: 'raw', 5: 'seqpacket' };
const S_IFMT = 0o170000,
  S_IFDIR = 0o040000,
  S_IFCHR = 0o020000,
  S_IFBLK = 0o060000,
  S_IFIFO = 0o010000;
/** Most bytes of a command line or an environment read from a process's memory. */
const MAX_ARGS = 64 * 1024;
/** Members shown as text, as a log, or as a list of files. */
const TEXT_MEMBER = /(^|\/)(config\.dump|spec\.dump|network\.status|deleted\.files|[^/]*\.json)$/;
const LOG_MEMBER = /\.log$/;
const TAR_MEMBER = /\.tar$/;

/** NUL-separated strings, decoded exactly (see src/image/text.ts). */
const nulList = (b: Uint8Array) => [...nulStrings(b)];

/** The signal numbers of a queue: the first field of each siginfo_t. */
function signos(q: SignalQueueEntry | undefined): number[] {
  return (q?.signals ?? []).map((s) => (s.siginfo && s.siginfo.length >= 4 ? Buffer.from(s.siginfo).readInt32LE(0) : 0)).filter((n) => n > 0);
}

export class CriuAsCheckpoint implements Checkpoint {
  readonly format = 'criu';
  private processes_?: Promise<ProcessState[]>;

  constructor(readonly criu: CriuCheckpoint) {}

  static async open(where: string, opts: OpenOptions = {}): Promise<CriuAsCheckpoint> {
    return new CriuAsCheckpoint(await CriuCheckpoint.open(where, opts));
  }

  get name(): string {
    return this.criu.name;
  }
  get size(): number {
    return this.criu.size;
  }
  get source() {
    return this.criu.source;
  }
  get pageSize(): number {
    return PAGE_SIZE;
  }
  get recordCount(): number {
    return this.criu.records.length;
  }
  get problems(): ImageProblem[] {
    return this.criu.problems;
  }
  get layoutProblems(): ImageProblem[] {
    return this.criu.layoutProblems;
  }

  private record(index: number): CriuRecord {
    const r = this.criu.records[index];
    if (!r) throw new RangeError(`there is no record #${index} (the checkpoint has ${this.criu.records.length})`);
    return r;
  }

  children(index?: number): readonly number[] {
    if (index !== undefined) this.record(index);
    return this.criu.children(index);
  }

  parent(index: number): number | undefined {
    return this.criu.parent(this.record(index).index);
  }

  bounds(index: number): { offset: number; end: number } {
    const r = this.record(index);
    return { offset: r.offset, end: r.payloadOffset + r.len };
  }

  async describe(index: number): Promise<RecordDescription> {
    return this.criu.describe(this.record(index));
  }

  /** The pstree records, by pid. */
  private pidRecords(): Map<number, CriuRecord> {
    return new Map(this.criu.pstree().map((e) => [e.value.pid ?? -1, e.record]));
  }

  processRecords(): readonly number[] {
    return this.criu.pstree().map((e) => e.record.index);
  }

  /** Pids by process record, made once: a comparison asks for the memory of every process. */
  private pids_?: Map<number, number | undefined>;

  private pidOf(processRecord: number): number {
    const r = this.record(processRecord);
    this.pids_ ??= new Map(this.criu.pstree().map((e) => [e.record.index, e.value.pid]));
    const pid = this.pids_.get(r.index);
    if (pid === undefined) throw new RangeError(`record #${processRecord} is not a process`);
    return pid;
  }

  /** The process a record is about: by the pid or tid its file is named by, or the pagemap that names its pages file. */
  private processOfRecord(r: CriuRecord): { pid: number; record: CriuRecord } | undefined {
    const pids = this.pidRecords();
    const name = r.path.split('/').pop() ?? '';
    let pid: number | undefined;
    const m = /^(core|mm|pagemap|ids|fs)-(\d+)\.img$/.exec(name);
    if (r.kind === 'entry' && r.entry?.message === 'pstree_entry') pid = (this.criu.tryDecode(r)?.value as { pid?: number } | undefined)?.pid;
    else if (m) {
      const n = Number(m[2]);
      pid = m[1] === 'core' ? (this.criu.pstree().find((p) => p.value.threads.includes(n))?.value.pid ?? n) : n;
    } else if (/^pages-\d+\.img$/.test(name)) {
      for (const p of pids.keys()) {
        const head = this.criu.first<{ pages_id?: number }>(this.criu.image(`pagemap-${p}.img`));
        if (head && `pages-${head.value.pages_id}.img` === name) pid = p;
      }
    }
    const record = pid === undefined ? undefined : pids.get(pid);
    return record && pid !== undefined ? { pid, record } : undefined;
  }

  async fields(index: number): Promise<FieldNode[] | undefined> {
    return this.criu.decode(this.record(index))?.fields;
  }

  async layout(index: number): Promise<RecordLayout> {
    const r = this.record(index);
    let fields, value: unknown, decodeError: string | undefined;
    try {
      const d = this.criu.decode(r);
      fields = d?.fields;
      value = d?.value;
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      decodeError = e.message;
    }
    const owner = this.processOfRecord(r);
    const name = r.path.split('/').pop() ?? '';
    const views: RecordView[] = [];
    let memoryRange: RecordLayout['memoryRange'];
    const message = r.kind === 'vma' ? 'vma_entry' : r.entry?.message;
    if (message === 'pstree_entry' && owner) views.push('process');
    if (r.kind === 'file' && r.member) {
      if (LOG_MEMBER.test(name)) views.push('log');
      else if (TAR_MEMBER.test(name)) views.push('files');
      else if (TEXT_MEMBER.test(r.path)) views.push('text');
    }
    views.push('fields');
    if (owner && (message === 'pstree_entry' || message === 'mm_entry' || message === 'vma_entry' || /^mm-/.test(name))) views.push('addressSpace');
    if (owner && (message === 'pstree_entry' || message === 'mm_entry' || message === 'vma_entry' || message === 'pagemap_entry' || /^(mm|pagemap|pages)-/.test(name))) views.push('memory');
    if (owner && message === 'vma_entry') {
      const v = value as { start?: bigint; end?: bigint } | undefined;
      if (v?.start !== undefined && v.end !== undefined) memoryRange = { start: v.start, end: v.end };
    } else if (owner && message === 'pagemap_entry') {
      const v = value as { vaddr?: bigint; nr_pages?: bigint; compat_nr_pages?: number } | undefined;
      const n = v?.nr_pages ?? BigInt(v?.compat_nr_pages ?? 0);
      if (v?.vaddr !== undefined && n > 0n) memoryRange = { start: v.vaddr, end: v.vaddr + n * BigInt(PAGE_SIZE) };
    } else if (owner && /^pages-/.test(name)) {
      const map = await this.criu.memory(owner.pid);
      const mine = map.segments.filter((s) => s.pages === r);
      if (mine.length) memoryRange = { start: mine[0].start, end: mine[mine.length - 1].end };
    }
    const member = r.image?.member ?? r.member;
    return {
      offset: r.offset,
      payloadOffset: r.payloadOffset,
      length: r.len,
      header: this.criu.headerFields(r),
      fields,
      decodeError,
      views,
      process: owner?.record.index,
      memoryRange,
      ...(member && r.kind !== 'folder' && r.kind !== 'link' ? { file: { name: member.path, base: member.offset } } : {}),
    };
  }

  async memberBytes(index: number, max: number): Promise<Uint8Array | undefined> {
    const r = this.record(index);
    if (r.kind !== 'file' || !r.member) return undefined;
    return this.criu.source.read(r.member.offset, Math.min(max, r.member.size));
  }

  async memberFiles(index: number): Promise<{ path: string; kind: string; size: number }[]> {
    return (await this.tarOf(index)).map((m) => ({ path: m.path, kind: m.kind, size: m.size }));
  }

  async memberFile(index: number, file: string, max: number): Promise<Uint8Array> {
    const m = (await this.tarOf(index)).find((x) => x.path === file && x.kind === 'file');
    if (!m) throw new RangeError(`${this.record(index).path} holds no file ${file}`);
    if (m.size > max) throw new RangeError(`${file} is ${m.size} bytes, more than ${max} are shown`);
    return this.criu.source.read(m.offset, m.size);
  }

  /** The members of a tar that is itself a member (the rootfs diff), indexed in place. */
  private async tarOf(index: number): Promise<TarMember[]> {
    const r = this.record(index);
    if (r.kind !== 'file' || !r.member || !TAR_MEMBER.test(r.path)) throw new RangeError(`record #${index} is not a tar archive`);
    return indexTar(this.criu.source, { start: r.member.offset, end: r.member.offset + r.member.size, name: r.path });
  }

  async memory(processRecord: number): Promise<MemoryMap<RecordRef>> {
    return this.criu.memory(this.pidOf(processRecord));
  }

  async searchTarget(): Promise<SearchTarget> {
    return { source: this.criu.source, processes: this.criu.pstree().map((e) => ({ pid: e.value.pid ?? 0, record: e.record.index, memory: () => this.criu.memory(e.value.pid ?? 0) })) };
  }

  processes(): Promise<ProcessState[]> {
    this.processes_ ??= this.readProcesses();
    return this.processes_;
  }

  private openFiles(): Map<number, OpenFile> {
    const out = new Map<number, OpenFile>();
    const pipes = this.criu.pipeData();
    const queues = this.criu.socketQueues();
    for (const [id, e] of this.criu.fileEntries()) out.set(id, openFile(id, e.value, e.record.index, pipes, queues));
    return out;
  }

  private async readProcesses(): Promise<ProcessState[]> {
    const files = this.openFiles();
    const out: ProcessState[] = [];
    for (const { record, value: p } of this.criu.pstree()) {
      const pid = p.pid ?? 0;
      const main = this.criu.core(pid);
      const tc = main?.value.tc;
      const threads: ThreadState[] = [];
      for (const tid of p.threads.length ? p.threads : [pid]) {
        const core = tid === pid ? main : this.criu.core(tid);
        if (core) threads.push(threadState(tid, core.value, core.record.index));
      }
      const fds: FdState[] = this.criu.fdinfo(pid).map(({ record: fr, value: f }) => ({
        fd: f.fd ?? -1,
        cloexec: ((f.flags ?? 0) & 1) !== 0,
        file: files.get(f.id ?? -1) ?? { id: String(f.id), kind: 'other', path: `${enumName('fd_types', f.type ?? 0) ?? 'file'} id ${f.id} (not in files.img)`, flags: 0, pos: 0n },
        record: fr.index,
      }));
      const mm = this.criu.mm(pid)?.value;
      const fs = this.criu.fs(pid);
      const creds = main?.value.thread_core?.creds;
      const sigactions: SigactionState[] = [];
      const signals = criuSigactionSignals(tc?.sigactions?.length ?? 0);
      (tc?.sigactions ?? []).forEach((a, i) => {
        const s = { signo: signals[i] ?? i + 1, handler: a.sigaction ?? 0n, flags: a.flags ?? 0n, restorer: a.restorer ?? 0n, mask: a.mask ?? 0n };
        if (s.handler !== 0n || s.flags !== 0n || s.mask !== 0n) sigactions.push(s);
      });
      const args = async (start?: bigint, end?: bigint): Promise<string[]> => {
        if (start === undefined || end === undefined || end <= start || end - start > BigInt(MAX_ARGS)) return [];
        try {
          const pieces = await (await this.criu.memory(pid)).read(start, Number(end - start));
          if (!pieces.every((x) => x.state === 'dumped')) return [];
          return nulList(Buffer.concat(pieces.map((x) => x.bytes!)));
        } catch (e) {
          if (e instanceof ImageError || e instanceof RangeError) return [];
          throw e;
        }
      };
      out.push({
        record: record.index,
        pid,
        ppid: p.ppid ?? 0,
        pgid: p.pgid ?? 0,
        sid: p.sid ?? 0,
        comm: tc?.comm ?? main?.value.thread_core?.comm ?? '',
        exe: this.criu.filePath(mm?.exe_file_id),
        cwd: this.criu.filePath(fs?.cwd_id),
        root: this.criu.filePath(fs?.root_id),
        cmdline: await args(mm?.mm_arg_start, mm?.mm_arg_end),
        environ: await args(mm?.mm_env_start, mm?.mm_env_end),
        state: TASK_STATES[tc?.task_state ?? 0] ?? `state ${tc?.task_state}`,
        uids: creds ? [creds.uid ?? 0, creds.euid ?? 0, creds.suid ?? 0, creds.fsuid ?? 0] : [],
        gids: creds ? [creds.gid ?? 0, creds.egid ?? 0, creds.sgid ?? 0, creds.fsgid ?? 0] : [],
        ...(fs?.umask !== undefined ? { umask: fs.umask } : {}),
        threads,
        fds,
        sigactions,
        pending: signos(tc?.signals_s),
        rlimits: (tc?.rlimits?.rlimits ?? []).map((l, i) => ({ resource: RLIMIT_NAMES[i] ?? String(i), cur: l.cur ?? 0n, max: l.max ?? 0n })),
      });
    }
    return out;
  }

  async summary(): Promise<CheckpointSummary> {
    const procs = await this.processes();
    const processes: (ProcessSummary & { index: number })[] = [];
    for (const p of procs) {
      let vmas = 0,
        dumpedBytes = 0;
      try {
        const m = await this.criu.memory(p.pid);
        vmas = m.vmas.length;
        dumpedBytes = m.dumpedBytes;
      } catch (e) {
        if (!(e instanceof ImageError)) throw e;
      }
      processes.push({
        tag: p.record,
        index: p.record,
        pid: p.pid,
        ppid: p.ppid,
        comm: p.comm,
        state: p.state,
        exe: p.exe,
        cwd: p.cwd,
        cmdline: p.cmdline.slice(0, MAX_SHOWN_STRINGS),
        cmdlineOmitted: Math.max(0, p.cmdline.length - MAX_SHOWN_STRINGS),
        uid: p.uids[0] ?? 0,
        threads: p.threads.map((t) => ({ tag: t.record, tid: t.tid, comm: t.comm, rip: hex(t.regs.rip ?? 0n), rsp: hex(t.regs.rsp ?? 0n) })),
        vmas,
        dumpedPages: dumpedBytes / PAGE_SIZE,
        dumpedBytes,
        fds: p.fds.length,
        unsupported: [],
      });
    }
    const files = this.criu.files;
    const at = (p: string) => this.criu.member(p);
    const json = async (p: string) => {
      const r = at(p);
      return r?.member ? parseEngineJson(await this.criu.source.read(r.member.offset, Math.min(r.member.size, 16 * 1024 * 1024))) : undefined;
    };
    const container = containerInfo(await json('config.dump'), await json('spec.dump'));
    const inventory = this.criu.image('inventory.img');
    const timeMs = inventory?.member?.mtimeMs ?? 0;
    const inv = this.criu.inventory();
    const arch = this.criu.pstree().length ? enumName('march', this.criu.core(this.criu.pstree()[0].value.pid ?? 0)?.value.mtype ?? 0) : undefined;
    const extras: CheckpointSummary['extras'] = [];
    for (const r of this.criu.records) {
      if (r.kind !== 'file' || !r.member) continue;
      const name = r.path.split('/').pop() ?? '';
      const kind = LOG_MEMBER.test(name) ? 'log' : TAR_MEMBER.test(name) && /rootfs-diff/.test(name) ? 'files' : /^(config|spec)\.dump$/.test(r.path) ? 'text' : undefined;
      if (kind) extras.push({ index: r.index, kind, name: r.path });
    }
    return {
      format: 'criu',
      name: files.name,
      size: this.size,
      records: this.criu.records.length,
      version: `CRIU image v${inv?.img_version ?? '?'}`,
      arch: (arch ?? 'unknown').toLowerCase(),
      pageSize: PAGE_SIZE,
      sysname: 'Linux',
      hostname: this.criu.utsns()?.nodename ?? container?.hostname ?? '',
      kernel: 'kernel not recorded',
      kernelVersion: '',
      machine: (arch ?? '').toLowerCase(),
      checkpointer: `CRIU${container ? ` (${container.engine})` : ''}`,
      time: timeMs ? new Date(timeMs).toISOString() : 'unknown',
      timeNs: (BigInt(Math.round(timeMs)) * 1000000n).toString(),
      flags:
        files.kind === 'archive' ? [`${files.compression === 'none' ? 'tar' : `${files.compression} tar`} archive`] : files.parentDirs.length ? [`pre-dump chain of ${files.parentDirs.length}`] : [],
      complete: !this.criu.problems.some((p) => problemSeverity(p.code) === 'error'),
      processes,
      problems: [...this.criu.problems, ...this.criu.layoutProblems],
      ...(container ? { container } : {}),
      extras,
      restorable: false,
    };
  }

  /**
   * Everything a reader can check of a CRIU checkpoint, which has no checksums: every entry
   * decodes; every process has its core, memory and pages; every pagemap run lies in its pages
   * file; every descriptor's file is in files.img; and every page can be read.
   */
  async verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    const t0 = Date.now();
    const problems: ImageProblem[] = [...this.criu.problems];
    const seen = new Set(problems.map((p) => p.message));
    const add = (p: ImageProblem) => {
      if (!seen.has(p.message)) (problems.push(p), seen.add(p.message));
    };
    for (const r of this.criu.records) {
      opts.signal?.throwIfAborted();
      if (r.kind !== 'entry') continue;
      try {
        this.criu.decode(r);
      } catch (e) {
        if (!(e instanceof ImageError)) throw e;
        add(e.problem);
      }
    }
    const files = this.criu.fileEntries();
    const maps: MemoryMap<CriuRecord>[] = [];
    for (const { record, value: p } of this.criu.pstree()) {
      const pid = p.pid ?? 0;
      for (const tid of p.threads) {
        if (!this.criu.image(`core-${tid}.img`))
          add({
            code: 'inconsistent',
            fatal: false,
            offset: record.offset - (record.image?.member.offset ?? 0),
            record: record.index,
            message: `${record.path}: thread ${tid} of process ${pid} has no core-${tid}.img`,
          });
      }
      for (const f of this.criu.fdinfo(pid)) {
        if (f.value.id !== undefined && !files.has(f.value.id))
          add({
            code: 'inconsistent',
            fatal: false,
            offset: f.record.offset - (f.record.image?.member.offset ?? 0),
            record: f.record.index,
            message: `${f.record.path}, entry #${f.record.entry?.number}: fd ${f.value.fd} points at file id ${f.value.id}, which files.img does not hold`,
          });
      }
      try {
        maps.push(await this.criu.memory(pid));
      } catch (e) {
        if (!(e instanceof ImageError)) throw e;
        add(e.problem);
      }
    }
    for (const p of this.criu.layoutProblems) add(p);
    // Read every dumped page once, to know that it can be read.
    let total = 0,
      done = 0,
      pagesChecked = 0,
      sinceYield = 0;
    for (const m of maps) total += m.dumpedBytes;
    const chunk = new Uint8Array(128 * 1024);
    const src = this.criu.source;
    for (const m of maps) {
      for (const s of m.segments) {
        const len = Number(s.end - s.start);
        for (let off = 0; off < len; off += chunk.length) {
          opts.signal?.throwIfAborted();
          const n = Math.min(chunk.length, len - off);
          src.readIntoSync!(s.fileOffset + off, chunk.subarray(0, n));
          done += n;
          sinceYield += n;
          if (sinceYield >= 8 * 1024 * 1024) {
            sinceYield = 0;
            opts.onProgress?.({ done, total });
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        pagesChecked += len / PAGE_SIZE;
      }
    }
    opts.onProgress?.({ done, total });
    return { ok: !problems.some((p) => problemSeverity(p.code) === 'error'), problems, records: this.criu.records.length, pagesChecked, bytesChecked: done, ms: Date.now() - t0 };
  }

  async close(): Promise<void> {
    await this.criu.close();
  }
}

function threadState(tid: number, core: CoreEntry, record: number): ThreadState {
  const regs: Registers = {};
  const g = core.thread_info?.gpregs as Record<string, unknown> | undefined;
  for (const [criu, name] of Object.entries(CRIU_REGISTERS)) {
    const v = g?.[criu];
    if (typeof v === 'bigint') regs[name] = v;
  }
  return {
    tid,
    comm: core.thread_core?.comm ?? core.tc?.comm ?? '',
    record,
    regs,
    sigmask: core.thread_core?.blk_sigset ?? core.tc?.blk_sigset ?? 0n,
    pending: signos(core.thread_core?.signals_p),
  };
}

function openFile(id: number, f: FileEntry, record: number, pipes: Map<number, { length: number }>, queues: Map<number, { bytes: number }>): OpenFile {
  const base = { id: String(id), record, flags: 0, pos: 0n };
  if (f.reg) {
    const mode = f.reg.mode ?? 0;
    const fmt = mode & S_IFMT;
    const kind: FileKind = fmt === S_IFDIR ? 'directory' : fmt === S_IFCHR || fmt === S_IFBLK ? 'device' : fmt === S_IFIFO ? 'fifo' : 'regular';
    return { ...base, kind, path: f.reg.name ?? '', flags: f.reg.flags ?? 0, pos: f.reg.pos ?? 0n };
  }
  if (f.pipe) {
    const ino = f.pipe.pipe_id ?? 0;
    const flags = f.pipe.flags ?? 0;
    return { ...base, kind: 'pipe', path: `pipe:[${ino}]`, flags, pipe: { ino, end: (flags & 3) === 1 ? 'write' : 'read', buffered: pipes.get(ino)?.length ?? 0 } };
  }
  if (f.usk) {
    const u = f.usk;
    const name = u.name?.length ? Buffer.from(u.name).toString('utf8').replace(/\0/g, '@') : '';
    return {
      ...base,
      kind: 'socket',
      path: `socket:[${u.ino}]`,
      flags: u.flags ?? 0,
      socket: {
        family: 'unix',
        type: UNIX_TYPES[u.type ?? 0] ?? String(u.type),
        state: socketStateName(u.state ?? 0),
        ino: u.ino,
        peer: u.peer,
        ...(name ? { local: name } : {}),
        queued: queues.get(id)?.bytes ?? 0,
      },
    };
  }
  if (f.isk) {
    const s = f.isk;
    const family = s.family === 2 ? 'inet' : s.family === 10 ? 'inet6' : String(s.family);
    const addr = (a: number[], port?: number) =>
      `${family === 'inet' && a.length ? a.map((x) => [x & 255, (x >>> 8) & 255, (x >>> 16) & 255, x >>> 24].join('.'))[0] : a.map((x) => x.toString(16)).join(':')}:${port ?? 0}`;
    return {
      ...base,
      kind: 'socket',
      path: `socket:[${s.ino}]`,
      flags: s.flags ?? 0,
      socket: {
        family,
        type: UNIX_TYPES[s.type ?? 0] ?? String(s.type),
        state: socketStateName(s.state ?? 0),
        ino: s.ino,
        local: addr(s.src_addr, s.src_port),
        remote: addr(s.dst_addr, s.dst_port),
        queued: queues.get(id)?.bytes ?? 0,
      },
    };
  }
  const type = enumName('fd_types', f.type ?? 0) ?? String(f.type);
  return { ...base, kind: type === 'EVENTFD' ? 'eventfd' : type === 'EVENTPOLL' ? 'epoll' : type === 'TTY' ? 'tty' : type === 'FIFO' ? 'fifo' : 'other', path: `${type.toLowerCase()}:[${id}]` };
}
