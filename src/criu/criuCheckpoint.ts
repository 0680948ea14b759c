// An opened CRIU checkpoint: its files (a directory or an archive, read in place), the records
// the explorer shows (folders and files, each image's entries, the VMAs inside a memory
// descriptor), messages decoded on demand, and what the images say about each process: its
// threads, its memory map with where each dumped page's bytes are (following pre-dump chains
// through `parent` links), its files and descriptors. Opening reads the length prefixes of the
// images, never page data; damage is collected as problems naming the file and offset.

import { CriuImage } from '../../build/formats/CriuImage';
import type {
  CoreEntry,
  FdinfoEntry,
  FileEntry,
  FsEntry,
  InventoryEntry,
  MmEntry,
  PagemapEntry,
  PagemapHead,
  PipeDataEntry,
  PstreeEntry,
  SkPacketEntry,
  TaskKobjIdsEntry,
  UtsnsEntry,
  VmaEntry,
} from '../../build/formats/CriuMessages';
import { payloadStream } from '../image/bigintStream';
import { ByteSource } from '../image/byteSource';
import { ImageError, ImageProblem, problemSeverity } from '../image/errors';
import { FieldNode, hex } from '../image/fields';
import { MemoryMap, PageSegment, VmaInfo } from '../image/memoryMap';
import { ArchiveError, CacheOptions } from './archiveCache';
import { CheckpointFiles, CheckpointFilesError, CheckpointMember, joinMember, openCheckpointFiles } from './checkpointFiles';
import { TarError } from './tar';
import { fileProblem, ImageEntry, ImageIndex, indexImage, isImageFile } from './imageIndex';
import { magicLabel, PAGES_FILE } from './imageKinds';
import { DecodedMessage, decodeMessage, flagNames, MessageError, numberDisplay } from './messages';

export type CriuRecordKind = 'folder' | 'file' | 'link' | 'entry' | 'vma';

/** One row of the records tree. Offsets are in the checkpoint's source. */
export interface CriuRecord {
  index: number;
  kind: CriuRecordKind;
  parent?: number;
  children: number[];
  /** The member's path (for entries and VMAs: their file's). */
  path: string;
  member?: CheckpointMember;
  /** Image files: their index. Entries and VMAs: their file's. */
  image?: ImageIndex;
  entry?: ImageEntry;
  /** VMAs: which item of their mm entry's `vmas`. */
  vma?: number;
  /** The record's bytes: [offset, payloadOffset) is its header (magics, a length prefix). */
  offset: number;
  payloadOffset: number;
  len: number;
}

export const PAGE_SIZE = 4096;
const PE_PARENT = 1,
  PE_LAZY = 2,
  PE_PRESENT = 4;
/** Decoded messages kept, counted by their bytes (decoded objects are ~10x larger). */
const CACHE_BYTES = 16 * 1024 * 1024;

/** A message of an image, with the record it came from. */
export interface Entry<T> {
  record: CriuRecord;
  value: T;
}

export interface OpenOptions {
  cache?: CacheOptions;
}

export class CriuCheckpoint {
  readonly records: CriuRecord[] = [];
  private readonly roots: number[] = [];
  readonly problems: ImageProblem[] = [];
  /** Problems found while reading processes and memory (a pagemap past its pages file...). */
  readonly layoutProblems: ImageProblem[] = [];
  private readonly byPath = new Map<string, CriuRecord>();
  private readonly decoded = new Map<CriuRecord, DecodedMessage<unknown>>();
  private decodedBytes = 0;
  private readonly memoryMaps = new Map<string, Promise<MemoryMap<CriuRecord>>>();
  private files_?: Map<number, Entry<FileEntry>>;
  /** The messages of every problem listed, so that one found again is not listed twice. */
  private listed?: Set<string>;
  /** The process tree of each layer, decoded once: every look-up of a process starts from it. */
  private readonly pstrees = new Map<number, Entry<PstreeEntry>[]>();

  private constructor(readonly files: CheckpointFiles) {}

  static async open(where: string, opts: OpenOptions = {}): Promise<CriuCheckpoint> {
    let files: CheckpointFiles;
    try {
      files = await openCheckpointFiles(where, opts.cache);
    } catch (e) {
      // An archive that is not one, or is cut short: a damaged checkpoint, not a failure of the reader.
      if (e instanceof TarError) throw new ImageError({ code: 'truncated', fatal: true, offset: e.offset, message: e.message });
      if (e instanceof CheckpointFilesError || e instanceof ArchiveError) throw new ImageError({ code: 'not-an-image', fatal: true, offset: 0, message: e.message });
      throw e;
    }
    try {
      const c = new CriuCheckpoint(files);
      c.build();
      const inv = c.image('inventory.img');
      if (!inv?.image)
        throw new ImageError(fileProblem('not-an-image', joinMember(files.imagesDir, 'inventory.img'), 0, 'a CRIU checkpoint needs its inventory.img, and there is none', { fatal: true }));
      const fatal = inv.image.problems.find((p) => problemSeverity(p.code) === 'error');
      if (fatal) throw new ImageError({ ...fatal, fatal: true, message: `not a readable CRIU checkpoint: ${fatal.message}` });
      return c;
    } catch (e) {
      await files.close();
      throw e;
    }
  }

  get name(): string {
    return this.files.name;
  }

  /**
   * Where every record's and page's bytes are: the checkpoint's files, followed by a virtual area
   * of zeros that pagemap runs of zero pages point into.
   */
  get source(): ByteSource {
    return this.sourceWithZeros();
  }

  get pageSize(): number {
    return PAGE_SIZE;
  }

  /** Its bytes on disk: the archive's, or the sum of the directory's files. */
  get size(): number {
    return this.files.diskSize;
  }

  // ---- the records tree ------------------------------------------------------------------

  private add(r: Omit<CriuRecord, 'index' | 'children'>): CriuRecord {
    const rec: CriuRecord = { ...r, index: this.records.length, children: [] };
    this.records.push(rec);
    if (rec.parent === undefined) this.roots.push(rec.index);
    else this.records[rec.parent].children.push(rec.index);
    return rec;
  }

  /** The folder record of a member path's folder, made as needed. */
  private folderOf(p: string): number | undefined {
    const slash = p.lastIndexOf('/');
    if (slash < 0) return undefined;
    const dir = p.slice(0, slash);
    let rec = this.byPath.get(dir);
    if (!rec) {
      rec = this.add({ kind: 'folder', parent: this.folderOf(dir), path: dir, offset: 0, payloadOffset: 0, len: 0 });
      this.byPath.set(dir, rec);
    }
    return rec.index;
  }

  private build(): void {
    const src = this.files.source;
    // Folders first, so that their records come before their members'; then files by path.
    const members = [...this.files.members].sort((a, b) => (a.kind === 'dir' ? 0 : 1) - (b.kind === 'dir' ? 0 : 1) || a.path.localeCompare(b.path));
    for (const m of members) {
      if (this.byPath.has(m.path)) continue;
      const kind: CriuRecordKind = m.kind === 'dir' ? 'folder' : m.kind === 'symlink' || m.kind === 'hardlink' ? 'link' : 'file';
      const rec = this.add({ kind, parent: this.folderOf(m.path), path: m.path, member: m, offset: m.offset, payloadOffset: m.offset, len: m.size });
      this.byPath.set(m.path, rec);
      if (kind !== 'file') continue;
      const head = new Uint8Array(Math.min(8, m.size));
      if (head.length) src.readIntoSync!(m.offset, head);
      if (!isImageFile(m, head)) continue;
      const image = indexImage(src, m, rec.index);
      rec.image = image;
      rec.payloadOffset = m.offset + image.headerSize;
      rec.len = m.size - image.headerSize;
      this.problems.push(...image.problems);
      for (const e of image.entries) {
        this.add({ kind: 'entry', parent: rec.index, path: m.path, image, entry: e, offset: e.offset, payloadOffset: e.payloadOffset, len: e.len });
      }
    }
  }

  private inImagesDir(p: string): boolean {
    const dir = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
    return dir === this.files.imagesDir || this.files.parentDirs.includes(dir);
  }

  /** mm entries whose VMA records were made. */
  private readonly vmasMade = new Set<CriuRecord>();

  /**
   * The VMAs of an mm entry, as records of their own (the bytes of each `vmas` item), made when
   * first asked for: opening does not decode memory descriptors of thousands of VMAs.
   */
  private addVmas(mm: CriuRecord): void {
    if (mm.kind !== 'entry' || mm.entry?.message !== 'mm_entry' || this.vmasMade.has(mm)) return;
    this.vmasMade.add(mm);
    const d = this.tryDecode(mm);
    const vmas = d?.fields.find((f) => f.name === 'vmas');
    vmas?.children?.forEach((v, i) => {
      const at = mm.payloadOffset + v.offset;
      this.add({ kind: 'vma', parent: mm.index, path: mm.path, image: mm.image, entry: mm.entry, vma: i, offset: at, payloadOffset: at, len: v.size });
    });
  }

  children(index?: number): readonly number[] {
    if (index === undefined) return this.roots;
    const r = this.records[index];
    if (!r) return [];
    this.addVmas(r);
    return r.children;
  }

  parent(index: number): number | undefined {
    return this.records[index]?.parent;
  }

  /** The record of a file in the images folder (layer 0) or in the folder of a pre-dump (1, 2, ...). */
  image(name: string, layer = 0): CriuRecord | undefined {
    const dir = layer === 0 ? this.files.imagesDir : this.files.parentDirs[layer - 1];
    return dir === undefined ? undefined : this.byPath.get(joinMember(dir, name));
  }

  /** The member at a path, for the engine's files beside the images (config.dump, ...). */
  member(p: string): CriuRecord | undefined {
    return this.byPath.get(p);
  }

  // ---- decoding --------------------------------------------------------------------------

  /** The decoded message of an entry (or a VMA's item), or undefined for other records. Throws ImageError. */
  decode(r: CriuRecord): DecodedMessage<unknown> | undefined {
    if (r.kind === 'vma') {
      const mm = this.decode(this.records[r.parent!]) as DecodedMessage<MmEntry> | undefined;
      const node = mm?.fields.find((f) => f.name === 'vmas')?.children?.[r.vma!];
      const value = mm?.value.vmas[r.vma!];
      if (!node || !value) return undefined;
      return { value, fields: (node.children ?? []).map((c) => shift(c, -node.offset)) };
    }
    if (r.kind !== 'entry' || !r.entry) return undefined;
    const hit = this.decoded.get(r);
    if (hit) {
      this.decoded.delete(r);
      this.decoded.set(r, hit);
      return hit;
    }
    const bytes = new Uint8Array(r.len);
    this.source.readIntoSync!(r.payloadOffset, bytes);
    let d: DecodedMessage<unknown>;
    try {
      d = r.entry.message ? decodeMessage(r.entry.message, bytes) : decodeMessage('undeclared_message', bytes);
    } catch (e) {
      if (!(e instanceof MessageError)) throw e;
      throw new ImageError(fileProblem('bad-payload', r.path, r.entry.offset - r.image!.member.offset, e.message, { record: r.index, entry: r.entry.number }));
    }
    this.remember(r, d);
    return d;
  }

  /** decode(), or undefined when the message cannot be decoded. */
  tryDecode(r: CriuRecord): DecodedMessage<unknown> | undefined {
    try {
      return this.decode(r);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      return undefined;
    }
  }

  private remember(r: CriuRecord, d: DecodedMessage<unknown>): void {
    this.decoded.set(r, d);
    this.decodedBytes += r.len + 256;
    if (this.decodedBytes <= CACHE_BYTES) return;
    // Down to three quarters at once: evicting one entry per call walks the Map's holes from its
    // start each time, which for millions of entries is quadratic (as the .ckpt cache found).
    for (const [k] of this.decoded) {
      if (this.decodedBytes <= (CACHE_BYTES / 4) * 3) break;
      this.decoded.delete(k);
      this.decodedBytes -= k.len + 256;
    }
  }

  /** The decoded entries of an image file, skipping (and reporting) those that cannot be decoded. */
  entries<T>(file: CriuRecord | undefined): Entry<T>[] {
    if (!file) return [];
    const out: Entry<T>[] = [];
    for (const i of file.children) {
      const r = this.records[i];
      if (r.kind !== 'entry') continue;
      try {
        const d = this.decode(r);
        if (d) out.push({ record: r, value: d.value as T });
      } catch (e) {
        if (!(e instanceof ImageError)) throw e;
        this.note(e.problem);
      }
    }
    return out;
  }

  /** The first entry of an image file. */
  first<T>(file: CriuRecord | undefined): Entry<T> | undefined {
    return this.entries<T>(file)[0];
  }

  private note(p: ImageProblem): void {
    // A Set, not a search of the lists: a hostile pagemap makes a problem of each of millions of runs.
    this.listed ??= new Set([...this.problems, ...this.layoutProblems].map((q) => q.message));
    if (this.listed.has(p.message)) return;
    this.listed.add(p.message);
    this.layoutProblems.push(p);
  }

  /** The header of a record as fields: an image's magics, an entry's length prefix. */
  headerFields(r: CriuRecord): FieldNode[] {
    if (r.kind === 'file' && r.image) {
      const bytes = new Uint8Array(r.image.headerSize);
      this.source.readIntoSync!(r.offset, bytes);
      const fields: FieldNode[] = [
        {
          name: 'magic',
          display: `${magicLabel(r.image.magic)} (0x${r.image.magic.toString(16)})`,
          json: magicLabel(r.image.magic),
          offset: 0,
          size: 4,
          doc: 'The first magic number (formats/criu_image.ksy).',
        },
      ];
      if (r.image.kindMagic !== undefined)
        fields.push({
          name: 'kind_magic',
          display: `${magicLabel(r.image.kindMagic)} (0x${r.image.kindMagic.toString(16)})`,
          json: magicLabel(r.image.kindMagic),
          offset: 4,
          size: 4,
          doc: 'The magic of the kind of image.',
        });
      return fields;
    }
    if (r.kind === 'entry') {
      const b = new Uint8Array(4);
      this.source.readIntoSync!(r.offset, b);
      const h = new CriuImage.EntryHead(payloadStream(b));
      h._read();
      return [{ name: 'len', display: String(h.len), json: h.len, offset: 0, size: 4, doc: 'Length of the protobuf message that follows.' }];
    }
    return [];
  }

  // ---- what the images say ----------------------------------------------------------------

  inventory(): InventoryEntry | undefined {
    return this.first<InventoryEntry>(this.image('inventory.img'))?.value;
  }

  pstree(layer = 0): Entry<PstreeEntry>[] {
    let tree = this.pstrees.get(layer);
    if (!tree) this.pstrees.set(layer, (tree = this.entries<PstreeEntry>(this.image('pstree.img', layer))));
    return tree;
  }

  core(tid: number, layer = 0): Entry<CoreEntry> | undefined {
    return this.first<CoreEntry>(this.image(`core-${tid}.img`, layer));
  }

  ids(pid: number): TaskKobjIdsEntry | undefined {
    return this.first<TaskKobjIdsEntry>(this.image(`ids-${pid}.img`))?.value;
  }

  mm(pid: number, layer = 0): Entry<MmEntry> | undefined {
    return this.first<MmEntry>(this.image(`mm-${pid}.img`, layer));
  }

  fs(pid: number): FsEntry | undefined {
    return this.first<FsEntry>(this.image(`fs-${pid}.img`))?.value;
  }

  utsns(): UtsnsEntry | undefined {
    const rec = this.records.find((r) => r.kind === 'file' && r.image?.kind?.label === 'utsns' && this.inImagesDir(r.path) && !this.files.parentDirs.some((d) => r.path.startsWith(`${d}/`)));
    return this.first<UtsnsEntry>(rec)?.value;
  }

  /** files.img: every open file description, by id. */
  fileEntries(): Map<number, Entry<FileEntry>> {
    if (!this.files_) {
      this.files_ = new Map();
      for (const e of this.entries<FileEntry>(this.image('files.img'))) if (e.value.id !== undefined) this.files_.set(e.value.id, e);
    }
    return this.files_;
  }

  /** The descriptors of a process: fdinfo-ID.img, by its files_id (older images: by pid). */
  fdinfo(pid: number): Entry<FdinfoEntry>[] {
    const id = this.ids(pid)?.files_id;
    const file = (id !== undefined && this.inventory()?.fdinfo_per_id !== false ? this.image(`fdinfo-${id}.img`) : undefined) ?? this.image(`fdinfo-${pid}.img`);
    return this.entries<FdinfoEntry>(file);
  }

  /** The bytes buffered in pipes (pipes-data.img), by pipe id. */
  pipeData(): Map<number, { entry: Entry<PipeDataEntry>; length: number }> {
    const out = new Map<number, { entry: Entry<PipeDataEntry>; length: number }>();
    for (const e of this.entries<PipeDataEntry>(this.image('pipes-data.img'))) if (e.value.pipe_id !== undefined) out.set(e.value.pipe_id, { entry: e, length: e.record.entry?.extra?.length ?? 0 });
    return out;
  }

  /** The packets queued on sockets (sk-queues.img), by the receiving socket's file id. */
  socketQueues(): Map<number, { packets: number; bytes: number }> {
    const out = new Map<number, { packets: number; bytes: number }>();
    for (const e of this.entries<SkPacketEntry>(this.image('sk-queues.img'))) {
      const id = e.value.id_for;
      if (id === undefined) continue;
      const q = out.get(id) ?? { packets: 0, bytes: 0 };
      q.packets++;
      q.bytes += e.record.entry?.extra?.length ?? 0;
      out.set(id, q);
    }
    return out;
  }

  /** The raw bytes after an entry's message (a pipe's data, a queued packet). */
  async extraBytes(r: CriuRecord, max = 64 * 1024): Promise<Uint8Array> {
    const x = r.entry?.extra;
    if (!x) return new Uint8Array(0);
    return this.source.read(x.offset, Math.min(max, x.length));
  }

  /** A path for a file id of files.img (regular files and directories); '' when it has none. */
  filePath(id: number | bigint | undefined): string {
    if (id === undefined) return '';
    return this.fileEntries().get(Number(id))?.value.reg?.name ?? '';
  }

  // ---- memory ----------------------------------------------------------------------------

  /** The memory map of a process (of this checkpoint, or of a pre-dump of it: layer 1, 2, ...), built once. */
  memory(pid: number, layer = 0): Promise<MemoryMap<CriuRecord>> {
    const key = `${layer}:${pid}`;
    let m = this.memoryMaps.get(key);
    if (!m) {
      m = this.buildMemory(pid, layer);
      this.memoryMaps.set(key, m);
    }
    return m;
  }

  private async buildMemory(pid: number, layer: number): Promise<MemoryMap<CriuRecord>> {
    const vmas: VmaInfo<CriuRecord>[] = [];
    const mm = this.mm(pid, layer);
    if (mm) {
      const vmaRecords = this.children(mm.record.index)
        .map((i) => this.records[i])
        .filter((r) => r.kind === 'vma');
      mm.value.vmas.forEach((v, i) => {
        const rec = vmaRecords[i];
        if (rec && v.start !== undefined && v.end !== undefined && v.end > v.start) vmas.push(this.vmaInfo(rec, v));
      });
    } else if (layer === 0) {
      this.note(fileProblem('inconsistent', joinMember(this.files.imagesDir, `mm-${pid}.img`), 0, `process ${pid} has no memory descriptor image`));
    }
    // The map keeps what does not overlap what comes before it, so that lookups by address are
    // binary searches; the rest is reported.
    const byStart = (a: { start: bigint }, b: { start: bigint }) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0);
    const kept = <T extends { start: bigint; end: bigint; entry?: CriuRecord; pagemap?: CriuRecord }>(list: T[], what: string): T[] => {
      const out: T[] = [];
      for (const x of list.sort(byStart)) {
        if (out.length && x.start < out[out.length - 1].end) {
          const r = (x.entry ?? x.pagemap)!;
          this.note(fileProblem('inconsistent', r.path, r.offset - (r.image?.member.offset ?? 0), `${what} at ${hex(x.start)} overlaps the one before it`, { record: r.index }));
        } else out.push(x);
      }
      return out;
    };
    const mapped = kept(vmas, 'a VMA');
    // Since Linux 6.x the vvar area is two, [vvar] then [vvar_vclock]; CRIU calls both VVAR.
    for (let i = 1; i < mapped.length; i++) {
      if (mapped[i].kind === 'vvar' && mapped[i - 1].kind === 'vvar' && mapped[i - 1].end === mapped[i].start) mapped[i] = { ...mapped[i], kind: 'vvar_vclock', path: '[vvar_vclock]' };
    }
    const segments: PageSegment<CriuRecord>[] = [];
    const pagemapFile = this.image(`pagemap-${pid}.img`, layer);
    const entries = this.entries<PagemapHead & PagemapEntry>(pagemapFile);
    const head = entries[0];
    const pagesFile = head?.value.pages_id !== undefined ? this.image(`pages-${head.value.pages_id}.img`, layer) : undefined;
    if (pagemapFile && head && !pagesFile) {
      this.note(fileProblem('inconsistent', pagemapFile.path, 0, `its pages are in pages-${head.value.pages_id}.img, which the checkpoint does not have`, { record: pagemapFile.index }));
    }
    const ps = BigInt(PAGE_SIZE);
    const pagesInFile = pagesFile?.member ? Math.floor(pagesFile.member.size / PAGE_SIZE) : 0;
    let page = 0;
    let zeroBytes = 0n;
    let parent: MemoryMap<CriuRecord> | undefined;
    for (const e of entries.slice(1)) {
      const { vaddr, flags: f, in_parent } = e.value;
      const n = Number(e.value.nr_pages ?? BigInt(e.value.compat_nr_pages ?? 0));
      if (vaddr === undefined || n === 0) continue;
      const flags = f ?? (in_parent ? PE_PARENT : PE_PRESENT);
      const start = vaddr,
        end = vaddr + BigInt(n) * ps;
      const where = () => (e.record.entry ? e.record.entry.offset - e.record.image!.member.offset : 0);
      if (vaddr % ps !== 0n) {
        this.note(fileProblem('inconsistent', e.record.path, where(), `a run at ${hex(vaddr)} is not page-aligned`, { record: e.record.index, entry: e.record.entry?.number }));
        continue;
      }
      if (flags & PE_PRESENT) {
        if (!pagesFile?.member) continue;
        if (page + n > pagesInFile) {
          this.note(
            fileProblem(
              'inconsistent',
              e.record.path,
              where(),
              `the run of ${n} pages at ${hex(vaddr)} needs pages ${page} to ${page + n - 1} of ${pagesFile.path}, which holds ${pagesInFile} pages (${pagesFile.member.size} bytes): the pagemap runs past the pages file`,
              { record: e.record.index, entry: e.record.entry?.number },
            ),
          );
          page += n;
          continue;
        }
        segments.push({ start, end, fileOffset: pagesFile.member.offset + page * PAGE_SIZE, pagemap: e.record, pages: pagesFile, firstPage: page });
        page += n;
      } else if (flags & PE_PARENT) {
        if (layer >= this.files.parentDirs.length) {
          this.note(
            fileProblem('inconsistent', e.record.path, where(), `the run of ${n} pages at ${hex(vaddr)} is in the parent checkpoint, and there is no parent link to one`, {
              record: e.record.index,
              entry: e.record.entry?.number,
            }),
          );
          continue;
        }
        parent ??= await this.memory(pid, layer + 1);
        const found = piecesIn(parent, start, end);
        let covered = 0n;
        for (const s of found) {
          segments.push(s);
          covered += s.end - s.start;
        }
        if (covered < end - start) {
          this.note(
            fileProblem('inconsistent', e.record.path, where(), `${Number((end - start - covered) / ps)} of the ${n} pages at ${hex(vaddr)} that are in the parent checkpoint are not in it`, {
              record: e.record.index,
              entry: e.record.entry?.number,
            }),
          );
        }
      } else if (!(flags & PE_LAZY)) {
        // Neither present, nor in the parent, nor lazy: pages known to be zero. They read as zeros
        // only inside a VMA and up to a bound, so that a hostile pagemap cannot make a search scan
        // terabytes of zeros that no file holds.
        const v = lastStartingAtOrBefore(mapped, start);
        const inVma = v !== undefined && end <= v.end;
        zeroBytes += end - start;
        if (!inVma || zeroBytes > MAX_ZERO_BYTES) {
          this.note(
            fileProblem(
              'inconsistent',
              e.record.path,
              where(),
              `the run of ${n} zero pages at ${hex(vaddr)} ${inVma ? `brings the zero pages of the process past ${MAX_ZERO_BYTES} bytes` : 'lies outside every VMA'}: left out`,
              { record: e.record.index, entry: e.record.entry?.number },
            ),
          );
          continue;
        }
        segments.push({ start, end, fileOffset: -1, pagemap: e.record, pages: e.record, firstPage: 0 });
      }
    }
    return new MemoryMap(
      this.sourceWithZeros(),
      PAGE_SIZE,
      mapped,
      kept(segments, 'a run of pages').map((s) => (s.fileOffset === -1 ? { ...s, fileOffset: this.zeroOffset } : s)),
    );
  }

  /** A VMA of CRIU's model in the common model (the .ckpt format's kinds, flags and names). */
  vmaInfo(rec: CriuRecord, v: VmaEntry): VmaInfo<CriuRecord> {
    return { entry: rec, ...criuVmaFacts(v, (id) => this.filePath(id)) };
  }

  /** Zero pages read from a virtual area of zeros past the checkpoint's files. */
  private zeroSource?: ByteSource;
  private get zeroOffset(): number {
    return this.files.source.size;
  }

  private sourceWithZeros(): ByteSource {
    if (!this.zeroSource) {
      const inner = this.files.source;
      const limit = inner.size;
      const size = limit + MAX_ZERO_RUN;
      const fill = (offset: number, target: Uint8Array) => {
        if (offset + target.length <= limit) return inner.readIntoSync!(offset, target);
        if (offset < 0 || offset + target.length > size) throw new RangeError(`read of ${target.length} bytes at offset ${offset} is outside ${inner.name}`);
        const head = Math.max(0, Math.min(target.length, limit - offset));
        if (head) inner.readIntoSync!(offset, target.subarray(0, head));
        target.fill(0, head);
      };
      this.zeroSource = {
        name: inner.name,
        size,
        readIntoSync: fill,
        read: async (offset, length) => {
          const out = new Uint8Array(length);
          fill(offset, out);
          return out;
        },
        close: async () => {},
      };
    }
    return this.zeroSource;
  }

  // ---- descriptions ------------------------------------------------------------------------

  /** A title and a one-line description of a record, for the trees. */
  describe(r: CriuRecord): { title: string; detail: string; error?: string } {
    const name = r.path.split('/').pop() ?? r.path;
    if (r.kind === 'folder') return { title: 'FOLDER', detail: `${name}/` };
    if (r.kind === 'link') return { title: 'LINK', detail: `${name} -> ${r.member?.linkTarget ?? '?'}` };
    if (r.kind === 'file') {
      const size = r.member?.size ?? 0;
      if (r.image) {
        const kind = r.image.kind?.name ?? magicLabel(r.image.kindMagic ?? r.image.magic);
        const n = r.image.entries.length;
        return { title: kind, detail: `${name}: ${n} entr${n === 1 ? 'y' : 'ies'}, ${size} bytes${r.image.kind?.message ? '' : ' (not decoded by this reader)'}` };
      }
      if (PAGES_FILE.test(name)) return { title: 'PAGES', detail: `${name}: ${Math.floor(size / PAGE_SIZE)} pages` };
      return { title: 'FILE', detail: `${name}: ${size} bytes` };
    }
    const title = r.kind === 'vma' ? 'VMA' : (r.entry?.message ?? 'entry').replace(/_entry$/, '').toUpperCase();
    try {
      const d = this.decode(r);
      return { title, detail: d ? this.entryDetail(r, d.value as Record<string, unknown>) : '' };
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      return { title, detail: 'cannot be decoded', error: e.message };
    }
  }

  private entryDetail(r: CriuRecord, v: Record<string, unknown>): string {
    const x = v as never;
    switch (r.kind === 'vma' ? 'vma_entry' : r.entry?.message) {
      case 'pstree_entry': {
        const p = x as PstreeEntry;
        return `pid ${p.pid} (ppid ${p.ppid}, pgid ${p.pgid}, sid ${p.sid}), ${p.threads.length} thread${p.threads.length === 1 ? '' : 's'}`;
      }
      case 'core_entry': {
        const c = x as CoreEntry;
        const tid = /core-(\d+)\.img$/.exec(r.path)?.[1];
        return `thread ${tid} ${JSON.stringify(c.thread_core?.comm ?? c.tc?.comm ?? '')}${c.tc ? ' (main thread)' : ''} ip ${hex(c.thread_info?.gpregs?.ip ?? 0n)} sp ${hex(c.thread_info?.gpregs?.sp ?? 0n)}`;
      }
      case 'mm_entry': {
        const m = x as MmEntry;
        return `${m.vmas.length} VMAs, exe ${JSON.stringify(this.filePath(m.exe_file_id))}, brk ${hex(m.mm_brk ?? 0n)}`;
      }
      case 'vma_entry': {
        const info = this.vmaInfo(r, x as VmaEntry);
        return `${hex(info.start)}-${hex(info.end)} ${numberDisplay('flags:vma_prot', info.prot).display.replace(/ \(.*$/, '')} ${info.kind}${info.path ? ` ${info.path}` : ''}`;
      }
      case 'pagemap_head':
        return `pages in pages-${(x as PagemapHead).pages_id}.img`;
      case 'pagemap_entry': {
        const e = x as PagemapEntry;
        const n = Number(e.nr_pages ?? BigInt(e.compat_nr_pages ?? 0));
        return `${hex(e.vaddr ?? 0n)}, ${n} page${n === 1 ? '' : 's'}, ${flagNames('pagemap_flags', e.flags ?? 0).names.join('|') || (e.in_parent ? 'in parent' : 'zero')}`;
      }
      case 'file_entry': {
        const f = x as FileEntry;
        const type = numberDisplay('enum:fd_types', f.type ?? 0).json;
        if (f.reg) return `${type} id ${f.id} ${JSON.stringify(f.reg.name ?? '')} pos ${f.reg.pos ?? 0n}`;
        if (f.pipe) return `${type} id ${f.id} pipe:[${f.pipe.pipe_id}] ${f.pipe.flags ? 'write end' : 'read end'}`;
        if (f.usk) return `${type} id ${f.id} ino ${f.usk.ino} peer ${f.usk.peer}`;
        if (f.isk) return `${type} id ${f.id} ports ${f.isk.src_port} -> ${f.isk.dst_port}`;
        return `${type} id ${f.id}`;
      }
      case 'fdinfo_entry': {
        const f = x as FdinfoEntry;
        return `fd ${f.fd} -> file id ${f.id} (${numberDisplay('enum:fd_types', f.type ?? 0).json})${f.flags ? ' cloexec' : ''}`;
      }
      case 'task_kobj_ids_entry':
        return `files ${(x as TaskKobjIdsEntry).files_id}, vm ${(x as TaskKobjIdsEntry).vm_id}`;
      case 'inventory_entry': {
        const i = x as InventoryEntry;
        return `image version ${i.img_version}, run ${i.dump_criu_run_id ?? '?'}`;
      }
      case 'fs_entry': {
        const f = x as FsEntry;
        return `cwd ${JSON.stringify(this.filePath(f.cwd_id))}, root ${JSON.stringify(this.filePath(f.root_id))}, umask 0o${(f.umask ?? 0).toString(8)}`;
      }
      case 'pipe_data_entry': {
        const p = x as PipeDataEntry;
        return `pipe:[${p.pipe_id}] holds ${p.bytes} bytes`;
      }
      case 'sk_packet_entry': {
        const p = x as SkPacketEntry;
        return `${p.length} bytes queued for socket id ${p.id_for}`;
      }
      case 'utsns_entry':
        return `host ${JSON.stringify((x as UtsnsEntry).nodename ?? '')}`;
      default: {
        const d = this.decoded.get(r);
        return d ? `${d.fields.length} field${d.fields.length === 1 ? '' : 's'}` : '';
      }
    }
  }

  async close(): Promise<void> {
    this.decoded.clear();
    await this.files.close();
  }
}

/** The most bytes of zero pages a process's memory map takes (they are read from a virtual area of zeros). */
const MAX_ZERO_BYTES = 4n * 1024n * 1024n * 1024n;
/** The size of that virtual area: every zero run is at most MAX_ZERO_BYTES long. */
const MAX_ZERO_RUN = Number(MAX_ZERO_BYTES);

/** The last of `list` (sorted by start) that starts at or before `addr`: a binary search. */
function lastStartingAtOrBefore<T extends { start: bigint }>(list: T[], addr: bigint): T | undefined {
  let lo = 0,
    hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].start <= addr) lo = mid + 1;
    else hi = mid;
  }
  return list[lo - 1];
}

/** The parts of `map`'s segments inside [start, end), cut to it. */
function piecesIn<R extends { index: number }>(map: MemoryMap<R>, start: bigint, end: bigint): PageSegment<R>[] {
  const out: PageSegment<R>[] = [];
  // From the first segment that ends after `start` (a binary search), while they start before `end`.
  for (let i = map.segmentFrom(start); i < map.segments.length && map.segments[i].start < end; i++) {
    const s = map.segments[i];
    const a = s.start > start ? s.start : start;
    const b = s.end < end ? s.end : end;
    const skip = Number(a - s.start);
    out.push({ ...s, start: a, end: b, fileOffset: s.fileOffset + skip, firstPage: s.firstPage + skip / PAGE_SIZE });
  }
  return out;
}

function shift(f: FieldNode, by: number): FieldNode {
  return { ...f, offset: f.offset + by, ...(f.children ? { children: f.children.map((c) => shift(c, by)) } : {}) };
}

/** CRIU's madvise bits (1 << MADV_x) that .ckpt's vma_flags name. */
const MADV_DONTFORK = 1n << 10n,
  MADV_DONTDUMP = 1n << 16n,
  MADV_WIPEONFORK = 1n << 18n;
const MAP_SHARED = 1,
  MAP_GROWSDOWN = 0x100,
  MAP_LOCKED = 0x2000;
/** .ckpt's vma_flags bits. */
export const CKPT_VMA_FLAGS = { shared: 1, growsDown: 2, locked: 4, dontDump: 8, dontFork: 16, wipeOnFork: 32, fileDeleted: 64 } as const;
/** What /proc/PID/maps calls MAP_SHARED|MAP_ANONYMOUS memory (a shmem file). */
export const ANON_SHARED_PATH = '/dev/zero (deleted)';

/**
 * A CRIU VMA's kind, flags and name as the .ckpt format has them (and as /proc/PID/maps names
 * them): one mapping for the reader, the comparison and the converters.
 */
export function criuVmaFacts(v: VmaEntry, filePath: (id: number | bigint | undefined) => string): Omit<VmaInfo<CriuRecord>, 'entry'> {
  const status = v.status ?? 0,
    flags = v.flags ?? 0,
    madv = BigInt(v.madv ?? 0n);
  const named = (label: string) => flagNames('vma_status', status).names.includes(label);
  const fileBacked = named('VMA_FILE_PRIVATE') || named('VMA_FILE_SHARED');
  let kind: string;
  let path = fileBacked ? filePath(v.shmid) : '';
  if (named('VMA_AREA_VDSO')) ((kind = 'vdso'), (path = '[vdso]'));
  else if (named('VMA_AREA_VVAR')) ((kind = 'vvar'), (path = '[vvar]'));
  else if (named('VMA_AREA_VSYSCALL')) ((kind = 'vsyscall'), (path = '[vsyscall]'));
  else if (named('VMA_AREA_HEAP')) ((kind = 'heap'), (path = '[heap]'));
  else if (named('VMA_AREA_STACK') || (flags & MAP_GROWSDOWN) !== 0) ((kind = 'stack'), (path = '[stack]'));
  else if (named('VMA_FILE_SHARED')) kind = 'file_shared';
  else if (named('VMA_FILE_PRIVATE')) kind = 'file_private';
  else if (named('VMA_ANON_SHARED')) ((kind = 'anon_shared'), (path = ANON_SHARED_PATH));
  else if (named('VMA_ANON_PRIVATE')) kind = 'anon_private';
  else kind = 'unknown';
  const F = CKPT_VMA_FLAGS;
  const ckptFlags =
    (flags & MAP_SHARED ? F.shared : 0) |
    (flags & MAP_GROWSDOWN ? F.growsDown : 0) |
    (flags & MAP_LOCKED ? F.locked : 0) |
    (madv & MADV_DONTDUMP ? F.dontDump : 0) |
    (madv & MADV_DONTFORK ? F.dontFork : 0) |
    (madv & MADV_WIPEONFORK ? F.wipeOnFork : 0) |
    (path.endsWith(' (deleted)') ? F.fileDeleted : 0);
  return { start: v.start!, end: v.end!, prot: v.prot ?? 0, flags: ckptFlags, kind, path, offset: v.pgoff ?? 0n };
}

/**
 * The signal each entry of a task's `sigactions` is for: CRIU writes one per signal from 1 to
 * 64 but SIGKILL and SIGSTOP (whose dispositions cannot change), 62 in all.
 */
export function criuSigactionSignals(count: number): number[] {
  const out: number[] = [];
  for (let sig = 1; out.length < count && sig <= 64; sig++) if (sig !== 9 && sig !== 19) out.push(sig);
  return out;
}
