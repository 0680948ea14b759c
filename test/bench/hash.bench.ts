// XXH64 as the image library uses it, against the npm package xxhash-wasm doing the same work,
// run alternately: many 4 KiB pages (verify, search, diff and the writer hash page data; this
// case decides), one large buffer, and record-header-sized inputs (every record, on open). Then
// the loop that finds the differing entries of two page-hash arrays (diff by hashes), in
// WebAssembly and in plain JavaScript, warm and as the first call of a fresh process (the CLI's
// case). Each setup first checks that both sides give the same hashes, and that they match the
// reference implementation (`xxhsum -H1`, XXH64), on the very inputs timed. `npm run bench -- --cases hashing` runs these alone.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import xxhash, { XXHashAPI } from 'xxhash-wasm';
import { xxh64, xxh64Blocks, xxh64Low32 } from '../../src/image';
import { BenchCase } from './benchCase';
import { diffHashesJs, diffHashesWasm, hashArrays } from './hashDiffWork';

const PAGE = 4096;
const BATCH = 1 << 20; // what the library's callers hand over at once (pageDiff's slices, the writer's batches)
const PAGES_TOTAL = 64 << 20;
const LARGE = 16 << 20;
const HEADERS = 100_000;
const HEADER = 32; // the summed part of a record header

let api: XXHashAPI | undefined;
let data: Uint8Array | undefined;

/** 64 MiB of xorshift noise: no page equals another, so nothing can be skipped. */
function noise(bytes: number): Uint8Array {
  const words = new Uint32Array(bytes / 4);
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer);
}

/** XXH64 of each file, by the reference implementation. */
function xxhsum(files: Record<string, Uint8Array>): Map<string, bigint> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-hash-bench-'));
  try {
    const paths = Object.entries(files).map(([name, bytes]) => {
      fs.writeFileSync(path.join(dir, name), bytes);
      return path.join(dir, name);
    });
    const r = spawnSync('xxhsum', ['-H1', ...paths], { encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new Error(`xxhsum (Debian's xxhash package) is needed to check the hashes: ${r.error?.message ?? r.stderr}`);
    return new Map(
      r.stdout
        .trim()
        .split('\n')
        .map((line) => [path.basename(line.split(/\s+/)[1]), BigInt(`0x${line.split(/\s+/)[0]}`)]),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function setup(): Promise<void> {
  if (api && data) return;
  api = await xxhash();
  data = noise(PAGES_TOTAL);
  const ref = xxhsum({ page0: data.subarray(0, PAGE), page7: data.subarray(7 * PAGE, 8 * PAGE), large: data.subarray(0, LARGE), header: data.subarray(0, HEADER) });
  // Every page of the 64 MiB, both ways; a few of them and the large buffer against xxhsum.
  const ours = new BigUint64Array(xxh64Blocks(data, PAGE).buffer);
  const theirs = theirPages(data);
  assert.deepEqual(ours, theirs, 'xxh64Blocks and xxhash-wasm disagree on a page');
  assert.equal(ours[0], ref.get('page0'));
  assert.equal(ours[7], ref.get('page7'));
  assert.equal(xxh64(data.subarray(0, LARGE)), ref.get('large'));
  assert.equal(api.h64Raw(data.subarray(0, LARGE)), ref.get('large'));
  assert.equal(xxh64Low32(data.subarray(0, HEADER)), Number(ref.get('header')! & 0xffffffffn));
}

/** Page hashes with xxhash-wasm, as the library would have to call it: one call per page. */
function theirPages(bytes: Uint8Array): BigUint64Array {
  const out = new BigUint64Array(bytes.length / PAGE);
  for (let i = 0; i < out.length; i++) out[i] = api!.h64Raw(bytes.subarray(i * PAGE, (i + 1) * PAGE));
  return out;
}

function timed(bytes: number, work: () => void): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  work();
  return Promise.resolve({ ms: performance.now() - t0, bytes });
}

let sink = 0; // results go somewhere, so that no engine can drop the work

const DIFF_HASHES = 262144; // the pages of a 1 GiB image
const DIFF_CHANGED = 1024;

/** The first diff of a fresh Node process (as `ckpt-inspect diff` runs it), timed inside that process. */
function coldDiff(kind: 'wasm' | 'js'): Promise<{ ms: number }> {
  const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'hashDiffWork.ts'), kind, String(DIFF_HASHES), String(DIFF_CHANGED)], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`hashDiffWork.ts ${kind}: ${r.stderr}`);
  return Promise.resolve({ ms: Number(r.stdout.trim()) });
}

let diffInput: ReturnType<typeof hashArrays> | undefined;

export const cases: BenchCase[] = [
  {
    name: 'hashing: XXH64 of 4 KiB pages, 1 MiB batches (64 MiB)',
    setup,
    run: () =>
      timed(PAGES_TOTAL, () => {
        for (let o = 0; o < PAGES_TOTAL; o += BATCH) sink ^= xxh64Blocks(data!.subarray(o, o + BATCH), PAGE)[0];
      }),
    peer: { name: 'xxhash-wasm h64Raw per page', run: () => timed(PAGES_TOTAL, () => (sink ^= Number(theirPages(data!)[0] & 0xffn))) },
  },
  {
    name: 'hashing: XXH64 of one 16 MiB buffer',
    setup,
    run: () => timed(LARGE, () => (sink ^= Number(xxh64(data!.subarray(0, LARGE)) & 0xffn))),
    peer: { name: 'xxhash-wasm h64Raw', run: () => timed(LARGE, () => (sink ^= Number(api!.h64Raw(data!.subarray(0, LARGE)) & 0xffn))) },
  },
  {
    name: 'hashing: XXH64 low 32 bits of 100k 32-byte headers',
    setup,
    run: () =>
      timed(HEADERS * HEADER, () => {
        for (let i = 0; i < HEADERS; i++) sink ^= xxh64Low32(data!.subarray(i * HEADER, (i + 1) * HEADER));
      }),
    peer: {
      name: 'xxhash-wasm h64Raw',
      run: () =>
        timed(HEADERS * HEADER, () => {
          for (let i = 0; i < HEADERS; i++) sink ^= Number(api!.h64Raw(data!.subarray(i * HEADER, (i + 1) * HEADER)) & 0xffffffffn);
        }),
    },
  },
  {
    name: 'hashing, diff loop: 262144 hashes, 1024 differ, warm (WebAssembly)',
    async setup() {
      diffInput ??= hashArrays(DIFF_HASHES, DIFF_CHANGED);
      assert.deepEqual(diffHashesWasm(diffInput), diffHashesJs(diffInput));
      assert.equal(diffHashesWasm(diffInput).length, DIFF_CHANGED);
    },
    run: () => timed(0, () => (sink ^= diffHashesWasm(diffInput!).length)),
    peer: { name: 'plain JS loop', run: () => timed(0, () => (sink ^= diffHashesJs(diffInput!).length)) },
  },
  {
    name: 'hashing, diff loop: the same, first call in a fresh process (WebAssembly)',
    run: () => coldDiff('wasm'),
    peer: { name: 'plain JS loop', run: () => coldDiff('js') },
  },
];

export async function cleanup(): Promise<void> {
  if (sink === 0.5) console.log(sink); // never true; keeps `sink` live
  data = undefined;
  diffInput = undefined;
}
