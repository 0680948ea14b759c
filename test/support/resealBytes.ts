// Re-sealing a mutated image at the byte level, as a hostile writer would: walk the records by
// their lengths and make every checksum right again (page hashes into their pagemaps, payload
// sums, header sums, the tail's count and sum of headers), so that what follows the integrity
// checks is what gets tested. The same walk as the C fuzzer's (src/native/fuzz/fuzz_image.c).

import { xxh64, xxh64Low32 } from '../../src/image';
import { RecordType } from '../../src/image';
import { alignRecord, HEADER_SIZE as HDR } from '../../src/image/format';

export interface ResealOptions {
  /** Leave the page hashes in the pagemaps as they are (a damaged page stays damaged). */
  keepPageHashes?: boolean;
}

/** Record header offsets, walked by their lengths; stops at the tail or where a length runs out. */
export function recordOffsets(b: Uint8Array): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let off = 0; off + HDR <= b.length;) {
    const len = dv.getUint32(off + 8, true);
    if (len > b.length - off - HDR) break;
    out.push(off);
    if (dv.getUint32(off, true) === RecordType.TAIL) break;
    off += HDR + alignRecord(len);
  }
  return out;
}

/** Re-seals `b` in place and returns it. */
export function resealBytes(b: Uint8Array, opts: ResealOptions = {}): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const offs = recordOffsets(b);
  const u32 = (o: number) => dv.getUint32(o, true);
  const page = b.length >= HDR + 20 ? u32(HDR + 16) : 4096;
  const pageOk = page >= 4096 && page <= 1 << 20 && (page & (page - 1)) === 0;
  if (!opts.keepPageHashes && pageOk) {
    const byTag = new Map<number, number>();
    for (const off of offs) byTag.set(u32(off + 12), off);
    for (const off of offs) {
      if (u32(off) !== RecordType.PAGES) continue;
      const pm = byTag.get(u32(off + 16));
      if (pm === undefined || u32(pm) !== RecordType.PAGEMAP || u32(pm + 8) < 8) continue;
      const nruns = u32(pm + HDR);
      const npages = u32(pm + HDR + 4);
      const plen = u32(off + 8);
      const hashes = HDR + 8 + nruns * 16;
      for (let k = 0; k < npages && (k + 1) * page <= plen && hashes + (k + 1) * 8 <= HDR + u32(pm + 8); k++) {
        const h = xxh64(b.subarray(off + HDR + k * page, off + HDR + (k + 1) * page));
        dv.setBigUint64(pm + hashes + k * 8, h, true);
      }
    }
  }
  const headers: Uint8Array[] = [];
  for (const [i, off] of offs.entries()) {
    const type = u32(off);
    const len = u32(off + 8);
    if (type === RecordType.TAIL && len >= 24) {
      dv.setUint32(off + HDR + 8, i, true);
      dv.setBigUint64(off + HDR + 16, xxh64(concat(headers)), true);
    }
    if (type !== RecordType.PAGES && type !== RecordType.PAGES_ZSTD) dv.setUint32(off + 20, xxh64Low32(b.subarray(off + HDR, off + HDR + len)), true);
    dv.setUint32(off + 28, xxh64Low32(b.subarray(off, off + 28)), true);
    headers.push(b.subarray(off, off + HDR));
  }
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
