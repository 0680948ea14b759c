// Finding the pages whose 8-byte hashes differ: the diffHashes loop of wasm/hash.wat, whose
// module the hashing instantiates anyway. WebAssembly is compiled before its first call, where a
// JavaScript loop starts in V8's interpreter. For the 262144 hashes of a 1 GiB image with 1024
// changed (`npm run bench -- --cases hashing`, at a load of 4-9 on 2 CPUs), the first call of a
// fresh process took 1.9-6.6 ms against 3.2-7.4 ms for the plain loop below (less in 6 runs of 8),
// and 0.3 ms against 0.8 ms warm. Where V8 cannot give the module its memory, that loop does it.

import { hashModule, moduleMemory } from '../wasm/hashModule';

/** Hashes compared per call, so that the module's memory stays small (20 bytes per hash). */
const BATCH = 65536;

/**
 * Calls `onDiff(i)`, in ascending order, for each i < n where the 8 bytes at (ia + i) * 8 of
 * `ha` differ from those at (ib + i) * 8 of `hb`.
 */
export function diffHashArrays(ha: Uint8Array, ia: number, hb: Uint8Array, ib: number, n: number, onDiff: (i: number) => void): void {
  const m = hashModule();
  if (!m) return diffHashArraysJs(ha, ia, hb, ib, n, onDiff);
  for (let done = 0; done < n; done += BATCH) {
    const count = Math.min(BATCH, n - done);
    const heap = new Uint8Array(moduleMemory(m, count * 20));
    heap.set(ha.subarray((ia + done) * 8, (ia + done + count) * 8), 0);
    heap.set(hb.subarray((ib + done) * 8, (ib + done + count) * 8), count * 8);
    const k = m.diffHashes(0, count * 8, count, count * 16);
    // A copy: onDiff may hash (and so overwrite or grow the module's memory) before we are through.
    const found = new Uint32Array(heap.buffer, count * 16, k).slice();
    for (let j = 0; j < k; j++) onDiff(done + found[j]);
  }
}

/** diffHashArrays in plain JavaScript, for where the module cannot be had. */
export function diffHashArraysJs(ha: Uint8Array, ia: number, hb: Uint8Array, ib: number, n: number, onDiff: (i: number) => void): void {
  const da = new DataView(ha.buffer, ha.byteOffset + ia * 8, n * 8),
    db = new DataView(hb.buffer, hb.byteOffset + ib * 8, n * 8);
  for (let i = 0; i < n; i++) {
    if (da.getUint32(i * 8, true) !== db.getUint32(i * 8, true) || da.getUint32(i * 8 + 4, true) !== db.getUint32(i * 8 + 4, true)) onDiff(i);
  }
}
