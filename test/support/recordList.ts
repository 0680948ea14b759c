// An image as a list of records to edit: change a record's header fields or payload (of any
// length), insert, delete or move records, then lay them out again as the format requires
// (32-byte headers, payloads padded to 8 bytes, page data kept on a page by resizing the pad
// before it). Checksums are left as they were; resealBytes.ts makes them right again:
//
//   const image = splitRecords(bytes);                              // edit image.records
//   const mutant = resealBytes(joinRecords(image));                 // every checksum sound again
//
// Field offsets come from the schema generated from the .ksy.

import { RecordType, schema } from '../../src/image';
import { alignRecord, HEADER_SIZE as HEADER } from '../../src/image/format';

/** One record: its header fields (checksums are recomputed by reseal) and its payload. */
export interface RawImageRecord {
  type: number;
  flags: number;
  tag: number;
  ptag: number;
  reserved: number;
  /** As written; resealBytes() replaces them. */
  payloadSum: number;
  headerSum: number;
  payload: Uint8Array;
}

export interface SplitImage {
  records: RawImageRecord[];
  /** Bytes after the last whole record (a truncated record, or data after the tail). */
  rest: Uint8Array;
}

/** Byte offsets of the header fields, from the schema (each a u4). */
const AT = (() => {
  const at: Record<string, number> = {};
  let o = 0;
  for (const f of schema.types.record_header.fields) {
    at[f.prop] = o;
    o += 4;
  }
  return at as Record<'type' | 'flags' | 'len' | 'tag' | 'ptag' | 'payloadSum' | 'reserved' | 'headerSum', number>;
})();

/** Offset of a field in a payload type, from the schema: the fields before it must have fixed sizes. */
function fieldAt(typeName: string, id: string): number {
  const sizes: Record<string, number> = { u1: 1, u2: 2, u4: 4, u8: 8, s1: 1, s2: 2, s4: 4, s8: 8 };
  let o = 0;
  for (const f of schema.types[typeName].fields) {
    if (f.id === id) return o;
    const size = f.kind === 'contents' ? f.contents!.length : sizes[f.kind];
    if (size === undefined) throw new Error(`${typeName}.${f.id} has no fixed size`);
    o += size;
  }
  throw new Error(`no field ${typeName}.${id}`);
}
const PAGE_SIZE_AT = fieldAt('head', 'page_size');

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The records of an image, walked by their lengths, as far as whole records go. */
export function splitRecords(bytes: Uint8Array): SplitImage {
  const dv = view(bytes);
  const records: RawImageRecord[] = [];
  let o = 0;
  while (o + HEADER <= bytes.length) {
    const len = dv.getUint32(o + AT.len, true);
    if (len > bytes.length - o - HEADER) break;
    const u4 = (field: keyof typeof AT) => dv.getUint32(o + AT[field], true);
    records.push({
      type: u4('type'),
      flags: u4('flags'),
      tag: u4('tag'),
      ptag: u4('ptag'),
      reserved: u4('reserved'),
      payloadSum: u4('payloadSum'),
      headerSum: u4('headerSum'),
      payload: bytes.slice(o + HEADER, o + HEADER + len),
    });
    o = Math.min(bytes.length, alignRecord(o + HEADER + len));
  }
  return { records, rest: bytes.slice(o) };
}

/** The page size the head states, or undefined when it has none that could be a page size. */
export function pageSizeOf(records: RawImageRecord[]): number | undefined {
  const head = records[0];
  if (!head || head.payload.length < PAGE_SIZE_AT + 4) return undefined;
  const ps = view(head.payload).getUint32(PAGE_SIZE_AT, true);
  return ps >= 4096 && ps <= 1 << 20 && (ps & (ps - 1)) === 0 ? ps : undefined;
}

export interface JoinOptions {
  /**
   * Keep the page data of PAGES records aligned to the page size, as readers require, by
   * resizing the PAD record before each (when there is one). Default true.
   */
  align?: boolean;
}

/** Lay records out as the format does: header, payload, zeros to a multiple of 8. No checksums are fixed. */
export function joinRecords(split: SplitImage | RawImageRecord[], opts: JoinOptions = {}): Uint8Array {
  const { records, rest } = Array.isArray(split) ? { records: split, rest: new Uint8Array(0) } : split;
  const ps = opts.align === false ? undefined : pageSizeOf(records);
  const parts: Uint8Array[] = [];
  let o = 0;
  records.forEach((r, i) => {
    let payload = r.payload;
    const next = records[i + 1];
    const misaligned = ps !== undefined && (o + 2 * HEADER + alignRecord(payload.length)) % ps !== 0;
    if (misaligned && r.type === RecordType.PAD && next?.type === RecordType.PAGES && payload.every((b) => b === 0)) {
      // Make the next record's payload start on a page: o + 32 + pad + 32 = 0 mod ps.
      payload = new Uint8Array((ps - ((o + 2 * HEADER) % ps)) % ps);
    }
    const h = new Uint8Array(HEADER);
    const dv = view(h);
    dv.setUint32(AT.type, r.type, true);
    dv.setUint32(AT.flags, r.flags, true);
    dv.setUint32(AT.len, payload.length, true);
    dv.setUint32(AT.tag, r.tag, true);
    dv.setUint32(AT.ptag, r.ptag, true);
    dv.setUint32(AT.payloadSum, r.payloadSum, true);
    dv.setUint32(AT.reserved, r.reserved, true);
    dv.setUint32(AT.headerSum, r.headerSum, true);
    parts.push(h, payload, new Uint8Array(alignRecord(payload.length) - payload.length));
    o += HEADER + alignRecord(payload.length);
  });
  parts.push(rest);
  return new Uint8Array(Buffer.concat(parts));
}
