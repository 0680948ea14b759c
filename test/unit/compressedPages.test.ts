// Compressed pages (format 2.2 pages_zstd) through the TypeScript decoder: the editor's memory
// view, verify and the memory map read a compressed image as they read the same image
// uncompressed; hostile frames and indexes are refused with rule zstd_chunks, naming the record
// and the byte, and never decompress to more than a chunk. (The native suite checks images that
// `ckpt dump --compress` wrote; here the frames are stored zstd blocks, which every decoder reads.)

import assert from 'node:assert/strict';
import { CheckpointImage, RecordType, verifyImage } from '../../src/image';
import { decompressChunk } from '../../src/image/compressedPages';
import { CkptCheckpoint } from '../../src/checkpoint';
import { ImageRequests } from '../../src/webviews/imageRequests';
import { compressPages, rawFrame } from '../support/compressImage';
import { buildSample, HEAP, HEAP_STRING, HEAP_STRING_ADDR, PAGE } from '../support/sampleImage';

describe('compressed pages (pages_zstd) in the decoder', () => {
  const sample = buildSample();
  const packed = compressPages(sample.bytes, 2);

  it('the memory view reads the same bytes from the compressed image', async () => {
    const [a, b] = [await CheckpointImage.open(sample.bytes), await CheckpointImage.open(packed)];
    try {
      assert.equal(b.ofType(RecordType.PAGES).length, 0);
      assert.equal(b.ofType(RecordType.PAGES_ZSTD).length, a.ofType(RecordType.PAGES).length);
      const [ra, rb] = [
        new ImageRequests(new CkptCheckpoint(a), () => ({ status: 'unverified', problems: [] })),
        new ImageRequests(new CkptCheckpoint(b), () => ({ status: 'unverified', problems: [] })),
      ];
      const proc = b.processes()[0].index;
      const at = { process: proc, addr: `0x${HEAP_STRING_ADDR.toString(16)}`, length: HEAP_STRING.length };
      const got = await rb.memory(at);
      assert.deepEqual(got, await ra.memory({ ...at, process: a.processes()[0].index }));
      assert.equal(Buffer.concat(got.map((p) => p.bytes ?? new Uint8Array())).toString('latin1'), HEAP_STRING);
      const whole = { addr: `0x${(HEAP - 0x1000n).toString(16)}`, length: 8 * PAGE };
      assert.deepEqual(await rb.memory({ process: proc, ...whole }), await ra.memory({ process: a.processes()[0].index, ...whole }));
      const [ma, mb] = [await a.memory(), await b.memory()];
      for (const [i, s] of ma.segments.entries()) {
        assert.deepEqual(await mb.read(mb.segments[i].start, Number(s.end - s.start)), await ma.read(s.start, Number(s.end - s.start)));
      }
      // the compressed record offers the memory view over its pages, as a pages record does
      const za = a.ofType(RecordType.PAGES)[0],
        zb = b.ofType(RecordType.PAGES_ZSTD)[0];
      const [da, db] = [await ra.record({ index: za.index }), await rb.record({ index: zb.index })];
      assert.deepEqual(db.views, da.views);
      assert.deepEqual(db.memoryRange, da.memoryRange);
      const v = await verifyImage(b);
      assert.equal(v.ok, true, JSON.stringify(v.problems));
      assert.equal(v.pagesChecked, (await verifyImage(a)).pagesChecked);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a damaged page is found by verify, by its hash of the uncompressed page', async () => {
    const bad = compressPages(sample.bytes, 2, (c, i) => {
      const d = Uint8Array.from(c);
      if (i === 0) d[100] ^= 1;
      return rawFrame(d);
    });
    const img = await CheckpointImage.open(bad);
    try {
      const v = await verifyImage(img);
      assert.equal(v.ok, false);
      assert.ok(
        v.problems.some((p) => p.rule === 'page_hash'),
        JSON.stringify(v.problems),
      );
    } finally {
      await img.close();
    }
  });

  const hostile: [string, (c: Uint8Array, i: number) => Uint8Array, RegExp][] = [
    ['a frame that states more bytes than its chunk', (c) => rawFrame(c, c.length + 4096), /states \d+ bytes/],
    ['a frame that states fewer', (c) => rawFrame(c, c.length - 1), /states \d+ bytes/],
    ['a frame with more data than it states', (c) => rawFrame(new Uint8Array(c.length + 4096), c.length), /more bytes than it states|decompresses to|./],
    ['a frame that is not zstd', (c) => Uint8Array.from(c), /not a zstd frame/],
    ['a frame cut short', (c) => rawFrame(c).subarray(0, 100), /./],
  ];
  for (const [what, frame, why] of hostile) {
    it(`refuses ${what} (rule zstd_chunks, naming the record and byte)`, async () => {
      const img = await CheckpointImage.open(compressPages(sample.bytes, 2, frame));
      try {
        const mem = await img.memory();
        const seg = mem.segments[0];
        await assert.rejects(mem.read(seg.start, PAGE), (e: Error & { problem?: { rule?: string; message: string; offset: number } }) => {
          assert.equal(e.name, 'ImageError', String(e));
          assert.equal(e.problem?.rule, 'zstd_chunks');
          assert.match(e.problem!.message, /PAGES_ZSTD/);
          assert.match(e.problem!.message, why);
          return true;
        });
        const v = await verifyImage(img);
        assert.equal(v.ok, false);
        assert.ok(
          v.problems.some((p) => p.rule === 'zstd_chunks'),
          JSON.stringify(v.problems),
        );
      } finally {
        await img.close();
      }
    });
  }

  it('refuses an index that does not fit its pagemap, at open-time soundness (verify)', async () => {
    const b = compressPages(sample.bytes, 2);
    const img0 = await CheckpointImage.open(b);
    const z = img0.ofType(RecordType.PAGES_ZSTD)[0];
    await img0.close();
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    dv.setUint32(z.payloadOffset + 4, dv.getUint32(z.payloadOffset + 4, true) + 1, true); // nchunks
    const img = await CheckpointImage.open(b);
    try {
      const v = await verifyImage(img);
      assert.ok(
        v.problems.some((p) => p.rule === 'zstd_chunks' && /chunks, its pagemap's/.test(p.message)),
        JSON.stringify(v.problems),
      );
    } finally {
      await img.close();
    }
  });

  it('bounds the output of one frame to what it states', () => {
    const big = rawFrame(new Uint8Array(300000), 4096);
    const r = decompressChunk(big, 4096);
    assert.equal(typeof r, 'string');
    assert.equal(typeof decompressChunk(rawFrame(new Uint8Array(8192)), 8192), 'object');
  });
});
