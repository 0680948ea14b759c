// Searching the 1 GiB of memory of an image, warm in the page cache, against the machine's own
// sequential read speed of the same file. The literal case is the one with a floor (1 GB/s);
// the others say what the slower kinds of pattern cost.

import path from 'path';
import { CheckpointImage, searchAll, SearchQuery } from '../../src/image';
import { BenchCase } from './benchCase';
import { benchDir, writeMemoryImage } from './memoryImages';

const NEEDLE = 'needle:7f3a9c2e-5b1d';
let image: { file: string; remove(): void } | undefined;

async function ensureImage(): Promise<void> {
  if (image) return;
  const d = benchDir('ckpt-search-bench-');
  const file = path.join(d.dir, 'memory.ckpt');
  // Two plants: one across a page boundary in the middle, one in the very last page.
  writeMemoryImage(file, {
    plant: [
      { page: 131071, offset: 4090, text: NEEDLE },
      { page: 262143, offset: 1000, text: NEEDLE },
    ],
  });
  image = { file, remove: d.remove };
}

function searchCase(name: string, query: SearchQuery, expectHits: number | undefined, extra: Partial<BenchCase> = {}): BenchCase {
  return {
    name,
    setup: ensureImage,
    baseline: 'read',
    file: () => image!.file,
    async run() {
      const img = await CheckpointImage.open(image!.file);
      const t0 = performance.now();
      const r = await searchAll(img, query, { maxHits: 1_000_000 });
      const ms = performance.now() - t0;
      await img.close();
      if (expectHits !== undefined && r.hits.length !== expectHits) throw new Error(`${name}: ${r.hits.length} hits, expected ${expectHits}`);
      return { ms, bytes: r.scannedBytes };
    },
    ...extra,
  };
}

export const cases: BenchCase[] = [
  searchCase('search 1 GiB of memory for a 20-byte literal', { mode: 'text', pattern: NEEDLE }, 2),
  searchCase(
    'search 1 GiB for a hex pattern with a wildcard',
    {
      mode: 'hex',
      pattern: Buffer.from(NEEDLE)
        .toString('hex')
        .replace(/^(.{10})../, '$1??'),
    },
    2,
  ),
  searchCase('search 1 GiB for UTF-16LE text', { mode: 'text', pattern: NEEDLE, encoding: 'utf16le' }, 0),
  searchCase('search 1 GiB for text, ignoring case', { mode: 'text', pattern: NEEDLE.toUpperCase(), ignoreCase: true }, 2),
  searchCase('search 1 GiB for a word of letters, ignoring case', { mode: 'text', pattern: 'NEEDLE', ignoreCase: true }, 2),
  searchCase('search 1 GiB for a regex', { mode: 'regex', pattern: 'needle:[0-9a-f]{8}-' }, 2),
];

export async function cleanup(): Promise<void> {
  image?.remove();
  image = undefined;
}
