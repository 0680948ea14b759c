// Issue 3, item 6: never harm the target. A dump that is killed, cancelled or fails leaves the
// process running exactly as it was, with no file under the final name; a restore that fails
// leaves no process behind.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  alive,
  assertCounting,
  assertNoImage,
  assertOneErrorLine,
  buildTargets,
  CKPT,
  EXIT,
  Identity,
  identities,
  jsonLines,
  Lab,
  lines,
  prng,
  procStatus,
  sleep,
  Started,
  stoppedAtFaultPoint,
  target,
  testSeed,
  tracerPid,
  unprivileged,
  waitFor,
} from './helpers';
import { assertIntact, startSelfCheck } from './selfcheck';
import { CheckpointImage, verifyImage } from '../../src/image';

const counts = (file: string) =>
  lines(file)
    .filter((l) => l.startsWith('c '))
    .map((l) => Number(l.slice(2)));
const reports = (file: string) => lines(file).filter((l) => l.startsWith('r '));

/** The target runs on its own: not traced, not stopped, and still counting. */
async function assertUnharmed(pid: number, out: string): Promise<void> {
  await waitFor('ckpt to let go of the target', () => tracerPid(pid) === 0);
  const state = procStatus(pid)?.get('State') ?? 'gone';
  assert.match(state, /^[RSD]/, `the target runs (state ${state})`);
  const n = counts(out).length;
  await waitFor('the target to go on counting', () => counts(out).length > n + 3);
}

/** A counter target with `extraMiB` more of touched memory, once it counts. */
async function startCounter(lab: Lab, id: Identity, dir: string, extraMiB = 0): Promise<{ t: Started; out: string }> {
  const out = path.join(dir, 'counter.txt');
  const t = lab.startTarget(id, [target('counter'), out, String(extraMiB)]);
  await waitFor('the counter to run', () => counts(out).length >= 5, 30000);
  return { t, out };
}

/** Starts `ckpt dump --progress=json` and resolves once it reported page progress. */
async function dumpUntilPages(lab: Lab, id: Identity, pid: number, image: string, extra: string[] = []): Promise<Started> {
  const s = lab.start(id, [CKPT, 'dump', String(pid), '-o', image, '--progress=json', ...extra]);
  await waitFor('page progress', () => /"phase":"pages","done":[1-9]/.test(s.out()), 30000);
  return s;
}

describe('native: never harm the target', function () {
  this.timeout(120000);
  before(buildTargets);
  const lab = new Lab();
  afterEach(() => lab.cleanup());

  for (const id of identities()) {
    it(`SIGKILL of ckpt dump at random moments leaves the target running correctly (as ${id.name})`, async () => {
      const dir = lab.dir(id);
      const { t, out } = await startCounter(lab, id, dir, 48);
      process.kill(t.pid, 'SIGUSR1');
      const first = await waitFor('a report', () => reports(out)[0]);
      const maps = fs.readFileSync(`/proc/${t.pid}/maps`, 'utf8');
      // how long one whole dump takes here, to spread the kills over all of it
      const probe = await lab.dump(id, t.pid, path.join(dir, 'probe.ckpt'), ['--progress=json']);
      assert.strictEqual(probe.code, 0, probe.stderr);
      fs.unlinkSync(path.join(dir, 'probe.ckpt'));
      const seed = testSeed();
      const rand = prng(seed);
      const runs = 24;
      let completed = 0;
      for (let i = 0; i < runs; i++) {
        const image = path.join(dir, `k${i}.ckpt`);
        const s = lab.start(id, [CKPT, 'dump', String(t.pid), '-o', image]);
        await sleep(Math.floor(rand() * probe.ms * 1.2)); // the random moment is the input of this test
        s.child.kill('SIGKILL');
        await s.exited;
        await waitFor(`run ${i} (seed ${seed}): the worker to roll back and let go`, () => tracerPid(t.pid) === 0 && !fs.readdirSync(dir).some((n) => n.includes('.tmp-')));
        await assertUnharmed(t.pid, out);
        if (fs.existsSync(image)) {
          // killed after the rename: then the image is complete
          const buf = fs.readFileSync(image);
          assert.strictEqual(buf.subarray(buf.length - 24, buf.length - 16).toString('latin1'), 'CKPTEND\n', `run ${i}: a complete image`);
          completed++;
          fs.unlinkSync(image);
        }
      }
      console.log(`      (seed ${seed}: ${runs} kills over ${probe.ms} ms dumps, ${completed} after the image was complete)`);
      assert.strictEqual(fs.readFileSync(`/proc/${t.pid}/maps`, 'utf8'), maps, 'no mapping left behind or changed');
      process.kill(t.pid, 'SIGUSR1');
      const again = await waitFor('a second report', () => reports(out)[1]);
      assert.strictEqual(again.split(' ').slice(2).join(' '), first.split(' ').slice(2).join(' '), 'heap and page checksums unchanged');
      // the process is intact enough to be checkpointed and restored for real
      const image = path.join(dir, 'final.ckpt');
      const d = await lab.dump(id, t.pid, image, ['--kill']);
      assert.strictEqual(d.code, 0, d.stderr);
      const r = await lab.restore(id, image);
      assert.strictEqual(r.code, 0, r.stderr);
      const n = counts(out).length;
      await waitFor('the restored counter', () => counts(out).length > n + 10);
      process.kill(r.pid!, 'SIGKILL');
      await waitFor('the end', () => !alive(r.pid!));
      assertCounting(counts(out), 'counter across every killed dump and the restore');
    });
  }

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`${sig} cancels a dump: exit 8, no image, the target as it was`, async () => {
      const id = unprivileged();
      const dir = lab.dir(id);
      const { t, out } = await startCounter(lab, id, dir, 256);
      const image = path.join(dir, 'cancel.ckpt');
      const s = await dumpUntilPages(lab, id, t.pid, image);
      s.child.kill(sig);
      const r = await s.exited;
      assert.strictEqual(r.code, EXIT.cancelled, r.stderr);
      const events = jsonLines(r.stdout);
      assert.deepStrictEqual(
        events[events.length - 1],
        events.find((e) => e.event === 'error'),
      );
      assert.strictEqual(events[events.length - 1].exit, EXIT.cancelled);
      assertOneErrorLine(r.stderr, /^ckpt: cancelled/);
      assertNoImage(image);
      await assertUnharmed(t.pid, out);
      assertCounting(counts(out), 'counter');
    });
  }

  it('a dump into a full file system (ENOSPC) fails with exit 7 and leaves nothing', async function () {
    if (process.getuid?.() !== 0) this.skip(); // mounting a small tmpfs needs root
    for (const id of identities()) {
      const dir = lab.dir(id);
      const full = path.join(dir, 'small');
      fs.mkdirSync(full);
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'tmpfs', full], { encoding: 'utf8' });
      assert.strictEqual(m.status, 0, `mount: ${m.stderr}`);
      lab.mounted(full);
      fs.chownSync(full, id.uid, id.gid);
      const { t, out } = await startCounter(lab, id, dir);
      const image = path.join(full, 'full.ckpt');
      const r = await lab.dump(id, t.pid, image);
      assert.strictEqual(r.code, EXIT.io, r.stderr);
      assertOneErrorLine(r.stderr, /No space left on device/);
      assertNoImage(image);
      await assertUnharmed(t.pid, out);
    }
  });

  it('a dump into a directory it cannot write fails with exit 7 before touching the target', async () => {
    const id = unprivileged();
    const dir = lab.dir(id);
    const { t, out } = await startCounter(lab, id, dir);
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, 0o555);
    fs.chmodSync(locked, 0o555);
    fs.chownSync(locked, 0, 0);
    if (process.getuid?.() === 0 && id.uid === 0) return; // root writes anywhere: nothing to test
    const image = path.join(locked, 'x.ckpt');
    const r = await lab.dump(id, t.pid, image);
    assert.strictEqual(r.code, EXIT.io, r.stderr);
    assertOneErrorLine(r.stderr, /Permission denied/);
    assert.ok(!fs.existsSync(image));
    await assertUnharmed(t.pid, out);
  });

  // (with a snapshot, the default, its pages come from the snapshot: snapshot.test.ts)
  it('a target that dies in the middle of a frozen dump (--no-snapshot): exit 3, no image', async () => {
    const id = unprivileged();
    const dir = lab.dir(id);
    const { t } = await startCounter(lab, id, dir, 256);
    const image = path.join(dir, 'dies.ckpt');
    const s = await dumpUntilPages(lab, id, t.pid, image, ['--no-snapshot']);
    process.kill(t.pid, 'SIGKILL');
    const r = await s.exited;
    assert.strictEqual(r.code, EXIT.noProcess, r.stderr);
    assertOneErrorLine(r.stderr, /exited during the checkpoint/);
    assertNoImage(image);
  });

  it('a target that dies during the injection phase: exit 3, no image, no temp file', async () => {
    const id = unprivileged();
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir, 8);
    const image = path.join(dir, 'dies.ckpt');
    const s = lab.start(id, [CKPT, 'dump', String(sc.pid), '-o', image, '--progress=json'], {
      env: { ...process.env, CKPT_TEST_FAULT: 'stop:12' },
      detached: true, // a failed test's cleanup kills the stopped worker too
    });
    const worker = await stoppedAtFaultPoint(s, 'the dump stopped while injecting');
    process.kill(sc.pid, 'SIGKILL');
    process.kill(worker, 'SIGCONT');
    const r = await s.exited;
    assert.strictEqual(r.code, EXIT.noProcess, r.stderr);
    assertOneErrorLine(r.stderr, /process \d+ exited during the checkpoint/);
    assertNoImage(image);
  });

  it('a multi-threaded target killed while the dump drives its main thread: exit 3, no hang (its threads reaped first)', async () => {
    const id = unprivileged();
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir, 8);
    const image = path.join(dir, 'killed.ckpt');
    // stopped in the first injected step, which is the main thread's
    const s = lab.start(id, [CKPT, 'dump', String(sc.pid), '-o', image, '--progress=json'], {
      env: { ...process.env, CKPT_TEST_FAULT: 'stop:@setsigmask' },
      detached: true,
    });
    const worker = await stoppedAtFaultPoint(s, 'the dump stopped while driving the main thread');
    process.kill(sc.pid, 'SIGKILL');
    process.kill(worker, 'SIGCONT');
    const r = await Promise.race([s.exited, sleep(20000).then(() => undefined)]);
    assert.ok(r, 'ckpt dump ended (it used to wait forever for the main thread, whose exit waited for its siblings)');
    assert.strictEqual(r.code, EXIT.noProcess, r.stderr);
    assertOneErrorLine(r.stderr, /process \d+ exited during the checkpoint/);
    assertNoImage(image);
  });

  it('a target that execs again and again: every dump is sound or fails clearly, and the target goes on', async () => {
    const id = unprivileged();
    const dir = lab.dir(id);
    const out = path.join(dir, 'execs.txt');
    const t = lab.startTarget(id, [target('execer'), out]);
    const generation = () => Number(lines(out).pop()?.split(' ')[1] ?? -1);
    await waitFor('a few generations', () => generation() > 5);
    const codes = new Map<number, number>();
    let sound = '';
    for (let i = 0; i < 40; i++) {
      const image = path.join(dir, `e${i}.ckpt`);
      const t0 = Date.now();
      const r = await lab.dump(id, t.pid, image);
      // an execve during the freeze used to leave ckpt waiting 10 s for a stop that never came,
      // or deadlocked in PTRACE_SEIZE against the execve (which waited for ckpt to reap a thread)
      const took = Date.now() - t0;
      assert.ok(took < 8000, `dump ${i} took ${took} ms: ${r.stderr}`);
      codes.set(r.code ?? -1, (codes.get(r.code ?? -1) ?? 0) + 1);
      if (r.code === EXIT.ok) {
        const img = await CheckpointImage.open(image);
        const v = await verifyImage(img).finally(() => img.source.close());
        assert.ok(v.ok, `dump ${i}: a sound image`);
        if (sound) fs.unlinkSync(sound);
        sound = image;
      } else {
        assert.ok([EXIT.noProcess, EXIT.fail].includes(r.code!), `dump ${i}: ${r.code} ${r.stderr}`);
        assertOneErrorLine(r.stderr, /./);
        assertNoImage(image);
      }
      await waitFor(`dump ${i}: ckpt to let go`, () => tracerPid(t.pid) === 0);
      const g = generation();
      await waitFor(`dump ${i}: the target to go on exec'ing`, () => generation() > g + 1);
    }
    console.log(`      (exit codes of 40 dumps of a process that execs every 1-4 ms: ${[...codes].map(([c, n]) => `${c}: ${n}`).join(', ')})`);
    assert.ok(sound, 'some dump succeeded');
    // a sound image restores into a process that goes on where it was
    process.kill(t.pid, 'SIGKILL');
    const r = await lab.restore(id, sound);
    assert.strictEqual(r.code, EXIT.ok, r.stderr);
    const g = generation();
    await waitFor('the restored process to exec on', () => generation() > g + 3);
  });

  it('a target already traced by another tracer: exit 4 naming it, the target runs on', async () => {
    const id = unprivileged();
    const dir = lab.dir(id);
    const { t, out } = await startCounter(lab, id, dir);
    const tracer = lab.start(id, [target('tracer'), String(t.pid)]);
    await waitFor('the other tracer', () => tracerPid(t.pid) === tracer.pid);
    const image = path.join(dir, 'traced.ckpt');
    const r = await lab.dump(id, t.pid, image);
    assert.strictEqual(r.code, EXIT.permission, r.stderr);
    assertOneErrorLine(r.stderr, new RegExp(`it is already traced by process ${tracer.pid}$`));
    assertNoImage(image);
    assert.strictEqual(tracerPid(t.pid), tracer.pid, 'the other tracer keeps it');
    const n = counts(out).length;
    await waitFor('the target to go on counting', () => counts(out).length > n + 3);
    tracer.child.kill('SIGKILL');
    await tracer.exited;
    await assertUnharmed(t.pid, out);
    const again = await lab.dump(id, t.pid, image);
    assert.strictEqual(again.code, EXIT.ok, again.stderr);
  });

  it('two dumps of one process at once: one succeeds, the other exits 4 naming the first', async () => {
    const id = unprivileged();
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir, 16);
    // the first holds the process (stopped in its injection phase) while the second tries
    const a = lab.start(id, [CKPT, 'dump', String(sc.pid), '-o', path.join(dir, 'a.ckpt'), '--progress=json'], {
      env: { ...process.env, CKPT_TEST_FAULT: 'stop:8' },
      detached: true, // a failed test's cleanup kills the stopped worker too
    });
    const worker = await stoppedAtFaultPoint(a, 'the first dump');
    const b = await lab.dump(id, sc.pid, path.join(dir, 'b.ckpt'));
    assert.strictEqual(b.code, EXIT.permission, b.stderr);
    assertOneErrorLine(b.stderr, new RegExp(`it is already traced by process ${worker}$`));
    assert.deepStrictEqual(
      fs.readdirSync(dir).filter((n) => n.startsWith('b.ckpt') || n.startsWith('.b.ckpt')),
      [],
      'nothing of the second dump',
    );
    process.kill(worker, 'SIGCONT');
    const ar = await a.exited;
    assert.strictEqual(ar.code, EXIT.ok, ar.stderr);
    await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, 'after the two dumps');
    // and started at the same instant: never both fail, never harm
    for (let i = 0; i < 6; i++) {
      const images = [path.join(dir, `x${i}.ckpt`), path.join(dir, `y${i}.ckpt`)];
      const rs = await Promise.all(images.map((img) => lab.dump(id, sc.pid, img)));
      const failed = rs.filter((r) => r.code !== EXIT.ok);
      assert.ok(failed.length < 2, `round ${i}: one of them succeeds: ${rs.map((r) => r.stderr).join(' / ')}`);
      for (const r of failed) {
        assert.strictEqual(r.code, EXIT.permission, r.stderr);
        assertOneErrorLine(r.stderr, /it is already traced by process \d+$/);
      }
      rs.forEach((r, k) => assert.strictEqual(fs.existsSync(images[k]), r.code === EXIT.ok));
      await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, `round ${i}`);
    }
  });

  it('a restore that fails leaves no process and no pid file', async () => {
    const id = unprivileged();
    const dir = lab.dir(id);
    // a private copy of the program, so that it can be changed after the checkpoint
    const exe = path.join(dir, 'counter-copy');
    fs.copyFileSync(target('counter'), exe);
    fs.chmodSync(exe, 0o755);
    const out = path.join(dir, 'counter.txt');
    const t = lab.startTarget(id, [exe, out]);
    await waitFor('the counter to run', () => counts(out).length >= 5);
    const image = path.join(dir, 'c.ckpt');
    const d = await lab.dump(id, t.pid, image, ['--kill']);
    assert.strictEqual(d.code, 0, d.stderr);
    const pidFile = path.join(dir, 'pid');

    // 1. a damaged page: found after the new process exists, which must then go away
    const damaged = path.join(dir, 'damaged.ckpt');
    const buf = fs.readFileSync(image);
    const pagesAt = buf.indexOf(Buffer.from([0x17, 0, 0, 0, 1, 0, 0, 0])); // type pages, flags page_hashed
    assert.ok(pagesAt > 0 && (pagesAt + 32) % 4096 === 0, 'a pages record');
    buf[pagesAt + 32 + 100] ^= 0xff;
    fs.writeFileSync(damaged, buf);
    fs.chownSync(damaged, id.uid, id.gid);
    let r = await lab.restore(id, damaged, ['--stdio=null', `--pid-file=${pidFile}`]);
    assert.strictEqual(r.code, EXIT.badImage, r.stderr);
    assertOneErrorLine(r.stderr, /does not match its hash/);
    await r.reaperDone; // the reaper exits only when no process of the restore is left
    assert.ok(!fs.existsSync(pidFile), 'no pid file');

    // 2. the program file changed since the checkpoint
    fs.appendFileSync(exe, 'changed');
    r = await lab.restore(id, image, ['--stdio=null', `--pid-file=${pidFile}`]);
    assert.strictEqual(r.code, EXIT.unsupported, r.stderr);
    assertOneErrorLine(r.stderr, /counter-copy is not the file the image mapped \(it changed since the checkpoint\)/);
    await r.reaperDone;
    assert.ok(!fs.existsSync(pidFile), 'no pid file');
  });

  it('a damaged page deep in a big image is caught while later pages still load, and named by page and byte', async () => {
    // Restore checks pages on a second thread, piece by piece, while the next piece loads: the
    // page it names must be the damaged one, however far in, and nothing must be left alive.
    const id = unprivileged();
    const dir = lab.dir(id);
    const { t } = await startCounter(lab, id, dir, 96);
    const image = path.join(dir, 'big.ckpt');
    const d = await lab.dump(id, t.pid, image, ['--kill']);
    assert.strictEqual(d.code, 0, d.stderr);
    const buf = fs.readFileSync(image);
    const pagesAt = buf.indexOf(Buffer.from([0x17, 0, 0, 0, 1, 0, 0, 0])); // type pages, flags page_hashed
    const len = buf.readUInt32LE(pagesAt + 8);
    const page = 80 * 256 + 7; // 80 MiB in: beyond the first pieces
    assert.ok(pagesAt > 0 && len > (page + 1) * 4096, `a pages record of ${len} bytes`);
    const pageAt = pagesAt + 32 + page * 4096;
    buf[pageAt + 123] ^= 0xff;
    const damaged = path.join(dir, 'damaged.ckpt');
    fs.writeFileSync(damaged, buf);
    fs.chownSync(damaged, id.uid, id.gid);
    const r = await lab.restore(id, damaged, ['--stdio=null']);
    assert.strictEqual(r.code, EXIT.badImage, r.stderr);
    assertOneErrorLine(r.stderr, new RegExp(`page ${page} of pagemap #0 \\(address 0x[0-9a-f]+, byte ${pageAt} of the file\\) does not match its hash`));
    await r.reaperDone;
  });
});
