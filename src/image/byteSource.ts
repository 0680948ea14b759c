// Every read of an image goes through a ByteSource, so that files of any size (over 2 GiB too),
// in-memory test images and, later, remote files are one abstraction. Reads are positional
// and never assume the whole image fits in memory.

import { promises as fsp } from 'fs';

export interface ByteSource {
  /** Size of the image in bytes. */
  readonly size: number;
  /** A name for messages, usually the file path. */
  readonly name: string;
  /**
   * Exactly `length` bytes at `offset`. Throws a RangeError when the range is not inside the
   * source, so a short read can never be mistaken for data.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

function checkRange(src: ByteSource, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > src.size) {
    throw new RangeError(`read of ${length} bytes at offset ${offset} is outside ${src.name} (${src.size} bytes)`);
  }
}

export class FileByteSource implements ByteSource {
  private constructor(
    private readonly handle: fsp.FileHandle,
    readonly size: number,
    readonly name: string,
  ) {}

  static async open(path: string): Promise<FileByteSource> {
    const handle = await fsp.open(path, 'r');
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new Error(`${path} is not a regular file`);
      return new FileByteSource(handle, st.size, path);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new RangeError(`${this.name} shrank while being read (at offset ${offset + done})`);
      done += bytesRead;
    }
    return buf;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

export class BufferByteSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = 'image in memory',
  ) {
    this.size = bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }

  async close(): Promise<void> {}
}
