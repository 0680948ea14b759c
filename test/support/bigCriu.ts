// Large CRIU checkpoints for the scale tests and benchmarks, made from the real `single` fixture:
// its images as CRIU wrote them, plus VMAs of `gib` GiB of anonymous memory in its mm image, runs
// listing them in its pagemap, and their pages appended to its pages file. Dense pages (generated
// by `fill`) for the benchmarks; sparse ones (a hole, nothing written) for the tests that must show
// that opening reads no page data.

import fs from 'node:fs';
import path from 'node:path';
import { copyFixture, decode, encode, readImage, writeImage } from './criuFixtures';

export const BIG_BASE = 0x7f2000000000n;
const VMA_BYTES = 4 * 1024 * 1024;
const PAGE = 4096;

export interface BigCriu {
  dir: string;
  root: string;
  /** Bytes of the added memory, and where its pages start in pages-1.img. */
  bytes: number;
  pagesAt: number;
  remove(): void;
}

/** `fill(pageIndex, page)` writes one added page; without it the pages are a hole (zeros, never written). */
export function writeBigCriu(gib: number, fill?: (index: number, page: Uint8Array) => void): BigCriu {
  const copy = copyFixture('single');
  const dir = copy.dir;
  const vmas = (gib * 1024 * 1024 * 1024) / VMA_BYTES;
  // The memory descriptor gains the VMAs (anonymous, private, read-write).
  const mmFile = path.join(dir, 'mm-28660.img');
  const mm = readImage(mmFile);
  const m = decode<{ vmas: object[] }>('mm_entry', mm.entries[0].message);
  for (let v = 0; v < vmas; v++) {
    const start = BIG_BASE + BigInt(v * VMA_BYTES);
    m.vmas.push({ start: start.toString(), end: (start + BigInt(VMA_BYTES)).toString(), pgoff: '0', shmid: '0', prot: 3, flags: 0x22, status: 0x201, fd: '-1' });
  }
  mm.entries[0].message = encode('mm_entry', m);
  writeImage(mmFile, mm);
  // The pagemap lists them, after the runs it had, so their pages follow in the pages file.
  const pmFile = path.join(dir, 'pagemap-28660.img');
  const pm = readImage(pmFile);
  for (let v = 0; v < vmas; v++) {
    pm.entries.push({ message: encode('pagemap_entry', { vaddr: (BIG_BASE + BigInt(v * VMA_BYTES)).toString(), nr_pages: String(VMA_BYTES / PAGE), flags: 4 }), extra: Buffer.alloc(0) });
  }
  writeImage(pmFile, pm);
  const pagesFile = path.join(dir, 'pages-1.img');
  const pagesAt = fs.statSync(pagesFile).size;
  const bytes = vmas * VMA_BYTES;
  if (!fill) {
    fs.truncateSync(pagesFile, pagesAt + bytes);
  } else {
    const fd = fs.openSync(pagesFile, 'a');
    const chunk = Buffer.alloc(VMA_BYTES);
    try {
      for (let v = 0; v < vmas; v++) {
        for (let p = 0; p < VMA_BYTES / PAGE; p++) fill(v * (VMA_BYTES / PAGE) + p, chunk.subarray(p * PAGE, (p + 1) * PAGE));
        fs.writeSync(fd, chunk);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return { dir, root: copy.root, bytes, pagesAt, remove: copy.remove };
}
