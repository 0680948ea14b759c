// Scale: a 1 GiB image opens in well under 100 ms with little memory, because opening reads
// record headers and metadata only; images over 2 GiB (beyond fs.readFileSync and Kaitai's
// whole-buffer reads) work, down to the last page.

import assert from 'node:assert/strict';
import { CheckpointImage, verifyImage } from '../../src/image';
import { BigImage, GiB, writeBigImage } from '../support/bigImage';

function memoryInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

describe('large images', function () {
  this.timeout(120000);
  let one: BigImage;
  let three: BigImage;
  before(() => {
    one = writeBigImage(1);
    three = writeBigImage(3);
  });
  after(() => {
    one?.remove();
    three?.remove();
  });

  it('opens a 1 GiB image in well under 100 ms with under 64 MiB of extra memory', async () => {
    assert.ok(one.bytes > GiB);
    const times: number[] = [];
    let grew = 0;
    for (let i = 0; i < 5; i++) {
      const before = memoryInUse();
      const t0 = performance.now();
      const img = await CheckpointImage.open(one.file);
      times.push(performance.now() - t0);
      grew = Math.max(grew, memoryInUse() - before);
      assert.deepEqual(img.problems, []);
      await img.close();
    }
    times.sort((a, b) => a - b);
    const median = times[2];
    console.log(`      open 1 GiB: median ${median.toFixed(1)} ms, memory +${(grew / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(median < 100, `median open time ${median.toFixed(1)} ms`);
    assert.ok(grew < 64 * 2 ** 20, `memory grew by ${grew} bytes`);
  });

  it('reads the last page of a 3 GiB image', async () => {
    assert.ok(three.bytes > 3 * GiB);
    const img = await CheckpointImage.open(three.file);
    try {
      assert.deepEqual(img.problems, []);
      const mem = await img.memory();
      assert.equal(mem.segments.length, 6);
      const [piece] = await mem.read(three.markerAddr, three.marker.length);
      assert.equal(piece.state, 'dumped');
      assert.ok(piece.bytes && Buffer.from(piece.bytes).toString() === three.marker);
      assert.ok(mem.segmentAt(three.markerAddr)!.fileOffset > 2 ** 31, 'the page lies past 2 GiB in the file');
    } finally {
      await img.close();
    }
  });

  it('verifies every page of a 1 GiB image with bounded memory', async () => {
    const img = await CheckpointImage.open(one.file);
    try {
      const before = memoryInUse();
      let peak = 0;
      const report = await verifyImage(img, { onProgress: () => (peak = Math.max(peak, memoryInUse() - before)) });
      assert.equal(report.ok, true, report.problems.map((p) => p.message).join('\n'));
      assert.equal(report.pagesChecked, GiB / 4096);
      console.log(`      verify 1 GiB: ${report.ms} ms, memory +${(peak / 2 ** 20).toFixed(1)} MiB`);
      assert.ok(peak < 128 * 2 ** 20, `memory grew by ${peak} bytes while verifying`);
    } finally {
      await img.close();
    }
  });
});
