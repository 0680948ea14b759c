// Issue 9, the fault suite: whatever happens to ckpt, its target lives on as it was. SIGKILL of
// the `ckpt dump` caller, of its worker and of its whole process group (what `timeout -s KILL`
// and a closed window do) at moments spread over a whole dump; the same at every kind of step
// of the injection phase, chosen with the test hook CKPT_TEST_FAULT (src/native/util.h); SIGKILL
// of `ckpt restore` at moments spread over a whole restore. After each kill the self-checking
// target (selfcheck.ts) must prove itself intact, no file may exist under the image name unless
// the dump had passed its point of no return, and the temp files killed dumps leave behind must
// be removed, with a warning, by a later dump. The counts are printed at the end.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointImage, verifyImage } from '../../src/image';
import { alive, buildTargets, childrenOf, CKPT, EXIT, jsonLines, Lab, prng, sleep, Started, stoppedAtFaultPoint, target, testSeed, tracerPid, unprivileged, waitFor } from './helpers';
import { assertIntact, SelfCheck, startSelfCheck, TickReader } from './selfcheck';

type KillKind = 'caller' | 'worker' | 'group';
const KINDS: KillKind[] = ['caller', 'worker', 'group'];
const KILLS_PER_KIND = 50;
const RESTORE_KILLS = 50;

/** The temp files of ckpt dumps in a directory. */
function temps(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => /^\..+\.tmp-\d+$/.test(n));
}

function lastStep(stdout: string): string {
  const steps = jsonLines(stdout).filter((e) => e.event === 'step');
  return steps.length ? String(steps[steps.length - 1].step) : 'none';
}

/** Kills `pid` with SIGKILL, its whole group when `group`; false when it was gone already. */
function kill(pid: number, group = false): boolean {
  try {
    process.kill(group ? -pid : pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

async function verified(image: string): Promise<boolean> {
  const img = await CheckpointImage.open(image);
  try {
    const r = await verifyImage(img);
    return r.ok && r.problems.length === 0;
  } finally {
    await img.source.close();
  }
}

/** Counts of one kind of kill, for the summary. */
class Tally {
  readonly byStep = new Map<string, number>();
  n = 0;
  published = 0;
  tempsLeft = 0;
  afterEnd = 0;

  add(step: string): void {
    this.n++;
    this.byStep.set(step, (this.byStep.get(step) ?? 0) + 1);
  }

  line(what: string): string {
    const steps = [...this.byStep].map(([s, n]) => `${s} ${n}`).join(', ');
    return (
      `${what}: ${this.n - this.afterEnd} kills of a running dump (last step seen: ${steps}); ${this.published} after the ` +
      `point of no return left a complete image; ${this.tempsLeft} left a temp file, each removed by a later dump; ` +
      `${this.afterEnd} more came after the dump had ended; failures: 0`
    );
  }
}

describe('native: fault suite (issue 9)', function () {
  this.timeout(900000);
  before(buildTargets);
  const lab = new Lab();
  afterEach(() => lab.cleanup());
  const id = unprivileged();
  const summary: string[] = [];
  after(() => {
    if (summary.length) console.log(`      fault suite summary (as ${id.name}):\n${summary.map((l) => `        ${l}`).join('\n')}`);
  });

  /** The dump machinery shared by the tests below: one target, its directory, the leftover temp files. */
  class DumpKills {
    /** temp files left by killed dumps, and whether a later dump announced their removal */
    readonly leftovers = new Map<string, boolean>();
    n = 0;

    constructor(
      readonly sc: SelfCheck,
      readonly dir: string,
    ) {}

    image(): string {
      return path.join(this.dir, 'k.ckpt');
    }

    start(env?: NodeJS.ProcessEnv): Started {
      const argv = [CKPT, 'dump', String(this.sc.pid), '-o', this.image(), '--progress=json'];
      return lab.start(id, argv, { detached: true, env: env ? { ...process.env, ...env } : undefined });
    }

    /** After a dump (killed or not) ended: its process gone, image and temp files as the rules say. */
    async settle(s: Started, worker: number, what: string, tally?: Tally): Promise<void> {
      await s.exited;
      if (worker) await waitFor(`${what}: the worker ${worker} to end`, () => !alive(worker), 20000);
      const out = s.out();
      for (const e of jsonLines(out)) {
        const m = e.event === 'warning' ? /^removed (\S+) \(/.exec(String(e.message)) : null;
        if (m) {
          const name = path.basename(m[1]);
          assert.ok(this.leftovers.has(name), `${what}: removed ${name}, which no killed dump had left`);
          this.leftovers.set(name, true);
        }
      }
      const image = this.image();
      if (fs.existsSync(image)) {
        assert.ok(
          jsonLines(out).some((e) => e.step === 'publish'),
          `${what}: an image exists, but the dump had not reached its point of no return`,
        );
        assert.ok(await verified(image), `${what}: the image left is complete and sound`);
        fs.unlinkSync(image);
        if (tally) tally.published++;
      }
      for (const name of temps(this.dir)) {
        if (this.leftovers.has(name)) continue;
        assert.strictEqual(name, `.k.ckpt.tmp-${s.pid}`, `${what}: a temp file of this dump, not another's`);
        assert.ok(!alive(s.pid), `${what}: a temp file is left only when the dump's caller is gone`);
        this.leftovers.set(name, false);
        if (tally) tally.tempsLeft++;
      }
      for (const name of this.leftovers.keys()) {
        if (!fs.existsSync(path.join(this.dir, name))) assert.ok(this.leftovers.get(name), `${what}: ${name} vanished without a warning`);
      }
    }

    /** A complete dump, which must remove every leftover temp file and announce each. */
    async completeDump(what: string): Promise<void> {
      const s = this.start();
      const r = await s.exited;
      assert.strictEqual(r.code, EXIT.ok, `${what}: ${r.stderr}`);
      await this.settle(s, 0, what);
      assert.deepStrictEqual(temps(this.dir), [], `${what}: no temp file is left`);
      assert.ok([...this.leftovers.values()].every(Boolean), `${what}: every removal was announced`);
      this.leftovers.clear();
    }
  }

  /** The vdso's bytes in process `pid` (the gadget of a killed dump may sit in its padding). */
  function vdso(pid: number): Buffer {
    const line = fs
      .readFileSync(`/proc/${pid}/maps`, 'utf8')
      .split('\n')
      .find((l) => l.endsWith('[vdso]'))!;
    const [lo, hi] = line
      .split(' ')[0]
      .split('-')
      .map((x) => parseInt(x, 16));
    const fd = fs.openSync(`/proc/${pid}/mem`, 'r');
    try {
      const b = Buffer.alloc(hi - lo);
      fs.readSync(fd, b, 0, b.length, lo);
      return b;
    } finally {
      fs.closeSync(fd);
    }
  }

  it('the self-checking target notices harm: a corrupted page, and a stopped process', async () => {
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir, 8);
    await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, 'untouched');
    // one word of its memory, written from outside
    const mem = sc.reader.memory!;
    assert.strictEqual(mem.length, 8 << 20, 'its 8 MiB');
    const fd = fs.openSync(`/proc/${sc.pid}/mem`, 'r+');
    // again while unnoticed: the thread that owns the page could be rewriting it at that instant
    for (let i = 0; i < 5 && !sc.reader.errors.length; i++) {
      fs.writeSync(fd, Buffer.from('harm!'), 0, 5, mem.address + (3 << 20) + 100);
      await waitFor('the target to report the corrupted page', () => (sc.reader.poll(), sc.reader.errors.length > 0), 2000).catch(() => undefined);
    }
    fs.closeSync(fd);
    assert.match(sc.reader.errors[0], /^e memory: thread \d page \d+ word 1[23] generation \d+$/);
    sc.reader.errors.length = 0;
    process.kill(sc.pid, 'SIGSTOP');
    await waitFor('the stop', () =>
      /^T/.test(
        fs
          .readFileSync(`/proc/${sc.pid}/status`, 'utf8')
          .split('\n')
          .find((l) => l.startsWith('State'))!
          .slice(7),
      ),
    );
    await assert.rejects(assertIntact(sc.pid, sc.reader, sc.pagesPerThread, 'stopped', 1500), /runs \(state T/);
    process.kill(sc.pid, 'SIGCONT');
    await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, 'continued');
  });

  it(`SIGKILL of the dump caller, its worker and its process group, ${KILLS_PER_KIND} moments each over a whole dump`, async () => {
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir);
    const maps = fs.readFileSync(`/proc/${sc.pid}/maps`, 'utf8');
    const vdsoBefore = vdso(sc.pid);
    const dk = new DumpKills(sc, dir);
    // how long a dump takes here (the median of three), to spread the kills over all of it
    const spans: number[] = [];
    for (let i = 0; i < 3; i++) {
      const probe = dk.start();
      const t0 = Date.now();
      const r = await probe.exited;
      spans.push(Date.now() - t0);
      assert.strictEqual(r.code, EXIT.ok, r.stderr);
      fs.unlinkSync(dk.image());
    }
    const span = spans.sort((a, b) => a - b)[1];
    await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, 'after a complete dump');
    const seed = testSeed();
    const rand = prng(seed);
    for (const kind of KINDS) {
      const tally = new Tally();
      // until 50 kills hit a running dump (one that came after the end does not count)
      for (let i = 0; tally.n - tally.afterEnd < KILLS_PER_KIND && i < 2 * KILLS_PER_KIND; i++) {
        const at = Math.floor((((i % KILLS_PER_KIND) + rand()) / KILLS_PER_KIND) * span); // stratified: every part gets its share
        const what = `${kind} kill #${i} at ${at} of ${span} ms (seed ${seed})`;
        const s = dk.start();
        const start = Date.now();
        let worker = 0;
        while (Date.now() - start < at && s.child.exitCode === null) {
          worker ||= childrenOf(s.pid)[0] ?? 0;
          await sleep(1);
        }
        worker ||= childrenOf(s.pid)[0] ?? 0;
        if (kind === 'worker' && !worker && s.child.exitCode === null) {
          worker = await waitFor(`${what}: the worker`, () => childrenOf(s.pid)[0] || (s.child.exitCode !== null ? -1 : 0), 10000);
          if (worker < 0) worker = 0;
        }
        const target = kind === 'worker' ? worker : s.pid;
        const killed = s.child.exitCode === null && target > 0 && kill(target, kind === 'group');
        const step = killed ? lastStep(s.out()) : 'after the end'; // as far as we had read when we killed
        if (!killed) tally.afterEnd++;
        await dk.settle(s, worker, what, killed ? tally : undefined);
        if (killed) tally.add(step);
        else tally.n++;
        await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, what);
      }
      await dk.completeDump(`the dump after the ${kind} kills`);
      summary.push(tally.line(`dump, SIGKILL of the ${kind}`));
    }
    await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, 'after every kill');
    sc.reader.assertCounting('ticks across every kill');
    assert.strictEqual(fs.readFileSync(`/proc/${sc.pid}/maps`, 'utf8'), maps, 'no mapping left behind or changed');
    assert.ok(vdso(sc.pid).equals(vdsoBefore), 'the vdso as it was (no gadget left after a complete dump)');
    // and the process is sound enough to be checkpointed and restored for real
    const image = path.join(dir, 'final.ckpt');
    const d = await lab.dump(id, sc.pid, image, ['--kill']);
    assert.strictEqual(d.code, EXIT.ok, d.stderr);
    const from = fs.statSync(sc.out).size;
    const rs = await lab.restore(id, image);
    assert.strictEqual(rs.code, EXIT.ok, rs.stderr);
    const reader = new TickReader(sc.out, from);
    await assertIntact(rs.pid!, reader, sc.pagesPerThread, 'restored after the kills');
    reader.assertCounting('ticks of the restored process');
  });

  it('a kill at every kind of step of the injection phase: of the worker, of the group, and of the caller (a rollback from there)', async () => {
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir);
    const dk = new DumpKills(sc, dir);
    const c = dk.start({ CKPT_TEST_FAULT: 'count' });
    const cr = await c.exited;
    assert.strictEqual(cr.code, EXIT.ok, cr.stderr);
    fs.unlinkSync(dk.image());
    // the last two points, "written" and "publish", come after the injection phase: a test of their own
    const total = Number(/ckpt: fault points: (\d+)/.exec(cr.stderr)?.[1]) - 2;
    assert.ok(total > 50, `fault points of a dump: ${cr.stderr}`);
    // every step of arming and disarming the first and last threads, and a stride through the rest
    // (another one with each seed, so that runs together cover every point)
    const seed = testSeed();
    const points = new Set<number>();
    for (let n = 1; n <= total; n++) if (n <= 24 || n > total - 24 || n % 9 === seed % 9) points.add(n);
    const hits = new Map<KillKind, number>(KINDS.map((x) => [x, 0]));
    let k = 0;
    for (const n of points) {
      const kind = KINDS[k++ % KINDS.length];
      const what = `${kind} kill at fault point ${n} of ${total} (seed ${seed})`;
      const s = dk.start({ CKPT_TEST_FAULT: kind === 'worker' ? `kill:${n}` : `stop:${n}` });
      let worker = 0;
      let step = 'passed';
      if (kind === 'worker') {
        const r = await s.exited;
        if (/the worker was killed by signal 9/.test(r.stderr)) step = 'at';
        else assert.strictEqual(r.code, EXIT.ok, `${what}: ${r.stderr}`);
      } else {
        worker = await stoppedAtFaultPoint(s, what);
        if (worker) {
          step = 'at';
          if (kind === 'group') {
            kill(s.pid, true);
          } else {
            kill(s.pid);
            await waitFor(`${what}: the caller to die`, () => s.child.exitCode !== null || s.child.signalCode !== null);
            process.kill(worker, 'SIGCONT'); // it finds its parent gone and rolls back from that step
            const end = await waitFor(`${what}: the rollback`, () => jsonLines(s.out()).find((e) => e.event === 'error' || e.event === 'done'), 20000);
            assert.strictEqual(end.exit, EXIT.cancelled, `${what}: the worker cancelled: ${s.out()}`);
          }
        }
      }
      await dk.settle(s, worker, what);
      assert.ok(!fs.existsSync(dk.image()), `${what}: no image`);
      if (step === 'at') hits.set(kind, hits.get(kind)! + 1);
      await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, what);
    }
    await dk.completeDump('the dump after the injection-step kills');
    sc.reader.assertCounting('ticks across every kill');
    summary.push(
      `injection phase: ${points.size} of its ${total} fault points (every step of arming and disarming, and a stride), ` +
        `SIGKILL there of the worker ${hits.get('worker')}, of the group ${hits.get('group')}, of the caller (then a rollback ` +
        `from that step) ${hits.get('caller')}; failures: 0`,
    );
  });

  it('a cancel before the point of no return leaves nothing; after it, the dump completes (--kill only then kills)', async () => {
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir, 16);
    const image = path.join(dir, 'p.ckpt');
    const cancelAt = async (point: string, extra: string[]): Promise<{ r: Awaited<Started['exited']> }> => {
      const s = lab.start(id, [CKPT, 'dump', String(sc.pid), '-o', image, '--progress=json', ...extra], {
        env: { ...process.env, CKPT_TEST_FAULT: `stop:@${point}` },
        detached: true, // a failed test's cleanup kills the stopped worker too
      });
      const worker = await stoppedAtFaultPoint(s, `the dump stopped at ${point}`);
      assert.ok(worker, `it reached ${point}`);
      s.child.kill('SIGTERM'); // forwarded to the stopped worker
      await sleep(50);
      process.kill(worker, 'SIGCONT');
      return { r: await s.exited };
    };
    // the image is written but not yet durable: a cancel still wins
    let { r } = await cancelAt('written', []);
    assert.strictEqual(r.code, EXIT.cancelled, r.stderr);
    assert.ok(!fs.existsSync(image) && temps(dir).length === 0, 'nothing under the image name, no temp file');
    await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, 'a cancel before the point of no return');
    // durable, about to be renamed: too late, the dump completes
    ({ r } = await cancelAt('publish', []));
    assert.strictEqual(r.code, EXIT.ok, r.stderr);
    assert.ok(await verified(image), 'the image is complete');
    fs.unlinkSync(image);
    await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, 'a cancel after the point of no return');
    // with --kill, the process dies once its image is in place
    ({ r } = await cancelAt('publish', ['--kill']));
    assert.strictEqual(r.code, EXIT.ok, r.stderr);
    assert.ok(await verified(image), 'the image is complete');
    await waitFor('the process to be killed', () => !alive(sc.pid));
  });

  it("temp files: those of dead dumps are removed with a warning; a running dump's, another user's and look-alikes are not", async () => {
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir, 8);
    const dk = new DumpKills(sc, dir);
    // a dump that holds its temp file: stopped in its injection phase
    const held = dk.start({ CKPT_TEST_FAULT: 'stop:5' });
    const heldWorker = await stoppedAtFaultPoint(held, 'the first dump');
    const heldTemp = `.k.ckpt.tmp-${held.pid}`;
    assert.ok(fs.existsSync(path.join(dir, heldTemp)));
    // dead dumps' temp files, and files that only look like one
    const dead = 4194304 + 1; // above PID_MAX_LIMIT: never a running process
    const write = (name: string, bytes: number, uid = id.uid): string => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, Buffer.alloc(bytes, 1), { mode: 0o600 });
      fs.chownSync(f, uid, id.gid);
      return name;
    };
    const stale = [write(`.k.ckpt.tmp-${dead}`, 3 << 20), write(`.other image.ckpt.tmp-${dead}`, 1000)];
    const kept = [write(`.x.tmp-${dead}x`, 10), write(`x.tmp-${dead}`, 10), write('.k.ckpt.tmp-', 10)];
    fs.symlinkSync('/etc/passwd', path.join(dir, `.link.tmp-${dead}`));
    kept.push(`.link.tmp-${dead}`);
    if (process.getuid?.() === 0 && id.uid !== 0) kept.push(write(`.root.tmp-${dead}`, 10, 0)); // another user's
    // another process's dump into the same folder
    const other = lab.startTarget(id, ['sleep', '100']);
    const image = path.join(dir, 'o.ckpt');
    const r = await lab.dump(id, other.pid, image, ['--progress=json']);
    assert.strictEqual(r.code, EXIT.ok, r.stderr);
    const warnings = jsonLines(r.stdout)
      .filter((e) => e.event === 'warning')
      .map((e) => String(e.message));
    assert.deepStrictEqual(
      warnings.sort(),
      [
        `removed ${dir}/.k.ckpt.tmp-${dead} (3.0 MiB), the temp file of a dump that was killed before it finished`,
        `removed ${dir}/.other image.ckpt.tmp-${dead} (1000 bytes), the temp file of a dump that was killed before it finished`,
      ].sort(),
    );
    assert.match(r.stderr, /ckpt: warning: removed .*\.k\.ckpt\.tmp-4194305 \(3\.0 MiB\)/);
    for (const n of stale) assert.ok(!fs.existsSync(path.join(dir, n)), `${n} removed`);
    for (const n of kept) assert.ok(fs.lstatSync(path.join(dir, n)), `${n} kept`);
    assert.ok(fs.existsSync(path.join(dir, heldTemp)), 'the running dump keeps its temp file');
    // the held dump goes on and completes
    process.kill(heldWorker, 'SIGCONT');
    const hr = await held.exited;
    assert.strictEqual(hr.code, EXIT.ok, hr.stderr);
    assert.ok(await verified(dk.image()));
    await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, 'after the held dump');
    assert.ok(tracerPid(sc.pid) === 0);
  });

  it("the gadget a killed dump left in the vdso: the next image still has the kernel's vdso hash, and the next dump removes it", async () => {
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir, 8);
    const pristine = vdso(sc.pid);
    const image = path.join(dir, 'g.ckpt');
    const k = lab.start(id, [CKPT, 'dump', String(sc.pid), '-o', image], {
      env: { ...process.env, CKPT_TEST_FAULT: 'kill:3' }, // the gadget written, a thread armed
      detached: true,
    });
    const kr = await k.exited;
    assert.match(kr.stderr, /the worker was killed by signal 9/);
    await assertIntact(sc.pid, sc.reader, sc.pagesPerThread, 'after the kill');
    const left = vdso(sc.pid);
    assert.ok(!left.equals(pristine), 'the gadget is left in the vdso');
    // the gadget (inject.c): the injected syscall and rt_sigreturn; the one-way and fork entries of the snapshot
    assert.deepStrictEqual(
      [...left.subarray(left.length - 48, left.length - 15)],
      [0x0f, 0x05, 0xb8, 0x0f, 0, 0, 0, 0x0f, 0x05, 0x0f, 0x0b, 0x0f, 0x05, 0x31, 0xff, 0xb8, 0xe7, 0, 0, 0, 0x0f, 0x05, 0x0f, 0x0b, 0x0f, 0x05, 0x48, 0x85, 0xc0, 0x74, 0xee, 0xeb, 0xe1],
    );
    const d = await lab.dump(id, sc.pid, image);
    assert.strictEqual(d.code, EXIT.ok, d.stderr);
    assert.ok(vdso(sc.pid).equals(pristine), 'the next dump zeroed it again');
    fs.unlinkSync(image);
    // an image taken while the gadget is there restores (its vdso hash is the kernel's)
    const k2 = lab.start(id, [CKPT, 'dump', String(sc.pid), '-o', image], { env: { ...process.env, CKPT_TEST_FAULT: 'kill:3' }, detached: true });
    await k2.exited;
    const d2 = await lab.dump(id, sc.pid, image, ['--kill']);
    assert.strictEqual(d2.code, EXIT.ok, d2.stderr);
    const from = fs.statSync(sc.out).size;
    const r = await lab.restore(id, image);
    assert.strictEqual(r.code, EXIT.ok, r.stderr);
    await assertIntact(r.pid!, new TickReader(sc.out, from), sc.pagesPerThread, 'restored');
  });

  it('a thread with no room for a frame below its stack pointer: a warning, and the dump works the old way', async () => {
    const dir = lab.dir(id);
    const out = path.join(dir, 'nostack.txt');
    const t = lab.startTarget(id, [target('nostack'), out]);
    const ticks = () => fs.readFileSync(out, 'utf8').split('\n').length;
    await waitFor('it to tick', () => fs.existsSync(out) && ticks() > 5);
    const maps = fs.readFileSync(`/proc/${t.pid}/maps`, 'utf8');
    const image = path.join(dir, 'n.ckpt');
    const r = await lab.dump(id, t.pid, image, ['--progress=json']);
    assert.strictEqual(r.code, EXIT.ok, r.stderr);
    const warnings = jsonLines(r.stdout)
      .filter((e) => e.event === 'warning')
      .map((e) => String(e.message));
    assert.deepStrictEqual(warnings, [
      `thread ${t.pid} has no room below its stack pointer for a signal frame: a ckpt killed in the next milliseconds would leave it with injected registers`,
      `process ${t.pid} stays frozen while its memory is read: its main thread could not be armed for a snapshot`,
    ]);
    assert.ok(await verified(image));
    await waitFor('ckpt to let go', () => tracerPid(t.pid) === 0);
    const n = ticks();
    await waitFor('it to go on ticking', () => ticks() > n + 5);
    assert.strictEqual(fs.readFileSync(`/proc/${t.pid}/maps`, 'utf8'), maps, 'its scratch page is gone again');
  });

  it(`SIGKILL of ckpt restore at ${RESTORE_KILLS} moments: no process is left half-alive`, async () => {
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir);
    const image = path.join(dir, 'r.ckpt');
    const d = await lab.dump(id, sc.pid, image, ['--kill']);
    assert.strictEqual(d.code, EXIT.ok, d.stderr);
    await waitFor('the original to die', () => !alive(sc.pid));
    const restore = (): Started => lab.start(id, [target('reaper'), CKPT, 'restore', image, '--stdio=null', '--progress=json']);
    const exitOf = (s: Started) => /reaper: exit (\d+)/.exec(s.err())?.[1];
    // how long a restore takes here (the median of three)
    const spans: number[] = [];
    for (let i = 0; i < 3; i++) {
      const probe = restore();
      const t0 = Date.now();
      await waitFor('the probe restore', () => exitOf(probe), 60000);
      spans.push(Date.now() - t0);
      const probePid = Number(jsonLines(probe.out()).find((e) => e.event === 'restored')?.pid);
      assert.ok(probePid > 0, probe.err());
      kill(probePid);
      await probe.exited;
    }
    const span = spans.sort((a, b) => a - b)[1];
    const seed = testSeed();
    const rand = prng(seed);
    const counts = { none: 0, complete: 0, announcedThenKilled: 0, afterEnd: 0 };
    // until 50 kills hit a running ckpt restore; spread to a quarter past the end, since the PID comes last
    for (let i = 0, hits = 0; hits < RESTORE_KILLS && i < 3 * RESTORE_KILLS; i++, hits = i - counts.afterEnd) {
      const at = Math.floor((((i % RESTORE_KILLS) + rand()) / RESTORE_KILLS) * span * 1.25);
      const what = `restore kill #${i} at ${at} of ${span} ms (seed ${seed})`;
      const from = fs.statSync(sc.out).size;
      const s = restore();
      const start = Date.now();
      let ckpt = 0;
      while (Date.now() - start < at && !exitOf(s)) {
        ckpt ||= childrenOf(s.pid)[0] ?? 0;
        await sleep(1);
      }
      ckpt ||= await waitFor(`${what}: ckpt restore`, () => childrenOf(s.pid)[0] || (exitOf(s) ? -1 : 0), 10000);
      const killed = !exitOf(s) && ckpt > 0 && kill(ckpt);
      await waitFor(`${what}: ckpt to end`, () => exitOf(s), 20000);
      const events = jsonLines(s.out());
      const pid = Number(events.find((e) => e.event === 'restored')?.pid ?? 0);
      const done = events.some((e) => e.event === 'done');
      if (!killed) counts.afterEnd++;
      // announced and let go: complete and working. Announced, and ckpt died before it let the
      // process go (no "done" yet): the kernel kills it with ckpt (PTRACE_O_EXITKILL).
      const killedWithCkpt =
        pid > 0 &&
        !done &&
        (await waitFor(`${what}: process ${pid} to die with ckpt`, () => !alive(pid), 5000).then(
          () => true,
          () => false,
        ));
      if (!pid) {
        counts.none++;
      } else if (killedWithCkpt) {
        counts.announcedThenKilled++;
      } else {
        counts.complete++;
        await assertIntact(pid, new TickReader(sc.out, from), sc.pagesPerThread, what);
        kill(pid);
      }
      // the reaper ends once no process of this restore is left
      const left = await Promise.race([s.exited.then(() => false), sleep(10000).then(() => true)]);
      assert.ok(!left, `${what}: a process of the image was left behind (${s.out()}${s.err()})`);
    }
    summary.push(
      `restore, SIGKILL of ckpt restore: ${counts.none + counts.complete + counts.announcedThenKilled - counts.afterEnd} kills of a ` +
        `running restore (${span} ms restores): ${counts.none} before the PID was announced (no process left), ` +
        `${counts.complete - counts.afterEnd} after it (the process complete and intact), ${counts.announcedThenKilled} between ` +
        `announcing and detaching (the process killed with ckpt); ${counts.afterEnd} more came after ckpt had exited; failures: 0`,
    );
  });
});
