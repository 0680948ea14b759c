// `ckpt-inspect export-criu`: a .ckpt image as a CRIU image folder (inventory, pstree, core,
// ids, fs, mm, pagemap and pages, files, fdinfo, pipes-data, sk-queues), encoded with the same
// .proto definitions the CRIU reader decodes with (formats/criu/) and framed as
// formats/criu_image.ksy says. Page bytes are copied from the image in chunks; the folder is made
// beside its name and renamed into place once complete.
//
// What CRIU's model has no place for (the kernel release, the vdso hash, the identity of files,
// AVX-512 state, eventfds, epoll, FIFOs, terminals, unsupported and omitted parts) is listed in
// the report and left out. Shared anonymous memory keeps its pages in the process's own pagemap
// (CRIU puts them in a pagemap-shmem image of their own, which this exporter does not write).

import fs from 'fs';
import path from 'path';
import { CriuImage } from '../../build/formats/CriuImage';
import { CheckpointImage, Ckpt, ImageError, problem, problemSeverity, RecordType, xxh64Blocks } from '../image';
import type { RecordEntry } from '../image/recordIndex';
import { MemoryMap } from '../image/memoryMap';
import { writeDirAtomically } from '../image/write/atomicFile';
import { messageType } from '../criu/messages';
import { CKPT_VMA_FLAGS, criuSigactionSignals } from '../criu/criuCheckpoint';
import { camelRegister, CRIU_REGISTERS, criuFromXstate } from './criuFacts';

export interface ExportReport {
  processes: number;
  threads: number;
  vmas: number;
  pages: number;
  files: string[];
  leftOut: string[];
}

const M = CriuImage.Magic;
const CHUNK = 1 << 20;
// vma_status bits (formats/criu/mm.proto).
const REGULAR = 1,
  AREA_STACK = 2,
  AREA_VSYSCALL = 4,
  AREA_VDSO = 8,
  AREA_HEAP = 32,
  FILE_PRIVATE = 64,
  FILE_SHARED = 128,
  ANON_SHARED = 256,
  ANON_PRIVATE = 512,
  AREA_VVAR = 4096;
const MAP_SHARED = 1,
  MAP_PRIVATE = 2,
  MAP_ANON = 32,
  MAP_GROWSDOWN = 0x100,
  MAP_LOCKED = 0x2000;
const MADV_DONTFORK = 1n << 10n,
  MADV_DONTDUMP = 1n << 16n,
  MADV_WIPEONFORK = 1n << 18n;
const PE_PRESENT = 4;
const FD_REG = 1,
  FD_PIPE = 2,
  FD_UNIXSK = 5;
const TASK_ALIVE = 1,
  TASK_STOPPED = 3,
  TASK_ZOMBIE = 6;
const FOWN = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

/** 64-bit values as protobuf.js writes them (its LongBits form), whatever their size. */
function wire(v: unknown): unknown {
  if (typeof v === 'bigint') {
    const u = BigInt.asUintN(64, v);
    return { low: Number(u & 0xffffffffn), high: Number(u >> 32n), unsigned: true };
  }
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(wire);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => [k, wire(x)]),
    );
  return v;
}

function encode(typeName: string, value: Record<string, unknown>): Uint8Array {
  return messageType(typeName)
    .encode(wire(value) as never)
    .finish();
}

/** One CRIU image file: magic numbers, then length-prefixed messages (and any raw bytes after one). */
class ImageFile {
  private readonly parts: Uint8Array[] = [];
  constructor(magic: number, kindMagic?: number) {
    const head = Buffer.alloc(kindMagic === undefined ? 4 : 8);
    head.writeUInt32LE(magic, 0);
    if (kindMagic !== undefined) head.writeUInt32LE(kindMagic, 4);
    this.parts.push(head);
  }
  entry(typeName: string, value: Record<string, unknown>, extra?: Uint8Array): this {
    const msg = encode(typeName, value);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(msg.length, 0);
    this.parts.push(len, msg);
    if (extra) this.parts.push(extra);
    return this;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Export the .ckpt image at `source` as a CRIU image folder `target` (which must not exist, or be empty). */
export async function exportCkptToCriu(source: string, target: string): Promise<ExportReport> {
  const image = await CheckpointImage.open(source);
  try {
    const bad = image.problems.find((p) => problemSeverity(p.code) === 'error');
    if (bad) throw new ImageError({ ...bad, fatal: true, message: `cannot export a damaged image: ${bad.message}` });
    return await writeDirAtomically(target, (dir) => new Export(image, dir).run());
  } finally {
    await image.close();
  }
}

class Export {
  private readonly report: ExportReport = { processes: 0, threads: 0, vmas: 0, pages: 0, files: [], leftOut: [] };
  private readonly files = new ImageFile(M.IMG_COMMON, M.FILES);
  private readonly pipesData = new ImageFile(M.IMG_COMMON, M.PIPES_DATA);
  private readonly skQueues = new ImageFile(M.IMG_COMMON, M.SK_QUEUES);
  private havePipeData = false;
  private haveQueues = false;
  private nextFileId = 1;
  /** files.img ids: of each .ckpt file record (by tag), and of each path named by exe, cwd, root or a mapping. */
  private readonly fileIds = new Map<number, { id: number; type: number }>();
  private readonly pathIds = new Map<string, number>();

  constructor(
    private readonly image: CheckpointImage,
    private readonly dir: string,
  ) {}

  private put(name: string, bytes: Uint8Array): void {
    fs.writeFileSync(path.join(this.dir, name), bytes, { mode: 0o600 });
    this.report.files.push(name);
  }

  private leave(where: string, what: string): void {
    this.report.leftOut.push(`${where}: ${what}`);
  }

  async run(): Promise<ExportReport> {
    const img = this.image;
    this.leave('image', `the kernel release (${img.head.release.value}), the vdso hash and the boot id: CRIU's images hold none`);
    for (const u of img.children().filter((r) => r.type === RecordType.UNSUPPORTED)) {
      const v = await img.decodeAs(u, 'unsupported');
      this.leave('image', `an unsupported record (${v.detail.value}: ${v.reason.value})`);
    }
    await this.writeFiles();
    const procs = img.processes();
    if (!procs.length) throw new ImageError({ code: 'inconsistent', fatal: true, offset: 0, message: 'the image holds no process' });
    const pstree = new ImageFile(M.IMG_COMMON, M.PSTREE);
    const pidOf = new Map<RecordEntry, number>();
    let rootIds: Record<string, number> | undefined;
    let n = 0;
    for (const pr of procs) {
      const p = await img.decodeAs(pr, 'process');
      pidOf.set(pr, p.pid);
      const parent = img.parent(pr);
      const ppid = parent && parent.type === RecordType.PROCESS ? (pidOf.get(parent) ?? 0) : 0;
      const threads = img.childrenOfType(pr, RecordType.THREAD);
      const tvals = await Promise.all(threads.map((t) => img.decodeAs(t, 'thread')));
      pstree.entry('pstree_entry', { pid: p.pid, ppid, pgid: p.pgid, sid: p.sid, threads: tvals.map((t) => t.tid) });
      n++;
      const ids = { vm_id: n, files_id: n, fs_id: n, sighand_id: n, pid_ns_id: 1000, net_ns_id: 1001, ipc_ns_id: 1002, uts_ns_id: 1003, mnt_ns_id: 1004, user_ns_id: 1005, cgroup_ns_id: 1006 };
      rootIds ??= ids;
      this.put(`ids-${p.pid}.img`, new ImageFile(M.IMG_COMMON, M.IDS).entry('task_kobj_ids_entry', ids).bytes());
      await this.writeProcess(pr, p, threads, tvals, n);
      for (const z of img.childrenOfType(pr, RecordType.ZOMBIE)) {
        const zv = await img.decodeAs(z, 'zombie');
        pstree.entry('pstree_entry', { pid: zv.pid, ppid: p.pid, pgid: zv.pgid, sid: zv.sid, threads: [zv.pid] });
        this.put(`core-${zv.pid}.img`, new ImageFile(M.IMG_COMMON, M.CORE).entry('core_entry', { mtype: 1, tc: { task_state: TASK_ZOMBIE, exit_code: zv.exitStatus, comm: zv.comm.value } }).bytes());
      }
    }
    this.put('pstree.img', pstree.bytes());
    this.put('files.img', this.files.bytes());
    if (this.havePipeData) this.put('pipes-data.img', this.pipesData.bytes());
    if (this.haveQueues) this.put('sk-queues.img', this.skQueues.bytes());
    this.put('inventory.img', new ImageFile(M.INVENTORY).entry('inventory_entry', { img_version: 2, fdinfo_per_id: true, root_ids: rootIds, ns_per_id: true, lsmtype: 0 }).bytes());
    return this.report;
  }

  /** A files.img entry for a path (the executable, cwd, root, a mapped file), once per path. */
  private pathId(p: string, mode: number, size = 0n): number {
    let id = this.pathIds.get(p);
    if (id === undefined) {
      id = this.nextFileId++;
      this.pathIds.set(p, id);
      this.files.entry('file_entry', { type: FD_REG, id, reg: { id, flags: 0, pos: 0n, fown: FOWN, name: p, ...(size ? { size } : {}), mode } });
    }
    return id;
  }

  private async writeFiles(): Promise<void> {
    const img = this.image;
    const K = Ckpt.FdKind;
    // files whose path is gone: one description holds the contents, the others share its inode
    const gone = new Set<string>();
    for (const c of img.ofType(RecordType.FILE_CONTENT)) {
      const owner = img.parent(c);
      const f = owner && (await img.decodeAs(owner, 'file'));
      if (f) gone.add(`${f.dev}:${f.ino}`);
    }
    for (const r of img.ofType(RecordType.FILE)) {
      const f = await img.decodeAs(r, 'file');
      const id = this.nextFileId++;
      const where = `file ${f.path.value}`;
      // what the .ckpt format 2.1 keeps beside a description and the exporter does not write yet
      if (gone.has(`${f.dev}:${f.ino}`)) {
        this.leave(where, 'a file whose path is gone: its contents (file_content) are not exported');
        continue;
      }
      if (img.childrenOfType(r, RecordType.FILE_LOCK).length) this.leave(where, 'its locks (file_lock) are not exported');
      switch (f.kind) {
        case K.REGULAR:
        case K.DIRECTORY:
        case K.CHR:
        case K.BLK:
          this.files.entry('file_entry', {
            type: FD_REG,
            id,
            reg: { id, flags: f.flags, pos: f.pos, fown: FOWN, name: f.path.value, ...(f.kind === K.REGULAR ? { size: f.size } : {}), mode: f.mode },
          });
          this.fileIds.set(r.tag, { id, type: FD_REG });
          break;
        case K.PIPE: {
          const x = f.extra as Ckpt.FdPipe;
          const pipeId = Number(x.pipeIno & 0xffffffffn);
          this.files.entry('file_entry', { type: FD_PIPE, id, pipe: { id, pipe_id: pipeId, flags: f.flags, fown: FOWN } });
          if (x.data.len) {
            this.pipesData.entry('pipe_data_entry', { pipe_id: pipeId, bytes: x.data.len, size: x.capacity }, x.data.value);
            this.havePipeData = true;
          }
          this.fileIds.set(r.tag, { id, type: FD_PIPE });
          break;
        }
        case K.SOCKET: {
          const x = f.extra as Ckpt.FdSocket;
          if (x.family !== 1) {
            this.leave(where, `a socket of family ${x.family}: only unix sockets are exported`);
            continue;
          }
          this.files.entry('file_entry', {
            type: FD_UNIXSK,
            id,
            usk: {
              id,
              ino: Number(f.ino & 0xffffffffn),
              type: x.type,
              state: x.state,
              flags: f.flags,
              uflags: 0,
              backlog: 0,
              peer: Number(x.peerIno & 0xffffffffn),
              fown: FOWN,
              opts: {},
              name: new Uint8Array(0),
            },
          });
          for (const packet of queuedPackets(x)) {
            this.skQueues.entry('sk_packet_entry', { id_for: id, length: packet.length }, packet);
            this.haveQueues = true;
          }
          this.fileIds.set(r.tag, { id, type: FD_UNIXSK });
          break;
        }
        default:
          this.leave(where, `a ${Ckpt.FdKind[f.kind] ?? `kind ${f.kind}`} file: the exporter writes regular files, directories, devices, pipes and unix sockets only`);
      }
    }
  }

  private async writeProcess(pr: RecordEntry, p: Ckpt.Process, threads: RecordEntry[], tvals: Ckpt.Thread[], n: number): Promise<void> {
    const img = this.image;
    const where = `process ${p.pid}`;
    if (p.nomitted) this.leave(where, `${p.nomitted} child processes the dump left out`);
    const creds = { uid: p.uids[0], euid: p.uids[1], suid: p.uids[2], fsuid: p.uids[3], gid: p.gids[0], egid: p.gids[1], sgid: p.gids[2], fsgid: p.gids[3], secbits: 0, groups: p.groups };
    const sigRecords = img.childrenOfType(pr, RecordType.SIGACTIONS);
    const actions = sigRecords.length ? (await img.decodeAs(sigRecords[0], 'sigactions')).actions : [];
    const signals = criuSigactionSignals(62);
    const sigactions = signals.map((sig) => {
      const a = actions[sig - 1];
      return { sigaction: a?.handler ?? 0n, flags: a?.flags ?? 0n, restorer: a?.restorer ?? 0n, mask: a?.mask ?? 0n, compat_sigaction: false };
    });
    const pendingOf = async (parent: RecordEntry) => {
      const ps = img.childrenOfType(parent, RecordType.PENDING_SIGNALS);
      if (!ps.length) return undefined;
      const v = await img.decodeAs(ps[0], 'pending_signals');
      return { signals: v.signals.map((s) => ({ siginfo: siginfoBytes(s) })) };
    };
    const stopped = (p.flags & Ckpt.ProcessFlags.STOPPED) !== 0;
    for (let i = 0; i < threads.length; i++) {
      const t = tvals[i];
      const main = (t.flags & Ckpt.ThreadFlags.MAIN_THREAD) !== 0;
      const gpregs: Record<string, unknown> = { mode: 1 };
      for (const [criuName, name] of Object.entries(CRIU_REGISTERS)) gpregs[criuName] = (t.regs as unknown as Record<string, bigint>)[camelRegister(name)];
      const fp = criuFromXstate(t.xstate.value, t.xstateKind === Ckpt.XstateKind.XSAVE);
      if (fp.lost) this.leave(`thread ${t.tid}`, fp.lost);
      for (const u of img.childrenOfType(threads[i], RecordType.UNSUPPORTED)) {
        const v = await img.decodeAs(u, 'unsupported');
        this.leave(`thread ${t.tid}`, `an unsupported record (${v.detail.value}: ${v.reason.value})`);
      }
      const core: Record<string, unknown> = {
        mtype: 1,
        thread_info: { clear_tid_addr: t.tidAddress, gpregs, ...(t.xstate.len ? { fpregs: fp.fpregs } : {}) },
        thread_core: {
          futex_rla: t.robustList,
          futex_rla_len: Number(t.robustListLen),
          sched_policy: 0,
          blk_sigset: t.sigmask,
          sas: { ss_sp: t.altstackSp, ss_size: t.altstackSize, ss_flags: t.altstackFlags },
          signals_p: await pendingOf(threads[i]),
          creds,
          seccomp_mode: 0,
          comm: t.comm.value,
          ...(t.rseqAddr ? { rseq_entry: { rseq_abi_pointer: t.rseqAddr, rseq_abi_size: t.rseqLen, signature: t.rseqSig } } : {}),
        },
      };
      if (main) {
        core.tc = {
          task_state: stopped ? TASK_STOPPED : TASK_ALIVE,
          exit_code: 0,
          personality: p.personality,
          flags: 0,
          blk_sigset: t.sigmask,
          comm: p.comm.value,
          rlimits: { rlimits: p.rlimits.map((l) => ({ cur: l.cur, max: l.max })) },
          signals_s: await pendingOf(pr),
          sigactions,
          child_subreaper: (p.flags & Ckpt.ProcessFlags.CHILD_SUBREAPER) !== 0,
        };
      }
      this.put(`core-${t.tid}.img`, new ImageFile(M.IMG_COMMON, M.CORE).entry('core_entry', core).bytes());
      this.report.threads++;
    }
    this.put(
      `fs-${p.pid}.img`,
      new ImageFile(M.IMG_COMMON, M.FS).entry('fs_entry', { cwd_id: this.pathId(p.cwd.value, 0o40755), root_id: this.pathId(p.root.value || '/', 0o40755), umask: p.umask }).bytes(),
    );
    // The descriptors: fdinfo-N.img, named by the files_id of ids-PID.img.
    const fdinfo = new ImageFile(M.IMG_COMMON, M.FDINFO);
    for (const files of img.childrenOfType(pr, RecordType.FILES)) {
      for (const fr of img.childrenOfType(files, RecordType.FD)) {
        const fd = await img.decodeAs(fr, 'fd');
        const f = this.fileIds.get(fd.file);
        if (!f) {
          this.leave(where, `fd ${fd.fd}, whose open file is not exported`);
          continue;
        }
        fdinfo.entry('fdinfo_entry', { id: f.id, flags: fd.fdFlags & 1, type: f.type, fd: fd.fd });
      }
      for (const u of img.childrenOfType(files, RecordType.UNSUPPORTED)) {
        const v = await img.decodeAs(u, 'unsupported');
        this.leave(where, `fd ${v.fd}: an unsupported record (${v.detail.value}: ${v.reason.value})`);
      }
    }
    this.put(`fdinfo-${n}.img`, fdinfo.bytes());
    for (const u of img.childrenOfType(pr, RecordType.UNSUPPORTED)) {
      const v = await img.decodeAs(u, 'unsupported');
      this.leave(where, `an unsupported record (${v.detail.value}: ${v.reason.value})`);
    }
    const mms = img.childrenOfType(pr, RecordType.MM);
    if (mms.length) await this.writeMemory(p, mms[0], await img.memory(pr), n);
    this.report.processes++;
  }

  private async writeMemory(p: Ckpt.Process, mmRecord: RecordEntry, mem: MemoryMap, n: number): Promise<void> {
    const img = this.image;
    const mm = await img.decodeAs(mmRecord, 'mm');
    const where = `process ${p.pid}`;
    if (img.layoutProblems.length) {
      const bad = img.layoutProblems[0];
      throw new ImageError({ ...bad, fatal: true, message: `cannot export a damaged image: ${bad.message}` });
    }
    const vmas: Record<string, unknown>[] = [];
    for (const r of img.childrenOfType(mmRecord, RecordType.VMA)) {
      const v = await img.decodeAs(r, 'vma');
      const vma = this.criuVma(v);
      if (!vma) {
        this.leave(where, `the mapping at 0x${v.start.toString(16)} (${v.path.value || Ckpt.VmaKind[v.kind]}): CRIU's model has no kind for it`);
        continue;
      }
      vmas.push(vma);
    }
    this.report.vmas += vmas.length;
    const exe = p.exe.value ? this.pathId(p.exe.value, 0o100755) : undefined;
    const auxv = mm.auxv.flatMap((a) => [BigInt(a.key), a.value]);
    this.put(
      `mm-${p.pid}.img`,
      new ImageFile(M.IMG_COMMON, M.MM)
        .entry('mm_entry', {
          mm_start_code: mm.startCode,
          mm_end_code: mm.endCode,
          mm_start_data: mm.startData,
          mm_end_data: mm.endData,
          mm_start_stack: mm.startStack,
          mm_start_brk: mm.startBrk,
          mm_brk: mm.brk,
          mm_arg_start: mm.argStart,
          mm_arg_end: mm.argEnd,
          mm_env_start: mm.envStart,
          mm_env_end: mm.envEnd,
          exe_file_id: exe,
          mm_saved_auxv: auxv,
          vmas,
          dumpable: (p.flags & Ckpt.ProcessFlags.DUMPABLE) !== 0 ? 1 : 0,
        })
        .bytes(),
    );
    // pagemap-PID.img and pages-N.img: one run per stored segment, the bytes copied in chunks.
    const pagemap = new ImageFile(M.IMG_COMMON, M.PAGEMAP).entry('pagemap_head', { pages_id: n });
    const fd = fs.openSync(path.join(this.dir, `pages-${n}.img`), 'w', 0o600);
    try {
      const ps = img.pageSize;
      const chunk = Math.max(ps, CHUNK - (CHUNK % ps));
      const buf = new Uint8Array(chunk);
      let at = 0;
      for (const s of mem.segments) {
        const len = Number(s.end - s.start);
        pagemap.entry('pagemap_entry', { vaddr: s.start, nr_pages: BigInt(len / ps), flags: PE_PRESENT });
        // Every page is checked against its hash as it is copied: a damaged page is not exported.
        const hashes = (await img.decodeAs(s.pagemap, 'pagemap')).pageHashes;
        const want = new DataView(hashes.buffer, hashes.byteOffset, hashes.length);
        for (let done = 0; done < len; done += chunk) {
          const part = buf.subarray(0, Math.min(chunk, len - done));
          img.source.readIntoSync!(s.fileOffset + done, part);
          const got = xxh64Blocks(part, ps);
          const have = new DataView(got.buffer, got.byteOffset, got.length);
          for (let i = 0; i < part.length / ps; i++) {
            const page = s.firstPage + done / ps + i;
            if (have.getBigUint64(i * 8, true) !== want.getBigUint64(page * 8, true)) {
              const r = s.pages;
              const site = { record: r.index, type: r.type, tag: r.tag, offset: s.fileOffset + done + i * ps };
              throw new ImageError(
                problem(
                  'bad-page-hash',
                  site,
                  `cannot export a damaged image: the page at 0x${(s.start + BigInt(done + i * ps)).toString(16)} does not match its hash in pagemap tag ${s.pagemap.tag}`,
                  true,
                ),
              );
            }
          }
          at += fs.writeSync(fd, part, 0, part.length, at);
        }
        this.report.pages += len / ps;
      }
    } finally {
      fs.closeSync(fd);
    }
    this.report.files.push(`pages-${n}.img`);
    this.put(`pagemap-${p.pid}.img`, pagemap.bytes());
  }

  /** A .ckpt VMA in CRIU's terms, or undefined for kinds CRIU has none for. */
  private criuVma(v: Ckpt.Vma): Record<string, unknown> | undefined {
    const K = Ckpt.VmaKind,
      F = CKPT_VMA_FLAGS;
    const shared = (v.flags & F.shared) !== 0;
    let status: number;
    let shmid: bigint | undefined;
    let flags = shared ? MAP_SHARED : MAP_PRIVATE;
    switch (v.kind) {
      case K.ANON_PRIVATE:
        status = REGULAR | ANON_PRIVATE;
        flags |= MAP_ANON;
        break;
      case K.HEAP:
        status = REGULAR | AREA_HEAP | ANON_PRIVATE;
        flags |= MAP_ANON;
        break;
      case K.STACK:
        status = REGULAR | ANON_PRIVATE | (v.flags & F.growsDown ? 0 : AREA_STACK);
        flags |= MAP_ANON;
        break;
      case K.ANON_SHARED:
        status = REGULAR | ANON_SHARED;
        flags |= MAP_ANON;
        shmid = v.inode;
        break;
      case K.FILE_PRIVATE:
      case K.FILE_SHARED:
        status = REGULAR | (v.kind === K.FILE_SHARED ? FILE_SHARED : FILE_PRIVATE);
        shmid = BigInt(this.pathId(v.path.value, 0o100644, v.fileSize));
        break;
      case K.VDSO:
        status = REGULAR | AREA_VDSO | ANON_PRIVATE;
        flags |= MAP_ANON;
        break;
      case K.VVAR:
      case K.VVAR_VCLOCK:
        status = REGULAR | AREA_VVAR | ANON_PRIVATE;
        flags |= MAP_ANON;
        break;
      case K.VSYSCALL:
        status = AREA_VSYSCALL | ANON_PRIVATE;
        flags |= MAP_ANON;
        break;
      default:
        return undefined;
    }
    if (v.flags & F.growsDown) flags |= MAP_GROWSDOWN;
    if (v.flags & F.locked) flags |= MAP_LOCKED;
    const madv = (v.flags & F.dontDump ? MADV_DONTDUMP : 0n) | (v.flags & F.dontFork ? MADV_DONTFORK : 0n) | (v.flags & F.wipeOnFork ? MADV_WIPEONFORK : 0n);
    return {
      start: v.start,
      end: v.end,
      pgoff: v.offset,
      shmid: shmid ?? 0n,
      prot: v.prot,
      flags,
      status,
      fd: -1n,
      ...(madv ? { madv } : {}),
      ...(shmid !== undefined && status & (FILE_PRIVATE | FILE_SHARED) ? { fdflags: v.kind === K.FILE_SHARED && v.flags & Ckpt.VmaFlags.MAY_WRITE ? 2 /* O_RDWR */ : 0 } : {}),
    };
  }
}

/** The 128 bytes of a siginfo_t from the .ckpt record's fields. */
function siginfoBytes(s: Ckpt.Siginfo): Uint8Array {
  const b = Buffer.alloc(128);
  b.writeInt32LE(s.siSigno, 0);
  b.writeInt32LE(s.siErrno, 4);
  b.writeInt32LE(s.siCode, 8);
  b.writeUInt32LE(s.pad, 12);
  b.set(s.fields.subarray(0, 112), 16);
  return new Uint8Array(b);
}

/** The packets queued on a socket: a stream's bytes as one, a datagram socket's messages each (u4 length, bytes). */
function queuedPackets(x: Ckpt.FdSocket): Uint8Array[] {
  const q = x.queued.value;
  if (!q.length) return [];
  if (x.type === 1) return [q];
  const out: Uint8Array[] = [];
  const dv = new DataView(q.buffer, q.byteOffset, q.length);
  for (let at = 0; at + 4 <= q.length;) {
    const n = dv.getUint32(at, true);
    out.push(q.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}
