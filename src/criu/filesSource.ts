// Many files read as one ByteSource: a CRIU image directory (and its parent directories, for
// pre-dump chains) laid side by side at page-aligned offsets, so that everything above it (record
// offsets, the memory map's segments, search, the hex views) works with one source and plain
// offsets, as it does for a .ckpt file. Each file is opened on its first read and kept open, up to
// a bound; reads between files (alignment padding) read as zeros.

import fs from 'fs';
import { ByteSource, SourceError } from '../image/byteSource';

export interface PlacedFile {
  /** Absolute path on disk. */
  path: string;
  /** Where its bytes start in the combined source, and how many there are (as listed). */
  base: number;
  size: number;
}

const ALIGN = 4096;
/** The room a file takes in the combined source: its size rounded up to a page, at least a page. */
const span = (size: number) => Math.ceil(size / ALIGN) * ALIGN || ALIGN;
/** Files kept open at once; the least recently read is closed past this. */
const MAX_OPEN = 64;

export class FilesSource implements ByteSource {
  readonly size: number;
  private readonly open = new Map<PlacedFile, number>();

  private constructor(
    readonly name: string,
    readonly files: PlacedFile[],
  ) {
    const last = files[files.length - 1];
    this.size = last ? last.base + last.size : 0;
  }

  /** Places files (path and size) one after another; returns where each went. */
  static place(name: string, list: { path: string; size: number }[]): FilesSource {
    const files: PlacedFile[] = [];
    let at = 0;
    for (const f of list) {
      files.push({ path: f.path, base: at, size: f.size });
      at += span(f.size);
    }
    return new FilesSource(name, files);
  }

  private fileAt(offset: number): PlacedFile | undefined {
    let lo = 0,
      hi = this.files.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const f = this.files[mid];
      if (offset < f.base) hi = mid - 1;
      else if (offset >= f.base + span(f.size)) lo = mid + 1;
      else return f;
    }
    return undefined;
  }

  private fd(f: PlacedFile): number {
    let fd = this.open.get(f);
    if (fd !== undefined) {
      this.open.delete(f);
      this.open.set(f, fd);
      return fd;
    }
    // O_NONBLOCK: a file replaced by a FIFO since it was listed is refused, not waited on.
    fd = fs.openSync(f.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    if (!fs.fstatSync(fd).isFile()) {
      fs.closeSync(fd);
      throw new SourceError(f.path, 'it is no longer a regular file');
    }
    this.open.set(f, fd);
    if (this.open.size > MAX_OPEN) {
      const [oldest, ofd] = this.open.entries().next().value as [PlacedFile, number];
      this.open.delete(oldest);
      fs.closeSync(ofd);
    }
    return fd;
  }

  readIntoSync(offset: number, target: Uint8Array): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + target.length > this.size) {
      throw new RangeError(`read of ${target.length} bytes at offset ${offset} is outside ${this.name} (${this.size} bytes)`);
    }
    let done = 0;
    while (done < target.length) {
      const at = offset + done;
      const f = this.fileAt(at);
      if (!f) throw new RangeError(`offset ${at} of ${this.name} is in no file`);
      const inFile = at - f.base;
      if (inFile >= f.size) {
        // Padding up to the next file.
        const pad = Math.min(target.length - done, span(f.size) - inFile);
        target.fill(0, done, done + pad);
        done += pad;
        continue;
      }
      const want = Math.min(target.length - done, f.size - inFile);
      const n = fs.readSync(this.fd(f), target, done, want, inFile);
      if (n === 0) throw new SourceError(f.path, `the file shrank while being read (at offset ${inFile}, it had ${f.size} bytes)`);
      done += n;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = Buffer.allocUnsafe(length);
    this.readIntoSync(offset, out);
    return out;
  }

  async close(): Promise<void> {
    for (const fd of this.open.values()) fs.closeSync(fd);
    this.open.clear();
  }
}
