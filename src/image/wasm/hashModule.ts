// The WebAssembly of hash.wat (XXH64 and the page-hash diff loop), instantiated once, on first
// use. Undefined where V8 cannot give it its memory: V8 reserves about 10 GiB of address space
// for every WebAssembly memory (8 GiB plus guard pages, so that its code needs no bounds checks),
// which fails under a `ulimit -v` of a few GiB ("WebAssembly.Instance(): Out of memory", a
// RangeError). Callers then use their plain JavaScript fallbacks.

import { wasm } from '../../../build/wasm/hash';

/** hash.wat's exports; offsets and lengths are in bytes of `mem`. */
export interface HashModule {
  mem: WebAssembly.Memory;
  /** The four XXH64 accumulators of the hash in progress (i64). */
  v1: WebAssembly.Global;
  v2: WebAssembly.Global;
  v3: WebAssembly.Global;
  v4: WebAssembly.Global;
  reset(): void;
  stripes(p: number, n: number): void;
  finish(p: number, n: number, total: bigint): bigint;
  finish32(p: number, n: number, total: number): number;
  hashBlocks(src: number, count: number, size: number, dst: number): void;
  diffHashes(a: number, b: number, n: number, out: number): number;
}

/** The names above, which a unit test checks against the module's own export list. */
export const HASH_MODULE_EXPORTS = ['mem', 'v1', 'v2', 'v3', 'v4', 'reset', 'stripes', 'finish', 'finish32', 'hashBlocks', 'diffHashes'] as const;

let instance: HashModule | 'unavailable' | undefined;

export function hashModule(): HashModule | undefined {
  if (instance === undefined) {
    try {
      instance = new WebAssembly.Instance(new WebAssembly.Module(wasm)).exports as unknown as HashModule;
    } catch (e) {
      // Out of memory is a RangeError; anything else is a bug here.
      if (!(e instanceof RangeError)) throw e;
      instance = 'unavailable';
    }
  }
  return instance === 'unavailable' ? undefined : instance;
}

const WASM_PAGE = 65536;

/** The module's memory as bytes, grown to at least `bytes`. Growing detaches earlier views. */
export function moduleMemory(m: HashModule, bytes: number): ArrayBuffer {
  const have = m.mem.buffer.byteLength;
  if (have >= bytes) return m.mem.buffer;
  m.mem.grow(Math.ceil((bytes - have) / WASM_PAGE));
  return m.mem.buffer;
}
