// One ELF64 little-endian file on disk (x86-64), read in bounded pieces: its headers, its section
// and program header tables, and a section's bytes when asked (capped in size, so a corrupt or
// huge file never makes us allocate without bound). The file is kept open while the object
// lives; close() releases it. Its identity (device, inode, size, mtime) and GNU build-id say
// whether it is still the file a checkpoint mapped.

import * as fs from 'fs';
import * as zlib from 'zlib';
import { Cursor, DecodeError, stringAt } from './cursor';
import {
  EHDR_SIZE,
  ELF_MAGIC,
  ELFCLASS64,
  ELFCOMPRESS_ZLIB,
  ELFDATA2LSB,
  EM_X86_64,
  noteAlign,
  NT_GNU_BUILD_ID,
  PHDR_SIZE,
  PT_LOAD,
  PT_NOTE,
  SHDR_SIZE,
  SHF_COMPRESSED,
  SHT_NOBITS,
  SHT_NOTE,
} from '../elfFormat';

/** Largest section read whole (symbol tables, line programs, .eh_frame_hdr). */
export const MAX_SECTION_BYTES = 64 * 1024 * 1024;
/** Most section or program headers taken from one file. */
const MAX_HEADERS = 65535;

export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

export interface ElfSection {
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface ElfSegment {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
  memsz: bigint;
}

export class ElfError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'ElfError';
  }
}

export class ElfFile {
  private constructor(
    readonly path: string,
    private fd: number,
    readonly identity: FileIdentity,
    /** ET_EXEC (2) or ET_DYN (3). */
    readonly type: number,
    readonly sections: ElfSection[],
    readonly segments: ElfSegment[],
  ) {}

  /** Opens and checks a file; throws ElfError (not ELF, not x86-64, damaged tables) or an fs error. */
  static open(path: string): ElfFile {
    const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      if (!st.isFile()) throw new ElfError(path, 'not a regular file');
      const identity: FileIdentity = { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs };
      const size = Number(st.size);
      const head = readAt(fd, path, size, 0, EHDR_SIZE);
      if (ELF_MAGIC.some((b, i) => head[i] !== b)) throw new ElfError(path, 'not an ELF file');
      if (head[4] !== ELFCLASS64 || head[5] !== ELFDATA2LSB) throw new ElfError(path, 'not a 64-bit little-endian ELF file');
      const c = new Cursor(head, 16);
      const type = c.u16();
      const machine = c.u16();
      if (machine !== EM_X86_64) throw new ElfError(path, `machine ${machine} is not x86-64`);
      c.skip(4 + 8); // version, entry
      const phoff = c.u64n('e_phoff');
      const shoff = c.u64n('e_shoff');
      c.skip(4 + 2); // flags, ehsize
      const phentsize = c.u16(),
        phnum = c.u16(),
        shentsize = c.u16(),
        shnum = c.u16(),
        shstrndx = c.u16();
      const segments: ElfSegment[] = [];
      if (phnum && phentsize >= PHDR_SIZE && phnum <= MAX_HEADERS) {
        const t = readAt(fd, path, size, phoff, phnum * phentsize);
        for (let i = 0; i < phnum; i++) {
          const p = new Cursor(t, i * phentsize);
          const ptype = p.u32(),
            flags = p.u32(),
            offset = p.u64n('p_offset'),
            vaddr = p.u64();
          p.skip(8);
          const filesz = p.u64n('p_filesz'),
            memsz = p.u64();
          segments.push({ type: ptype, flags, offset, vaddr, filesz, memsz });
        }
      }
      const sections: ElfSection[] = [];
      if (shnum && shentsize >= SHDR_SIZE && shnum <= MAX_HEADERS && shoff) {
        const t = readAt(fd, path, size, shoff, shnum * shentsize);
        const raw = [];
        for (let i = 0; i < shnum; i++) {
          const s = new Cursor(t, i * shentsize);
          const nameOff = s.u32(),
            stype = s.u32(),
            flags = s.u64(),
            addr = s.u64(),
            offset = s.u64n('sh_offset'),
            ssize = s.u64n('sh_size');
          const link = s.u32();
          s.skip(4 + 8);
          const entsize = s.u64n('sh_entsize');
          raw.push({ nameOff, type: stype, flags, addr, offset, size: ssize, link, entsize });
        }
        const strs = raw[shstrndx];
        const names = strs && strs.type !== SHT_NOBITS && strs.size <= 1024 * 1024 ? readAt(fd, path, size, strs.offset, strs.size) : new Uint8Array(0);
        for (const r of raw)
          sections.push({ name: stringAt(names, r.nameOff, 256) ?? '', type: r.type, flags: r.flags, addr: r.addr, offset: r.offset, size: r.size, link: r.link, entsize: r.entsize });
      }
      return new ElfFile(path, fd, identity, type, sections, segments);
    } catch (e) {
      fs.closeSync(fd);
      if (e instanceof DecodeError) throw new ElfError(path, e.message);
      throw e;
    }
  }

  get size(): number {
    return Number(this.identity.size);
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name && s.type !== SHT_NOBITS && s.type !== 0);
  }

  /** Exactly `length` bytes at `offset`, inside the file; throws ElfError otherwise. */
  read(offset: number, length: number): Uint8Array {
    if (this.fd < 0) throw new ElfError(this.path, 'the file was closed');
    return readAt(this.fd, this.path, this.size, offset, length);
  }

  /** A section's bytes (decompressed when SHF_COMPRESSED with zlib), at most `max` of them. */
  sectionBytes(s: ElfSection, max = MAX_SECTION_BYTES): Uint8Array {
    if (s.size > max) throw new ElfError(this.path, `section ${s.name} has ${s.size} bytes, more than the ${max} read at most`);
    const raw = this.read(s.offset, s.size);
    if (!(s.flags & BigInt(SHF_COMPRESSED))) return raw;
    const c = new Cursor(raw);
    const kind = c.u32();
    c.skip(4);
    const full = c.u64();
    c.skip(8);
    if (kind !== ELFCOMPRESS_ZLIB) throw new ElfError(this.path, `section ${s.name} is compressed with a method (${kind}) other than zlib`);
    if (full > BigInt(max)) throw new ElfError(this.path, `section ${s.name} has ${full} bytes uncompressed, more than the ${max} read at most`);
    try {
      return zlib.inflateSync(raw.subarray(c.pos), { maxOutputLength: Number(full) });
    } catch (e) {
      throw new ElfError(this.path, `section ${s.name} does not decompress: ${(e as Error).message}`);
    }
  }

  /** The section's bytes, or undefined when it is missing, too large or damaged. */
  trySection(name: string, max = MAX_SECTION_BYTES): { section: ElfSection; bytes: Uint8Array } | undefined {
    const s = this.section(name);
    if (!s) return undefined;
    try {
      return { section: s, bytes: this.sectionBytes(s, max) };
    } catch {
      return undefined;
    }
  }

  /** The GNU build-id (NT_GNU_BUILD_ID) as lowercase hex, from the notes; undefined when none. */
  buildId(): string | undefined {
    const notes = this.sections.filter((s) => s.type === SHT_NOTE);
    const places = notes.length ? notes.map((s) => ({ offset: s.offset, size: s.size })) : this.segments.filter((p) => p.type === PT_NOTE).map((p) => ({ offset: p.offset, size: p.filesz }));
    for (const p of places) {
      if (p.size > 64 * 1024) continue;
      let bytes: Uint8Array;
      try {
        bytes = this.read(p.offset, p.size);
      } catch {
        continue;
      }
      const c = new Cursor(bytes);
      try {
        while (c.left >= 12) {
          const namesz = c.u32(),
            descsz = c.u32(),
            type = c.u32();
          const name = c.take(noteAlign(namesz));
          const desc = c.take(noteAlign(descsz)).subarray(0, descsz);
          if (type === NT_GNU_BUILD_ID && namesz === 4 && name[0] === 0x47 && name[1] === 0x4e && name[2] === 0x55) return Buffer.from(desc).toString('hex');
        }
      } catch {
        // a damaged note ends this section's notes
      }
    }
    return undefined;
  }

  /** The name in .gnu_debuglink (a separate debug file's). */
  debugLink(): string | undefined {
    const s = this.trySection('.gnu_debuglink', 4096);
    return s ? stringAt(s.bytes, 0, 4096) : undefined;
  }

  /** The load segment that holds file offset `offset`, for mapping a VMA to the file's addresses. */
  loadSegmentAt(offset: number): ElfSegment | undefined {
    // A segment's mapping starts at its offset rounded down to a page (vaddr and offset agree modulo the page size).
    return this.segments.find((p) => p.type === PT_LOAD && offset >= p.offset - (p.offset % 4096) && offset < p.offset + Math.max(p.filesz, 1));
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

function readAt(fd: number, path: string, fileSize: number, offset: number, length: number): Uint8Array {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > fileSize) {
    throw new ElfError(path, `read of ${length} bytes at offset ${offset} is outside the file (${fileSize} bytes)`);
  }
  if (length > MAX_SECTION_BYTES) throw new ElfError(path, `read of ${length} bytes is more than the ${MAX_SECTION_BYTES} read at most`);
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, offset + done);
    if (n === 0) throw new ElfError(path, `the file shrank while being read (at offset ${offset + done})`);
    done += n;
  }
  return buf;
}
