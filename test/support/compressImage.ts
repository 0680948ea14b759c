// An image's pages records rewritten as pages_zstd records (format 2.2), for tests of the readers
// without a zstd compressor in JavaScript: each chunk is a zstd frame of raw (stored) blocks, which
// every zstd decoder reads. `frame` can be replaced to write hostile frames.

import { RecordType } from '../../src/image';
import { alignRecord, HEADER_SIZE as HDR } from '../../src/image/format';
import { recordOffsets, resealBytes } from './resealBytes';

const COMPRESSED = 2;

/** A zstd frame holding `data` in raw blocks of at most 128 KiB, stating its size. */
export function rawFrame(data: Uint8Array, statedSize = data.length): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 131072));
  const out = new Uint8Array(4 + 1 + 4 + blocks * 3 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0xfd2fb528, true);
  out[4] = 0xa0; // 4-byte content size, single segment, no checksum, no dictionary
  dv.setUint32(5, statedSize, true);
  let at = 9;
  for (let b = 0; b < blocks; b++) {
    const part = data.subarray(b * 131072, Math.min(data.length, (b + 1) * 131072));
    const h = (part.length << 3) | (b === blocks - 1 ? 1 : 0); // raw block, last flag
    out[at] = h & 0xff;
    out[at + 1] = (h >> 8) & 0xff;
    out[at + 2] = (h >> 16) & 0xff;
    out.set(part, at + 3);
    at += 3 + part.length;
  }
  return out;
}

/** `bytes` (an image) with every pages record as a pages_zstd record of `chunkPages`-page chunks. */
export function compressPages(bytes: Uint8Array, chunkPages = 2, frame: (chunk: Uint8Array, i: number) => Uint8Array = (c) => rawFrame(c)): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const page = dv.getUint32(HDR + 16, true);
  const parts: Uint8Array[] = [];
  for (const off of recordOffsets(bytes)) {
    const len = dv.getUint32(off + 8, true);
    const header = bytes.slice(off, off + HDR);
    let payload = bytes.subarray(off + HDR, off + HDR + len);
    const h = new DataView(header.buffer);
    if (h.getUint32(0, true) === RecordType.HEAD) {
      payload = payload.slice();
      new DataView(payload.buffer).setUint16(10, 2, true); // minor 2
      new DataView(payload.buffer).setUint32(20, new DataView(payload.buffer).getUint32(20, true) | 32, true); // flag compressed
    }
    if (h.getUint32(0, true) === RecordType.PAGES) {
      const npages = len / page;
      const nchunks = Math.ceil(npages / chunkPages);
      const frames = [];
      for (let i = 0; i < nchunks; i++) frames.push(frame(payload.subarray(i * chunkPages * page, Math.min(len, (i + 1) * chunkPages * page)), i));
      const total = 8 + 4 * nchunks + frames.reduce((n, f) => n + f.length, 0);
      const p = new Uint8Array(total);
      const pv = new DataView(p.buffer);
      pv.setUint32(0, chunkPages, true);
      pv.setUint32(4, nchunks, true);
      let end = 0,
        at = 8 + 4 * nchunks;
      frames.forEach((f, i) => {
        end += f.length;
        pv.setUint32(8 + 4 * i, end, true);
        p.set(f, at);
        at += f.length;
      });
      payload = p;
      h.setUint32(0, RecordType.PAGES_ZSTD, true);
      h.setUint32(4, 1 | COMPRESSED, true);
      h.setUint32(20, 0, true);
    }
    h.setUint32(8, payload.length, true);
    parts.push(header, payload, new Uint8Array(alignRecord(payload.length) - payload.length));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return resealBytes(out, { keepPageHashes: true });
}
