// A KaitaiStream that reads 64-bit integers as BigInt. The stock runtime returns JS Numbers,
// which silently round values above 2^53 (addresses, registers, masks, hashes). The format keeps
// every length and count in 32-bit fields, so no generated expression does arithmetic on a u8.

import KaitaiStream from 'kaitai-struct/KaitaiStream';

export class BigIntKaitaiStream extends KaitaiStream {
  constructor(bytes: Uint8Array) {
    super(new DataView(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength));
  }
}

// The runtime's typings declare these as returning number; the generated .d.ts says bigint.
const proto = BigIntKaitaiStream.prototype as unknown as Record<string, () => bigint>;
proto.readU8le = function (this: KaitaiStream) {
  this.ensureBytesLeft(8);
  const v = this.dataView.getBigUint64(this.pos, true);
  this.pos += 8;
  return v;
};
proto.readS8le = function (this: KaitaiStream) {
  this.ensureBytesLeft(8);
  const v = this.dataView.getBigInt64(this.pos, true);
  this.pos += 8;
  return v;
};
