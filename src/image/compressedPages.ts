// Page bytes of `pages_zstd` records (format 2.2, `ckpt dump --compress`), read as if they lay
// uncompressed in the file. An image with compressed pages is read through a PageDataSource:
// offsets below the file's size are the file's bytes; each pages_zstd record is given a range of
// offsets above 2^52 where its pages lie decompressed, so that the memory map, search, diff and
// verify read pages at `segment.fileOffset` as they do from an uncompressed image. Reading a
// page decompresses its one chunk (64 pages), kept in a small cache.
//
// Hostile input: a chunk index must be sound (rule zstd_chunks: as many chunks as the pagemap's
// pages make, ascending ends, each no larger than its pages may compress to, ending at the
// payload's end); a frame must state its content size, exactly its pages' bytes, and a window no
// larger than a chunk; and it must decode to exactly that many bytes, or the read throws an
// ImageError naming the record, the rule and the byte offset. Memory is bounded by the chunk size.

import { Decompress } from 'fzstd';
import { ByteSource } from './byteSource';
import { ImageError, ImageProblem, ruleProblem } from './errors';
import { RecordType, schema } from './format';
import { RecordEntry } from './recordIndex';

/** Where the decompressed pages of the first pages_zstd record start (far above any file). */
export const VIRTUAL_BASE = 2 ** 52;
/** Most bytes of pages one chunk holds (the format's max_zstd_chunk). */
export const MAX_ZSTD_CHUNK: number = schema.limits.maxZstdChunk;
const CACHED_CHUNKS = 16;

/** The largest frame a chunk of n bytes may take (rule zstd_chunks). */
export const chunkBound = (n: number) => n + Math.floor(n / 128) + 512;

export interface ChunkIndex {
  chunkPages: number;
  /** Ends of each frame, counted from `framesOffset`. */
  ends: Uint32Array;
  /** File offset of the first frame. */
  framesOffset: number;
}

const site = (r: RecordEntry, offset = r.offset) => ({ record: r.index, type: r.type, tag: r.tag, offset });

/**
 * The chunk index of a pages_zstd record whose pagemap lists `npages` pages, or the rule it
 * breaks (zstd_chunks). `read` reads payload bytes.
 */
export function readChunkIndex(r: RecordEntry, npages: number, pageSize: number, read: (offset: number, length: number) => Uint8Array): ChunkIndex | ImageProblem {
  if (r.len < 8) return ruleProblem('zstd_chunks', site(r, r.payloadOffset), 'the chunk index cannot be read');
  const head = new DataView(read(0, 8).buffer);
  const chunkPages = head.getUint32(0, true),
    nchunks = head.getUint32(4, true);
  if (chunkPages === 0 || chunkPages * pageSize > MAX_ZSTD_CHUNK) {
    return ruleProblem('zstd_chunks', site(r, r.payloadOffset), `chunks of ${chunkPages} pages (at most ${MAX_ZSTD_CHUNK} bytes of pages each)`);
  }
  const want = Math.ceil(npages / chunkPages);
  if (nchunks !== want) return ruleProblem('zstd_chunks', site(r, r.payloadOffset + 4), `${nchunks} chunks, its pagemap's ${npages} pages make ${want}`);
  const frames = 8 + nchunks * 4;
  if (frames > r.len) return ruleProblem('zstd_chunks', site(r, r.payloadOffset + 4), `an index of ${nchunks} chunks does not fit the payload of ${r.len} bytes`);
  const raw = read(8, nchunks * 4);
  const ends = new Uint32Array(nchunks);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let prev = 0;
  for (let i = 0; i < nchunks; i++) {
    const end = dv.getUint32(i * 4, true);
    const pages = i + 1 < nchunks ? chunkPages : npages - i * chunkPages;
    if (end < prev || end - prev > chunkBound(pages * pageSize)) {
      return ruleProblem('zstd_chunks', site(r, r.payloadOffset + 8 + i * 4), `chunk ${i} ends at ${end}: before the chunk before it, or larger than its pages may compress to`);
    }
    ends[i] = end;
    prev = end;
  }
  if (frames + prev !== r.len) return ruleProblem('zstd_chunks', site(r, r.payloadOffset + frames), `the chunks end at byte ${frames + prev} of the payload, which has ${r.len}`);
  return { chunkPages, ends, framesOffset: r.payloadOffset + frames };
}

/**
 * One zstd frame that must decompress to exactly `want` bytes: its header must state that size
 * (no dictionary, a window no larger than a chunk), and its output is counted as it comes.
 * Returns the bytes, or why not.
 */
export function decompressChunk(frame: Uint8Array, want: number): Uint8Array | string {
  if (frame.length < 6 || frame[0] !== 0x28 || frame[1] !== 0xb5 || frame[2] !== 0x2f || frame[3] !== 0xfd) return 'it is not a zstd frame';
  const fhd = frame[4];
  const fcsFlag = fhd >> 6,
    single = (fhd >> 5) & 1,
    dictFlag = fhd & 3;
  if (dictFlag) return 'its frame needs a dictionary';
  // a checksum is refused by both readers alike (they would judge a damaged one differently)
  if (fhd & 0x0c) return 'its frame has a checksum or a reserved bit';
  let at = 5;
  if (!single) {
    const wd = frame[5];
    const base = 2 ** (10 + (wd >> 3));
    if (base + (base / 8) * (wd & 7) > 8 * 1024 * 1024) return 'its frame asks for a window larger than a chunk';
    at = 6;
  }
  const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
  if (fcsBytes === 0 || frame.length < at + fcsBytes) return 'its frame does not state its size';
  let stated = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) stated = stated * 256 + frame[at + i];
  if (fcsFlag === 1) stated += 256;
  if (stated !== want) return `its frame states ${stated} bytes`;
  const out = new Uint8Array(want);
  let pos = 0;
  try {
    const d = new Decompress((chunk) => {
      if (pos + chunk.length > want) throw new RangeError('more bytes than it states');
      out.set(chunk, pos);
      pos += chunk.length;
    });
    d.push(frame, true);
  } catch (e) {
    return (e as Error).message || 'damaged zstd data';
  }
  return pos === want ? out : `it decompresses to ${pos} bytes`;
}

interface Compressed {
  record: RecordEntry;
  npages: number;
  base: number;
  bytes: number;
  index?: ChunkIndex;
}

/** A ByteSource over an image file whose compressed pages read as if uncompressed (see above). */
export class PageDataSource implements ByteSource {
  private readonly records: Compressed[] = [];
  private next = VIRTUAL_BASE;
  private readonly cache = new Map<string, Uint8Array>();

  constructor(
    readonly file: ByteSource,
    readonly pageSize: number,
  ) {}

  get size(): number {
    return this.file.size;
  }

  get name(): string {
    return this.file.name;
  }

  /** Gives the pages of a pages_zstd record (its pagemap lists `npages`) their virtual offsets. */
  register(record: RecordEntry, npages: number): number {
    const known = this.records.find((c) => c.record === record);
    if (known) return known.base;
    const bytes = npages * this.pageSize;
    const c: Compressed = { record, npages, base: this.next, bytes };
    this.records.push(c);
    this.next += Math.ceil((bytes + 1) / MAX_ZSTD_CHUNK) * MAX_ZSTD_CHUNK;
    return c.base;
  }

  /** The record whose virtual range holds `offset`, if any. */
  compressedAt(offset: number): RecordEntry | undefined {
    return this.find(offset)?.record;
  }

  private find(offset: number): Compressed | undefined {
    let lo = 0,
      hi = this.records.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = this.records[mid];
      if (offset < c.base) hi = mid - 1;
      else if (offset >= c.base + c.bytes) lo = mid + 1;
      else return c;
    }
    return undefined;
  }

  private readFileSync(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    if (!this.file.readIntoSync) throw new Error(`${this.file.name} cannot be read synchronously`);
    this.file.readIntoSync(offset, out);
    return out;
  }

  private chunk(c: Compressed, i: number): Uint8Array {
    const key = `${c.record.index}:${i}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    if (c.record.payloadOffset + c.record.len > this.file.size) {
      throw new ImageError(ruleProblem('zstd_chunks', site(c.record), `its payload of ${c.record.len} bytes runs past the end of the file`));
    }
    if (!c.index) {
      const idx = readChunkIndex(c.record, c.npages, this.pageSize, (o, n) => this.readFileSync(c.record.payloadOffset + o, n));
      if (!('chunkPages' in idx)) throw new ImageError(idx);
      c.index = idx;
    }
    const { chunkPages, ends, framesOffset } = c.index;
    const from = i ? ends[i - 1] : 0;
    const at = framesOffset + from;
    const want = Math.min(chunkPages, c.npages - i * chunkPages) * this.pageSize;
    const got = decompressChunk(this.readFileSync(at, ends[i] - from), want);
    if (typeof got === 'string') throw new ImageError(ruleProblem('zstd_chunks', site(c.record, at), `chunk ${i} does not decompress to its ${want} bytes: ${got}`));
    this.cache.set(key, got);
    if (this.cache.size > CACHED_CHUNKS) this.cache.delete(this.cache.keys().next().value as string);
    return got;
  }

  readIntoSync(offset: number, target: Uint8Array): void {
    if (offset < VIRTUAL_BASE) {
      this.file.readIntoSync!(offset, target);
      return;
    }
    let done = 0;
    while (done < target.length) {
      const at = offset + done;
      const c = this.find(at);
      if (!c) throw new RangeError(`read of ${target.length} bytes at ${offset} is outside the compressed pages of ${this.name}`);
      if (!c.index) this.chunk(c, 0);
      const chunkBytes = c.index!.chunkPages * this.pageSize;
      const rel = at - c.base;
      const i = Math.floor(rel / chunkBytes);
      const bytes = this.chunk(c, i);
      const inChunk = rel - i * chunkBytes;
      const n = Math.min(bytes.length - inChunk, target.length - done);
      target.set(bytes.subarray(inChunk, inChunk + n), done);
      done += n;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < VIRTUAL_BASE) return this.file.read(offset, length);
    const out = new Uint8Array(length);
    this.readIntoSync(offset, out);
    return out;
  }

  close(): Promise<void> {
    this.cache.clear();
    return this.file.close();
  }
}

/** Whether an image's index holds compressed pages (then it is read through a PageDataSource). */
export const hasCompressedPages = (records: readonly { type: number }[]) => records.some((r) => r.type === RecordType.PAGES_ZSTD);
