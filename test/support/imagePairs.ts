// Images for the compare and search tests. `writeRichPair` writes, with the test writer, two images
// with a known list of differences of several kinds (a thread's registers, a modified heap page, an
// added VMA with a page, an fd's offset); `makeRealPair` has the native checkpointer checkpoint a
// live process twice while it rewrites one known page, with strings planted at known addresses
// (the target of test/unit/diffRealTarget.ts).

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Ckpt } from '../../src/image';
import { baseSpec, buildImage, copySpec, HEAP, ImageSpec, PAGE, pageBytes } from '../unit/diffImages';
import { buildTarget, Planted, realTargetUnavailable, startTarget } from '../unit/diffRealTarget';

export const RICH = {
  /** The worker thread whose rip and rax change. */
  worker: 4243,
  workerRip: { a: '0x7f12345a0000', b: '0x7f12345a0010' },
  /** The heap page whose bytes 100..103 change. */
  heapPage: HEAP + BigInt(PAGE),
  heapBytes: { offset: 100, length: 4 },
  /** The VMA only B has, with one dumped page. */
  addedVma: { start: 0x7f0000000000n, end: 0x7f0000002000n },
  fd: 1,
};

/** Image A and B of the rich pair (B taken 5 s later). */
export function richSpecs(opts: { hashed?: boolean } = {}): { a: ImageSpec; b: ImageSpec } {
  const a = baseSpec();
  a.hashed = opts.hashed;
  const b = copySpec(a);
  b.timeNs = 1_790_000_005_000_000_000n;
  const p = b.processes[0];
  p.threads[1].rip = 0x7f12345a0010n;
  const heap = p.pagemaps[0][0].data;
  for (let i = 0; i < RICH.heapBytes.length; i++) heap[PAGE + RICH.heapBytes.offset + i] ^= 0xff;
  p.vmas.push({ start: RICH.addedVma.start, end: RICH.addedVma.end, prot: 3, kind: Ckpt.VmaKind.ANON_PRIVATE, path: '' });
  p.pagemaps[1].push({ vaddr: RICH.addedVma.start + BigInt(PAGE), data: pageBytes(8) });
  p.fds[1].pos = 456n;
  return { a, b };
}

/** Writes the rich pair into a folder; returns the two paths. */
export function writeRichPair(dir: string, names: [string, string] = ['rich-a.ckpt', 'rich-b.ckpt'], opts: { hashed?: boolean } = {}): [string, string] {
  const { a, b } = richSpecs(opts);
  const fa = path.join(dir, names[0]);
  const fb = path.join(dir, names[1]);
  fs.writeFileSync(fa, buildImage(a));
  fs.writeFileSync(fb, buildImage(b));
  return [fa, fb];
}

export interface RealPair {
  first: string;
  changed: string;
  planted: Planted;
  pid: number;
}

/**
 * A live process checkpointed (left running) into `first`, made to rewrite its buffer page, and
 * checkpointed again into `changed`; then stopped. Undefined, with the reason logged, where the
 * real checkpointer cannot run.
 */
export async function makeRealPair(dir: string, ckpt: string, names: [string, string] = ['first.ckpt', 'changed.ckpt']): Promise<RealPair | undefined> {
  const why = realTargetUnavailable() ?? (fs.existsSync(ckpt) ? undefined : `${ckpt} is missing`);
  if (why) {
    console.log(`      (no real-process images: ${why})`);
    return undefined;
  }
  const build = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-planter-'));
  const target = await startTarget(buildTarget(build));
  const dump = (file: string) => {
    const r = spawnSync(ckpt, ['dump', String(target.pid), '-o', file], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`ckpt dump failed (${r.status ?? r.signal}): ${r.stderr}`);
  };
  try {
    const first = path.join(dir, names[0]);
    const changed = path.join(dir, names[1]);
    dump(first);
    await target.change();
    dump(changed);
    return { first, changed, planted: target.planted, pid: target.pid };
  } finally {
    target.stop();
    fs.rmSync(build, { recursive: true, force: true });
  }
}
