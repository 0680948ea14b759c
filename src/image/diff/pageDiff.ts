// Which pages differ between two address spaces. Where both images carry the per-page XXH64
// hashes (pages records with the page_hashed flag) the hashes are compared and no page byte is
// read: two 1 GiB images compare in milliseconds. Where one side has no usable hashes its page
// bytes are streamed and hashed; where neither has, both are streamed and compared, in small
// reused slices, so memory stays bounded whatever the image size.

import { ByteSource, SCAN_CHUNK } from '../byteSource';
import { CheckpointImage } from '../checkpointImage';
import { Ckpt } from '../format';
import { hex } from '../fields';
import { MemoryMap, PageSegment, RecordRef } from '../memoryMap';
import { RecordEntry } from '../recordIndex';
import { xxh64Blocks } from '../xxhash64';
import { diffHashArrays } from './hashDiff';
import type { CompareOptions, PageChange, PageDiff, PageMethod } from './types';

/** A range of pages with one kind of change; addresses as BigInt while computing. */
export interface RawPageRange {
  start: bigint;
  end: bigint;
  change: PageChange;
}

export interface MemoryComparison {
  ranges: RawPageRange[];
  /** Granularity of the comparison in bytes: the page size (the smaller one if they differ). */
  pageSize: number;
  pagesCompared: number;
  bytesRead: number;
  method: PageMethod;
}

/** One side of a comparison: a segment of dumped pages and, when usable, its page hashes. */
interface Side {
  seg: PageSegment<RecordRef>;
  source: ByteSource;
  /** The whole hash array of the segment's pagemap, or undefined when the bytes must be read. */
  hashes?: Uint8Array;
}

interface Interval {
  start: bigint;
  end: bigint;
  a?: Side;
  b?: Side;
}

/**
 * Page bytes read per slice in the byte fallback (per side): small enough to stay in the CPU
 * cache, which makes synchronous reads from the page cache several times faster than big ones.
 */
const SLICE = SCAN_CHUNK;
/** The byte fallback gives the event loop a turn (progress, cancellation) after this many bytes. */
const YIELD_EVERY = 8 * 1024 * 1024;

const PAGE_HASHED = Ckpt.RecordFlags.PAGE_HASHED;
const minBig = (x: bigint, y: bigint) => (x < y ? x : y);
const maxBig = (x: bigint, y: bigint) => (x > y ? x : y);

/**
 * One address space to compare, in any format: its map, the source its pages are in, and, where
 * the format stores them, the page hashes of a segment's pagemap (indexed by `firstPage`).
 */
export interface MemorySide {
  mem: MemoryMap<RecordRef>;
  source: ByteSource;
  hashes?: (seg: PageSegment<RecordRef>) => Promise<Uint8Array | undefined>;
}

/** A .ckpt image's address space, with the page hashes of its pagemaps. */
export function imageMemorySide(img: CheckpointImage, mem: MemoryMap): MemorySide {
  const cache = new Map<RecordEntry, Uint8Array | undefined>();
  return {
    mem: mem as MemoryMap<RecordRef>,
    source: img.source,
    hashes: async (s) => {
      const seg = s as PageSegment;
      if (!(seg.pages.flags & PAGE_HASHED)) return undefined;
      if (!cache.has(seg.pagemap)) cache.set(seg.pagemap, (await img.decodeAs(seg.pagemap, 'pagemap')).pageHashes);
      return cache.get(seg.pagemap);
    },
  };
}

async function sidesOf(side: MemorySide, useHashes: boolean): Promise<Side[]> {
  const sides: Side[] = [];
  for (const seg of side.mem.segments) {
    let hashes: Uint8Array | undefined;
    if (useHashes && side.hashes) {
      hashes = await side.hashes(seg);
      const pages = Number(seg.end - seg.start) / side.mem.pageSize;
      if (hashes && hashes.length < (seg.firstPage + pages) * 8) hashes = undefined;
    }
    sides.push({ seg, source: side.source, hashes });
  }
  return sides;
}

/** Cut both segment lists at every boundary: pieces only in A, only in B, and in both. */
function intervals(a: Side[], b: Side[]): Interval[] {
  const out: Interval[] = [];
  let ia = 0,
    ib = 0;
  let x = 0n;
  for (;;) {
    while (ia < a.length && a[ia].seg.end <= x) ia++;
    while (ib < b.length && b[ib].seg.end <= x) ib++;
    const sa = a[ia],
      sb = b[ib];
    if (!sa && !sb) break;
    const startA = sa ? maxBig(sa.seg.start, x) : undefined;
    const startB = sb ? maxBig(sb.seg.start, x) : undefined;
    if (startA !== undefined && (startB === undefined || startA < startB)) {
      const end = startB === undefined ? sa.seg.end : minBig(sa.seg.end, startB);
      out.push({ start: startA, end, a: sa });
      x = end;
    } else if (startB !== undefined && (startA === undefined || startB < startA)) {
      const end = startA === undefined ? sb.seg.end : minBig(sb.seg.end, startA);
      out.push({ start: startB, end, b: sb });
      x = end;
    } else {
      const end = minBig(sa.seg.end, sb.seg.end);
      out.push({ start: startA!, end, a: sa, b: sb });
      x = end;
    }
  }
  return out;
}

class RangeCollector {
  readonly ranges: RawPageRange[] = [];
  add(start: bigint, end: bigint, change: PageChange): void {
    const last = this.ranges[this.ranges.length - 1];
    if (last && last.change === change && last.end === start) last.end = end;
    else this.ranges.push({ start, end, change });
  }

  /**
   * Modified pages i of an interval starting at `base`, given one by one in ascending order;
   * consecutive ones become one range, with BigInt arithmetic only at the ends of a range.
   */
  pagesOf(base: bigint, ps: number): { page(i: number): void; flush(): void } {
    let first = -1,
      next = -1;
    const flush = () => {
      if (first >= 0) this.add(base + BigInt(first * ps), base + BigInt(next * ps), 'modified');
      first = next = -1;
    };
    return {
      page: (i: number) => {
        if (i !== next) {
          flush();
          first = i;
        }
        next = i + 1;
      },
      flush,
    };
  }
}

const asBuffer = (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * Calls `onDiff(i)` for each i < n where hash ia+i of `ha` differs from hash ib+i of `hb`: one
 * memcmp for the whole range (most ranges of two checkpoints are unchanged), then the
 * WebAssembly loop of hashDiff.ts over the ranges that differ.
 */
function diffHashes(ha: Uint8Array, ia: number, hb: Uint8Array, ib: number, n: number, onDiff: (i: number) => void): void {
  const a = asBuffer(ha),
    b = asBuffer(hb);
  if (b.compare(a, ia * 8, (ia + n) * 8, ib * 8, (ib + n) * 8) === 0) return;
  diffHashArrays(ha, ia, hb, ib, n, onDiff);
}

const pageIndex = (s: Side, addr: bigint, ps: number) => s.seg.firstPage + Number(addr - s.seg.start) / ps;

/** What comparing two address spaces will take: the intervals, and the page bytes to read. */
export interface MemoryPlan {
  intervals: Interval[];
  pageSize: number;
  /** Page bytes the byte fallback will read (0 when the hashes suffice). */
  readBytes: number;
}

/** Plan the comparison of two address spaces of .ckpt images; reads the page hashes, no page data. */
export function planMemory(imgA: CheckpointImage, memA: MemoryMap, imgB: CheckpointImage, memB: MemoryMap, opts: CompareOptions = {}): Promise<MemoryPlan> {
  return planMemoryOf(imageMemorySide(imgA, memA), imageMemorySide(imgB, memB), opts);
}

/**
 * Plan the comparison of two address spaces of any format. Where one side has no hashes (a CRIU
 * checkpoint), its bytes will be read and hashed; where neither has, both are read and compared.
 */
export async function planMemoryOf(a: MemorySide, b: MemorySide, opts: CompareOptions = {}): Promise<MemoryPlan> {
  const memA = a.mem,
    memB = b.mem;
  // With different page sizes the hashes cover different spans: compare bytes, by the smaller page.
  const useHashes = (opts.pages ?? 'auto') === 'auto' && memA.pageSize === memB.pageSize;
  const plan = intervals(await sidesOf(a, useHashes), await sidesOf(b, useHashes));
  let readBytes = 0;
  for (const iv of plan) if (iv.a && iv.b) readBytes += Number(iv.end - iv.start) * ((iv.a.hashes ? 0 : 1) + (iv.b.hashes ? 0 : 1));
  return { intervals: plan, pageSize: Math.min(memA.pageSize, memB.pageSize), readBytes };
}

/**
 * Carry out a plan. `progress` counts page bytes read; one object can be shared by the plans of
 * several processes, so that a caller sees one total for the whole comparison.
 */
export async function comparePlanned(plan: MemoryPlan, progress: { done: number; total: number }, opts: CompareOptions = {}): Promise<MemoryComparison> {
  const ps = plan.pageSize;
  const out = new RangeCollector();
  const doneBefore = progress.done;
  let pagesCompared = 0,
    hashedPages = 0;
  let buffers: { a: Uint8Array; b: Uint8Array } | undefined;
  for (const iv of plan.intervals) {
    opts.signal?.throwIfAborted();
    if (!iv.a || !iv.b) {
      out.add(iv.start, iv.end, iv.a ? 'removed' : 'added');
      continue;
    }
    const n = Number(iv.end - iv.start) / ps;
    pagesCompared += n;
    if (iv.a.hashes && iv.b.hashes) {
      hashedPages += n;
      const pages = out.pagesOf(iv.start, ps);
      diffHashes(iv.a.hashes, pageIndex(iv.a, iv.start, ps), iv.b.hashes, pageIndex(iv.b, iv.start, ps), n, pages.page);
      pages.flush();
    } else {
      buffers ??= { a: new Uint8Array(SLICE), b: new Uint8Array(SLICE) };
      await compareBytes(iv as Required<Interval>, ps, out, progress, opts, buffers);
    }
  }
  const method: PageMethod = pagesCompared === 0 ? 'none' : hashedPages === pagesCompared ? 'hashes' : hashedPages === 0 ? 'bytes' : 'mixed';
  return { ranges: out.ranges, pageSize: ps, pagesCompared, bytesRead: progress.done - doneBefore, method };
}

/** Fill `target` from the source at `offset`: synchronously where it can (see ByteSource). */
async function readInto(src: ByteSource, offset: number, target: Uint8Array): Promise<void> {
  if (src.readIntoSync) src.readIntoSync(offset, target);
  else target.set(await src.read(offset, target.length));
}

/**
 * The byte fallback for one interval dumped on both sides: read the sides without hashes in
 * slices into two reused buffers; compare bytes when neither has hashes, else hash the read side
 * and compare with the other side's stored hashes. Gives the event loop a turn every few MiB.
 */
async function compareBytes(
  iv: Required<Interval>,
  ps: number,
  out: RangeCollector,
  progress: { done: number; total: number },
  opts: CompareOptions,
  buffers: { a: Uint8Array; b: Uint8Array },
): Promise<void> {
  const { a, b } = iv;
  const length = Number(iv.end - iv.start);
  let sinceYield = 0;
  for (let off = 0; off < length; off += SLICE) {
    opts.signal?.throwIfAborted();
    const n = Math.min(SLICE, length - off);
    const at = iv.start + BigInt(off);
    const ba = a.hashes ? undefined : buffers.a.subarray(0, n);
    const bb = b.hashes ? undefined : buffers.b.subarray(0, n);
    if (ba) await readInto(a.source, a.seg.fileOffset + Number(at - a.seg.start), ba);
    if (bb) await readInto(b.source, b.seg.fileOffset + Number(at - b.seg.start), bb);
    const pages = out.pagesOf(at, ps);
    const mark = pages.page;
    if (ba && bb) {
      if (Buffer.compare(ba, bb) !== 0) {
        for (let i = 0; i < n / ps; i++) {
          if (Buffer.compare(ba.subarray(i * ps, (i + 1) * ps), bb.subarray(i * ps, (i + 1) * ps)) !== 0) mark(i);
        }
      }
    } else if (ba) {
      diffHashes(xxh64Blocks(ba, ps), 0, b.hashes!, pageIndex(b, at, ps), n / ps, mark);
    } else if (bb) {
      diffHashes(a.hashes!, pageIndex(a, at, ps), xxh64Blocks(bb, ps), 0, n / ps, mark);
    }
    pages.flush();
    const read = (ba ? n : 0) + (bb ? n : 0);
    progress.done += read;
    sinceYield += read;
    if (sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      opts.onProgress?.({ ...progress });
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  opts.onProgress?.({ ...progress });
}

// ---- giving each changed page to the VMA it belongs to -------------------------------------

export interface Owned<T> {
  start: bigint;
  end: bigint;
  owner: T;
}

/**
 * Owners of addresses: B's areas first, then what of A's areas B does not cover, so that a page
 * belongs to exactly one VMA node even when areas were split, merged or resized.
 */
export function ownersOf<T>(bAreas: Owned<T>[], aAreas: Owned<T>[]): Owned<T>[] {
  const out = [...bAreas];
  let j = 0;
  for (const area of aAreas) {
    let x = area.start;
    while (j < bAreas.length && bAreas[j].end <= x) j++;
    for (let k = j; k < bAreas.length && bAreas[k].start < area.end; k++) {
      if (bAreas[k].start > x) out.push({ start: x, end: bAreas[k].start, owner: area.owner });
      x = maxBig(x, bAreas[k].end);
    }
    if (x < area.end) out.push({ start: x, end: area.end, owner: area.owner });
  }
  return out.sort((p, q) => (p.start < q.start ? -1 : p.start > q.start ? 1 : 0));
}

/** Split changed ranges among owners (sorted, not overlapping); pieces no one owns get undefined. */
export function attribute<T>(ranges: RawPageRange[], owners: Owned<T>[], give: (owner: T | undefined, r: RawPageRange) => void): void {
  let j = 0;
  for (const r of ranges) {
    let x = r.start;
    while (j < owners.length && owners[j].end <= x) j++;
    for (let k = j; k < owners.length && owners[k].start < r.end && x < r.end; k++) {
      const o = owners[k];
      if (o.start > x) {
        give(undefined, { start: x, end: o.start, change: r.change });
        x = o.start;
      }
      const end = minBig(o.end, r.end);
      give(o.owner, { start: x, end, change: r.change });
      x = end;
    }
    if (x < r.end) give(undefined, { start: x, end: r.end, change: r.change });
  }
}

/** Page ranges as plain data, with counts. */
export function pageDiffOf(ranges: RawPageRange[], pageSize: number): PageDiff {
  const d: PageDiff = { modified: 0, added: 0, removed: 0, ranges: [] };
  // Join ranges that touch (the same kind, split apart by interval boundaries), then format.
  const joined: RawPageRange[] = [];
  for (const r of ranges) {
    const last = joined[joined.length - 1];
    if (last && last.change === r.change && last.end === r.start) last.end = r.end;
    else joined.push({ ...r });
  }
  for (const r of joined) {
    const pages = Number(r.end - r.start) / pageSize;
    d[r.change] += pages;
    d.ranges.push({ start: hex(r.start), end: hex(r.end), pages, change: r.change });
  }
  return d;
}
