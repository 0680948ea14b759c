// The work of hash.bench.ts's diff cases: two page-hash arrays that differ in scattered entries,
// and the two ways to find those entries (the library's diffHashArrays, and a plain JavaScript
// loop over 32-bit halves, the fastest plain loop we found). Run as a script
// (`node --require tsx/cjs hashDiffWork.ts wasm|js N CHANGED`), it times the first call in a
// fresh process and prints the milliseconds.

import { diffHashArrays } from '../../src/image/diff/hashDiff';

export interface HashArrays {
  a: Uint8Array;
  b: Uint8Array;
  n: number;
}

/** n hashes (8 bytes each), and a copy in which `changed` evenly spread entries differ. */
export function hashArrays(n: number, changed: number): HashArrays {
  const a = new Uint8Array(n * 8);
  const words = new Uint32Array(a.buffer);
  let x = 0x2545f491;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  const b = a.slice();
  for (let k = 0; k < changed; k++) b[Math.floor((k * n) / changed) * 8 + (k % 8)] ^= 0x5a;
  return { a, b, n };
}

export function diffHashesWasm({ a, b, n }: HashArrays): number[] {
  const out: number[] = [];
  diffHashArrays(a, 0, b, 0, n, (i) => out.push(i));
  return out;
}

export function diffHashesJs({ a, b, n }: HashArrays): number[] {
  const out: number[] = [];
  const wa = new Uint32Array(a.buffer, a.byteOffset, n * 2),
    wb = new Uint32Array(b.buffer, b.byteOffset, n * 2);
  for (let i = 0; i < n; i++) if (wa[2 * i] !== wb[2 * i] || wa[2 * i + 1] !== wb[2 * i + 1]) out.push(i);
  return out;
}

if (require.main === module) {
  const [kind, n, changed] = process.argv.slice(2);
  const input = hashArrays(Number(n), Number(changed));
  const t0 = performance.now();
  const found = (kind === 'wasm' ? diffHashesWasm : diffHashesJs)(input);
  const ms = performance.now() - t0;
  if (found.length !== Number(changed)) throw new Error(`found ${found.length} differences, expected ${changed}`);
  console.log(ms.toFixed(3));
}
