// Large images for scale tests and benchmarks, written as sparse files: the page data of
// untouched runs is a hole, so a multi-GiB image costs little disk and no time to make.

import fs from 'fs';
import os from 'os';
import path from 'path';
import { ImageWriter } from '../../src/image/write/imageWriter';

export const GiB = 1024 * 1024 * 1024;
export const BIG_HEAP = 0x7f0000000000n;

export interface BigImage {
  file: string;
  bytes: number;
  /** Address of a page with known content at the very end of the dumped memory. */
  markerAddr: bigint;
  marker: string;
  remove(): void;
}

/**
 * An image of one process whose heap holds `gib` GiB of dumped pages, in 1 GiB pagemap/pages
 * chunks (the format's records are at most 4 GiB). All pages are zero (holes) but the last,
 * which holds `marker`. With `dense`, every page is written, with varied bytes.
 */
export function writeBigImage(gib: number, opts: { dense?: boolean; dir?: string } = {}): BigImage {
  const dir = fs.mkdtempSync(path.join(opts.dir ?? os.tmpdir(), 'ckpt-big-'));
  const file = path.join(dir, `big-${gib}g.ckpt`);
  const fd = fs.openSync(file, 'w', 0o600);
  const ps = 4096;
  const pagesPerChunk = GiB / ps;
  const chunks = Math.ceil(gib);
  const marker = `the last page of a ${gib} GiB image`;
  try {
    const w = ImageWriter.toFile(fd, ps);
    w.head();
    const proc = w.record('process', { pid: 777, comm: 'big', nthreads: 1 });
    w.mainThread(proc, 777);
    const total = BigInt(chunks * GiB);
    const mm = w.record('mm', { nvmas: 1 }, { ptag: proc });
    w.record('vma', { start: BIG_HEAP, end: BIG_HEAP + total, prot: 3, kind: 1, path: '' }, { ptag: mm });
    for (let c = 0; c < chunks; c++) {
      const base = BIG_HEAP + BigInt(c) * BigInt(GiB);
      const last = new Uint8Array(ps);
      if (c === chunks - 1) last.set(Buffer.from(marker));
      const runs = opts.dense ? [{ vaddr: base, npages: pagesPerChunk - 1, fill: (p: number, b: Uint8Array) => fillPage(c * pagesPerChunk + p, b) }] : [{ vaddr: base, zeroPages: pagesPerChunk - 1 }];
      w.pages(mm, [...runs, { vaddr: base + BigInt(GiB - ps), data: last }]);
    }
    w.tail();
  } finally {
    fs.closeSync(fd);
  }
  return {
    file,
    bytes: fs.statSync(file).size,
    markerAddr: BIG_HEAP + BigInt(chunks * GiB - ps),
    marker,
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Varied, deterministic page content: a page number and a short text every 512 bytes. */
function fillPage(page: number, b: Uint8Array): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let o = 0; o < b.length; o += 512) {
    dv.setUint32(o, page, true);
    dv.setUint32(o + 4, o, true);
    b.set(FILLER, o + 8);
  }
}
const FILLER = Buffer.from('lorem ipsum dolor sit amet, consectetur adipiscing elit ');
