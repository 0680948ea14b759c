// Issue 12: the leave-running snapshot (--no-precopy here: a precopy takes one only when the
// process wrote too much since it; precopy.test.ts). The image holds what the process held at the freeze even
// though it runs on (and writes) while its pages are read; the snapshot process is gone after a
// success, a failure, a cancel and a SIGKILL of ckpt, its worker or its group; the freeze is
// reported by ckpt and seen by the target's own probe thread.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CKPT, EXIT, Lab, Started, alive, buildTargets, identities, jsonLines, procStatus, stoppedAtFaultPoint, target, tracerPid, waitFor } from './helpers';
import { EXTRA_PAGES, assertClean, assertStampsOfTheFreeze, imageStamps, probe, snapshots, startWriter, u64 } from './snapwriter';
import { CheckpointImage } from '../../src/image';

describe('native: the leave-running snapshot (issue 12)', function () {
  this.timeout(120000);
  before(buildTargets);
  const lab = new Lab();
  afterEach(() => lab.cleanup());

  for (const id of identities()) {
    it(`holds what the process held at the freeze while it writes on, shared and fork-blind areas too (as ${id.name})`, async () => {
      const dir = lab.dir(id);
      const { t, at } = await startWriter(lab, id, 32, 'write', 'shared');
      const image = path.join(dir, 'w.ckpt');
      const r = await lab.dump(id, t.pid, image, ['--leave-running', '--no-precopy', '--progress=json']);
      assert.strictEqual(r.code, 0, r.stderr);
      const ev = jsonLines(r.stdout);
      const frozen = ev.find((e) => e.event === 'frozen');
      assert.ok(frozen, `a frozen event: ${r.stdout}`);
      assert.strictEqual(frozen.mode, 'snapshot');
      const cost = ev.find((e) => e.event === 'snapshot');
      assert.ok(cost && typeof cost.cost === 'number', 'the snapshot reports its cost');
      const after = await probe(t);
      const { seq, stamps, flags, frozenNs } = await imageStamps(image, at, true);
      assert.ok(flags & 16, 'the image says snapshot');
      assert.ok(frozenNs !== undefined && frozenNs > 0n, 'the head holds the freeze time');
      // the writer went on while the pages were read: later values existed in the process
      assert.ok(after.seq > seq + BigInt(at.pages + EXTRA_PAGES), `the writer went on (${seq} at the freeze, ${after.seq} after)`);
      assertStampsOfTheFreeze(stamps, seq, at.pages + EXTRA_PAGES, 'the snapshot');
      // the wipe-on-fork and dont-fork areas hold their pages, not zeros or nothing
      assert.ok(stamps.slice(at.pages).every((s) => s > 0n));
      await assertClean(t, 'after a success');
      // the restored process finds its own pages consistent
      const rs = await lab.restore(id, image, ['--stdio=null']);
      assert.strictEqual(rs.code, 0, rs.stderr);
      assert.ok(rs.pid && alive(rs.pid));
    });
  }

  const id = identities()[0];

  it('--tree: one snapshot per member, all taken while the whole tree is frozen; each image consistent', async () => {
    const dir = lab.dir(id);
    const sw = target('snapwriter');
    const outs = ['a', 'b'].map((n) => path.join(dir, `${n}.txt`));
    // a shell and two writers, their output in files (a pipe to us would leave the tree)
    const sh = lab.startTarget(id, ['/bin/sh', '-c', `exec >/dev/null 2>&1 </dev/null; ${sw} 8 write > ${outs[0]} & ${sw} 8 write > ${outs[1]} & wait`]);
    const layouts = await Promise.all(
      outs.map((o) =>
        waitFor(
          'a writer to start',
          () => {
            const m = fs.existsSync(o) ? /^addr (\w+) (\d+) (\w+) (\w+)$/m.exec(fs.readFileSync(o, 'utf8')) : null;
            return m ? { base: BigInt('0x' + m[1]), pages: Number(m[2]), seqAt: BigInt('0x' + m[3]), extra: 0n } : undefined;
          },
          30000,
        ),
      ),
    );
    const image = path.join(dir, 'tree.ckpt');
    const r = await lab.dump(id, sh.pid, image, ['--tree', '--progress=json', '--no-fsync']); // (a scratch image)
    assert.strictEqual(r.code, 0, r.stderr);
    const frozen = jsonLines(r.stdout).find((e) => e.event === 'frozen');
    assert.ok(frozen && frozen.mode === 'snapshot', r.stdout);
    assert.strictEqual(jsonLines(r.stdout).filter((e) => e.event === 'snapshot').length, 3, 'a snapshot of each of the 3 members');
    const img = await CheckpointImage.open(image);
    try {
      const procs = img.processes();
      assert.strictEqual(procs.length, 3);
      // each writer's pages against its own counter (which process is which: the one whose layout reads)
      let consistent = 0;
      for (const pr of procs) {
        const mem = await img.memory(pr);
        for (const at of layouts) {
          const seq = await u64(mem, at.seqAt);
          const first = await u64(mem, at.base);
          if (seq === undefined || first === undefined) continue;
          for (let i = 0; i < at.pages; i++) {
            const v = await u64(mem, at.base + BigInt(i) * 4096n);
            assert.ok(v !== undefined && v > 0n && v <= seq + 1n, `page ${i} holds ${v}, counter ${seq}`);
          }
          consistent++;
        }
      }
      assert.ok(consistent >= 2, `both writers found in the image (${consistent})`);
    } finally {
      await img.close();
    }
    await waitFor('no snapshot left', () =>
      fs.readdirSync('/proc').every((d) => {
        const st = /^\d+$/.test(d) ? procStatus(Number(d)) : undefined;
        return !st || !['snapwriter', 'sh'].includes(st.get('Name') ?? '') || Number(st.get('TracerPid') ?? 0) === 0;
      }),
    );
    assert.strictEqual(tracerPid(sh.pid), 0);
  });

  it('the freeze is reported by ckpt and seen by the target, far shorter than a frozen dump', async () => {
    const dir = lab.dir(id);
    const { t } = await startWriter(lab, id, 64);
    await probe(t);
    const gaps: Record<string, { ckpt: number; target: number }> = {};
    // the snapshot three times, its shortest freeze counted: a load spike of the shared machine
    // can stretch any one of them
    for (const [i, mode] of ['snapshot', 'snapshot', 'snapshot', 'frozen'].entries()) {
      const r = await lab.dump(id, t.pid, path.join(dir, `${mode}-${i}.ckpt`), ['--progress=json', ...(mode === 'frozen' ? ['--no-snapshot'] : ['--no-precopy'])]);
      assert.strictEqual(r.code, 0, r.stderr);
      const frozen = jsonLines(r.stdout).find((e) => e.event === 'frozen');
      assert.ok(frozen && frozen.mode === mode, `${mode}: ${r.stdout}`);
      const seen = { ckpt: Number(frozen.ms), target: (await probe(t)).gapMs };
      if (!gaps[mode] || seen.ckpt < gaps[mode].ckpt) gaps[mode] = seen;
      if (mode === 'snapshot') {
        // a process that writes nothing costs its snapshot nearly nothing: reading the snapshot
        // must not copy its pages (process_vm_readv would: a pin unshares a page first)
        const cost = Number(jsonLines(r.stdout).find((e) => e.event === 'snapshot')?.cost);
        assert.ok(cost >= 0 && cost < 8 << 20, `the snapshot held ${cost} bytes of its own`);
      }
    }
    console.log(
      `      frozen (64 MiB): snapshot ${gaps.snapshot.ckpt.toFixed(1)} ms by ckpt, ${gaps.snapshot.target.toFixed(1)} ms by the target; ` +
        `without: ${gaps.frozen.ckpt.toFixed(1)} / ${gaps.frozen.target.toFixed(1)} ms`,
    );
    // the target cannot run while frozen: its probe sees at least most of what ckpt reports
    assert.ok(gaps.frozen.target >= gaps.frozen.ckpt * 0.5, `the probe sees the freeze: ${JSON.stringify(gaps)}`);
    // generous: catches a snapshot that keeps the process frozen while its pages are read
    assert.ok(gaps.snapshot.ckpt < 1000, `snapshot freeze ${gaps.snapshot.ckpt} ms`);
    assert.ok(gaps.snapshot.ckpt < gaps.frozen.ckpt, `the snapshot freezes less: ${JSON.stringify(gaps)}`);
    await assertClean(t, 'after both', false);
  });

  it('the snapshot is gone after a failure (it was killed), a cancel, and a SIGKILL of ckpt, its worker and its group', async () => {
    const dir = lab.dir(id);
    const { t } = await startWriter(lab, id, 128, 'write');
    const dumpUntilPages = async (name: string, detached = false) => {
      const s = lab.start(id, [CKPT, 'dump', String(t.pid), '-o', path.join(dir, name), '--no-precopy', '--progress=json'], { detached });
      await waitFor(`${name}: page progress`, () => /"phase":"pages","done":[1-9]/.test(s.out()) || s.child.exitCode !== null, 30000);
      assert.strictEqual(s.child.exitCode, null, `${name}: ckpt still runs: ${s.err()}`);
      const snaps = snapshots(t.pid);
      assert.strictEqual(snaps.length, 1, `${name}: one snapshot while its pages are read`);
      assert.match(procStatus(snaps[0])?.get('State') ?? '', /^t/, `${name}: the snapshot is stopped under ptrace`);
      return { s, snap: snaps[0] };
    };
    const worker = (s: Started) => Number(fs.readFileSync(`/proc/${s.pid}/task/${s.pid}/children`, 'utf8').trim().split(/\s+/)[0]);

    // a failure: the snapshot killed from outside
    let d = await dumpUntilPages('fail.ckpt');
    process.kill(d.snap, 'SIGKILL');
    let r = await d.s.exited;
    assert.strictEqual(r.code, EXIT.fail, r.stderr);
    assert.match(r.stderr, /snapshot of process \d+ was killed/);
    await assertClean(t, 'after a failure');

    // the process killed once it was resumed: its image is still the one of the freeze
    const other = await startWriter(lab, id, 64, 'write');
    const s0 = lab.start(id, [CKPT, 'dump', String(other.t.pid), '-o', path.join(dir, 'dies.ckpt'), '--no-precopy', '--progress=json']);
    await waitFor('page progress', () => /"phase":"pages","done":[1-9]/.test(s0.out()) || s0.child.exitCode !== null, 30000);
    process.kill(other.t.pid, 'SIGKILL');
    r = await s0.exited;
    assert.strictEqual(r.code, EXIT.ok, r.stderr);
    const dead = await imageStamps(path.join(dir, 'dies.ckpt'), other.at, false);
    assert.strictEqual(
      dead.stamps.findIndex((v) => v === 0n || v > dead.seq + 1n),
      -1,
      'a consistent image',
    );
    fs.unlinkSync(path.join(dir, 'dies.ckpt'));

    // a cancel
    d = await dumpUntilPages('cancel.ckpt');
    d.s.child.kill('SIGINT');
    r = await d.s.exited;
    assert.strictEqual(r.code, EXIT.cancelled, r.stderr);
    await assertClean(t, 'after a cancel');

    // SIGKILL of ckpt (its worker cancels), of its worker (the snapshot dies with its tracer), of its group
    d = await dumpUntilPages('kill.ckpt');
    d.s.child.kill('SIGKILL');
    await d.s.exited;
    await assertClean(t, 'after SIGKILL of ckpt');
    d = await dumpUntilPages('worker.ckpt');
    process.kill(worker(d.s), 'SIGKILL');
    await d.s.exited;
    await assertClean(t, 'after SIGKILL of the worker');
    d = await dumpUntilPages('group.ckpt', true);
    process.kill(-d.s.pid, 'SIGKILL');
    await d.s.exited;
    await assertClean(t, 'after SIGKILL of the group');

    // SIGKILL right after the snapshot was made, while the process is still frozen
    const s = lab.start(id, [CKPT, 'dump', String(t.pid), '-o', path.join(dir, 'point.ckpt'), '--no-precopy', '--progress=json'], {
      detached: true,
      env: { ...process.env, CKPT_TEST_FAULT: 'stop:@snapshot' },
    });
    const pid = await stoppedAtFaultPoint(s, 'snapshot');
    assert.ok(pid > 0);
    process.kill(-s.pid, 'SIGKILL');
    await s.exited;
    await assertClean(t, 'after SIGKILL at the snapshot');
    // (the temp file of a dump killed with its group is removed by the next dump: neverharm.test.ts)
    assert.deepStrictEqual(
      fs.readdirSync(dir).filter((n) => n.endsWith('.ckpt')),
      [],
      'no image',
    );
  });
});
