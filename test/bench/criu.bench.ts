// CRIU checkpoints at scale: a real CRIU dump (the `single` fixture) grown to 1 GiB of dumped memory,
// as a folder and as a Podman-style archive (checkpoint/ in a plain tar, read in place). Opening
// indexes every image and reads no page data (budget 200 ms); the search over its pages is held
// against the machine's own read speed, as for .ckpt images.

import { spawnSync } from 'child_process';
import path from 'path';
import { openCheckpoint } from '../../src/checkpoint';
import { searchAll } from '../../src/image';
import { BigCriu, writeBigCriu } from '../support/bigCriu';
import { BenchCase } from './benchCase';
import { fillPage, PAGE } from './memoryImages';

const NEEDLE = 'needle:7f3a9c2e-5b1d';
let big: BigCriu | undefined;
let archive: string | undefined;

async function ensure(): Promise<void> {
  if (big) return;
  // Two plants, as in the .ckpt search bench: across a page boundary in the middle, and in the last page.
  const plants = new Map([
    [131071, 4090],
    [131072, -6],
    [262143, 1000],
  ]);
  big = writeBigCriu(1, (index, page) => {
    fillPage(index, page);
    const at = plants.get(index);
    if (at === undefined) return;
    const bytes = Buffer.from(NEEDLE);
    if (at >= 0) page.set(bytes.subarray(0, Math.min(bytes.length, PAGE - at)), at);
    else page.set(bytes.subarray(-at), 0);
  });
  // The archive: checkpoint/ beside a config.dump, as Podman lays it out.
  archive = path.join(big.root, 'checkpoint.tar');
  const r = spawnSync('sh', ['-c', `cd "${big.root}" && mv single checkpoint && echo '{"name":"bench"}' > config.dump && tar -cf checkpoint.tar checkpoint config.dump && mv checkpoint single`]);
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
}

function openCase(name: string, where: () => string): BenchCase {
  return {
    name,
    setup: ensure,
    budgetMs: 200,
    async run() {
      const t0 = performance.now();
      const c = await openCheckpoint(where());
      const ms = performance.now() - t0;
      await c.close();
      return { ms };
    },
  };
}

export const cases: BenchCase[] = [
  openCase('open a 1 GiB CRIU checkpoint folder (no page data read)', () => big!.dir),
  openCase('open a 1 GiB CRIU checkpoint archive (.tar, in place)', () => archive!),
  {
    name: 'search 1 GiB of a CRIU checkpoint for a 20-byte literal',
    setup: ensure,
    baseline: 'read',
    file: () => path.join(big!.dir, 'pages-1.img'),
    async run() {
      const c = await openCheckpoint(big!.dir);
      const t0 = performance.now();
      const r = await searchAll(await c.searchTarget(), { mode: 'text', pattern: NEEDLE }, { maxHits: 1000 });
      const ms = performance.now() - t0;
      await c.close();
      if (r.hits.length !== 2) throw new Error(`${r.hits.length} hits, expected 2`);
      return { ms, bytes: r.scannedBytes };
    },
  },
  {
    name: 'search 1 GiB of a CRIU archive (.tar, in place) for it',
    setup: ensure,
    baseline: 'read',
    file: () => archive!,
    async run() {
      const c = await openCheckpoint(archive!);
      const t0 = performance.now();
      const r = await searchAll(await c.searchTarget(), { mode: 'text', pattern: NEEDLE }, { maxHits: 1000 });
      const ms = performance.now() - t0;
      await c.close();
      if (r.hits.length !== 2) throw new Error(`${r.hits.length} hits, expected 2`);
      return { ms, bytes: r.scannedBytes };
    },
  },
];

export async function cleanup(): Promise<void> {
  big?.remove();
  big = undefined;
}
