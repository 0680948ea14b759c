// An ELF core file of one process of a .ckpt image, for gdb and lldb (`gdb PROGRAM CORE`): the
// notes a kernel core holds (per thread NT_PRSTATUS, NT_FPREGSET, NT_X86_XSTATE; NT_PRPSINFO,
// NT_SIGINFO, NT_AUXV, NT_FILE), and a PT_LOAD per mapping. Dumped pages are copied from the
// image as they are read (through the memory map, a bounded piece at a time); pages the image
// does not hold are left as holes in a sparse file (anonymous memory never touched reads as
// zeros), and file mappings' pages that were not dumped have no bytes in the core (p_filesz 0),
// so that the debugger reads them from the files, as it does for a kernel core's read-only
// mappings. The file is written atomically, mode 0600; a damaged image is refused before any
// byte is written.

import fs from 'fs';
import { CheckpointImage } from '../checkpointImage';
import { ImageProblem } from '../errors';
import { Ckpt, RecordType, schema } from '../format';
import { MemoryMap, VmaInfo } from '../memoryMap';
import { RecordEntry } from '../recordIndex';
import { writeFileAtomically } from '../write/atomicFile';
import { shellWord } from '../text';
import { xxh64 } from '../xxhash64';
import * as elf from './elf';
import { NT_AUXV, NT_FILE, NT_PRFPREG, NT_PRPSINFO, NT_PRSTATUS, NT_SIGINFO, NT_X86_XSTATE, PF_R, PF_W, PF_X, PT_LOAD, PT_NOTE } from '../elfFormat';

/** The signal a core of a checkpoint says stopped the process: the checkpointer stopped it. */
const SIGSTOP = 19;
const THREAD_MAIN = 1;
const XSTATE_FXSAVE = 1;
const XSTATE_XSAVE = 2;
/** The FXSAVE area, which NT_FPREGSET holds, is the first 512 bytes of an XSAVE area. */
const FXSAVE_SIZE = 512;
/** Piece of memory copied at once: 1 MiB stays in the CPU cache between its read and its write (16 MiB ran ~20% slower). */
const COPY_PIECE = 1024 * 1024;
/** The general registers in the kernel's order (user_regs_struct), as the .ksy declares them. */
const REG_PROPS = schema.types.user_regs.fields.map((f) => f.prop) as (keyof Ckpt.UserRegs)[];

export interface CoreOptions {
  /** The process to write (its pid); the image's first (root) process by default. */
  pid?: number;
  /** false: no fsync (a scratch core, e.g. for one debug session); the rename is atomic all the same. */
  fsync?: boolean;
  /** Called now and then with the bytes of memory copied so far. */
  onProgress?: (copied: number, total: number) => void;
}

export interface CoreResult {
  pid: number;
  exe: string;
  threads: number;
  loads: number;
  /** Bytes of page data copied into the core (its holes not counted). */
  dataBytes: number;
  /** The core's size (holes included). */
  fileBytes: number;
}

/** The processes of an image a core can be made of: pid, command name, executable. */
export async function coreProcesses(img: CheckpointImage): Promise<{ pid: number; comm: string; exe: string; record: RecordEntry }[]> {
  const out = [];
  for (const r of img.processes()) {
    const p = await img.decodeAs(r, 'process');
    out.push({ pid: p.pid, comm: p.comm.value, exe: p.exe.value, record: r });
  }
  return out;
}

interface Load extends elf.ProgramHeader {
  /** Its bytes are the image's pages of [vaddr, vaddr + filesz) (holes where it has none). */
  copy?: boolean;
  /** Its bytes are these (the vdso, which images do not hold). */
  fill?: Uint8Array;
}

/** Write the core of one process of `img` to `target` (atomically, mode 0600). */
export async function writeCore(img: CheckpointImage, target: string, opts: CoreOptions = {}): Promise<CoreResult> {
  refuseDamage(img.problems);
  const procs = img.processes();
  let proc: RecordEntry | undefined = procs[0];
  let pf: Ckpt.Process | undefined;
  if (opts.pid !== undefined) {
    proc = undefined;
    for (const r of procs) {
      const p = await img.decodeAs(r, 'process');
      if (p.pid === opts.pid) [proc, pf] = [r, p];
    }
    if (!proc) throw new CoreError(`the image holds no process with pid ${opts.pid}`);
  }
  if (!proc) throw new CoreError('the image holds no process');
  pf ??= await img.decodeAs(proc, 'process');
  const mmRec = img.childrenOfType(proc, RecordType.MM)[0];
  if (!mmRec) throw new CoreError(`process ${pf.pid} has no mm record`);
  const mm = await img.decodeAs(mmRec, 'mm');
  const mem = await img.memory(proc);
  refuseDamage(img.layoutProblems);
  const threads = await orderedThreads(img, proc);
  if (!threads.length) throw new CoreError(`process ${pf.pid} has no thread`);

  const ps = img.pageSize;
  const notes = await coreNotes(img, pf, mm, threads, mem, ps);
  const loads = loadSegments(mem);
  fillVdso(loads, mem, mm.vdsoHash);
  // The layout: headers, the notes, then the segments' bytes from the next page boundary on.
  const phnum = 1 + loads.length;
  const notesAt = elf.headersSize(phnum);
  let at = BigInt(alignUp(notesAt + notes.length, ps));
  for (const l of loads) {
    l.offset = at; // where its bytes are, or would be (the kernel gives a p_offset to empty segments too)
    at += l.filesz;
  }
  const fileBytes = at;
  if (fileBytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new CoreError(`the core would be ${fileBytes} bytes, more than a file can hold`);
  const phdrs: elf.ProgramHeader[] = [{ type: PT_NOTE, flags: 0, offset: BigInt(notesAt), vaddr: 0n, filesz: BigInt(notes.length), memsz: 0n, align: 4n }, ...loads];
  const total = loads.reduce((n, l) => n + (l.copy ? dumpedIn(mem, l.vaddr, l.vaddr + l.filesz) : 0), 0);
  let copied = 0;
  await writeFileAtomically(
    target,
    async (fd) => {
      fs.ftruncateSync(fd, Number(fileBytes)); // its size first: a filesystem that cannot hold it says so before any copy
      writeAll(fd, elf.elfHeaders(phdrs), 0);
      writeAll(fd, notes, notesAt);
      for (const l of loads) {
        if (l.fill) writeAll(fd, l.fill, Number(l.offset));
        if (!l.copy) continue;
        // Only the dumped pages are read (by segment, so that time goes with the bytes, not the
        // size of the area); what lies between them is left as a hole, which reads as zeros.
        const end = l.vaddr + l.filesz;
        for (let i = mem.segmentFrom(l.vaddr); i < mem.segments.length && mem.segments[i].start < end; i++) {
          const s = mem.segments[i];
          const to = minBig(s.end, end);
          for (let a = maxBig(s.start, l.vaddr); a < to;) {
            const n = Number(minBig(to - a, BigInt(COPY_PIECE)));
            for (const piece of await mem.read(a, n)) {
              if (piece.state !== 'dumped' || !piece.bytes) continue;
              writeAll(fd, piece.bytes, Number(l.offset + (piece.addr - l.vaddr)));
              copied += piece.length;
            }
            a += BigInt(n);
            opts.onProgress?.(copied, total);
          }
        }
      }
    },
    { fsync: opts.fsync },
  ).catch((e: NodeJS.ErrnoException) => {
    if (e?.code === 'EFBIG') throw new CoreError(`the core would be ${fileBytes} bytes (mostly holes), more than the filesystem of ${target} allows`);
    throw e;
  });
  return { pid: pf.pid, exe: pf.exe.value, threads: threads.length, loads: loads.length, dataBytes: copied, fileBytes: Number(fileBytes) };
}

/**
 * The gdb command line that opens a core with its program. The program's path comes from the
 * image, so it is used only when absolute (a word starting with '-' would be an option of gdb's);
 * otherwise gdb gets the core alone.
 */
export function gdbCommandLine(exe: string, core: string): string {
  return exe.startsWith('/') ? `gdb ${shellWord(exe)} ${shellWord(core)}` : `gdb -c ${shellWord(core)}`;
}

/** An image that cannot give a sound core: named, with the record and offset of the problem. */
export class CoreError extends Error {}

/** A damaged image gives no core: the first problem (its record and offset), and how many more. */
function refuseDamage(all: readonly ImageProblem[]): void {
  const problems = all.filter((x) => x.code !== 'unknown-type'); // a later minor version's records: skipped, as verify does
  const p = problems[0];
  if (!p) return;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more; ckpt-inspect verify lists them)` : '';
  throw new CoreError(`${p.message}; no core written${more}`);
}

interface ThreadRec {
  rec: RecordEntry;
  t: Ckpt.Thread;
}

/** The threads, the main thread first (gdb's thread 1, and a kernel core's first), then in image order. */
async function orderedThreads(img: CheckpointImage, proc: RecordEntry): Promise<ThreadRec[]> {
  const list: ThreadRec[] = [];
  for (const rec of img.childrenOfType(proc, RecordType.THREAD)) list.push({ rec, t: await img.decodeAs(rec, 'thread') });
  const main = list.findIndex((x) => x.t.flags & THREAD_MAIN);
  if (main > 0) list.unshift(...list.splice(main, 1));
  return list;
}

/** The PT_NOTE's bytes, in the kernel's order: the first thread's status, the process's notes,
 *  that thread's FPU state, then each other thread's status and FPU state. */
async function coreNotes(img: CheckpointImage, pf: Ckpt.Process, mm: Ckpt.Mm, threads: ThreadRec[], mem: MemoryMap, ps: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const [i, { t }] of threads.entries()) {
    const fpu = fpuNotes(t);
    parts.push(
      elf.note(
        'CORE',
        NT_PRSTATUS,
        elf.prstatus({
          signal: i === 0 ? SIGSTOP : 0,
          sigpend: t.sigpending,
          sighold: t.sigmask,
          pid: t.tid,
          ppid: pf.ppid,
          pgrp: pf.pgid,
          sid: pf.sid,
          regs: REG_PROPS.map((k) => t.regs[k] as bigint),
          fpvalid: fpu.length > 0,
        }),
      ),
    );
    if (i === 0) {
      parts.push(
        elf.note(
          'CORE',
          NT_PRPSINFO,
          elf.prpsinfo({
            stateLetter: String.fromCharCode(pf.state),
            uid: pf.uids[0],
            gid: pf.gids[0],
            pid: pf.pid,
            ppid: pf.ppid,
            pgrp: pf.pgid,
            sid: pf.sid,
            comm: pf.comm.value,
            cmdline: pf.cmdline.value,
          }),
        ),
        elf.note('CORE', NT_SIGINFO, elf.siginfo(SIGSTOP)),
      );
      if (mm.auxv.length) parts.push(elf.note('CORE', NT_AUXV, elf.auxv(mm.auxv)));
      const files = fileMappings(mem.vmas);
      if (files.length) parts.push(elf.note('CORE', NT_FILE, elf.ntFile(files, ps)));
      const ids = await buildIds(img, mem.vmas);
      if (ids.length) parts.push(elf.note('CKPT', elf.NT_CKPT_BUILD_IDS, elf.buildIdNote(ids)));
    }
    parts.push(...fpu);
  }
  return Buffer.concat(parts);
}

/** NT_FPREGSET (the FXSAVE area) and, with an XSAVE layout, NT_X86_XSTATE (all of it). */
function fpuNotes(t: Ckpt.Thread): Buffer[] {
  const x = t.xstate.value;
  if ((t.xstateKind !== XSTATE_FXSAVE && t.xstateKind !== XSTATE_XSAVE) || x.length < FXSAVE_SIZE) return [];
  const out = [elf.note('CORE', NT_PRFPREG, x.subarray(0, FXSAVE_SIZE))];
  if (t.xstateKind === XSTATE_XSAVE) out.push(elf.note('LINUX', NT_X86_XSTATE, x));
  return out;
}

const FILE_KINDS = new Set(['file_private', 'file_shared']);

function fileMappings(vmas: VmaInfo[]): elf.FileMapping[] {
  return vmas.filter((v) => FILE_KINDS.has(v.kind) && v.path).map((v) => ({ start: v.start, end: v.end, offset: v.offset, path: v.path }));
}

/** The build-ids the image recorded (a `build_id` record under the VMA that maps a file's start). */
async function buildIds(img: CheckpointImage, vmas: VmaInfo[]): Promise<{ start: bigint; id: Uint8Array; path: string }[]> {
  const type = RecordType.BUILD_ID as number | undefined;
  if (type === undefined) return [];
  const out = [];
  for (const v of vmas) {
    const rec = img.childrenOfType(v.entry, type)[0];
    if (!rec) continue;
    const b = await img.decodeAs(rec, 'build_id');
    out.push({ start: v.start, id: b.id, path: v.path });
  }
  return out;
}

/** Kinds whose pages the kernel never dumps (VM_IO, VM_PFNMAP) or that the image has no bytes of. */
const NO_BYTES = new Set(['vvar', 'vvar_vclock', 'vsyscall', 'device', 'unknown', 'vdso']);
const VMA_DONT_DUMP = 8;

/**
 * The PT_LOADs: one per area; a file mapping is split where its dumped pages start and end, so
 * that its bytes not in the image come from the file (p_filesz 0), never as zeros. Anonymous
 * memory that has a dumped page is whole (p_filesz = p_memsz), holes for the pages not dumped.
 */
function loadSegments(mem: MemoryMap): Load[] {
  const loads: Load[] = [];
  for (const v of mem.vmas) {
    const flags = (v.prot & 1 ? PF_R : 0) | (v.prot & 2 ? PF_W : 0) | (v.prot & 4 ? PF_X : 0);
    const add = (start: bigint, end: bigint, copy: boolean) =>
      loads.push({ type: PT_LOAD, flags, offset: 0n, vaddr: start, filesz: copy ? end - start : 0n, memsz: end - start, align: BigInt(mem.pageSize), copy });
    if (NO_BYTES.has(v.kind) || v.flags & VMA_DONT_DUMP || !dumpedIn(mem, v.start, v.end)) {
      add(v.start, v.end, false);
    } else if (!FILE_KINDS.has(v.kind)) {
      add(v.start, v.end, true);
    } else {
      let cur = v.start;
      for (let i = mem.segmentFrom(v.start); i < mem.segments.length && mem.segments[i].start < v.end; i++) {
        const s = mem.segments[i];
        const a = maxBig(s.start, v.start),
          b = minBig(s.end, v.end);
        if (a > cur) add(cur, a, false);
        // one load for adjacent runs of dumped pages
        const last = loads[loads.length - 1];
        if (last?.copy && last.vaddr + last.memsz === a && a > v.start) {
          last.memsz += b - a;
          last.filesz += b - a;
        } else add(a, b, true);
        cur = b;
      }
      if (cur < v.end) add(cur, v.end, false);
    }
  }
  return loads;
}

/**
 * The vdso: an image does not hold it (restore needs the same kernel's), but a debugger reads
 * its symbols and unwind tables from the core's memory. When this process's vdso is the image's
 * (the same XXH64 as the mm records), its bytes go into the core, as a kernel core has them.
 */
function fillVdso(loads: Load[], mem: MemoryMap, hash: bigint): void {
  const v = mem.vmas.find((x) => x.kind === 'vdso');
  const load = v && loads.find((l) => l.vaddr === v.start);
  if (!v || !load || hash === 0n) return;
  const own = ownVdso();
  if (!own || BigInt(own.length) !== v.end - v.start || xxh64(own) !== hash) return;
  load.fill = own;
  load.filesz = load.memsz;
}

let vdsoBytes: Uint8Array | null | undefined;

/** This process's [vdso], read through /proc/self/mem; null where that cannot be done. */
function ownVdso(): Uint8Array | null {
  if (vdsoBytes !== undefined) return vdsoBytes;
  vdsoBytes = null;
  try {
    const m = /^([0-9a-f]+)-([0-9a-f]+) .*\[vdso\]$/m.exec(fs.readFileSync('/proc/self/maps', 'utf8'));
    if (!m) return null;
    const start = BigInt(`0x${m[1]}`),
      end = BigInt(`0x${m[2]}`);
    if (end - start > 1n << 20n) return null;
    const fd = fs.openSync('/proc/self/mem', 'r');
    try {
      const b = Buffer.alloc(Number(end - start));
      if (fs.readSync(fd, b, 0, b.length, start) === b.length) vdsoBytes = b;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // no /proc, or reading our own memory is not allowed: the core has no vdso bytes
  }
  return vdsoBytes;
}

/** Bytes of dumped pages in [start, end). */
function dumpedIn(mem: MemoryMap, start: bigint, end: bigint): number {
  let n = 0n;
  for (let i = mem.segmentFrom(start); i < mem.segments.length && mem.segments[i].start < end; i++) {
    const s = mem.segments[i];
    n += minBig(s.end, end) - maxBig(s.start, start);
  }
  return Number(n);
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;
const minBig = (a: bigint, b: bigint) => (a < b ? a : b);
const maxBig = (a: bigint, b: bigint) => (a > b ? a : b);
