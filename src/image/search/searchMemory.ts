// Searching all dumped memory of an image. The page data is read in order, 128 KiB at a time
// (synchronous reads from the page cache stay in the CPU cache and run at memory speed), into
// one window buffer that keeps the last bytes of the previous read: a match that crosses a
// page, a run or a pagemap is found whenever the virtual addresses are contiguous, and never
// across a gap in the address space. Hits are yielded as they are found (an async generator),
// memory stays at one window, and the event loop gets a turn every few MiB, for progress and
// cancellation through an AbortSignal.

import type { ByteSource } from '../byteSource';
import { CheckpointImage } from '../checkpointImage';
import { hex } from '../fields';
import { MemoryMap, PageSegment, protString, RecordRef } from '../memoryMap';
import type { VmaSide } from '../diff/types';
import { compileQuery, SearchQuery } from './pattern';

export interface SearchHit {
  pid: number;
  /** Virtual address of the match's first byte, hex. */
  address: string;
  length: number;
  /** The VMA the match starts in, or null when no VMA covers it (a damaged image). */
  vma: VmaSide | null;
  /** The match's offset in its VMA, hex ("libc.so.6+0x1a2b3"). */
  vmaOffset: string | null;
  /**
   * Context and match, the bytes themselves (each its own copy). The context stops where the
   * dumped memory stops being contiguous, so it can be shorter than asked.
   */
  before: Uint8Array;
  match: Uint8Array;
  after: Uint8Array;
}

export interface SearchProgress {
  /** Page bytes searched so far, and in all. */
  scannedBytes: number;
  totalBytes: number;
  hits: number;
}

export interface SearchOptions {
  /** Only this process (default: every process of the image). */
  pid?: number;
  /** Bytes of context before and after each match (default 16, at most 4096). */
  context?: number;
  /** Stop after this many hits. */
  maxHits?: number;
  /** Regular expressions and case-insensitive text: the longest match found in full across reads (default 1024). */
  maxMatchLength?: number;
  signal?: AbortSignal;
  onProgress?: (p: SearchProgress) => void;
}

/** What the generator returns when it ends. */
export interface SearchEnd extends SearchProgress {
  /** True when it stopped at maxHits, before the end of memory; there may be more matches. */
  truncated: boolean;
}

export interface SearchResult {
  hits: SearchHit[];
  scannedBytes: number;
  totalBytes: number;
  /** True when the search stopped at maxHits, before the end of memory. */
  truncated: boolean;
  ms: number;
}

/**
 * What a search reads, in any format: each process's pid and memory map, and the source their
 * pages' file offsets point into.
 */
export interface SearchTarget {
  source: ByteSource;
  /** Each process's pid, its record (the editor shows a hit in that record's memory view), its memory. */
  processes: { pid: number; record: number; memory(): Promise<MemoryMap<RecordRef>> }[];
}

/** The search target of a .ckpt image. */
export async function imageSearchTarget(img: CheckpointImage): Promise<SearchTarget> {
  const processes: SearchTarget['processes'] = [];
  for (const r of img.processes()) processes.push({ pid: (await img.decodeAs(r, 'process')).pid, record: r.index, memory: () => img.memory(r) });
  return { source: img.source, processes };
}

/** Bytes per read; see SCAN_CHUNK in byteSource.ts for why it is small. */
const CHUNK = 128 * 1024;
/** Give the event loop a turn (progress, cancellation) after this many bytes. */
const YIELD_EVERY = 8 * 1024 * 1024;
const MAX_CONTEXT = 4096;

/** Segments whose addresses follow each other without a gap: one stream of bytes to search. */
function contiguousRuns(segments: PageSegment<RecordRef>[]): PageSegment<RecordRef>[][] {
  const runs: PageSegment<RecordRef>[][] = [];
  for (const s of segments) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1].end === s.start) last.push(s);
    else runs.push([s]);
  }
  return runs;
}

/** Some bytes from the middle of the largest segment, to learn which bytes are common. */
async function sampleOf(src: ByteSource, maps: MemoryMap<RecordRef>[]): Promise<Uint8Array | undefined> {
  let best: PageSegment<RecordRef> | undefined;
  for (const m of maps) for (const s of m.segments) if (!best || s.end - s.start > best.end - best.start) best = s;
  if (!best) return undefined;
  const size = Number(best.end - best.start);
  const n = Math.min(64 * 1024, size);
  return src.read(best.fileOffset + Math.floor((size - n) / 2 / 4096) * 4096, n);
}

/**
 * Search the dumped memory of an image, yielding each hit as it is found, in address order per
 * process. Throws SearchPatternError for a bad pattern and the signal's reason when aborted.
 */
export async function* searchMemory(img: CheckpointImage | SearchTarget, query: SearchQuery, opts: SearchOptions = {}): AsyncGenerator<SearchHit, SearchEnd, undefined> {
  const matcher = compileQuery(query, opts);
  const ctx = Math.max(0, Math.min(MAX_CONTEXT, Math.floor(opts.context ?? 16)));
  const maxHits = opts.maxHits ?? Infinity;
  const target = img instanceof CheckpointImage ? await imageSearchTarget(img) : img;
  const procs: { pid: number; mem: MemoryMap<RecordRef> }[] = [];
  for (const p of target.processes) {
    if (opts.pid === undefined || opts.pid === p.pid) procs.push({ pid: p.pid, mem: await p.memory() });
  }
  if (opts.pid !== undefined && procs.length === 0) throw new RangeError(`the image holds no process with pid ${opts.pid}`);
  const sample = await sampleOf(
    target.source,
    procs.map((p) => p.mem),
  );
  if (sample) matcher.tune(sample);

  const progress: SearchProgress = { scannedBytes: 0, totalBytes: procs.reduce((n, p) => n + p.mem.dumpedBytes, 0), hits: 0 };
  // Matches are accepted only where the window holds `keep` bytes after their start (or the
  // stream ends there), and the window keeps `ctx` bytes before the first unaccepted start.
  const keep = matcher.maxLength + ctx;
  const window = Buffer.allocUnsafeSlow(keep + ctx + CHUNK);
  const src = target.source;
  let sinceYield = 0;

  for (const { pid, mem } of procs) {
    for (const run of contiguousRuns(mem.segments)) {
      const base = run[0].start;
      // Stream offsets (bytes from `base`): window[0] is at winStart.
      let winStart = 0,
        winLen = 0,
        acceptFrom = 0,
        resumeAt = 0;
      const runBytes = Number(run[run.length - 1].end - base);
      for (const seg of run) {
        const segBytes = Number(seg.end - seg.start);
        for (let off = 0; off < segBytes; off += CHUNK) {
          opts.signal?.throwIfAborted();
          const n = Math.min(CHUNK, segBytes - off);
          // Drop what is no longer needed, then read the next bytes after what is kept.
          const keepFrom = Math.max(winStart, acceptFrom - ctx);
          if (keepFrom > winStart) {
            window.copyWithin(0, keepFrom - winStart, winLen);
            winLen -= keepFrom - winStart;
            winStart = keepFrom;
          }
          const target = window.subarray(winLen, winLen + n);
          if (src.readIntoSync) src.readIntoSync(seg.fileOffset + off, target);
          else target.set(await src.read(seg.fileOffset + off, n));
          winLen += n;
          const winEnd = winStart + winLen;
          const final = winEnd === runBytes;
          const limit = final ? winEnd : winEnd - keep;
          const found: SearchHit[] = [];
          const from = Math.max(acceptFrom, resumeAt);
          if (from < limit) {
            const buf = window.subarray(0, winLen);
            matcher.find(buf, from - winStart, limit - winStart, (i, len) => {
              found.push(makeHit(pid, mem, base + BigInt(winStart + i), buf, i, len, ctx));
              resumeAt = winStart + i + len;
              return progress.hits + found.length < maxHits;
            });
          }
          acceptFrom = Math.max(acceptFrom, limit);
          progress.scannedBytes += n;
          for (const hit of found) {
            progress.hits++;
            yield hit;
          }
          if (progress.hits >= maxHits) {
            opts.onProgress?.({ ...progress });
            return { ...progress, truncated: true };
          }
          sinceYield += n;
          if (sinceYield >= YIELD_EVERY) {
            sinceYield = 0;
            opts.onProgress?.({ ...progress });
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
      }
    }
  }
  opts.onProgress?.({ ...progress });
  return { ...progress, truncated: false };
}

function makeHit(pid: number, mem: MemoryMap<RecordRef>, addr: bigint, buf: Buffer, i: number, len: number, ctx: number): SearchHit {
  const vma = mem.vmaAt(addr);
  return {
    pid,
    address: hex(addr),
    length: len,
    vma: vma ? { start: hex(vma.start), end: hex(vma.end), prot: protString(vma.prot, vma.flags), kind: vma.kind, path: vma.path } : null,
    vmaOffset: vma ? hex(addr - vma.start) : null,
    // Copies: `buf` is the search's window, overwritten by the next read.
    before: new Uint8Array(buf.subarray(Math.max(0, i - ctx), i)),
    match: new Uint8Array(buf.subarray(i, i + len)),
    after: new Uint8Array(buf.subarray(i + len, Math.min(buf.length, i + len + ctx))),
  };
}

/** Run a search to the end (or to maxHits) and collect the hits. */
export async function searchAll(img: CheckpointImage | SearchTarget, query: SearchQuery, opts: SearchOptions = {}): Promise<SearchResult> {
  const t0 = performance.now();
  const hits: SearchHit[] = [];
  const it = searchMemory(img, query, opts);
  for (;;) {
    const r = await it.next();
    if (r.done) {
      const { scannedBytes, totalBytes, truncated } = r.value;
      return { hits, scannedBytes, totalBytes, truncated, ms: Math.round((performance.now() - t0) * 100) / 100 };
    }
    hits.push(r.value);
  }
}
