// An image whose memory defeats a backtracking regular expression: one process, one VMA whose
// pages hold nothing but 'a'. HOSTILE_REGEX finds no match there, after trying exponentially many
// ways at every position of every read: the engine would not finish one 128 KiB read in a lifetime.

import fs from 'fs';
import path from 'path';
import { ImageWriter } from '../../src/image/write/imageWriter';

export const HOSTILE_REGEX = '(a+)+b';
export const HOSTILE_PID = 666;
export const HOSTILE_BASE = 0x7e0000000000n;
/** A literal at the end of the pages (no 'b' in it), for a search that does finish. */
export const HOSTILE_MARKER = 'END-OF-THE-AAAS';

function writeHostile(w: ImageWriter, pages: number): void {
  const ps = w.pageSize;
  w.head();
  const proc = w.record('process', { pid: HOSTILE_PID, comm: 'hostile', nthreads: 1 });
  w.mainThread(proc, HOSTILE_PID);
  const mm = w.record('mm', { nvmas: 1 }, { ptag: proc });
  const end = HOSTILE_BASE + BigInt(pages * ps);
  w.record('vma', { start: HOSTILE_BASE, end, prot: 3, kind: 1, path: '' }, { ptag: mm });
  const data = new Uint8Array(pages * ps).fill('a'.charCodeAt(0));
  data.set(Buffer.from(HOSTILE_MARKER), data.length - HOSTILE_MARKER.length);
  w.pages(mm, [{ vaddr: HOSTILE_BASE, data }]);
  w.tail();
}

/** The image in memory; 64 pages (256 KiB, two of the search's reads) by default. */
export function hostileImageBytes(pages = 64): Uint8Array {
  const w = ImageWriter.inMemory();
  writeHostile(w, pages);
  return w.bytes();
}

/** The image as `dir`/hostile.ckpt. */
export function writeHostileImage(dir: string, pages = 64): string {
  const file = path.join(dir, 'hostile.ckpt');
  fs.writeFileSync(file, hostileImageBytes(pages));
  return file;
}

/** Where the marker is. */
export function hostileMarkerAddr(pages = 64): bigint {
  return HOSTILE_BASE + BigInt(pages * 4096 - HOSTILE_MARKER.length);
}
