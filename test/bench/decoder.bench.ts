// The decoder at scale: opening a 1 GiB image (headers and metadata only), verifying every
// page of it, and random page reads by address.

import { CheckpointImage, verifyImage } from '../../src/image';
import { BigImage, writeBigImage } from '../support/bigImage';
import { BenchCase } from './benchCase';

let big: BigImage | undefined;
const image = () => big!;

async function ensureImage(): Promise<void> {
  big ??= writeBigImage(1, { dense: true });
}

export const cases: BenchCase[] = [
  {
    name: 'open a 1 GiB image (index headers, check metadata)',
    setup: ensureImage,
    budgetMs: 100,
    async run() {
      const t0 = performance.now();
      const img = await CheckpointImage.open(image().file);
      const ms = performance.now() - t0;
      await img.close();
      return { ms };
    },
  },
  {
    name: 'verify every page hash of a 1 GiB image',
    setup: ensureImage,
    baseline: 'read',
    file: () => image().file,
    async run() {
      const img = await CheckpointImage.open(image().file);
      const r = await verifyImage(img);
      await img.close();
      if (!r.ok) throw new Error('bench image does not verify');
      return { ms: r.ms, bytes: r.bytesChecked };
    },
  },
  {
    name: '1000 random 4 KiB memory reads by address',
    setup: ensureImage,
    async run() {
      const img = await CheckpointImage.open(image().file);
      const mem = await img.memory();
      const seg = mem.segments[0];
      const pages = Number(seg.end - seg.start) / 4096;
      let seed = 1;
      const t0 = performance.now();
      for (let i = 0; i < 1000; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        await mem.read(seg.start + BigInt((seed % pages) * 4096), 4096);
      }
      const ms = performance.now() - t0;
      await img.close();
      return { ms };
    },
  },
];

export async function cleanup(): Promise<void> {
  big?.remove();
  big = undefined;
}
