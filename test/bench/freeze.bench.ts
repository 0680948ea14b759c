// How long a leave-running dump freezes a process (issue 12): with the precopy (--precopy, the
// default from 32 MiB of anonymous memory: pages copied while it runs, at the freeze only those
// written since), with the copy-on-write snapshot (--no-precopy) and without either (--no-snapshot), for processes with 1 MiB to 1 GiB of touched,
// varied memory. Each figure is seen twice: by ckpt ({"event":"frozen"}: from before the first
// stop to the last detach) and by the target itself (test/native/targets/snapwriter.c: the
// largest gap of a probe thread that wakes every 200 us, asked just before and after each dump).
// Sizes: BENCH_FREEZE_MIB=1,64,256,1024 (the default).

import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { BenchCase } from './benchCase';
import { benchDir } from './memoryImages';
import { buildTargets, target } from '../native/helpers';

const CKPT = path.resolve(__dirname, '..', '..', 'dist', 'bin', 'ckpt');
const SIZES = (process.env.BENCH_FREEZE_MIB ?? '1,64,256,1024')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);

interface Target {
  child: ChildProcess;
  out: string;
}

let dir: { dir: string; remove(): void } | undefined;
const targets = new Map<number, Target>();

async function startTarget(mib: number): Promise<Target> {
  const known = targets.get(mib);
  if (known) return known;
  buildTargets();
  dir ??= benchDir('ckpt-freeze-bench-');
  // fds above 2 closed (reaper --exec): a stray pipe of whatever started the bench would make the dump refuse
  const child = spawn(target('reaper'), ['--exec', target('snapwriter'), String(mib)], { stdio: ['ignore', 'pipe', 'ignore'] });
  const t: Target = { child, out: '' };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (t.out += s));
  const t0 = Date.now();
  while (!/^addr /m.test(t.out)) {
    if (Date.now() - t0 > 60_000 || child.exitCode !== null) throw new Error('the freeze bench target did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  targets.set(mib, t);
  return t;
}

/** The target's largest gap since it was last asked, in ms. */
async function gapMs(t: Target): Promise<number> {
  const n = (t.out.match(/^seq /gm) ?? []).length;
  t.child.kill('SIGUSR1');
  const t0 = Date.now();
  while ((t.out.match(/^seq /gm) ?? []).length <= n) {
    if (Date.now() - t0 > 10_000) throw new Error('the freeze bench target does not answer');
    await new Promise((r) => setTimeout(r, 5));
  }
  const gaps = [...t.out.matchAll(/^gap (\d+)$/gm)];
  return Number(gaps[gaps.length - 1][1]) / 1000;
}

/** One dump; how long ckpt and the target say the target was frozen. */
async function frozenDump(t: Target, extra: string[]): Promise<{ ckpt: number; target: number }> {
  await gapMs(t); // a fresh gap: only the dump's
  const image = path.join(dir!.dir, 'freeze.ckpt');
  const r = spawnSync(CKPT, ['dump', String(t.child.pid), '-o', image, '--leave-running', '--progress=json', ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ckpt dump failed (${r.status}): ${r.stderr}`);
  fs.rmSync(image);
  const ev = r.stdout
    .split('\n')
    .filter((l) => l.includes('"event":"frozen"'))
    .map((l) => JSON.parse(l) as { ms: number; mode: string });
  const want = extra.includes('--no-snapshot') ? 'frozen' : extra.includes('--precopy') ? 'precopy' : 'snapshot';
  if (ev.length !== 1 || ev[0].mode !== want) throw new Error(`expected one frozen event in mode ${want}: ${r.stdout}`);
  return { ckpt: ev[0].ms, target: await gapMs(t) };
}

function cases(): BenchCase[] {
  const out: BenchCase[] = [];
  for (const mib of SIZES) {
    for (const mode of mib <= 256 ? ['precopy', 'snapshot', 'frozen'] : ['precopy', 'snapshot']) {
      const extra = { precopy: ['--precopy'], snapshot: ['--no-precopy'], frozen: ['--no-snapshot'] }[mode]!;
      const what = `leave-running dump${extra.length ? ' ' + extra[0] : ''}`;
      for (const seen of ['ckpt', 'target'] as const) {
        out.push({
          name: `freeze of a ${what}, ${mib} MiB, seen by ${seen === 'ckpt' ? 'ckpt' : 'the target'}`,
          setup: async () => void (await startTarget(mib)),
          baseline: 'none',
          async run() {
            const f = await frozenDump(await startTarget(mib), extra);
            return { ms: f[seen] };
          },
        });
      }
    }
  }
  return out;
}

export const cases_: BenchCase[] = cases();
export { cases_ as cases };

export async function cleanup(): Promise<void> {
  for (const t of targets.values()) t.child.kill('SIGKILL');
  targets.clear();
  dir?.remove();
  dir = undefined;
}
