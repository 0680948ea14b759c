// The native checkpointer's dump of a live process with 1 GiB of touched, varied heap, left
// running: read through process_vm_readv, hashed page by page, written and fsynced. The limit
// beside it is writing as many bytes to a new file in the same folder and fsyncing them.

import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { BenchCase } from './benchCase';
import { benchDir } from './memoryImages';

const CKPT = path.resolve(__dirname, '..', '..', 'dist', 'bin', 'ckpt');
const HEAP_MIB = 1024;

let dir: { dir: string; remove(): void } | undefined;
let target: ChildProcess | undefined;
const image = () => path.join(dir!.dir, 'target.ckpt');

async function startTarget(): Promise<void> {
  if (target) return;
  if (!fs.existsSync(CKPT)) throw new Error(`${CKPT} is missing: npm run build:native`);
  dir = benchDir('ckpt-dump-bench-');
  const ready = path.join(dir.dir, 'ready');
  // Each MiB repeats, but every page of it differs: nothing is skipped as zero. Inherited fds are
  // closed: a pipe from whatever started the bench would make the dump refuse it.
  const code = `import os, sys, time\nos.closerange(3, 4096)\nheap = bytearray(os.urandom(1 << 20)) * ${HEAP_MIB}\nopen(sys.argv[1], "w").write("ready")\ntime.sleep(3600)\n`;
  target = spawn('python3', ['-c', code, ready], { stdio: 'ignore' });
  const t0 = Date.now();
  while (!fs.existsSync(ready)) {
    if (Date.now() - t0 > 60_000 || target.exitCode !== null) throw new Error('the dump bench target did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const cases: BenchCase[] = [
  {
    name: `ckpt dump of a process with ${HEAP_MIB} MiB of heap, left running`,
    setup: startTarget,
    baseline: 'write',
    file: image,
    async run() {
      const t0 = performance.now();
      const r = spawnSync(CKPT, ['dump', String(target!.pid), '-o', image(), '--leave-running'], { encoding: 'utf8' });
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`ckpt dump failed (${r.status}): ${r.stderr}`);
      const bytes = fs.statSync(image()).size;
      if (bytes < HEAP_MIB << 20) throw new Error(`the image holds ${bytes} bytes, less than the heap`);
      // Removed at once, as the baseline removes its file: each then writes into page cache the
      // other has just freed (a first touch of fresh memory costs several times more here).
      fs.rmSync(image());
      return { ms, bytes };
    },
  },
];

export async function cleanup(): Promise<void> {
  target?.kill('SIGKILL');
  target = undefined;
  dir?.remove();
  dir = undefined;
}
