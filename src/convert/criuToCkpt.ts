// `ckpt-inspect convert`: a CRIU checkpoint (a folder or an archive) as a .ckpt image that
// `ckpt restore` takes. It reads CRIU's images through src/criu (pstree, core, mm, pagemap and
// pages, files and fdinfo, fs, pipes-data, sk-queues) and writes records with the image writer,
// streaming: page bytes go from CRIU's pages files to the image in chunks, hashed on the way, and
// the image is written atomically (temp file, rename, mode 0600). What the .ckpt format cannot
// hold becomes an `unsupported` record (restore warns about each) and is listed in the report.
//
// CRIU records less than a .ckpt image about the machine and the files: no kernel release, no
// vdso hash, no device, inode or mtime of a file. The image names this machine's kernel (CRIU's
// images hold none), leaves the vdso hash out (0: restore checks the vdso's layout only), and
// takes each file's identity from the file at the same path now, when its size is the size CRIU
// recorded. So a converted image restores here when the files are where they were.

import fs from 'fs';
import os from 'os';
import type { CoreEntry, FileEntry, PagemapEntry, PstreeEntry, SignalQueueEntry, VmaEntry } from '../../build/formats/CriuMessages';
import { CriuAsCheckpoint } from '../checkpoint/criuAsCheckpoint';
import { CriuCheckpoint, criuSigactionSignals, CriuRecord, PAGE_SIZE } from '../criu/criuCheckpoint';
import { kindByFileName, PAGES_FILE } from '../criu/imageKinds';
import { ImageError, ImageProblem, problemSeverity } from '../image/errors';
import { Ckpt, schema } from '../image/format';
import { hex } from '../image/fields';
import { MemoryMap, VmaInfo } from '../image/memoryMap';
import { writeFileAtomically } from '../image/write/atomicFile';
import { ImageWriter, PageRunData } from '../image/write/imageWriter';
import { camelRegister, CRIU_REGISTERS, fxsaveFromCriu, signalInfo, UNLIMITED } from './criuFacts';

export interface ConvertReport {
  processes: number;
  threads: number;
  vmas: number;
  pages: number;
  files: number;
  /** What the image leaves out, one line each (each also an `unsupported` record). */
  leftOut: string[];
  /** What the image takes from elsewhere than the CRIU checkpoint (this machine). */
  notes: string[];
}

/** VMA kinds whose pages restore does not write (it maps the kernel's own, or cannot make them). */
const NOT_MAPPED_BY_RESTORE = new Set(['vdso', 'vvar', 'vvar_vclock', 'vsyscall', 'device', 'unknown']);
/** Pages per pagemap record: bounds its hash array (512 KiB) and what one record's pass reads. */
const PAGES_PER_PAGEMAP = 65536;
/** Bytes of a pipe or a socket queue a file record holds at most (within the format's 64 MiB metadata payload). */
const MAX_BUFFERED = 32 * 1024 * 1024;
/** Page bytes read at once. */
const CHUNK = 1 << 20;
/** The image files whose content the conversion takes (the others are listed as left out). */
const CONVERTED = new Set(['inventory', 'pstree', 'core', 'ids', 'mm', 'pagemap', 'files', 'fdinfo', 'fs', 'pipes_data', 'sk_queues', 'stats', 'seccomp', 'timens', 'utsns']);
const S_IFMT = 0o170000,
  S_IFDIR = 0o040000,
  S_IFCHR = 0o020000,
  S_IFBLK = 0o060000,
  S_IFREG = 0o100000,
  S_IFIFO = 0o010000;
const TASK_ALIVE = 1,
  TASK_STOPPED = 3,
  TASK_ZOMBIE = 6;
const PE_LAZY = 2,
  PE_PRESENT = 4;
const SIGCHLD = 17;
const enumValue = (name: string, label: string): number => {
  const hit = Object.entries(schema.enums[name] ?? {}).find(([, l]) => l === label);
  if (!hit) throw new Error(`no ${label} in the format's ${name}`);
  return Number(hit[0]);
};
const U = Ckpt.UnsupportedKind;

interface Unsupported {
  what: number;
  fd: number;
  addr: bigint;
  reason: string;
  detail: string;
}

/** Convert the CRIU checkpoint at `source` into the .ckpt image `target`. Throws ImageError for a damaged checkpoint. */
export async function convertCriuToCkpt(source: string, target: string): Promise<ConvertReport> {
  const cp = await CriuAsCheckpoint.open(source);
  try {
    return await new Conversion(cp, source).write(target);
  } finally {
    await cp.close();
  }
}

/** The first problem that makes a checkpoint unfit to convert, as an error naming its file and offset. */
function refuse(problems: ImageProblem[]): void {
  const p = problems.find((x) => problemSeverity(x.code) === 'error');
  if (p) throw new ImageError({ ...p, fatal: true, message: `cannot convert a damaged checkpoint: ${p.message}` });
}

class Conversion {
  private readonly criu: CriuCheckpoint;
  private readonly report: ConvertReport = { processes: 0, threads: 0, vmas: 0, pages: 0, files: 0, leftOut: [], notes: [] };
  /** The sk-queues.img entries of each socket, by its file id. */
  private queues?: Map<number, CriuRecord[]>;
  /** Pages CRIU saved of the vdso: restore maps the restoring kernel's own. */
  private vdsoPages = 0;
  /** Files whose identity was taken from this machine. */
  private readonly statted = new Set<string>();

  constructor(
    private readonly cp: CriuAsCheckpoint,
    private readonly name: string,
  ) {
    this.criu = cp.criu;
  }

  private leave(u: Unsupported, where: string): Unsupported {
    this.report.leftOut.push(`${where}: ${u.detail}: ${u.reason}`);
    return u;
  }

  async write(target: string): Promise<ConvertReport> {
    refuse(this.criu.problems);
    const procs = await this.cp.processes();
    const pstree = this.criu.pstree();
    if (!pstree.length) throw new ImageError({ code: 'inconsistent', fatal: true, offset: 0, message: `${this.name}: the checkpoint has no processes (pstree.img is empty or missing)` });
    // Memory maps first: building them finds a pagemap past its pages file, and such damage refuses the conversion.
    const memories = new Map<number, MemoryMap<CriuRecord>>();
    for (const e of pstree) {
      const pid = e.value.pid ?? 0;
      if (this.taskState(pid) !== TASK_ZOMBIE) memories.set(pid, await this.criu.memory(pid));
    }
    refuse(this.criu.layoutProblems);

    const topLevel = this.unconvertedImages();
    const hasUnsupported = () => this.report.leftOut.length > 0;
    // The records of every process are planned before anything is written: the head's
    // has_unsupported flag comes first and depends on all of them.
    const models = new Map(procs.map((p) => [p.pid, p]));
    const plans = pstree.map((e) => this.planProcess(e.value, models.get(e.value.pid ?? 0)!, memories.get(e.value.pid ?? 0)));
    const zombies = new Map<number, ProcessPlan[]>();
    for (const p of plans) if (p.zombie) zombies.set(p.ppid, [...(zombies.get(p.ppid) ?? []), p]);
    for (const p of plans) {
      const mm = this.criu.mm(p.pid)?.value;
      const mem = memories.get(p.pid);
      if (!mm || !mem) continue;
      p.cmdline = await rawBytes(mem, mm.mm_arg_start, mm.mm_arg_end);
      p.environ = await rawBytes(mem, mm.mm_env_start, mm.mm_env_end);
    }
    const files = this.planFiles(plans.flatMap((p) => p.fds.map((f) => f.id)));

    await writeFileAtomically(target, (fd) => {
      const w = ImageWriter.toFile(fd, PAGE_SIZE);
      const uts = this.criu.utsns();
      w.head({
        flags: hasUnsupported() ? Ckpt.ImageFlags.HAS_UNSUPPORTED : 0,
        timeNs: this.timeNs(),
        nodename: uts?.nodename ?? '',
        release: os.release(),
        version: os.version(),
        checkpointer: 'CRIU, converted by ckpt-inspect convert',
        bootId: '',
      });
      for (const u of topLevel) w.record('unsupported', { ...u, reserved: 0 });
      const fileTags = this.writeFiles(w, files);
      const procTags = new Map<number, number>();
      for (const plan of plans) {
        if (plan.zombie) continue;
        const parent = procTags.get(plan.ppid);
        const tag = this.writeProcess(w, plan, parent, fileTags);
        procTags.set(plan.pid, tag);
        for (const z of zombies.get(plan.pid) ?? []) {
          w.record('zombie', { pid: z.pid, pgid: z.pgid, sid: z.sid, exitStatus: z.exitStatus, comm: z.comm }, { ptag: tag });
        }
      }
      w.tail();
    });
    this.report.files = files.length;
    if (this.statted.size)
      this.report.notes.push(
        `the device, inode and modification time of ${this.statted.size} file${this.statted.size === 1 ? '' : 's'} (CRIU records none) were taken from the file${this.statted.size === 1 ? '' : 's'} at the same path${this.statted.size === 1 ? '' : 's'} on this machine`,
      );
    if (this.vdsoPages)
      this.report.notes.push(`the ${this.vdsoPages} pages of the vdso (and vvar) that CRIU saved are not kept: restore maps the vdso of the kernel that restores, which must have the same layout`);
    this.report.notes.push(`the image names this machine's kernel (${os.release()}): CRIU records none`);
    return this.report;
  }

  private timeNs(): bigint {
    const inv = this.criu.image('inventory.img');
    const ms = inv?.member?.mtimeMs ?? 0;
    return BigInt(Math.round(ms)) * 1_000_000n;
  }

  private taskState(pid: number): number {
    return this.criu.core(pid)?.value.tc?.task_state ?? TASK_ALIVE;
  }

  /** Image files of kinds whose state the .ckpt format cannot hold (namespaces, mounts, cgroups, ...). */
  private unconvertedImages(): Unsupported[] {
    const out: Unsupported[] = [];
    for (const r of this.criu.records) {
      if (r.kind !== 'file' || !r.member) continue;
      const name = r.path.split('/').pop() ?? '';
      const dir = r.path.includes('/') ? r.path.slice(0, r.path.lastIndexOf('/')) : '';
      if (dir !== this.criu.files.imagesDir || PAGES_FILE.test(name)) continue;
      const kind = r.image?.kind?.label ?? kindByFileName(name)?.label;
      // By name too: pagemap-shmem-ID.img has the pagemap's magic, but its pages (those of shared
      // anonymous memory) are not a process's, and are not converted.
      if (kind && CONVERTED.has(kind) && kindByFileName(name)?.label === kind) continue;
      if (!r.image && !kind) continue; // not a CRIU image (a log, the engine's files)
      const reason = name.startsWith('pagemap-shmem-')
        ? 'the pages of shared anonymous memory are not converted: the mapping comes back without them'
        : 'the .ckpt format has no record for what it holds';
      out.push(this.leave({ what: U.OTHER, fd: -1, addr: 0n, reason, detail: `CRIU image ${name}` }, 'checkpoint'));
    }
    return out;
  }

  // ---- processes ---------------------------------------------------------------------------

  private planProcess(entry: PstreeEntry, model: Awaited<ReturnType<CriuAsCheckpoint['processes']>>[number], mem: MemoryMap<CriuRecord> | undefined): ProcessPlan {
    const pid = entry.pid ?? 0;
    const main = this.criu.core(pid)?.value;
    const tc = main?.tc;
    const where = `process ${pid}`;
    const state = tc?.task_state ?? TASK_ALIVE;
    const plan: ProcessPlan = {
      pid,
      ppid: entry.ppid ?? 0,
      pgid: entry.pgid ?? 0,
      sid: entry.sid ?? 0,
      comm: tc?.comm ?? main?.thread_core?.comm ?? '',
      zombie: state === TASK_ZOMBIE,
      exitStatus: tc?.exit_code ?? 0,
      model,
      main,
      threads: [],
      unsupported: [],
      vmas: [],
      runs: [],
      fds: [],
      fdUnsupported: [],
      cmdline: new Uint8Array(0),
      environ: new Uint8Array(0),
    };
    if (plan.zombie) return plan;
    if (!main) throw new ImageError({ code: 'inconsistent', fatal: true, offset: 0, message: `${this.name}: process ${pid} has no core-${pid}.img` });
    if (state !== TASK_ALIVE && state !== TASK_STOPPED)
      plan.unsupported.push(this.leave({ what: U.OTHER, fd: -1, addr: 0n, reason: 'only live, stopped and zombie processes are restored', detail: `task state ${state}` }, where));
    const seccomp = main.thread_core?.seccomp_mode ?? 0;
    if (seccomp)
      plan.unsupported.push(this.leave({ what: U.SECCOMP, fd: -1, addr: 0n, reason: 'the filter program is not in the checkpoint this reader knows', detail: `seccomp mode ${seccomp}` }, where));
    const t = tc?.timers;
    if (t && [t.real, t.virt, t.prof].some((i) => i && (i.isec || i.iusec || i.vsec || i.vusec))) {
      plan.unsupported.push(this.leave({ what: U.TIMER, fd: -1, addr: 0n, reason: 'the .ckpt format holds no interval timers', detail: 'an interval timer (setitimer)' }, where));
    }
    for (const tid of entry.threads.length ? entry.threads : [pid]) {
      const core = tid === pid ? main : this.criu.core(tid)?.value;
      if (!core) throw new ImageError({ code: 'inconsistent', fatal: true, offset: 0, message: `${this.name}: thread ${tid} of process ${pid} has no core-${tid}.img` });
      plan.threads.push(this.planThread(pid, tid, core));
    }
    if (mem) this.planMemory(plan, mem);
    this.planFds(plan);
    return plan;
  }

  private planThread(pid: number, tid: number, core: CoreEntry): ThreadPlan {
    const gp = core.thread_info?.gpregs ?? {};
    const regs: Partial<Record<string, bigint>> = {};
    for (const [criuName, name] of Object.entries(CRIU_REGISTERS)) regs[camelRegister(name)] = BigInt((gp as Record<string, bigint | undefined>)[criuName] ?? 0n);
    const tcore = core.thread_core;
    const fp = core.thread_info?.fpregs;
    const unsupported: Unsupported[] = [];
    const x = fp ? fxsaveFromCriu(fp) : undefined;
    if (x?.lost)
      unsupported.push(
        this.leave(
          { what: U.OTHER, fd: -1, addr: 0n, reason: "converted FPU state is x87/SSE only (the CPU's XSAVE layout, which restore needs for the rest, is not in CRIU's images)", detail: x.lost },
          `thread ${tid}`,
        ),
      );
    const inSyscall = BigInt.asIntN(64, BigInt(gp.orig_ax ?? -1n)) >= 0n;
    return {
      tid,
      value: {
        tid,
        flags: (tid === pid ? Ckpt.ThreadFlags.MAIN_THREAD : 0) | (inSyscall ? Ckpt.ThreadFlags.IN_SYSCALL : 0),
        regs,
        sigmask: BigInt(tcore?.blk_sigset ?? core.tc?.blk_sigset ?? 0n),
        sigpending: 0n,
        tidAddress: BigInt(core.thread_info?.clear_tid_addr ?? 0n),
        robustList: BigInt(tcore?.futex_rla ?? 0n),
        robustListLen: BigInt(tcore?.futex_rla_len ?? 0),
        rseqAddr: BigInt(tcore?.rseq_entry?.rseq_abi_pointer ?? 0n),
        rseqLen: tcore?.rseq_entry?.rseq_abi_size ?? 0,
        rseqSig: tcore?.rseq_entry?.signature ?? 0,
        altstackSp: BigInt(tcore?.sas?.ss_sp ?? 0n),
        altstackSize: BigInt(tcore?.sas?.ss_size ?? 0n),
        altstackFlags: tcore?.sas?.ss_flags ?? 2 /* SS_DISABLE */,
        xstateKind: x ? Ckpt.XstateKind.FXSAVE : Ckpt.XstateKind.NONE,
        comm: tcore?.comm ?? core.tc?.comm ?? '',
        xstate: x?.bytes ?? new Uint8Array(0),
      },
      pending: signalInfos(tcore?.signals_p),
      unsupported,
    };
  }

  /** VMAs, and runs of pages cut to the VMAs restore maps. */
  private planMemory(plan: ProcessPlan, mem: MemoryMap<CriuRecord>): void {
    const where = `process ${plan.pid}`;
    const local = vvarLayout();
    mem.vmas.forEach((v, i) => {
      const raw = this.criu.decode(v.entry)?.value as VmaEntry;
      const kind = enumValue('vma_kind', v.kind);
      const id = this.fileIdentity(v, raw);
      // a shared file mapping whose file CRIU saw opened read-write may be made writable again
      const mayWrite = v.kind === 'file_shared' && ((raw?.fdflags ?? 0) & 3) === 2 ? Ckpt.VmaFlags.MAY_WRITE : 0;
      const vma = { start: v.start, end: v.end, offset: v.offset, ...id, prot: v.prot, flags: v.flags | mayWrite, kind, reserved: 0, path: v.path };
      // CRIU 4.2 saves Linux 6.x's [vvar] and [vvar_vclock] as one VVAR area; restore needs them as
      // the kernel lays them out, which is this machine's when the sizes add up.
      const next = mem.vmas[i + 1];
      if (v.kind === 'vvar' && local && next?.kind !== 'vvar_vclock' && v.end - v.start === local.vvar + local.vclock) {
        const cut = v.start + local.vvar;
        plan.vmas.push({ ...vma, end: cut }, { ...vma, start: cut, kind: enumValue('vma_kind', 'vvar_vclock'), path: '[vvar_vclock]' });
        this.report.notes.push(`process ${plan.pid}: CRIU's one VVAR area at ${hex(v.start)} is split into [vvar] and [vvar_vclock] as this kernel lays them out`);
      } else plan.vmas.push(vma);
      if (v.kind === 'unknown') plan.unsupported.push(this.leave({ what: U.VMA, fd: -1, addr: v.start, reason: 'CRIU does not say what backs it', detail: `the mapping at ${hex(v.start)}` }, where));
    });
    // Segments and VMAs are both in address order and do not overlap: one pass over the two.
    const zeroFrom = this.criu.files.source.size;
    const ps = BigInt(PAGE_SIZE);
    let special = 0n,
      outside = 0n;
    let vi = 0;
    for (const s of mem.segments) {
      while (vi < mem.vmas.length && mem.vmas[vi].end <= s.start) vi++;
      let covered = 0n;
      for (let j = vi; j < mem.vmas.length && mem.vmas[j].start < s.end; j++) {
        const v = mem.vmas[j];
        const a = s.start > v.start ? s.start : v.start;
        const b = s.end < v.end ? s.end : v.end;
        covered += b - a;
        if (NOT_MAPPED_BY_RESTORE.has(v.kind)) {
          if (v.kind !== 'unknown') special += b - a; // an unknown area has an unsupported record of its own
          continue;
        }
        const zero = s.fileOffset >= zeroFrom;
        // Zero pages of anonymous memory are zero after restore anyway; of a file mapping they must be written.
        if (zero && !v.kind.startsWith('file')) continue;
        plan.runs.push({ vaddr: a, npages: Number((b - a) / ps), fileOffset: zero ? -1 : s.fileOffset + Number(a - s.start) });
      }
      outside += s.end - s.start - covered;
    }
    if (outside) plan.unsupported.push(this.leave({ what: U.VMA, fd: -1, addr: 0n, reason: 'they lie in no VMA of the process', detail: `${outside / ps} pages CRIU saved` }, where));
    this.vdsoPages += Number(special / ps);
    // Runs CRIU left for a lazy-pages server are in no file.
    const pagemap = this.criu.image(`pagemap-${plan.pid}.img`);
    for (const e of this.criu.entries<PagemapEntry>(pagemap).slice(1)) {
      const f = e.value.flags ?? 0;
      if (f & PE_LAZY && !(f & PE_PRESENT) && e.value.vaddr !== undefined) {
        plan.unsupported.push(
          this.leave(
            {
              what: U.VMA,
              fd: -1,
              addr: e.value.vaddr,
              reason: 'lazy pages are not in the checkpoint (they were left for a lazy-pages server)',
              detail: `${e.value.nr_pages ?? 0} pages at ${hex(e.value.vaddr)}`,
            },
            where,
          ),
        );
      }
    }
  }

  /**
   * The device, inode, size and mtime of a mapped file. CRIU records its size only; the rest is
   * the file's at that path now, when its size is the one CRIU recorded. A file that is missing
   * or changed keeps CRIU's size and no identity, which restore refuses.
   */
  private fileIdentity(v: VmaInfo<CriuRecord>, raw: VmaEntry): MappedFileIdentity {
    const none: MappedFileIdentity = { inode: 0n, fileSize: 0n, fileMtimeNs: 0n, devMajor: 0, devMinor: 0 };
    if (v.kind === 'anon_shared') return { ...none, inode: BigInt(raw.shmid ?? 0n) };
    if (!v.kind.startsWith('file') || !v.path) return none;
    const recorded = this.criu.fileEntries().get(Number(raw.shmid ?? -1))?.value.reg?.size;
    const unknown = { ...none, fileSize: BigInt(recorded ?? 0) };
    let st: fs.BigIntStats;
    try {
      st = fs.statSync(v.path, { bigint: true });
    } catch {
      return unknown;
    }
    if (recorded !== undefined && st.size !== BigInt(recorded)) return unknown;
    this.statted.add(v.path);
    const dev = st.dev; // glibc's major()/minor() of a dev_t
    return {
      inode: st.ino,
      fileSize: st.size,
      fileMtimeNs: st.mtimeNs,
      devMajor: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)),
      devMinor: Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)),
    };
  }

  private planFds(plan: ProcessPlan): void {
    for (const { value: f } of this.criu.fdinfo(plan.pid)) {
      const file = this.criu.fileEntries().get(f.id ?? -1)?.value;
      const fdNo = f.fd ?? -1;
      const why = file ? this.unconvertible(file) : `file id ${f.id} is not in files.img`;
      if (why) {
        plan.fdUnsupported.push(
          this.leave(
            { what: file?.isk ? U.TCP_SOCKET : U.FD, fd: fdNo, addr: 0n, reason: why, detail: `fd ${fdNo} (${file?.type !== undefined ? fdTypeName(file.type) : 'unknown'})` },
            `process ${plan.pid}`,
          ),
        );
        continue;
      }
      plan.fds.push({ fd: fdNo, cloexec: ((f.flags ?? 0) & 1) !== 0, id: f.id! });
      if (file?.usk?.name?.length) {
        plan.fdUnsupported.push(
          this.leave(
            {
              what: U.FD,
              fd: fdNo,
              addr: 0n,
              reason: 'the .ckpt format keeps no socket address: the socket comes back unbound',
              detail: `fd ${fdNo} (a unix socket bound to ${JSON.stringify(Buffer.from(file.usk.name).toString('latin1'))})`,
            },
            `process ${plan.pid}`,
          ),
        );
      }
    }
  }

  /** Why an open file cannot be converted, or undefined. */
  private unconvertible(f: FileEntry): string | undefined {
    if (f.reg) return undefined;
    if (f.pipe) return undefined;
    if (f.usk) return f.usk.type === 1 || f.usk.type === 2 || f.usk.type === 5 ? undefined : 'a kind of unix socket restore does not make';
    if (f.isk) return 'a network socket cannot be restored by ckpt';
    return 'the .ckpt converter does not know this kind of file';
  }

  // ---- files -------------------------------------------------------------------------------

  private planFiles(ids: number[]): FileEntry[] {
    const seen = new Set<number>();
    const out: FileEntry[] = [];
    for (const id of ids) {
      if (seen.has(id)) continue;
      seen.add(id);
      const e = this.criu.fileEntries().get(id);
      if (e) out.push(e.value);
    }
    return out;
  }

  private writeFiles(w: ImageWriter, files: FileEntry[]): Map<number, number> {
    const tags = new Map<number, number>();
    const pipes = this.criu.pipeData();
    const pipeDone = new Set<number>();
    const socketByIno = new Map<number, number>();
    for (const f of files) {
      const id = f.id!;
      let value: Record<string, unknown>;
      if (f.reg) {
        const r = f.reg;
        const mode = r.mode ?? S_IFREG;
        const fmt = mode & S_IFMT;
        const kind = fmt === S_IFDIR ? 'directory' : fmt === S_IFCHR ? 'chr' : fmt === S_IFBLK ? 'blk' : fmt === S_IFIFO ? 'fifo' : 'regular';
        const at = this.fileAt(r.name ?? '');
        value = { kind: enumValue('fd_kind', kind), flags: r.flags ?? 0, mode, pos: BigInt(r.pos ?? 0n), dev: at.dev, ino: at.ino, size: BigInt(r.size ?? 0n), path: r.name ?? '' };
        if (kind === 'fifo') value.extra = { pipeIno: 0n, capacity: 65536, data: new Uint8Array(0) };
      } else if (f.pipe) {
        const p = f.pipe;
        const ino = p.pipe_id ?? 0;
        let data = new Uint8Array(0);
        const held = pipes.get(ino);
        if (held && !pipeDone.has(ino)) {
          const x = held.entry.record.entry?.extra;
          if (x) {
            this.bounded(held.entry.record, x.length, `pipe:[${ino}]`);
            data = new Uint8Array(x.length);
            this.criu.source.readIntoSync!(x.offset, data);
          }
          pipeDone.add(ino);
        }
        value = {
          kind: enumValue('fd_kind', 'pipe'),
          flags: p.flags ?? 0,
          mode: S_IFIFO | 0o600,
          pos: 0n,
          dev: 0n,
          ino: BigInt(ino),
          size: 0n,
          path: `pipe:[${ino}]`,
          extra: { pipeIno: BigInt(ino), capacity: held?.entry.value.size ?? 65536, data },
        };
      } else {
        const s = f.usk!;
        const ino = s.ino ?? 0;
        const peerTag = s.peer ? (socketByIno.get(s.peer) ?? 0) : 0;
        value = {
          kind: enumValue('fd_kind', 'socket'),
          flags: s.flags ?? 0o2,
          mode: 0o140777,
          pos: 0n,
          dev: 0n,
          ino: BigInt(ino),
          size: 0n,
          path: `socket:[${ino}]`,
          extra: { family: 1, type: s.type ?? 1, state: s.state ?? 0, peerIno: BigInt(s.peer ?? 0), peer: peerTag, shutdown: 0, queued: this.socketQueue(id, s.type ?? 1) },
        };
      }
      const tag = w.record('file', value);
      tags.set(id, tag);
      if (f.usk?.ino) socketByIno.set(f.usk.ino, tag);
    }
    return tags;
  }

  /** Refuses buffered bytes more than a file record may hold (a hostile length), naming where they are. */
  private bounded(r: CriuRecord, bytes: number, what: string): void {
    if (bytes <= MAX_BUFFERED) return;
    const at = (r.entry?.offset ?? 0) - (r.image?.member.offset ?? 0);
    throw new ImageError({
      code: 'bad-length',
      fatal: true,
      offset: at,
      message: `${r.path}, entry #${r.entry?.number ?? 0} at offset 0x${at.toString(16)}: ${what} holds ${bytes} bytes, more than the ${MAX_BUFFERED} a .ckpt file record takes`,
    });
  }

  /** The device and inode of the file at a path now (CRIU records neither), or zeros. */
  private fileAt(path: string): { dev: bigint; ino: bigint } {
    try {
      const st = fs.statSync(path, { bigint: true });
      this.statted.add(path);
      return { dev: st.dev, ino: st.ino };
    } catch {
      return { dev: 0n, ino: 0n };
    }
  }

  /** The packets queued to a socket: a stream's bytes, or each message as a u4 length and its bytes. */
  private socketQueue(id: number, type: number): Uint8Array {
    if (!this.queues) {
      // Once, by socket: a walk of sk-queues.img per socket would be quadratic.
      this.queues = new Map();
      for (const e of this.criu.entries<{ id_for?: number }>(this.criu.image('sk-queues.img'))) {
        if (e.value.id_for === undefined) continue;
        const list = this.queues.get(e.value.id_for) ?? [];
        list.push(e.record);
        this.queues.set(e.value.id_for, list);
      }
    }
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const record of this.queues.get(id) ?? []) {
      const x = record.entry?.extra;
      total += x?.length ?? 0;
      this.bounded(record, total, `the queue of socket id ${id}`);
      const bytes = new Uint8Array(x?.length ?? 0);
      if (x) this.criu.source.readIntoSync!(x.offset, bytes);
      if (type !== 1) {
        const len = new Uint8Array(4);
        new DataView(len.buffer).setUint32(0, bytes.length, true);
        parts.push(len);
      }
      parts.push(bytes);
    }
    return new Uint8Array(Buffer.concat(parts));
  }

  // ---- writing a process -------------------------------------------------------------------

  private writeProcess(w: ImageWriter, plan: ProcessPlan, parentTag: number | undefined, fileTags: Map<number, number>): number {
    const { model, main } = plan;
    const tc = main!.tc;
    const creds = main!.thread_core?.creds;
    const rl = tc?.rlimits?.rlimits ?? [];
    const rlimits = Array.from({ length: 16 }, (_, i) => ({ cur: BigInt(rl[i]?.cur ?? UNLIMITED), max: BigInt(rl[i]?.max ?? UNLIMITED) }));
    const stopped = (tc?.task_state ?? TASK_ALIVE) === TASK_STOPPED;
    const mm = this.criu.mm(plan.pid)?.value;
    const flags = (mm?.dumpable === 1 ? Ckpt.ProcessFlags.DUMPABLE : 0) | (tc?.child_subreaper ? Ckpt.ProcessFlags.CHILD_SUBREAPER : 0) | (stopped ? Ckpt.ProcessFlags.STOPPED : 0);
    const tag = w.record(
      'process',
      {
        pid: plan.pid,
        ppid: plan.ppid,
        pgid: plan.pgid,
        sid: plan.sid,
        uids: creds ? [creds.uid ?? 0, creds.euid ?? 0, creds.suid ?? 0, creds.fsuid ?? 0] : model.uids,
        gids: creds ? [creds.gid ?? 0, creds.egid ?? 0, creds.sgid ?? 0, creds.fsgid ?? 0] : model.gids,
        umask: model.umask ?? 0o022,
        personality: tc?.personality ?? 0,
        nthreads: plan.threads.length,
        state: (stopped ? 'T' : 'S').charCodeAt(0),
        exitSignal: SIGCHLD,
        flags,
        rlimits,
        comm: plan.comm,
        exe: model.exe,
        cwd: model.cwd,
        root: model.root || '/',
        cmdline: plan.cmdline,
        environ: plan.environ,
        groups: creds?.groups ?? [],
      },
      { ptag: parentTag ?? 0 },
    );
    this.report.processes++;
    for (const t of plan.threads) {
      const tt = w.record('thread', t.value, { ptag: tag });
      if (t.pending.length) w.record('pending_signals', { signals: t.pending }, { ptag: tt });
      for (const u of t.unsupported) w.record('unsupported', { ...u }, { ptag: tt });
      this.report.threads++;
    }
    if (mm) this.writeMm(w, tag, plan, mm);
    if (plan.fds.length || plan.fdUnsupported.length) {
      const nofile = rlimits[7].cur;
      const files = w.record('files', { nfds: plan.fds.length, maxFds: nofile > 0xffffffffn ? 0xffffffff : Number(nofile) }, { ptag: tag });
      for (const f of plan.fds) w.record('fd', { fd: f.fd, fdFlags: f.cloexec ? 1 : 0, file: fileTags.get(f.id)! }, { ptag: files });
      for (const u of plan.fdUnsupported) w.record('unsupported', { ...u }, { ptag: files });
    }
    const actions = tc?.sigactions ?? [];
    const bySig = new Map(criuSigactionSignals(actions.length).map((sig, i) => [sig, actions[i]]));
    w.record(
      'sigactions',
      {
        actions: Array.from({ length: 64 }, (_, i) => {
          const a = bySig.get(i + 1);
          return { handler: BigInt(a?.sigaction ?? 0n), flags: BigInt(a?.flags ?? 0n), restorer: BigInt(a?.restorer ?? 0n), mask: BigInt(a?.mask ?? 0n) };
        }),
      },
      { ptag: tag },
    );
    const pending = signalInfos(tc?.signals_s);
    if (pending.length) w.record('pending_signals', { signals: pending }, { ptag: tag });
    for (const u of plan.unsupported) w.record('unsupported', { ...u }, { ptag: tag });
    return tag;
  }

  private writeMm(w: ImageWriter, procTag: number, plan: ProcessPlan, mm: NonNullable<ReturnType<CriuCheckpoint['mm']>>['value']): void {
    const auxv: { key: bigint; value: bigint }[] = [];
    const a = mm.mm_saved_auxv ?? [];
    for (let i = 0; i + 1 < a.length; i += 2) auxv.push({ key: BigInt(a[i]), value: BigInt(a[i + 1]) });
    const b = (x: bigint | number | undefined) => BigInt(x ?? 0n);
    const mmTag = w.record(
      'mm',
      {
        startCode: b(mm.mm_start_code),
        endCode: b(mm.mm_end_code),
        startData: b(mm.mm_start_data),
        endData: b(mm.mm_end_data),
        startBrk: b(mm.mm_start_brk),
        brk: b(mm.mm_brk),
        startStack: b(mm.mm_start_stack),
        argStart: b(mm.mm_arg_start),
        argEnd: b(mm.mm_arg_end),
        envStart: b(mm.mm_env_start),
        envEnd: b(mm.mm_env_end),
        vdsoHash: 0n,
        nvmas: plan.vmas.length,
        auxv,
      },
      { ptag: procTag },
    );
    for (const v of plan.vmas) w.record('vma', v, { ptag: mmTag });
    this.report.vmas += plan.vmas.length;
    const src = this.criu.files.source;
    for (let i = 0; i < plan.runs.length;) {
      const batch: PageRunData[] = [];
      let n = 0;
      while (i < plan.runs.length && (batch.length === 0 || n + plan.runs[i].npages <= PAGES_PER_PAGEMAP)) {
        const r = plan.runs[i++];
        n += r.npages;
        batch.push({
          vaddr: r.vaddr,
          npages: r.npages,
          chunks: function* () {
            const total = r.npages * PAGE_SIZE;
            for (let done = 0; done < total; done += CHUNK) {
              const buf = new Uint8Array(Math.min(CHUNK, total - done));
              if (r.fileOffset >= 0) src.readIntoSync!(r.fileOffset + done, buf);
              yield buf;
            }
          },
        });
      }
      w.pages(mmTag, batch);
      this.report.pages += n;
    }
  }
}

/** The sizes of this kernel's [vvar] and [vvar_vclock] areas (Linux 6.x), when it has both, back to back. */
function vvarLayout(): { vvar: bigint; vclock: bigint } | undefined {
  let maps: string;
  try {
    maps = fs.readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return undefined;
  }
  const area = (name: string) => {
    const m = new RegExp(`^([0-9a-f]+)-([0-9a-f]+) .*\\[${name}\\]$`, 'm').exec(maps);
    return m ? { start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`) } : undefined;
  };
  const a = area('vvar'),
    b = area('vvar_vclock');
  return a && b && a.end === b.start ? { vvar: a.end - a.start, vclock: b.end - b.start } : undefined;
}

interface MappedFileIdentity {
  inode: bigint;
  fileSize: bigint;
  fileMtimeNs: bigint;
  devMajor: number;
  devMinor: number;
}

interface ThreadPlan {
  tid: number;
  value: Record<string, unknown>;
  pending: Record<string, unknown>[];
  unsupported: Unsupported[];
}

interface ProcessPlan {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  comm: string;
  zombie: boolean;
  exitStatus: number;
  model: Awaited<ReturnType<CriuAsCheckpoint['processes']>>[number];
  main?: CoreEntry;
  threads: ThreadPlan[];
  unsupported: Unsupported[];
  vmas: Record<string, unknown>[];
  runs: { vaddr: bigint; npages: number; fileOffset: number }[];
  fds: { fd: number; cloexec: boolean; id: number }[];
  fdUnsupported: Unsupported[];
  /** The argument and environment strings as they are in memory (NUL-terminated), exactly. */
  cmdline: Uint8Array;
  environ: Uint8Array;
}

/** Most bytes of a command line or an environment taken from memory. */
const MAX_ARGS = 1 << 20;

/** The bytes at [start, end) of a process's memory, when they were all dumped; else none. */
async function rawBytes(mem: MemoryMap<CriuRecord>, start?: bigint, end?: bigint): Promise<Uint8Array> {
  if (start === undefined || end === undefined || end <= start || end - start > BigInt(MAX_ARGS)) return new Uint8Array(0);
  const pieces = await mem.read(start, Number(end - start));
  if (!pieces.every((x) => x.state === 'dumped')) return new Uint8Array(0);
  return new Uint8Array(Buffer.concat(pieces.map((x) => x.bytes!)));
}

function signalInfos(q: SignalQueueEntry | undefined): Record<string, unknown>[] {
  return (q?.signals ?? []).filter((s) => s.siginfo && s.siginfo.length >= 16).map((s) => signalInfo(s.siginfo!));
}

function fdTypeName(t: number): string {
  return (
    ['UND', 'REG', 'PIPE', 'FIFO', 'INETSK', 'UNIXSK', 'EVENTFD', 'EVENTPOLL', 'INOTIFY', 'SIGNALFD', 'PACKETSK', 'TTY', 'FANOTIFY', 'NETLINKSK', 'NS', 'TUNF', 'EXT', 'TIMERFD', 'MEMFD', 'BPFMAP'][
      t
    ] ?? `type ${t}`
  );
}
