// Compressed checkpoint archives (.tar.gz, .tar.zst) are decompressed once, streaming, into one
// cache file, which is then read in place like an uncompressed archive: nothing is unpacked into
// member files, and memory stays at one chunk. The cache is keyed by the archive's identity (path,
// device, inode, size, modification time), so that reopening an unchanged archive costs nothing
// and a changed one is decompressed again; it is bounded in bytes, the least recently used files
// going first, and files left by a crashed run are removed. Decompression runs in this thread
// (zstd through fzstd, gzip through zlib), in bounded slices with turns for the event loop.

import { createHash, randomBytes } from 'crypto';
import fs, { promises as fsp } from 'fs';
import os from 'os';
import path from 'path';
import zlib from 'zlib';
import { Decompress as ZstdDecompress } from 'fzstd';

export type Compression = 'none' | 'gzip' | 'zstd';

/** An archive that does not decompress, or decompresses to more than the cache may hold. */
export class ArchiveError extends Error {}

/** What an archive's first bytes say it is. */
export function compressionOf(head: Uint8Array): Compression | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 262 && Buffer.from(head.subarray(257, 262)).toString('latin1') === 'ustar') return 'none';
  return undefined;
}

export interface CacheOptions {
  /** Where the cache lives (default: ckpt-explorer-archives in the OS temp folder). */
  dir?: string;
  /** Most bytes the cache holds; older files go first (default 8 GiB). A larger archive fails. */
  maxBytes?: number;
  signal?: AbortSignal;
  onProgress?: (p: { readBytes: number; totalBytes: number; writtenBytes: number }) => void;
}

export const DEFAULT_CACHE_BYTES = 8 * 1024 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;
/** Partial files older than this were left by a run that died. */
const STALE_PARTIAL_MS = 60 * 60 * 1000;

export function defaultCacheDir(): string {
  return path.join(os.tmpdir(), 'ckpt-explorer-archives');
}

async function identity(archive: string): Promise<string> {
  const real = await fsp.realpath(archive);
  const st = await fsp.stat(real);
  return createHash('sha256').update(`${real}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 32);
}

/**
 * The decompressed tar of a compressed archive: its cache file, made now if it is not there.
 * Throws when the archive does not decompress (naming the archive and how far it got), or when it
 * decompresses to more than the cache may hold.
 */
export async function decompressedArchive(archive: string, compression: Exclude<Compression, 'none'>, opts: CacheOptions = {}): Promise<string> {
  const dir = opts.dir ?? defaultCacheDir();
  const maxBytes = opts.maxBytes ?? DEFAULT_CACHE_BYTES;
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${await identity(archive)}.tar`);
  try {
    const now = new Date();
    await fsp.utimes(file, now, now); // most recently used
    return file;
  } catch {
    // not cached yet
  }
  const partial = `${file}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await decompressTo(archive, compression, partial, maxBytes, opts);
    await fsp.rename(partial, file);
  } catch (e) {
    await fsp.rm(partial, { force: true });
    throw e;
  }
  await evict(dir, maxBytes, file);
  return file;
}

async function decompressTo(archive: string, compression: 'gzip' | 'zstd', out: string, maxBytes: number, opts: CacheOptions): Promise<void> {
  const input = await fsp.open(archive, 'r');
  const output = await fsp.open(out, 'wx', 0o600);
  const totalBytes = (await input.stat()).size;
  let readBytes = 0,
    writtenBytes = 0;
  const pending: Uint8Array[] = [];
  const sink = (chunk: Uint8Array) => {
    writtenBytes += chunk.length;
    if (writtenBytes > maxBytes) throw new ArchiveError(`${archive} decompresses to more than ${maxBytes} bytes, more than the archive cache may hold`);
    pending.push(chunk);
  };
  try {
    const decoder = compression === 'zstd' ? zstdDecoder(sink) : gzipDecoder(sink);
    for (;;) {
      opts.signal?.throwIfAborted();
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      const { bytesRead } = await input.read(buf, 0, READ_CHUNK, readBytes);
      readBytes += bytesRead;
      const last = bytesRead === 0 || readBytes >= totalBytes;
      try {
        await decoder.push(buf.subarray(0, bytesRead), last);
      } catch (e) {
        if (e instanceof ArchiveError) throw e;
        throw new ArchiveError(`${archive} is not a sound ${compression} stream (about ${readBytes} bytes in): ${(e as Error).message}`);
      }
      for (const c of pending.splice(0)) await output.write(c);
      opts.onProgress?.({ readBytes, totalBytes, writtenBytes });
      if (last) break;
    }
    await output.sync();
  } finally {
    await input.close();
    await output.close();
  }
}

interface Decoder {
  push(chunk: Uint8Array, last: boolean): Promise<void>;
}

function zstdDecoder(sink: (c: Uint8Array) => void): Decoder {
  // fzstd hands out views of its window and keeps views of the input it has not used yet: what
  // it hands out is copied, and each input chunk is a buffer of its own (see decompressTo).
  const z = new ZstdDecompress((chunk) => sink(Buffer.from(chunk)));
  return {
    async push(chunk, last) {
      z.push(chunk, last);
    },
  };
}

function gzipDecoder(sink: (c: Uint8Array) => void): Decoder {
  const gunzip = zlib.createGunzip();
  let error: Error | undefined;
  let ended = false;
  gunzip.on('data', (c: Buffer) => sink(c));
  gunzip.on('error', (e) => (error = e));
  gunzip.on('end', () => (ended = true));
  return {
    async push(chunk, last) {
      await new Promise<void>((resolve) => (gunzip.write(chunk) ? resolve() : gunzip.once('drain', resolve)));
      if (last) {
        await new Promise<void>((resolve) => {
          gunzip.once('end', resolve);
          gunzip.once('error', () => resolve());
          gunzip.end();
        });
        if (!ended && !error) error = new Error('the stream ends early');
      } else {
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (error) throw error;
    },
  };
}

/** Removes the least recently used cache files until the cache holds at most maxBytes; never `keep`. */
async function evict(dir: string, maxBytes: number, keep: string): Promise<void> {
  const entries: { file: string; size: number; used: number }[] = [];
  for (const name of await fsp.readdir(dir)) {
    const file = path.join(dir, name);
    let st: fs.Stats;
    try {
      st = await fsp.stat(file);
    } catch {
      continue;
    }
    if (name.includes('.partial-')) {
      if (Date.now() - st.mtimeMs > STALE_PARTIAL_MS) await fsp.rm(file, { force: true });
      continue;
    }
    if (name.endsWith('.tar')) entries.push({ file, size: st.size, used: st.mtimeMs });
  }
  let total = entries.reduce((n, e) => n + e.size, 0);
  for (const e of entries.sort((a, b) => a.used - b.used)) {
    if (total <= maxBytes) break;
    if (e.file === keep) continue;
    await fsp.rm(e.file, { force: true });
    total -= e.size;
  }
}
