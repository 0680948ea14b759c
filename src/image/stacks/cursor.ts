// A bounds-checked little-endian reader over bytes of an ELF file or of process memory: every
// read past the end throws a DecodeError instead of returning garbage, so a corrupt or hostile
// file stops a parse with a message and never reads outside what was read from disk.
// 64-bit values come back as BigInt; LEB128 numbers are capped at 64 bits.

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

export class Cursor {
  private readonly view: DataView;
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    pos = 0,
    /** Reads stop here (default: the end of bytes). */
    readonly end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
    if (end > bytes.length) throw new DecodeError(`range end ${end} past ${bytes.length} bytes`);
  }

  get left(): number {
    return this.end - this.pos;
  }

  private need(n: number): number {
    const at = this.pos;
    if (at < 0 || n > this.end - at) throw new DecodeError(`read of ${n} bytes at ${at} past the end (${this.end})`);
    this.pos = at + n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.need(1));
  }
  i8(): number {
    return this.view.getInt8(this.need(1));
  }
  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  i16(): number {
    return this.view.getInt16(this.need(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.need(4), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.need(8), true);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.need(8), true);
  }
  /** A u64 that must fit a safe integer (a file offset or a size). */
  u64n(what: string): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(`${what} 0x${v.toString(16)} is too large`);
    return Number(v);
  }

  skip(n: number): void {
    this.need(n);
  }

  take(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }

  uleb(): bigint {
    let result = 0n,
      shift = 0n;
    for (;;) {
      const b = this.u8();
      if (shift < 64n) result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (!(b & 0x80)) break;
      if (shift > 70n) throw new DecodeError(`LEB128 number at ${this.pos} is longer than 10 bytes`);
    }
    return BigInt.asUintN(64, result);
  }

  sleb(): bigint {
    let result = 0n,
      shift = 0n,
      b: number;
    do {
      b = this.u8();
      if (shift < 64n) result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (shift > 70n && b & 0x80) throw new DecodeError(`LEB128 number at ${this.pos} is longer than 10 bytes`);
    } while (b & 0x80);
    if (shift < 64n && b & 0x40) result -= 1n << shift;
    return BigInt.asIntN(64, result);
  }

  /** A ULEB128 that must be a small count or index. */
  ulebn(what: string, max = 0xffffffff): number {
    const v = this.uleb();
    if (v > BigInt(max)) throw new DecodeError(`${what} ${v} is out of range`);
    return Number(v);
  }

  slebn(): number {
    const v = this.sleb();
    if (v > 0x7fffffffn || v < -0x80000000n) throw new DecodeError(`signed number ${v} is out of range`);
    return Number(v);
  }

  /** A NUL-terminated string of at most `max` bytes (latin1-safe UTF-8 decode). */
  cstr(max = 4096): string {
    const stop = Math.min(this.end, this.pos + max);
    let i = this.pos;
    while (i < stop && this.bytes[i] !== 0) i++;
    if (i >= stop) throw new DecodeError(`string at ${this.pos} is not terminated within ${max} bytes`);
    const s = Buffer.from(this.bytes.subarray(this.pos, i)).toString('utf8');
    this.pos = i + 1;
    return s;
  }
}

/** The NUL-terminated string at `offset` of a string table, or undefined when it is not one. */
export function stringAt(table: Uint8Array, offset: number, max = 4096): string | undefined {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= table.length) return undefined;
  const stop = Math.min(table.length, offset + max);
  let i = offset;
  while (i < stop && table[i] !== 0) i++;
  if (i >= stop) return undefined;
  return Buffer.from(table.subarray(offset, i)).toString('utf8');
}
