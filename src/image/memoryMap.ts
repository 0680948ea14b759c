// The address space of a process as the image holds it: its VMAs, and for each dumped page,
// where its bytes lie in the file. Addresses are BigInt throughout (they can exceed 2^53);
// file offsets are Numbers (files are far below 2^53 bytes). Page bytes are read on demand.

import { ByteSource } from './byteSource';
import { Ckpt, enumLabel, flagLabels } from './format';
import { RecordEntry } from './recordIndex';

/** What a VMA or a run of pages is known by: a record of its image, whose index is its identity. */
export interface RecordRef {
  index: number;
}

export interface VmaInfo<R extends RecordRef = RecordEntry> {
  entry: R;
  start: bigint;
  end: bigint;
  prot: number;
  flags: number;
  kind: string;
  path: string;
  offset: bigint;
  /** The mapped file as it was at checkpoint time, where the image says (a file-backed .ckpt VMA). */
  file?: { inode: bigint; size: bigint; mtimeNs: bigint };
}

/** Pages with contiguous addresses whose bytes are contiguous in the file. */
export interface PageSegment<R extends RecordRef = RecordEntry> {
  start: bigint;
  end: bigint;
  /** File offset of the first byte of `start`. */
  fileOffset: number;
  /** The records that list these pages and hold their bytes (.ckpt: PAGEMAP and PAGES). */
  pagemap: R;
  pages: R;
  /** Index of the first page in the pagemap's hash array. */
  firstPage: number;
}

export type MemoryState = 'dumped' | 'not-dumped' | 'unmapped';

/** A piece of a memory read: bytes that were dumped, or a range with why it has no bytes. */
export interface MemoryPiece<R extends RecordRef = RecordEntry> {
  addr: bigint;
  length: number;
  state: MemoryState;
  /** Present when state is 'dumped'. */
  bytes?: Uint8Array;
  vma?: VmaInfo<R>;
}

/** Largest single memory read; callers page through more. */
export const MAX_MEMORY_READ = 16 * 1024 * 1024;

export class MemoryMap<R extends RecordRef = RecordEntry> {
  constructor(
    private readonly source: ByteSource,
    readonly pageSize: number,
    /** Sorted by start, non-overlapping. */
    readonly vmas: VmaInfo<R>[],
    /** Sorted by start, non-overlapping. */
    readonly segments: PageSegment<R>[],
  ) {}

  private dumped?: number;
  get dumpedBytes(): number {
    return (this.dumped ??= this.segments.reduce((n, s) => n + Number(s.end - s.start), 0));
  }

  vmaAt(addr: bigint): VmaInfo<R> | undefined {
    return findRange(this.vmas, addr);
  }

  segmentAt(addr: bigint): PageSegment<R> | undefined {
    return findRange(this.segments, addr);
  }

  /** The first segment that ends after `addr`, for walking forward. */
  segmentFrom(addr: bigint): number {
    let lo = 0,
      hi = this.segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.segments[mid].end <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Memory from `addr` for `length` bytes, split into dumped, not-dumped and unmapped pieces. */
  async read(addr: bigint, length: number): Promise<MemoryPiece<R>[]> {
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_MEMORY_READ) {
      throw new RangeError(`memory reads are limited to ${MAX_MEMORY_READ} bytes`);
    }
    const end = addr + BigInt(length);
    if (addr < 0n || end > 1n << 64n) throw new RangeError('address outside the 64-bit address space');
    const pieces: MemoryPiece<R>[] = [];
    let cur = addr;
    while (cur < end) {
      const seg = this.segmentAt(cur);
      const vma = this.vmaAt(cur);
      if (seg) {
        const stop = minBig(end, seg.end);
        const n = Number(stop - cur);
        const bytes = await readBytes(this.source, seg.fileOffset + Number(cur - seg.start), n);
        pieces.push({ addr: cur, length: n, state: 'dumped', bytes, vma });
        cur = stop;
        continue;
      }
      // No bytes here: up to the next segment, the next VMA boundary, or the end.
      let stop = end;
      const next = this.segments[this.segmentFrom(cur)];
      if (next && next.start < stop) stop = next.start;
      if (vma) stop = minBig(stop, vma.end);
      else {
        const nextVma = this.vmas[firstStartingAfter(this.vmas, cur)];
        if (nextVma && nextVma.start < stop) stop = nextVma.start;
      }
      pieces.push({ addr: cur, length: Number(stop - cur), state: vma ? 'not-dumped' : 'unmapped', vma });
      cur = stop;
    }
    return pieces;
  }
}

/** A read at most MAX_MEMORY_READ long: synchronously where the source can, which for a local
 *  file costs microseconds instead of a ~100 us trip through the thread pool. */
async function readBytes(src: ByteSource, offset: number, n: number): Promise<Uint8Array> {
  if (!src.readIntoSync) return src.read(offset, n);
  const out = new Uint8Array(n);
  src.readIntoSync(offset, out);
  return out;
}

/** Index of the first of `list` (sorted by start) that starts after `addr`. */
function firstStartingAfter(list: { start: bigint }[], addr: bigint): number {
  let lo = 0,
    hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].start <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function findRange<T extends { start: bigint; end: bigint }>(list: T[], addr: bigint): T | undefined {
  let lo = 0,
    hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = list[mid];
    if (addr < r.start) hi = mid - 1;
    else if (addr >= r.end) lo = mid + 1;
    else return r;
  }
  return undefined;
}

const minBig = (a: bigint, b: bigint) => (a < b ? a : b);

export function vmaInfo(entry: RecordEntry, v: Ckpt.Vma): VmaInfo {
  return {
    entry,
    start: v.start,
    end: v.end,
    prot: v.prot,
    flags: v.flags,
    kind: enumLabel('vma_kind', v.kind) ?? `kind ${v.kind}`,
    path: v.path.value,
    offset: v.offset,
    ...(v.inode !== 0n ? { file: { inode: v.inode, size: v.fileSize, mtimeNs: v.fileMtimeNs } } : {}),
  };
}

/** "r-xp"-style protection string, as /proc/PID/maps prints it. */
export function protString(prot: number, flags: number): string {
  const f = flagLabels('vma_flags', flags);
  return `${prot & 1 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 4 ? 'x' : '-'}${f.includes('shared') ? 's' : 'p'}`;
}
