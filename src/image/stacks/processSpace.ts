// A checkpointed process's address space as the unwinder needs it: 8-byte reads of its memory
// through the image's MemoryMap (page by page, on demand, with a small bounded cache), and for an
// address, the ELF file mapped there and its load bias, opened from disk through ElfModules. A
// mapped file that is gone or was changed since the checkpoint (its inode, size or mtime differ
// from what the image recorded, and no matching build-id vouches for it) is not used: its CFI
// and symbols could be another program's.

import type { MemoryMap, RecordRef, VmaInfo } from '../memoryMap';
import { ElfModule, ElfModules, isProblem } from './elfModules';

/** Pages of memory one unwind keeps (the stack pages it walks). */
const MAX_CACHED_PAGES = 256;

/** Where an address is: the mapped file, its load bias, and whether it can be trusted. */
export interface MappedModule {
  /** The path the process mapped. */
  path: string;
  vma: VmaInfo<RecordRef>;
  /** Usable module, or undefined with `problem` saying why not. */
  module?: ElfModule;
  problem?: string;
  /** Address in the process = file address + bias. */
  bias: bigint;
  /** The file on disk is the one mapped: 'checked' (inode, size, mtime or build-id agree), 'unchecked' (the image does not say). */
  identity: 'checked' | 'unchecked' | 'build-id';
}

export interface ProcessSpaceOptions {
  /** The GNU build-id the image recorded for a mapped file, when it records them (format 2.2). */
  buildIdOf?(vma: VmaInfo<RecordRef>): string | undefined;
}

export class ProcessSpace {
  private readonly pages = new Map<bigint, Uint8Array | null>();
  private readonly byVma = new Map<VmaInfo<RecordRef>, MappedModule | null>();
  private readonly pageSize: bigint;

  constructor(
    readonly memory: MemoryMap<RecordRef>,
    private readonly modules: ElfModules,
    private readonly opts: ProcessSpaceOptions = {},
  ) {
    this.pageSize = BigInt(memory.pageSize > 0 ? memory.pageSize : 4096);
  }

  /** The 8 bytes at `addr` as a little-endian u64; undefined when the image has no bytes there. */
  async read64(addr: bigint): Promise<bigint | undefined> {
    if (addr < 0n || addr > (1n << 64n) - 8n) return undefined;
    const off = addr % this.pageSize;
    if (off <= this.pageSize - 8n) {
      const page = await this.page(addr - off);
      if (!page) return undefined;
      return new DataView(page.buffer, page.byteOffset + Number(off), 8).getBigUint64(0, true);
    }
    // Straddles two pages: byte by byte from both.
    let v = 0n;
    for (let i = 7n; i >= 0n; i--) {
      const a = addr + i;
      const page = await this.page(a - (a % this.pageSize));
      if (!page) return undefined;
      v = (v << 8n) | BigInt(page[Number(a % this.pageSize)]);
    }
    return v;
  }

  /** Why `addr` cannot be read: what the image has there. */
  whyUnreadable(addr: bigint): string {
    const vma = this.memory.vmaAt(addr);
    if (!vma) return `0x${addr.toString(16)} is not mapped`;
    return `0x${addr.toString(16)} is in ${vma.path || vma.kind}, whose page there was not dumped`;
  }

  private async page(start: bigint): Promise<Uint8Array | null> {
    const cached = this.pages.get(start);
    if (cached !== undefined) return cached;
    let bytes: Uint8Array | null = null;
    try {
      const pieces = await this.memory.read(start, Number(this.pageSize));
      if (pieces.length === 1 && pieces[0].state === 'dumped' && pieces[0].bytes) bytes = pieces[0].bytes;
    } catch {
      bytes = null; // a damaged image: no bytes here
    }
    if (this.pages.size >= MAX_CACHED_PAGES) this.pages.delete(this.pages.keys().next().value as bigint);
    this.pages.set(start, bytes);
    return bytes;
  }

  /** The file mapped at `addr`, if any. */
  moduleAt(addr: bigint): MappedModule | undefined {
    const vma = this.memory.vmaAt(addr);
    if (!vma || !vma.path.startsWith('/')) return undefined;
    let m = this.byVma.get(vma);
    // A file the cache closed since (to stay in its budget) is opened again.
    if (m === undefined || m?.module?.closed) {
      m = this.resolve(vma);
      this.byVma.set(vma, m);
    }
    return m ?? undefined;
  }

  private resolve(vma: VmaInfo<RecordRef>): MappedModule | null {
    const base = { path: vma.path, vma, bias: 0n, identity: 'unchecked' as MappedModule['identity'] };
    if (vma.path.endsWith(' (deleted)')) return { ...base, problem: 'the file was deleted before the checkpoint' };
    const got = this.modules.get(vma.path);
    if (isProblem(got)) return { ...base, problem: got.problem };
    const recorded = this.opts.buildIdOf?.(vma);
    let identity: MappedModule['identity'] = 'unchecked';
    if (recorded) {
      if (got.buildId !== recorded) return { ...base, problem: `the file on disk has another build-id (${got.buildId ?? 'none'}) than the one mapped (${recorded})` };
      identity = 'build-id';
    } else if (vma.file) {
      const id = got.elf.identity;
      const diffs = [id.ino !== vma.file.inode && 'inode', id.size !== vma.file.size && 'size', id.mtimeNs !== vma.file.mtimeNs && 'mtime'].filter(Boolean);
      if (diffs.length) return { ...base, problem: `the file changed since the checkpoint (its ${diffs.join(', ')} differ${diffs.length === 1 ? 's' : ''})` };
      identity = 'checked';
    }
    // The load segment holding the VMA's file offset gives the bias: vma.start maps file address seg.vaddr + (offset - seg.offset).
    const off = vma.offset > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(vma.offset);
    const seg = off >= 0 ? got.elf.loadSegmentAt(off) : undefined;
    if (!seg) return { ...base, identity, problem: `no load segment of the file holds offset 0x${vma.offset.toString(16)}` };
    const bias = BigInt.asUintN(64, vma.start - (seg.vaddr + BigInt(off - seg.offset)));
    return { ...base, identity, module: got, bias };
  }
}
