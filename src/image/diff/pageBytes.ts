// One page from both images, side by side, with the byte ranges that differ: what a hex diff
// view of a changed page shows. Bytes travel as hex strings so the result is plain JSON.

import { CheckpointImage } from '../checkpointImage';
import { bytesToHex, hex } from '../fields';
import { RecordEntry } from '../recordIndex';

export interface PageBytesDiff {
  /** Address of the first byte of the page, hex. */
  address: string;
  pageSize: number;
  /** The page's bytes in each image, hex; null where that image did not dump the page. */
  a: string | null;
  b: string | null;
  /** Runs of differing bytes, by offset in the page (the whole page when one side is missing). */
  changed: { offset: number; length: number }[];
}

async function processByPid(img: CheckpointImage, pid: number | undefined): Promise<RecordEntry | undefined> {
  const all = img.processes();
  if (pid === undefined) return all[0];
  for (const r of all) if ((await img.decodeAs(r, 'process')).pid === pid) return r;
  return undefined;
}

async function pageOf(img: CheckpointImage, pid: number | undefined, addr: bigint, size: number): Promise<Uint8Array | undefined> {
  const proc = await processByPid(img, pid);
  if (!proc) return undefined;
  const mem = await img.memory(proc);
  const pieces = await mem.read(addr, size);
  return pieces.length === 1 && pieces[0].state === 'dumped' ? pieces[0].bytes : undefined;
}

/** The page holding `address` in both images, for process `pid` (default: the first process). */
export async function comparePageBytes(a: CheckpointImage, b: CheckpointImage, address: bigint | string, opts: { pid?: number } = {}): Promise<PageBytesDiff> {
  const size = Math.min(a.pageSize, b.pageSize);
  const page = (BigInt(address) / BigInt(size)) * BigInt(size);
  const x = await pageOf(a, opts.pid, page, size);
  const y = await pageOf(b, opts.pid, page, size);
  const changed: PageBytesDiff['changed'] = [];
  if (!x || !y) {
    if (x || y) changed.push({ offset: 0, length: size });
  } else {
    for (let i = 0; i < size; i++) {
      if (x[i] === y[i]) continue;
      const last = changed[changed.length - 1];
      if (last && last.offset + last.length === i) last.length++;
      else changed.push({ offset: i, length: 1 });
    }
  }
  return { address: hex(page), pageSize: size, a: x ? bytesToHex(x) : null, b: y ? bytesToHex(y) : null, changed };
}
