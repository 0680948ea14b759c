// XXH64 (seed 0), the format's checksum, written from the public algorithm description.
//
// JavaScript has no fast 64-bit integer arithmetic (BigInt allocates; 32-bit halves reach less
// than 0.1 GB/s), so the hash runs in WebAssembly (wasm/hash.wat, assembled at build time), which
// has native i64. Where V8 cannot give WebAssembly its memory (under a limit on address space),
// the same functions run in plain JavaScript (xxhash64Js.ts), slower but the same.

import { HashModule, hashModule, moduleMemory } from './wasm/hashModule';
import { HashEngine, JsHashEngine } from './xxhash64Js';

class WasmHashEngine implements HashEngine {
  private view = new Uint8Array(0);
  constructor(private readonly e: HashModule) {}

  memory(bytes: number): Uint8Array {
    // One view per growth: a new view, or even reading `mem.buffer`, per call cost more than
    // hashing a record header. A growth (here or by the diff loop) detaches the old view, whose
    // length is then 0.
    if (this.view.length < bytes) this.view = new Uint8Array(moduleMemory(this.e, bytes));
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
    const m = hashModule();
    hashEngine = m ? new WasmHashEngine(m) : new JsHashEngine();
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
    out.set(scratch(bytes + n * 8).subarray(bytes, bytes + n * 8), i * 8);
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
  return scratch(bytes + count * 8).slice(bytes, bytes + count * 8);
}
