// An opened image: the header index, the record tree, decoded payloads on demand (with a small
// cache bounded in bytes), and the memory map of each process. Opening checks every header,
// every metadata checksum and the tail, and never reads page bytes; `verify()` checks those too.

import { BufferByteSource, ByteSource, FileByteSource } from './byteSource';
import { hasCompressedPages, PageDataSource } from './compressedPages';
import { ImageError, ImageProblem, problem } from './errors';
import { Ckpt, RecordType, schema } from './format';
import { MemoryMap, PageSegment, vmaInfo, VmaInfo } from './memoryMap';
import { decodePayload, Payload, PayloadByType, PayloadLabel } from './payload';
import { IndexOptions, indexRecords, RecordEntry, RecordIndex } from './recordIndex';
import { buildRecordTree, childrenOfType, RecordTree } from './recordTree';

/** Record type value of each payload label, from the format's record_type enum. */
const LABEL_TYPES = Object.fromEntries(Object.entries(schema.enums.record_type).map(([v, l]) => [l, Number(v)])) as Record<PayloadLabel, number>;

/** Payload reads up to this size are synchronous where the source allows it. */
const SYNC_PAYLOAD_READ = 1024 * 1024;

/**
 * Decoded payloads kept in memory, counted by what they cost: a decoded object takes about 16
 * times its payload's bytes (each field has an object recording its offsets), and at least 1 KiB
 * however small the payload, so that millions of empty records cannot fill memory.
 */
const CACHE_BUDGET = 64 * 1024 * 1024;
const decodedCost = (r: RecordEntry) => 1024 + 16 * r.len;

/** A descriptor of some process that refers to an open file description. */
export interface FileHolder {
  process: RecordEntry;
  fdRecord: RecordEntry;
  fd: number;
}

export class CheckpointImage {
  private holders?: Map<number, FileHolder[]>;
  private readonly cache = new Map<RecordEntry, Payload>();
  private cachedBytes = 0;
  private readonly memoryMaps = new Map<RecordEntry, Promise<MemoryMap>>();
  /** Records by type, in file order, made on first use. */
  private byType?: Map<number, RecordEntry[]>;
  /** Problems found while building memory maps (layout of runs and page records). */
  readonly layoutProblems: ImageProblem[] = [];

  private constructor(
    readonly source: ByteSource,
    readonly index: RecordIndex,
    readonly tree: RecordTree,
    readonly head: Ckpt.Head,
  ) {}

  /** Open an image file (or any ByteSource). Throws ImageError when it cannot be read at all. */
  static async open(from: string | ByteSource | Uint8Array, opts: IndexOptions = {}): Promise<CheckpointImage> {
    const source = typeof from === 'string' ? await FileByteSource.open(from) : from instanceof Uint8Array ? new BufferByteSource(from) : from;
    try {
      const index = await indexRecords(source, opts);
      if (!index.head) throw new ImageError(problem('not-an-image', { record: 0, offset: 0 }, 'the head record cannot be read', true));
      // compressed pages (format 2.2) read through a source where they lie decompressed
      const pages = hasCompressedPages(index.records) ? new PageDataSource(source, index.head.pageSize) : source;
      return new CheckpointImage(pages, index, buildRecordTree(index), index.head);
    } catch (e) {
      if (typeof from === 'string') await source.close();
      throw e;
    }
  }

  get records(): RecordEntry[] {
    return this.index.records;
  }

  get pageSize(): number {
    return this.head.pageSize;
  }

  /** Problems found on opening: headers, metadata checksums, tail, and the tree. */
  get problems(): ImageProblem[] {
    return [...this.index.problems, ...this.tree.problems];
  }

  /** True when the image has a sound tail; false for a truncated image. */
  get complete(): boolean {
    return this.index.tail !== undefined && !this.index.problems.some((p) => p.code === 'truncated' || p.code === 'bad-tail');
  }

  children(r?: RecordEntry): RecordEntry[] {
    return r ? (this.tree.children.get(r) ?? []) : this.tree.roots;
  }

  parent(r: RecordEntry): RecordEntry | undefined {
    return this.tree.parent.get(r);
  }

  byTag(tag: number): RecordEntry | undefined {
    return this.index.byTag.get(tag);
  }

  /** The records of one type, in file order. */
  ofType(type: number): readonly RecordEntry[] {
    if (!this.byType) {
      this.byType = new Map();
      for (const r of this.index.records) {
        let list = this.byType.get(r.type);
        if (!list) this.byType.set(r.type, (list = []));
        list.push(r);
      }
    }
    return this.byType.get(type) ?? [];
  }

  childrenOfType(r: RecordEntry, type: number): RecordEntry[] {
    return childrenOfType(this.tree, r, type);
  }

  /** Payload bytes, or a slice of them. Page data is read through here too, in bounded slices. */
  async readPayload(r: RecordEntry, offset = 0, length = r.len - offset): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > r.len) throw new RangeError(`payload slice ${offset}+${length} is outside record #${r.index} (${r.len} bytes)`);
    // Small reads synchronously where the source can: an asynchronous read costs ~100 us in the
    // thread pool, which made decoding a few hundred VMA records one by one take ~50 ms.
    if (this.source.readIntoSync && length <= SYNC_PAYLOAD_READ) {
      const out = new Uint8Array(length);
      this.source.readIntoSync(r.payloadOffset + offset, out);
      return out;
    }
    return this.source.read(r.payloadOffset + offset, length);
  }

  /**
   * The decoded payload, or undefined for `pages` and unknown types. Throws ImageError. A pass
   * over every record (verification) says `keep: false`, so as not to churn the cache.
   */
  async decode(r: RecordEntry, opts: { keep?: boolean } = {}): Promise<Payload | undefined> {
    const hit = this.cache.get(r);
    if (hit) {
      this.cache.delete(r);
      this.cache.set(r, hit);
      return hit;
    }
    // bulk data (page bytes, a file's bytes) has no fields and is never read whole
    if (r.type === RecordType.PAGES || r.type === RecordType.PAGES_ZSTD || r.type === RecordType.FILE_DATA) return undefined;
    const value = decodePayload(r, await this.readPayload(r));
    if (value && opts.keep !== false) this.remember(r, value);
    return value;
  }

  /** Decode a record that must be of a given type. */
  async decodeAs<L extends PayloadLabel>(r: RecordEntry, label: L): Promise<PayloadByType[L]> {
    if (r.type !== LABEL_TYPES[label]) throw new Error(`record #${r.index} is not a ${label} record`);
    return (await this.decode(r)) as PayloadByType[L];
  }

  private remember(r: RecordEntry, value: Payload): void {
    this.cache.set(r, value);
    this.cachedBytes += decodedCost(r);
    if (this.cachedBytes <= CACHE_BUDGET) return;
    // The least recently used go, down to three quarters of the budget at once: a Map's
    // iteration passes over the holes its deletions leave, so one entry at a time is quadratic.
    for (const [k] of this.cache) {
      if (this.cachedBytes <= (CACHE_BUDGET / 4) * 3) break;
      this.cache.delete(k);
      this.cachedBytes -= decodedCost(k);
    }
  }

  /** The file record (open file description) an fd names, if the image has it. */
  fileRecord(fd: Ckpt.Fd): RecordEntry | undefined {
    const r = this.byTag(fd.file);
    return r?.type === RecordType.FILE ? r : undefined;
  }

  /** The fds of every process that name the file record with this tag (one pass over the fds, once). */
  async holdersOf(fileTag: number): Promise<FileHolder[]> {
    if (!this.holders) {
      const map = new Map<number, FileHolder[]>();
      for (const r of this.ofType(RecordType.FD)) {
        // an fd under FILES under a PROCESS; a damaged image may put it anywhere (verify says so)
        const files = this.parent(r);
        const process = files?.type === RecordType.FILES ? this.parent(files) : undefined;
        if (process?.type !== RecordType.PROCESS) continue;
        try {
          const fd = await this.decodeAs(r, 'fd');
          const list = map.get(fd.file) ?? [];
          list.push({ process, fdRecord: r, fd: fd.fd });
          map.set(fd.file, list);
        } catch (e) {
          if (!(e instanceof ImageError)) throw e;
        }
      }
      this.holders = map;
    }
    return this.holders.get(fileTag) ?? [];
  }

  /** The process records, in file order. */
  processes(): readonly RecordEntry[] {
    return this.ofType(RecordType.PROCESS);
  }

  /** The memory map of a process (default: the first one), built once. */
  memory(processRecord = this.processes()[0]): Promise<MemoryMap> {
    if (!processRecord) return Promise.reject(new Error('the image holds no process'));
    let m = this.memoryMaps.get(processRecord);
    if (!m) {
      m = this.buildMemoryMap(processRecord);
      this.memoryMaps.set(processRecord, m);
    }
    return m;
  }

  private async buildMemoryMap(proc: RecordEntry): Promise<MemoryMap> {
    const vmas: VmaInfo[] = [];
    const segments: PageSegment[] = [];
    const ps = this.pageSize;
    const psBig = BigInt(ps);
    const site = (r: RecordEntry) => ({ record: r.index, type: r.type, tag: r.tag, offset: r.offset });
    for (const mm of this.childrenOfType(proc, RecordType.MM)) {
      for (const v of this.childrenOfType(mm, RecordType.VMA)) {
        try {
          vmas.push(vmaInfo(v, await this.decodeAs(v, 'vma')));
        } catch (e) {
          if (!(e instanceof ImageError)) throw e;
          this.layoutProblems.push(e.problem);
        }
      }
      for (const pm of this.childrenOfType(mm, RecordType.PAGEMAP)) {
        let map: Ckpt.Pagemap;
        try {
          map = await this.decodeAs(pm, 'pagemap');
        } catch (e) {
          if (!(e instanceof ImageError)) throw e;
          this.layoutProblems.push(e.problem);
          continue;
        }
        const pages = [...this.childrenOfType(pm, RecordType.PAGES), ...this.childrenOfType(pm, RecordType.PAGES_ZSTD)];
        if (pages.length !== 1) {
          this.layoutProblems.push(problem('inconsistent', site(pm), `a pagemap needs exactly one PAGES or PAGES_ZSTD child, it has ${pages.length}`));
          continue;
        }
        const data = pages[0];
        const total = map.runs.reduce((n, run) => n + run.npages, 0);
        if (total !== map.npages) this.layoutProblems.push(problem('inconsistent', { ...site(pm), field: 'npages' }, `npages is ${map.npages} but the runs hold ${total} pages`));
        // compressed pages lie decompressed at offsets of their own (compressedPages.ts)
        const compressed = data.type === RecordType.PAGES_ZSTD && this.source instanceof PageDataSource;
        const dataOffset = compressed ? (this.source as PageDataSource).register(data, map.npages) : data.payloadOffset;
        const dataLen = compressed ? map.npages * ps : data.len;
        if (data.type === RecordType.PAGES_ZSTD && !compressed) continue;
        if (dataLen !== map.npages * ps)
          this.layoutProblems.push(problem('inconsistent', { ...site(data), field: 'len' }, `PAGES holds ${data.len} bytes, its pagemap lists ${map.npages} pages of ${ps}`));
        if (dataOffset % ps !== 0) this.layoutProblems.push(problem('inconsistent', site(data), `page data starts at 0x${data.payloadOffset.toString(16)}, not at a multiple of the page size`));
        let page = 0;
        for (const run of map.runs) {
          const bytes = run.npages * ps;
          if (run.vaddr % psBig !== 0n || (page + run.npages) * ps > dataLen) {
            this.layoutProblems.push(problem('inconsistent', { ...site(pm), field: `runs` }, `run at 0x${run.vaddr.toString(16)} of ${run.npages} pages does not fit its page data`));
            break;
          }
          if (run.npages > 0) {
            segments.push({ start: run.vaddr, end: run.vaddr + BigInt(bytes), fileOffset: dataOffset + page * ps, pagemap: pm, pages: data, firstPage: page });
          }
          page += run.npages;
        }
      }
    }
    // The map keeps what does not overlap what comes before it, so that lookups by address are
    // binary searches and comparisons of two maps are linear; the rest is reported.
    const byStart = (a: { start: bigint }, b: { start: bigint }) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0);
    const kept = <T extends { start: bigint; end: bigint }>(list: T[], report: (x: T) => void): T[] => {
      const out: T[] = [];
      for (const x of list.sort(byStart)) {
        if (out.length && x.start < out[out.length - 1].end) report(x);
        else out.push(x);
      }
      return out;
    };
    const mapped = kept(vmas, (v) => this.layoutProblems.push(problem('inconsistent', site(v.entry), `VMA at 0x${v.start.toString(16)} overlaps the VMA before it`)));
    const dumped = kept(segments, (s) => this.layoutProblems.push(problem('inconsistent', site(s.pagemap), `pages at 0x${s.start.toString(16)} overlap pages listed before`)));
    return new MemoryMap(this.source, ps, mapped, dumped);
  }

  async close(): Promise<void> {
    this.cache.clear();
    await this.source.close();
  }
}
