// The snapwriter target (targets/snapwriter.c) of the leave-running tests (snapshot.test.ts,
// precopy.test.ts): starting it, asking its probe, reading its pages' stamps from an image, and
// what must hold of them and of the target after a dump.

import * as assert from 'assert';
import * as fs from 'fs';
import { CheckpointImage } from '../../src/image';
import { Identity, Lab, Started, procStatus, sleep, target, tracerPid, waitFor } from './helpers';

export interface Layout {
  base: bigint;
  pages: number;
  seqAt: bigint;
  extra: bigint;
}

export const EXTRA_PAGES = 3 * 256; // shared, wipe-on-fork, dont-fork (snapwriter.c)

export async function startWriter(lab: Lab, id: Identity, mib: number, ...mode: string[]): Promise<{ t: Started; at: Layout }> {
  const t = lab.startTarget(id, [target('snapwriter'), String(mib), ...mode]);
  const m = await waitFor('the writer to start', () => /^addr (\w+) (\d+) (\w+) (\w+)$/m.exec(t.out()), 30000);
  return { t, at: { base: BigInt('0x' + m[1]), pages: Number(m[2]), seqAt: BigInt('0x' + m[3]), extra: BigInt('0x' + m[4]) } };
}

/** The largest gap the target's probe saw since the last ask, in ms, and its counter. */
export async function probe(t: Started): Promise<{ gapMs: number; seq: bigint }> {
  const before = (t.out().match(/^gap /gm) ?? []).length;
  process.kill(t.pid, 'SIGUSR1');
  await waitFor('a probe report', () => (t.out().match(/^seq \d+$/gm) ?? []).length > before);
  const gaps = [...t.out().matchAll(/^gap (\d+)$/gm)];
  const seqs = [...t.out().matchAll(/^seq (\d+)$/gm)];
  return { gapMs: Number(gaps[gaps.length - 1][1]) / 1000, seq: BigInt(seqs[seqs.length - 1][1]) };
}

export async function u64(mem: Awaited<ReturnType<CheckpointImage['memory']>>, addr: bigint): Promise<bigint | undefined> {
  const [p] = await mem.read(addr, 8);
  return p.state === 'dumped' && p.bytes ? Buffer.from(p.bytes).readBigUInt64LE(0) : undefined;
}

/** The stamps of every page of the image (its first 8 bytes), and the counter it holds. */
export async function imageStamps(image: string, at: Layout, extra: boolean): Promise<{ seq: bigint; stamps: bigint[]; flags: number; frozenNs?: bigint }> {
  const img = await CheckpointImage.open(image);
  try {
    const mem = await img.memory();
    const seq = await u64(mem, at.seqAt);
    assert.ok(seq !== undefined, 'the image holds the counter');
    const stamps: bigint[] = [];
    const read = async (base: bigint, n: number) => {
      for (let i = 0; i < n; i++) {
        const v = await u64(mem, base + BigInt(i) * 4096n);
        assert.ok(v !== undefined, `the image holds page ${i} at 0x${(base + BigInt(i) * 4096n).toString(16)}`);
        stamps.push(v);
      }
    };
    await read(at.base, at.pages);
    if (extra) await read(at.extra, EXTRA_PAGES);
    const head = img.head as unknown as { flags: number; frozenNs?: bigint | number };
    return { seq: seq!, stamps, flags: head.flags, frozenNs: head.frozenNs === undefined ? undefined : BigInt(head.frozenNs) };
  } finally {
    await img.close();
  }
}

/** Copies of the target that outlived their dump: a process named snapwriter, other than the
 * target, that is traced (a snapshot, or its helper) or is a child of the target. (A snapshot is
 * no child of the target: killed, it is a zombie of the target's reaper, init here, until reaped.) */
export function snapshots(targetPid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === targetPid) continue;
    const st = procStatus(Number(d));
    if (st?.get('Name') !== 'snapwriter') continue;
    if (Number(st.get('TracerPid') ?? 0) !== 0 || Number(st.get('PPid')) === targetPid) out.push(Number(d));
  }
  return out;
}

/** The target runs, untraced, and no snapshot of it is left, nor a zombie child of ckpt's. */
export async function assertClean(t: Started, what: string, writes = true): Promise<void> {
  await waitFor(`${what}: ckpt to let go of the target`, () => tracerPid(t.pid) === 0);
  await waitFor(`${what}: the snapshot to be gone (left: ${snapshots(t.pid).join(', ')})`, () => snapshots(t.pid).length === 0);
  const children = fs.readFileSync(`/proc/${t.pid}/task/${t.pid}/children`, 'utf8').trim();
  assert.strictEqual(children, '', `${what}: the target has no child`);
  assert.match(procStatus(t.pid)?.get('State') ?? 'gone', /^[RS]/, `${what}: the target runs`);
  if (!writes) return;
  const before = (await probe(t)).seq;
  await sleep(50);
  assert.ok((await probe(t)).seq > before, `${what}: the target's writer goes on`);
}

/**
 * Every page holds exactly what it held at the freeze, neither older nor newer: the writer stamps
 * page k of its sweep (`period` pages: the main area, then the extra ones) with k + 1, k + 1 +
 * period, ...; so with the counter at `seq` page k holds the last such value up to seq, or seq + 1
 * for the page being stamped in that instant. A copy made before the freeze and not made again is
 * older (a precopy that missed a write); one made after, newer.
 */
export function assertStampsOfTheFreeze(stamps: bigint[], seq: bigint, period: number, what: string): void {
  const n = BigInt(period);
  for (let k = 0; k < stamps.length; k++) {
    const own = BigInt(k + 1);
    const atFreeze = seq - ((seq - own) % n);
    const beingStamped = (seq + 1n - own) % n === 0n ? seq + 1n : -1n;
    if (stamps[k] !== atFreeze && stamps[k] !== beingStamped)
      assert.fail(`${what}: page ${k} holds ${stamps[k]}, ${stamps[k] < atFreeze ? 'older' : 'newer'} than at the freeze (${atFreeze}; counter ${seq})`);
  }
}
