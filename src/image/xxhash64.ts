// XXH64 (seed 0), the format's checksum, written from the public algorithm description.
//
// JavaScript has no fast 64-bit integer arithmetic (BigInt allocates; 32-bit halves reach only
// ~0.2 GB/s), so the hash runs as a small WebAssembly function, which has native i64 and hashes
// at memory speed. The module is assembled below from readable instructions when this file is
// first loaded: there is no binary in the repository and no extra build step. Where V8 cannot
// give WebAssembly its memory (under a limit on address space), the same functions run in plain
// JavaScript (xxhash64Js.ts), slower but the same.

import { HashEngine, JsHashEngine } from './xxhash64Js';

// ---- a tiny WebAssembly assembler, just what XXH64 needs ------------------------------------

const enum Op {
  block = 0x02, loop = 0x03, if_ = 0x04, else_ = 0x05, end = 0x0b, br = 0x0c, brIf = 0x0d,
  call = 0x10, localGet = 0x20, localSet = 0x21, localTee = 0x22, globalGet = 0x23, globalSet = 0x24,
  i32Load = 0x28, i64Load = 0x29, i64Load8U = 0x31, i64Load32U = 0x35, i64Store = 0x37,
  i32Const = 0x41, i64Const = 0x42,
  i32GtU = 0x4b, i32GeU = 0x4f, i32LeU = 0x4d, i64GeU = 0x5a,
  i32Add = 0x6a, i32Mul = 0x6c, i32And = 0x71,
  i64Add = 0x7c, i64Mul = 0x7e, i64Xor = 0x85, i64ShrU = 0x88, i64Rotl = 0x89,
  i32WrapI64 = 0xa7, i64ExtendI32U = 0xad,
}
const I32 = 0x7f, I64 = 0x7e, VOID = 0x40;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    if ((n === 0n && (b & 0x40) === 0) || (n === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const asSigned64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const get = (i: number) => [Op.localGet, ...uleb(i)];
const set = (i: number) => [Op.localSet, ...uleb(i)];
const i64c = (v: bigint) => [Op.i64Const, ...sleb(asSigned64(v))];
const i32c = (v: number) => [Op.i32Const, ...sleb(BigInt(v))];
const load64 = (offset: number) => [Op.i64Load, 3, ...uleb(offset)];

const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

/** acc = rotl(acc + input * P2, 31) * P1, with `input` already pushed by `pushInput`. */
const roundInto = (acc: number, pushInput: number[]) => [
  ...get(acc), ...pushInput, ...i64c(P2), Op.i64Mul, Op.i64Add, ...i64c(31n), Op.i64Rotl, ...i64c(P1), Op.i64Mul, ...set(acc),
];
/** Push round(0, value of local v). */
const roundZero = (v: number) => [...get(v), ...i64c(P2), Op.i64Mul, ...i64c(31n), Op.i64Rotl, ...i64c(P1), Op.i64Mul];

// The accumulators v1..v4 live in globals 0..3 so that a hash can be fed in pieces.
const V = [0, 1, 2, 3];
const gget = (g: number) => [Op.globalGet, ...uleb(g)];
const gset = (g: number) => [Op.globalSet, ...uleb(g)];

// reset(): v1 = P1 + P2, v2 = P2, v3 = 0, v4 = -P1.
function resetBody(): number[] {
  return [...i64c(P1 + P2), ...gset(0), ...i64c(P2), ...gset(1), ...i64c(0n), ...gset(2), ...i64c(-P1), ...gset(3), Op.end];
}

// stripes(p: i32, n: i32): consume the n / 32 whole stripes at p. Locals: 2 end, 3..6 v1..v4.
function stripesBody(): number[] {
  const [p, n, end] = [0, 1, 2];
  const lv = [3, 4, 5, 6];
  return [
    ...get(p), ...get(n), ...i32c(-32), Op.i32And, Op.i32Add, ...set(end),
    ...V.flatMap((g) => [...gget(g), ...set(lv[g])]),
    Op.block, VOID, Op.loop, VOID,
    ...get(p), ...get(end), Op.i32GeU, Op.brIf, 1,
    ...lv.flatMap((v, k) => roundInto(v, [...get(p), ...load64(8 * k)])),
    ...get(p), ...i32c(32), Op.i32Add, ...set(p),
    Op.br, 0,
    Op.end, Op.end,
    ...V.flatMap((g) => [...get(lv[g]), ...gset(g)]),
    Op.end,
  ];
}

// finish(p: i32, n: i32, total: i64) -> i64: the last n (< 32) bytes at p, for an input of
// `total` bytes whose whole stripes went through stripes(). Locals: 3 h, 4 end, 5 scratch.
function finishBody(): number[] {
  const [p, n, total, h, end, w] = [0, 1, 2, 3, 4, 5];
  return [
    ...get(p), ...get(n), Op.i32Add, ...set(end),
    ...get(total), ...i64c(32n), Op.i64GeU, Op.if_, VOID,
    ...gget(0), ...i64c(1n), Op.i64Rotl, ...gget(1), ...i64c(7n), Op.i64Rotl, Op.i64Add,
    ...gget(2), ...i64c(12n), Op.i64Rotl, Op.i64Add, ...gget(3), ...i64c(18n), Op.i64Rotl, Op.i64Add, ...set(h),
    ...V.flatMap((g) => [...get(h), ...gget(g), ...set(w), ...roundZero(w), Op.i64Xor, ...i64c(P1), Op.i64Mul, ...i64c(P4), Op.i64Add, ...set(h)]),
    Op.else_,
    ...i64c(P5), ...set(h),
    Op.end,
    ...get(h), ...get(total), Op.i64Add, ...set(h),
    // 8-byte words
    Op.block, VOID, Op.loop, VOID,
    ...get(p), ...i32c(8), Op.i32Add, ...get(end), Op.i32GtU, Op.brIf, 1,
    ...get(p), ...load64(0), ...set(w),
    ...get(h), ...roundZero(w), Op.i64Xor, ...i64c(27n), Op.i64Rotl, ...i64c(P1), Op.i64Mul, ...i64c(P4), Op.i64Add, ...set(h),
    ...get(p), ...i32c(8), Op.i32Add, ...set(p),
    Op.br, 0,
    Op.end, Op.end,
    // one 4-byte word
    ...get(p), ...i32c(4), Op.i32Add, ...get(end), Op.i32LeU, Op.if_, VOID,
    ...get(h), ...get(p), Op.i64Load32U, 2, 0, ...i64c(P1), Op.i64Mul, Op.i64Xor,
    ...i64c(23n), Op.i64Rotl, ...i64c(P2), Op.i64Mul, ...i64c(P3), Op.i64Add, ...set(h),
    ...get(p), ...i32c(4), Op.i32Add, ...set(p),
    Op.end,
    // single bytes
    Op.block, VOID, Op.loop, VOID,
    ...get(p), ...get(end), Op.i32GeU, Op.brIf, 1,
    ...get(h), ...get(p), Op.i64Load8U, 0, 0, ...i64c(P5), Op.i64Mul, Op.i64Xor,
    ...i64c(11n), Op.i64Rotl, ...i64c(P1), Op.i64Mul, ...set(h),
    ...get(p), ...i32c(1), Op.i32Add, ...set(p),
    Op.br, 0,
    Op.end, Op.end,
    // avalanche
    ...get(h), ...get(h), ...i64c(33n), Op.i64ShrU, Op.i64Xor, ...i64c(P2), Op.i64Mul, ...set(h),
    ...get(h), ...get(h), ...i64c(29n), Op.i64ShrU, Op.i64Xor, ...i64c(P3), Op.i64Mul, ...set(h),
    ...get(h), ...get(h), ...i64c(32n), Op.i64ShrU, Op.i64Xor,
    Op.end,
  ];
}

// hashBlocks(src: i32, count: i32, size: i32, dst: i32): dst[i] = XXH64 of block i (page hashes).
// Locals: 4 i, 5 block, 6 whole.
const FN_RESET = 0, FN_STRIPES = 1, FN_FINISH = 2;
function hashBlocksBody(): number[] {
  const [src, count, size, dst, i, block, whole] = [0, 1, 2, 3, 4, 5, 6];
  return [
    ...get(size), ...i32c(-32), Op.i32And, ...set(whole),
    Op.block, VOID, Op.loop, VOID,
    ...get(i), ...get(count), Op.i32GeU, Op.brIf, 1,
    ...get(src), ...get(i), ...get(size), Op.i32Mul, Op.i32Add, ...set(block),
    Op.call, FN_RESET,
    ...get(block), ...get(size), Op.call, FN_STRIPES,
    ...get(dst), ...get(i), ...i32c(8), Op.i32Mul, Op.i32Add,
    ...get(block), ...get(whole), Op.i32Add, ...get(size), ...i32c(31), Op.i32And, ...get(size), Op.i64ExtendI32U, Op.call, FN_FINISH,
    Op.i64Store, 3, 0,
    ...get(i), ...i32c(1), Op.i32Add, ...set(i),
    Op.br, 0,
    Op.end, Op.end,
    Op.end,
  ];
}

// finish32(p: i32, n: i32, total: i32) -> i32: the low 32 bits of finish(), for headers and
// payloads, whose checksums are low halves: no BigInt crosses into JavaScript.
function finish32Body(): number[] {
  return [...get(0), ...get(1), ...get(2), Op.i64ExtendI32U, Op.call, FN_FINISH, Op.i32WrapI64, Op.end];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const code = (locals: Array<[number, number]>, body: number[]) => {
  const fn = [...vec(locals.map(([count, type]) => [...uleb(count), type])), ...body];
  return [...uleb(fn.length), ...fn];
};
const funcType = (params: number[], results: number[]) => [0x60, ...vec(params.map((t) => [t])), ...vec(results.map((t) => [t]))];

function assemble(): Uint8Array<ArrayBuffer> {
  const types = vec([funcType([], []), funcType([I32, I32], []), funcType([I32, I32, I64], [I64]), funcType([I32, I32, I32, I32], []), funcType([I32, I32, I32], [I32])]);
  const exportFn = (s: string, index: number) => [...name(s), 0x00, index];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types),
    ...section(3, vec([[0], [1], [2], [3], [4]])),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(6, vec(V.map(() => [I64, 0x01, ...i64c(0n), Op.end]))),
    ...section(7, vec([
      exportFn('reset', 0), exportFn('stripes', 1), exportFn('finish', 2), exportFn('hashBlocks', 3), exportFn('finish32', 4),
      [...name('mem'), 0x02, 0],
      ...V.map((g) => [...name(`v${g + 1}`), 0x03, g]),
    ])),
    ...section(10, vec([
      code([], resetBody()),
      code([[1, I32], [4, I64]], stripesBody()),
      code([[1, I64], [1, I32], [1, I64]], finishBody()),
      code([[3, I32]], hashBlocksBody()),
      code([], finish32Body()),
    ])),
  ]);
}

// ---- the JavaScript face -----------------------------------------------------------------

interface XxhExports {
  reset(): void;
  stripes(ptr: number, len: number): void;
  finish(ptr: number, len: number, total: bigint): bigint;
  finish32(ptr: number, len: number, total: number): number;
  hashBlocks(src: number, count: number, size: number, dst: number): void;
  mem: WebAssembly.Memory;
  v1: WebAssembly.Global;
  v2: WebAssembly.Global;
  v3: WebAssembly.Global;
  v4: WebAssembly.Global;
}

const WASM_PAGE = 65536;

class WasmHashEngine implements HashEngine {
  private view = new Uint8Array(0);
  constructor(private readonly e: XxhExports) {}

  memory(bytes: number): Uint8Array {
    const have = this.e.mem.buffer.byteLength;
    if (have < bytes) this.e.mem.grow(Math.ceil((bytes - have) / WASM_PAGE));
    // One view per growth: a new view per call cost more than hashing a record header.
    if (this.view.buffer !== this.e.mem.buffer) this.view = new Uint8Array(this.e.mem.buffer);
    return this.view;
  }
  reset(): void {
    this.e.reset();
  }
  stripes(p: number, n: number): void {
    this.e.stripes(p, n);
  }
  finish(p: number, n: number, total: bigint): bigint {
    return BigInt.asUintN(64, this.e.finish(p, n, total));
  }
  finishLow32(p: number, n: number, total: number): number {
    return this.e.finish32(p, n, total) >>> 0;
  }
  hashBlocks(src: number, count: number, size: number, dst: number): void {
    this.e.hashBlocks(src, count, size, dst);
  }
  get lanes(): bigint[] {
    return [this.e.v1.value, this.e.v2.value, this.e.v3.value, this.e.v4.value] as bigint[];
  }
  set lanes(l: bigint[]) {
    [this.e.v1.value, this.e.v2.value, this.e.v3.value, this.e.v4.value] = l;
  }
}

let hashEngine: HashEngine | undefined;

/** The WebAssembly engine, or the JavaScript one where WebAssembly memory cannot be had. */
function engine(): HashEngine {
  if (!hashEngine) {
    try {
      hashEngine = new WasmHashEngine(new WebAssembly.Instance(new WebAssembly.Module(assemble())).exports as unknown as XxhExports);
    } catch (e) {
      // "WebAssembly.Instance(): Out of memory" is a RangeError; anything else is a bug here.
      if (!(e instanceof RangeError)) throw e;
      hashEngine = new JsHashEngine();
    }
  }
  return hashEngine;
}

/** Which engine hashes: 'wasm', or 'js' where WebAssembly memory could not be had. */
export function hashEngineKind(): 'wasm' | 'js' {
  return engine() instanceof JsHashEngine ? 'js' : 'wasm';
}

/** For tests: hash with the JavaScript engine (true), or go back to the usual choice (false). */
export function useJsHashEngine(on: boolean): void {
  hashEngine = on ? new JsHashEngine() : undefined;
}

/** The engine's memory as bytes, at least `bytes` of them. */
function scratch(bytes: number): Uint8Array {
  return engine().memory(bytes);
}

/** Bytes copied into the engine per call; bounds its memory whatever the input size. */
const WINDOW = 1 << 20;

/**
 * Streaming XXH64 (seed 0): `update` with chunks of any size, then `digest` once. The engine
 * holds one hash state at a time, so each call loads this object's state and saves it back.
 */
export class Xxh64 {
  private readonly pending = new Uint8Array(32);
  private pendingLen = 0;
  private total = 0;
  private lanes: bigint[] | undefined;

  update(data: Uint8Array): this {
    const e = this.load();
    let p = 0;
    this.total += data.length;
    if (this.pendingLen > 0) {
      const take = Math.min(32 - this.pendingLen, data.length);
      this.pending.set(data.subarray(0, take), this.pendingLen);
      this.pendingLen += take;
      p = take;
      if (this.pendingLen === 32) {
        scratch(32).set(this.pending, 0);
        e.stripes(0, 32);
        this.pendingLen = 0;
      }
    }
    while (data.length - p >= 32) {
      const n = Math.min(WINDOW, (data.length - p) & ~31);
      scratch(n).set(data.subarray(p, p + n), 0);
      e.stripes(0, n);
      p += n;
    }
    if (p < data.length) {
      this.pending.set(data.subarray(p), this.pendingLen);
      this.pendingLen += data.length - p;
    }
    this.lanes = e.lanes;
    return this;
  }

  digest(): bigint {
    const e = this.load();
    scratch(32).set(this.pending.subarray(0, this.pendingLen), 0);
    return e.finish(0, this.pendingLen, BigInt(this.total));
  }

  private load(): HashEngine {
    const e = engine();
    if (!this.lanes) e.reset();
    else e.lanes = this.lanes;
    return e;
  }
}

/** XXH64 (seed 0) of `data`. */
export function xxh64(data: Uint8Array): bigint {
  if (data.length > WINDOW) return new Xxh64().update(data).digest();
  // One call each into the engine, without the streaming state's bookkeeping: this runs for
  // every record header and payload when an image is opened.
  const e = engine();
  scratch(data.length).set(data, 0);
  e.reset();
  const whole = data.length & ~31;
  e.stripes(0, whole);
  return e.finish(whole, data.length - whole, BigInt(data.length));
}

/** The low 32 bits of XXH64, the form the record header's checksums take. */
export function xxh64Low32(data: Uint8Array): number {
  if (data.length > WINDOW) return Number(xxh64(data) & 0xffffffffn);
  const e = engine();
  scratch(data.length).set(data, 0);
  e.reset();
  const whole = data.length & ~31;
  e.stripes(0, whole);
  return e.finishLow32(whole, data.length - whole, data.length);
}

/**
 * XXH64 of each `blockSize`-byte block of `data` (page hashes), as little-endian u64s, 8 bytes
 * per block, in a new array.
 */
export function xxh64Blocks(data: Uint8Array, blockSize: number): Uint8Array {
  const count = Math.floor(data.length / blockSize);
  const out = new Uint8Array(count * 8);
  const perCall = Math.max(1, Math.floor(WINDOW / blockSize));
  for (let i = 0; i < count; i += perCall) {
    const n = Math.min(perCall, count - i);
    const bytes = n * blockSize;
    const mem = scratch(bytes + n * 8);
    mem.set(data.subarray(i * blockSize, i * blockSize + bytes), 0);
    engine().hashBlocks(0, n, blockSize, bytes);
    out.set(scratch(0).subarray(bytes, bytes + n * 8), i * 8);
  }
  return out;
}

/**
 * Page hashing without copying the pages: `fill` writes `bytes` bytes (whole pages) into the view
 * of the engine's memory it is given (e.g. a read from the file straight into it), then every
 * page is hashed. Returns the hashes (8 bytes LE per page) in an array of their own: a view into
 * the engine would be overwritten by the next hash, which an `await` in between lets another
 * caller run (two images verified at once reported each other's pages as damaged).
 */
export function hashPagesInPlace(bytes: number, pageSize: number, fill: (into: Uint8Array) => void): Uint8Array {
  const count = Math.floor(bytes / pageSize);
  const mem = scratch(bytes + count * 8);
  fill(mem.subarray(0, bytes));
  engine().hashBlocks(0, count, pageSize, bytes);
  return scratch(0).slice(bytes, bytes + count * 8);
}
