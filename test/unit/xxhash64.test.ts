import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Xxh64, xxh64, xxh64Blocks, xxh64Low32 } from '../../src/image';
import { diffHashArrays, diffHashArraysJs } from '../../src/image/diff/hashDiff';
import { HASH_MODULE_EXPORTS } from '../../src/image/wasm/hashModule';
import { hashEngineKind, useJsHashEngine } from '../../src/image/xxhash64';
import { wasm } from '../../build/wasm/hash';

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 2654435761) >>> 24;
  return b;
}

describe('XXH64', () => {
  it('matches the reference vectors', () => {
    assert.equal(xxh64(new Uint8Array(0)), 0xef46db3751d8e999n);
    assert.equal(xxh64(new TextEncoder().encode('abc')), 0x44bc2cf5ad770999n);
    // Values printed by the reference implementation (`xxhsum -H1`) for these inputs.
    assert.equal(xxh64(pattern(1 << 20)), 0xfc4aa44e4c19d879n);
    assert.equal(xxh64(pattern(77)), 0x290aa63ce8911e1bn);
    assert.equal(xxh64Low32(pattern(77)), 0xe8911e1b);
  });

  it('agrees with xxhsum on every length from 0 to 70', function () {
    const probe = spawnSync('xxhsum', ['--version']);
    if (probe.error) this.skip(); // .ci/run installs it; a developer machine may not have it
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xxh-'));
    try {
      const files: string[] = [];
      for (let n = 0; n <= 70; n++) {
        const f = path.join(dir, `f${n}`);
        fs.writeFileSync(f, pattern(n));
        files.push(f);
      }
      const out = spawnSync('xxhsum', ['-H1', ...files], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n');
      out.forEach((line, n) => assert.equal(line.split(/\s+/)[0], xxh64(pattern(n)).toString(16).padStart(16, '0'), `length ${n}`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the same digest however the input is split', () => {
    const data = pattern(5000);
    const whole = xxh64(data);
    for (const step of [1, 3, 7, 31, 32, 33, 64, 100, 4096]) {
      const h = new Xxh64();
      for (let o = 0; o < data.length; o += step) h.update(data.subarray(o, o + step));
      assert.equal(h.digest(), whole, `chunks of ${step}`);
    }
  });

  it('keeps interleaved streams apart', () => {
    const a = new Xxh64(),
      b = new Xxh64();
    const da = pattern(300),
      db = pattern(301).reverse();
    for (let o = 0; o < 300; o += 50) {
      a.update(da.subarray(o, o + 50));
      xxh64(pattern(17)); // a one-shot hash in between must not disturb either
      b.update(db.subarray(o, o + 50));
    }
    b.update(db.subarray(300));
    assert.equal(a.digest(), xxh64(da));
    assert.equal(b.digest(), xxh64(db));
  });

  it('hashes pages in one call like one page at a time', () => {
    const data = pattern(4096 * 300);
    const hashes = xxh64Blocks(data, 4096);
    const dv = new DataView(hashes.buffer);
    for (const i of [0, 1, 150, 299]) assert.equal(dv.getBigUint64(i * 8, true), xxh64(data.subarray(i * 4096, (i + 1) * 4096)));
  });

  it('hashes inputs larger than its working window', () => {
    const data = pattern(3 * (1 << 20) + 5);
    const h = new Xxh64();
    h.update(data.subarray(0, 10));
    h.update(data.subarray(10));
    assert.equal(h.digest(), xxh64(data));
  });
});

describe('XXH64 without WebAssembly memory', () => {
  afterEach(() => useJsHashEngine(false));

  it('hashes in JavaScript as the WebAssembly engine does', function () {
    this.timeout(30000);
    assert.equal(hashEngineKind(), 'wasm');
    const both = (f: () => unknown) => {
      useJsHashEngine(false);
      const wasm = f();
      useJsHashEngine(true);
      const js = f();
      return [wasm, js];
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 40 }), (data, step) => {
        const [a, b] = both(() => {
          const h = new Xxh64();
          for (let o = 0; o < data.length; o += step) h.update(data.subarray(o, o + step));
          return [xxh64(data), xxh64Low32(data), h.digest(), Buffer.from(xxh64Blocks(data, 16)).toString('hex')];
        });
        assert.deepEqual(b, a);
      }),
      { numRuns: 500, seed: 5 },
    );
    const [a, b] = both(() => [xxh64(pattern(3 * (1 << 20) + 5)), Buffer.from(xxh64Blocks(pattern(4096 * 40), 4096)).toString('hex')]);
    assert.deepEqual(b, a);
    useJsHashEngine(true);
    assert.equal(hashEngineKind(), 'js');
    assert.equal(xxh64(new TextEncoder().encode('abc')), 0x44bc2cf5ad770999n);
    assert.equal(xxh64(pattern(1 << 20)), 0xfc4aa44e4c19d879n);
  });
});

describe('hash.wat', () => {
  it('exports what hashModule.ts declares, no more and no less', () => {
    const names = WebAssembly.Module.exports(new WebAssembly.Module(wasm)).map((e) => e.name);
    assert.deepEqual([...names].sort(), [...HASH_MODULE_EXPORTS].sort());
  });

  it('finds the differing hashes, across its batches and at any offset, as the JavaScript fallback does', () => {
    const n = 70000; // more than one batch of the module's loop
    const a = pattern(n * 8 + 16);
    const b = new Uint8Array(n * 8 + 32).subarray(3); // not 8-aligned
    b.set(a, 8); // b's hash i + 1 is a's hash i
    const changed = [0, 1, 65535, 65536, 69999];
    for (const i of changed) b[(i + 1) * 8 + (i % 8)] ^= 0xff;
    for (const diff of [diffHashArrays, diffHashArraysJs]) {
      const found: number[] = [];
      diff(a, 0, b, 1, n, (i) => found.push(i));
      assert.deepEqual(found, changed, diff.name);
    }
  });
});
