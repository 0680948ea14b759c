// The pieces of an x86_64 ELF core file, as Linux writes them (fs/binfmt_elf.c) and gdb and lldb
// read them: the ELF header, program headers, and the notes with their kernel structures
// (struct elf_prstatus, struct elf_prpsinfo, the NT_FILE table). Little-endian; 64-bit values are
// BigInt. Pure functions from values to bytes: what goes in them is decided in writeCore.ts.

import { EHDR_SIZE, ELF_MAGIC, ELFCLASS64, ELFDATA2LSB, EM_X86_64, ET_CORE, EV_CURRENT, noteAlign, PHDR_SIZE, PN_XNUM, SHDR_SIZE } from '../elfFormat';

/** This project's note (owner "CKPT"): the GNU build-ids the image recorded for the mapped files. */
export const NT_CKPT_BUILD_IDS = 1;

/** The size of the ELF header, program headers and (with extended numbering) section header 0. */
export function headersSize(phnum: number): number {
  return EHDR_SIZE + phnum * PHDR_SIZE + (phnum >= PN_XNUM ? SHDR_SIZE : 0);
}

/** ELF header followed by the program headers (and section header 0 when there are 65535 or more). */
export function elfHeaders(phdrs: ProgramHeader[]): Buffer {
  const phnum = phdrs.length;
  const xnum = phnum >= PN_XNUM;
  const b = Buffer.alloc(headersSize(phnum));
  b.set([...ELF_MAGIC, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, 0 /* System V ABI */]);
  b.writeUInt16LE(ET_CORE, 16);
  b.writeUInt16LE(EM_X86_64, 18);
  b.writeUInt32LE(EV_CURRENT, 20);
  b.writeBigUInt64LE(BigInt(EHDR_SIZE), 32); // e_phoff
  b.writeBigUInt64LE(xnum ? BigInt(EHDR_SIZE + phnum * PHDR_SIZE) : 0n, 40); // e_shoff
  b.writeUInt16LE(EHDR_SIZE, 52);
  b.writeUInt16LE(PHDR_SIZE, 54);
  b.writeUInt16LE(xnum ? PN_XNUM : phnum, 56);
  b.writeUInt16LE(xnum ? SHDR_SIZE : 0, 58);
  b.writeUInt16LE(xnum ? 1 : 0, 60);
  phdrs.forEach((p, i) => {
    const o = EHDR_SIZE + i * PHDR_SIZE;
    b.writeUInt32LE(p.type, o);
    b.writeUInt32LE(p.flags, o + 4);
    b.writeBigUInt64LE(p.offset, o + 8);
    b.writeBigUInt64LE(p.vaddr, o + 16);
    b.writeBigUInt64LE(0n, o + 24);
    b.writeBigUInt64LE(p.filesz, o + 32);
    b.writeBigUInt64LE(p.memsz, o + 40);
    b.writeBigUInt64LE(p.align, o + 48);
  });
  if (xnum) b.writeUInt32LE(phnum, EHDR_SIZE + phnum * PHDR_SIZE + 44); // sh_info
  return b;
}

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

/** One note: namesz, descsz, type, the owner's name (NUL-terminated) and the descriptor, each padded to 4. */
export function note(name: string, type: number, desc: Uint8Array): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'latin1');
  const b = Buffer.alloc(12 + noteAlign(nameBytes.length) + noteAlign(desc.length));
  b.writeUInt32LE(nameBytes.length, 0);
  b.writeUInt32LE(desc.length, 4);
  b.writeUInt32LE(type, 8);
  b.set(nameBytes, 12);
  b.set(desc, 12 + noteAlign(nameBytes.length));
  return b;
}

/** What struct elf_prstatus holds for one thread. */
export interface PrStatus {
  /** The signal that stopped it (pr_cursig and the siginfo's number). */
  signal: number;
  sigpend: bigint;
  sighold: bigint;
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  /** The 27 words of user_regs_struct, in the kernel's order. */
  regs: bigint[];
  fpvalid: boolean;
}

/** struct elf_prstatus (336 bytes on x86_64). */
export function prstatus(s: PrStatus): Buffer {
  if (s.regs.length !== 27) throw new Error(`x86_64 has 27 general registers, not ${s.regs.length}`);
  const b = Buffer.alloc(336);
  b.writeInt32LE(s.signal, 0); // pr_info.si_signo
  b.writeInt16LE(s.signal, 12); // pr_cursig
  b.writeBigUInt64LE(s.sigpend, 16);
  b.writeBigUInt64LE(s.sighold, 24);
  b.writeInt32LE(s.pid, 32);
  b.writeInt32LE(s.ppid, 36);
  b.writeInt32LE(s.pgrp, 40);
  b.writeInt32LE(s.sid, 44);
  // pr_utime, pr_stime, pr_cutime, pr_cstime (48..111): not recorded, 0
  s.regs.forEach((r, i) => b.writeBigUInt64LE(BigInt.asUintN(64, r), 112 + i * 8));
  b.writeInt32LE(s.fpvalid ? 1 : 0, 328);
  return b;
}

/** What struct elf_prpsinfo holds for the process. */
export interface PrPsInfo {
  /** The /proc state letter (R, S, D, T, Z, ...). */
  stateLetter: string;
  uid: number;
  gid: number;
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  comm: string;
  /** The command line, its arguments NUL-separated. */
  cmdline: Uint8Array;
}

/** struct elf_prpsinfo (136 bytes on x86_64). */
export function prpsinfo(p: PrPsInfo): Buffer {
  const b = Buffer.alloc(136);
  const state = 'RSDTZW'.indexOf(p.stateLetter);
  b.writeUInt8(state < 0 ? 0 : state, 0);
  b.write(/^[\x20-\x7e]$/.test(p.stateLetter) ? p.stateLetter : '.', 1, 'latin1');
  b.writeUInt8(p.stateLetter === 'Z' ? 1 : 0, 2);
  b.writeUInt32LE(p.uid >>> 0, 16);
  b.writeUInt32LE(p.gid >>> 0, 20);
  b.writeInt32LE(p.pid, 24);
  b.writeInt32LE(p.ppid, 28);
  b.writeInt32LE(p.pgrp, 32);
  b.writeInt32LE(p.sid, 36);
  const comm = Buffer.from(p.comm, 'utf8').subarray(0, 15);
  b.set(comm, 40);
  // pr_psargs: the arguments with their NULs as spaces, at most 79 bytes, as the kernel does
  let args = p.cmdline.subarray(0, 79);
  while (args.length && args[args.length - 1] === 0) args = args.subarray(0, args.length - 1);
  b.set(
    args.map((c) => (c === 0 ? 0x20 : c)),
    56,
  );
  return b;
}

/** A siginfo_t (128 bytes) for the signal that stopped the process, sent by the user (SI_USER). */
export function siginfo(signal: number): Buffer {
  const b = Buffer.alloc(128);
  b.writeInt32LE(signal, 0);
  return b;
}

/** The auxiliary vector as pairs of 64-bit words. */
export function auxv(entries: { key: bigint; value: bigint }[]): Buffer {
  const b = Buffer.alloc(entries.length * 16);
  entries.forEach((e, i) => {
    b.writeBigUInt64LE(e.key, i * 16);
    b.writeBigUInt64LE(e.value, i * 16 + 8);
  });
  return b;
}

export interface FileMapping {
  start: bigint;
  end: bigint;
  /** Offset in the file, in bytes (a multiple of the page size). */
  offset: bigint;
  path: string;
}

/** NT_FILE: count, page size, (start, end, offset in pages) per mapping, then the NUL-terminated paths. */
export function ntFile(maps: FileMapping[], pageSize: number): Buffer {
  const names = maps.map((m) => Buffer.from(`${m.path}\0`, 'utf8'));
  const b = Buffer.alloc(16 + maps.length * 24 + names.reduce((n, x) => n + x.length, 0));
  b.writeBigUInt64LE(BigInt(maps.length), 0);
  b.writeBigUInt64LE(BigInt(pageSize), 8);
  const ps = BigInt(pageSize);
  maps.forEach((m, i) => {
    b.writeBigUInt64LE(m.start, 16 + i * 24);
    b.writeBigUInt64LE(m.end, 24 + i * 24);
    b.writeBigUInt64LE(m.offset / ps, 32 + i * 24);
  });
  let o = 16 + maps.length * 24;
  for (const n of names) {
    b.set(n, o);
    o += n.length;
  }
  return b;
}

/** The CKPT build-id note: per file, its address, the id's length, the id, and the path. */
export function buildIdNote(ids: { start: bigint; id: Uint8Array; path: string }[]): Buffer {
  const parts: Buffer[] = [];
  for (const x of ids) {
    const head = Buffer.alloc(12);
    head.writeBigUInt64LE(x.start, 0);
    head.writeUInt32LE(x.id.length, 8);
    parts.push(head, Buffer.from(x.id), Buffer.from(`${x.path}\0`, 'utf8'));
  }
  return Buffer.concat(parts);
}
