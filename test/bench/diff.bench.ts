// Comparing two 1 GiB images that differ in 1024 scattered pages: from the page hashes (the
// budget is 100 ms, opening both images included, Node start-up not), and by reading every
// page of both (the fallback for images without hashes), against the machine's read speed.

import path from 'path';
import { CheckpointImage, compareImages, ImageDiff } from '../../src/image';
import { BenchCase } from './benchCase';
import { benchDir, PAGE, TOTAL_PAGES, writeMemoryImage } from './memoryImages';

const CHANGED = 1024;
let files: { a: string; b: string; remove(): void } | undefined;

async function ensureImages(): Promise<void> {
  if (files) return;
  const d = benchDir('ckpt-diff-bench-');
  const changed = new Set<number>();
  // Spread over the whole image, and not on zero pages (index % 8 === 0) only.
  for (let i = 0; i < CHANGED; i++) changed.add(Math.floor((i * TOTAL_PAGES) / CHANGED) + (i % 7));
  const a = path.join(d.dir, 'a.ckpt'),
    b = path.join(d.dir, 'b.ckpt');
  writeMemoryImage(a);
  writeMemoryImage(b, { changed });
  files = { a, b, remove: d.remove };
}

async function diff(pages: 'auto' | 'bytes'): Promise<{ d: ImageDiff; ms: number }> {
  const t0 = performance.now();
  const a = await CheckpointImage.open(files!.a);
  const b = await CheckpointImage.open(files!.b);
  const d = await compareImages(a, b, { pages });
  const ms = performance.now() - t0;
  await a.close();
  await b.close();
  if (d.counts.pages.modified !== CHANGED || d.counts.total !== CHANGED + d.counts.byKind.vma.changed || d.stats.pagesCompared !== TOTAL_PAGES) {
    throw new Error(`the bench diff is wrong: ${JSON.stringify(d.counts)}`);
  }
  return { d, ms };
}

export const cases: BenchCase[] = [
  {
    name: 'diff two 1 GiB images by page hash (open both + compare)',
    setup: ensureImages,
    budgetMs: 100,
    async run() {
      const { d, ms } = await diff('auto');
      if (d.stats.bytesRead !== 0 || d.pageMethod !== 'hashes') throw new Error('the hash diff read page data');
      return { ms };
    },
  },
  {
    name: 'diff two 1 GiB images by reading both (no-hash fallback)',
    setup: ensureImages,
    baseline: 'read',
    file: () => files!.a,
    async run() {
      const { d, ms } = await diff('bytes');
      if (d.stats.bytesRead !== 2 * TOTAL_PAGES * PAGE) throw new Error('the byte diff did not read every page');
      return { ms, bytes: d.stats.bytesRead };
    },
  },
];

export async function cleanup(): Promise<void> {
  files?.remove();
  files = undefined;
}
