// Byte-level surgery on images for corruption tests: find records, change header fields with
// or without fixing the header checksum, flip bytes.

import { xxh64Low32 } from '../../src/image';
import { alignRecord, HEADER_SIZE } from '../../src/image/format';

export interface RawRecord {
  offset: number;
  type: number;
  len: number;
  tag: number;
  ptag: number;
  payloadOffset: number;
}

/** The records of a sound image, walked by their lengths. */
export function rawRecords(bytes: Uint8Array): RawRecord[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: RawRecord[] = [];
  for (let o = 0; o + HEADER_SIZE <= bytes.length;) {
    const len = dv.getUint32(o + 8, true);
    out.push({ offset: o, type: dv.getUint32(o, true), len, tag: dv.getUint32(o + 12, true), ptag: dv.getUint32(o + 16, true), payloadOffset: o + HEADER_SIZE });
    o += HEADER_SIZE + alignRecord(len);
  }
  return out;
}

const HEADER_FIELDS = { type: 0, flags: 4, len: 8, tag: 12, ptag: 16, payloadSum: 20, reserved: 24, headerSum: 28 } as const;

/** A copy of `bytes` with one header field of record `index` set, and the header_sum fixed unless told not to. */
export function setHeaderField(bytes: Uint8Array, index: number, field: keyof typeof HEADER_FIELDS, value: number, opts: { resum?: boolean } = {}): Uint8Array {
  const out = Uint8Array.from(bytes);
  const r = rawRecords(bytes)[index];
  const dv = new DataView(out.buffer);
  dv.setUint32(r.offset + HEADER_FIELDS[field], value >>> 0, true);
  if (opts.resum ?? true) dv.setUint32(r.offset + 28, xxh64Low32(out.subarray(r.offset, r.offset + 28)), true);
  return out;
}

/** A copy of `bytes` with the byte at `offset` inverted. */
export function flipByte(bytes: Uint8Array, offset: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[offset] ^= 0xff;
  return out;
}
