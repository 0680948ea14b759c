// 64-bit integers as BigInt. The stock Kaitai runtime returns JS Numbers for u8/s8, which
// silently round values above 2^53 (addresses, registers, masks, hashes). The two read methods
// are replaced on the runtime's prototype itself, not in a subclass, because the generated code
// creates plain KaitaiStreams for sized sub-structures (fd.extra) that a subclass would not reach.
// This is safe because the format keeps every length and count in a 32-bit field: no generated
// expression does arithmetic on a u8.
//
// Strings are decoded the same way, on the runtime itself: exactly, with an undecodable byte kept
// as a lone surrogate (text.ts), where the stock runtime made a new lossy TextDecoder per string.

import KaitaiStream from 'kaitai-struct/KaitaiStream';
import { decodeUtf8 } from './text';

const proto = KaitaiStream.prototype as unknown as Record<string, (this: KaitaiStream) => bigint>;
proto.readU8le = function () {
  this.ensureBytesLeft(8);
  const v = this.dataView.getBigUint64(this.pos, true);
  this.pos += 8;
  return v;
};
proto.readS8le = function () {
  this.ensureBytesLeft(8);
  const v = this.dataView.getBigInt64(this.pos, true);
  this.pos += 8;
  return v;
};

const runtime = KaitaiStream as unknown as { bytesToStr(bytes: Uint8Array, encoding: string): string };
const stockBytesToStr = runtime.bytesToStr;
runtime.bytesToStr = (bytes, encoding) => (/^utf-?8$/i.test(encoding) ? decodeUtf8(bytes) : stockBytesToStr(bytes, encoding));

/** A stream over `bytes` (a view; nothing is copied). */
export function payloadStream(bytes: Uint8Array): KaitaiStream {
  return new KaitaiStream(new DataView(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength));
}
