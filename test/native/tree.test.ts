// Process trees (issue 10): `ckpt dump --tree` takes a process and every descendant as one
// snapshot, and restore recreates the same shape, with what the processes share shared again:
// pipes and socketpairs between them (with their bytes), one open file description (one
// offset) inherited by several, MAP_SHARED anonymous memory, zombies with their exit status,
// stopped members, process groups and sessions, and the original PIDs where the restoring user
// may choose them (root here; an ordinary user inside a new PID namespace with --pid-ns).

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointImage, compareImages, verifyImage } from '../../src/image';
import {
  blockedIn,
  buildTargets,
  childrenOf,
  CKPT,
  descendants,
  EXIT,
  identities,
  Identity,
  jsonLines,
  Lab,
  lines,
  prng,
  procStatus,
  processGroup,
  samePidPossible,
  sleep,
  stoppedAtFaultPoint,
  target,
  testSeed,
  waitFor,
} from './helpers';

/** pid, ppid, pgid, sid of a process (/proc/PID/stat), and its pid inside its PID namespace. */
function ids(pid: number): { pid: number; ppid: number; pgid: number; sid: number; nspid: number; state: string } {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ns = procStatus(pid)?.get('NSpid')?.split(/\s+/).map(Number) ?? [pid];
  return { pid, state: f[0], ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]), nspid: ns[ns.length - 1] };
}

interface Family {
  dir: string;
  out: string;
  root: number;
  workers: number[];
  zombie: number;
}

/** The family target (test/native/targets/family.c) under a reaper that reaps what we kill. */
async function startFamily(lab: Lab, id: Identity): Promise<Family> {
  const dir = lab.dir(id);
  const out = path.join(dir, 'family.txt');
  lab.start(id, [target('reaper'), target('reaper'), '--exec', target('family'), out, path.join(dir, 'family.log')]);
  const ready = await waitFor('the family to be ready', () => lines(out).find((l) => l.startsWith('ready ')));
  const [root, w0, w1, w2, zombie] = ready.split(' ').slice(1).map(Number);
  return { dir, out, root, workers: [w0, w1, w2], zombie };
}

/** Asks the family to check itself; resolves with its PASS/FAIL lines. */
async function familyCheck(f: Family, root: number): Promise<string[]> {
  const before = lines(f.out).filter((l) => l === 'done').length;
  process.kill(root, 'SIGUSR1');
  await waitFor('the family to check itself', () => lines(f.out).filter((l) => l === 'done').length > before, 20000).catch((e: Error) => {
    // Say where each member is, to tell a harmed member from a slow machine.
    const where = [root, ...f.workers].map((p) => {
      const st = procStatus(p);
      let wchan = '?';
      try {
        wchan = fs.readFileSync(`/proc/${p}/wchan`, 'utf8');
      } catch {
        // gone
      }
      return `${p}: ${st?.get('State') ?? 'gone'}, tracer ${st?.get('TracerPid') ?? '-'}, in ${wchan}, blocked ${st?.get('SigBlk')}, pending ${st?.get('SigPnd')}/${st?.get('ShdPnd')}, caught ${st?.get('SigCgt')}`;
    });
    throw new Error(`${e.message}; ${where.join('; ')}; the family last wrote ${JSON.stringify(lines(f.out).slice(-6))}`);
  });
  const all = lines(f.out);
  const start =
    all.length -
    1 -
    [...all]
      .reverse()
      .slice(1)
      .findIndex((l) => l === 'done' || l.startsWith('ready'));
  return all.slice(start, all.length - 1);
}

/** Kills of each kind (caller, worker, group) over a tree dump. */
const TREE_KILLS = 15;

const ITEMS = ['PASS pipes-and-sockets', 'PASS shared-memory', 'PASS shared-offset', 'PASS zombie', 'PASS process-group'];

describe('native: process trees (issue 10)', function () {
  this.timeout(180000);
  before(buildTargets);
  const lab = new Lab();
  afterEach(() => lab.cleanup());
  const [root] = identities();

  for (const id of identities()) {
    const mode = samePidPossible(id) ? ['--same-pids'] : ['--pid-ns'];
    describe(`as ${id.name} (${mode[0]})`, () => {
      it('a family of 4 processes: everything it shares is shared again, with its zombie, groups and original PIDs', async () => {
        const f = await startFamily(lab, id);
        const members = [f.root, ...f.workers];
        const before = members.map(ids);
        const image = path.join(f.dir, 'family.ckpt');
        const d = await lab.dump(id, f.root, image, ['--tree', '--kill']);
        assert.strictEqual(d.code, 0, d.stderr);
        await waitFor('the family to be gone', () => members.every((p) => !procStatus(p) || /^[ZX]/.test(procStatus(p)!.get('State')!)));
        await waitFor('its pids to be free', () => members.every((p) => !procStatus(p)));
        const r = await lab.restore(id, image, ['--stdio=null', ...mode]);
        assert.strictEqual(r.code, 0, r.stderr);
        for (const p of descendants(r.pid!)) lab.track(p);
        const now = [r.pid!, ...fs.readFileSync(`/proc/${r.pid}/task/${r.pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number)];
        const after = now.map(ids).filter((x) => x.state !== 'Z');
        // every pid, ppid, pgid and sid is the original one (inside the namespace with --pid-ns)
        const seen = (x: ReturnType<typeof ids>) => (mode[0] === '--pid-ns' ? x.nspid : x.pid);
        assert.deepStrictEqual(after.map(seen).sort(), before.map((x) => x.pid).sort(), 'the original PIDs');
        const shape = (xs: ReturnType<typeof ids>[], pidOf: (x: ReturnType<typeof ids>) => number) => {
          const byPid = new Map(xs.map((x) => [x.pid, pidOf(x)]));
          return xs
            .map((x) => `${pidOf(x)} parent ${byPid.get(x.ppid) ?? 'outside'} group ${x.pgid === x.pid ? 'own' : byPid.get(x.pgid)} session ${x.sid === x.pid ? 'own' : byPid.get(x.sid)}`)
            .sort();
        };
        assert.deepStrictEqual(
          shape(after, seen),
          shape(before, (x) => x.pid),
          'the same parents, groups and sessions',
        );
        const zombie = now.map(ids).find((x) => x.state === 'Z');
        assert.strictEqual(zombie && seen(zombie), f.zombie, 'the unreaped child is back, a zombie');
        assert.deepStrictEqual(await familyCheck(f, r.pid!), ITEMS);
      });

      it('a stopped member stays stopped until SIGCONT', async () => {
        const f = await startFamily(lab, id);
        process.kill(f.workers[1], 'SIGSTOP');
        await waitFor('worker 1 to stop', () => ids(f.workers[1]).state === 'T');
        const image = path.join(f.dir, 'stopped.ckpt');
        const d = await lab.dump(id, f.root, image, ['--tree', '--kill']);
        assert.strictEqual(d.code, 0, d.stderr);
        await waitFor('its pids to be free', () => [f.root, ...f.workers].every((p) => !procStatus(p)));
        const r = await lab.restore(id, image, ['--stdio=null', ...mode]);
        assert.strictEqual(r.code, 0, r.stderr);
        for (const p of descendants(r.pid!)) lab.track(p);
        const w1 = mode[0] === '--pid-ns' ? descendants(r.pid!).find((p) => ids(p).nspid === f.workers[1])! : f.workers[1];
        await waitFor('worker 1 to be stopped again', () => ids(w1).state === 'T', 5000);
        await new Promise((res) => setTimeout(res, 300));
        assert.strictEqual(ids(w1).state, 'T', 'it stays stopped');
        process.kill(w1, 'SIGCONT');
        assert.deepStrictEqual(await familyCheck(f, r.pid!), ITEMS);
      });
    });
  }

  it('without --tree: the children are left out, said, and recorded in the image', async () => {
    const f = await startFamily(lab, root);
    const image = path.join(f.dir, 'alone.ckpt');
    const d = await lab.dump(root, f.root, image, ['--allow-unsupported']);
    assert.strictEqual(d.code, 0, d.stderr);
    assert.match(
      d.stderr,
      new RegExp(`ckpt: warning: process ${f.root} has 3 child processes that this dump leaves out: ${f.workers[0]} \\(family\\), ${f.workers[1]} \\(family\\), ${f.workers[2]} \\(family\\)`),
    );
    const img = await CheckpointImage.open(image);
    try {
      const p = await img.decodeAs(img.processes()[0], 'process');
      assert.deepStrictEqual([...p.omitted].sort(), [...f.workers].sort());
    } finally {
      await img.close();
    }
  });

  it('without --tree: a pipe to a child makes the dump refuse, suggesting --tree', async () => {
    const f = await startFamily(lab, root);
    const d = await lab.dump(root, f.root, path.join(f.dir, 'refused.ckpt'));
    assert.strictEqual(d.code, EXIT.unsupported, d.stderr);
    assert.match(d.stderr, /child process \d+ holds the other end: dump with --tree to take it too/);
    assert.strictEqual(ids(f.root).state !== 'Z', true, 'the target runs on');
  });

  it("a child that shares its parent's fd table (CLONE_FILES) is refused by name, the tree left running", async () => {
    const dir = lab.dir(root);
    const out = path.join(dir, 'out.txt');
    lab.start(root, [target('reaper'), target('reaper'), '--exec', target('clonefiles'), out]);
    const pid = Number((await waitFor('it to start', () => lines(out).find((l) => l.startsWith('ready ')))).split(' ')[1]);
    const d = await lab.dump(root, pid, path.join(dir, 'x.ckpt'), ['--tree']);
    assert.strictEqual(d.code, EXIT.unsupported, d.stderr);
    assert.match(d.stderr, new RegExp(`process \\d+: it shares its fd table with process ${pid} \\(CLONE_FILES\\)`));
    assert.ok(!/^[TtZ]/.test(ids(pid).state) && procStatus(pid)?.get('TracerPid') === '0', 'it runs on, untraced');
  });

  it('a shell pipeline dumped mid-run with --tree --kill finishes after restore with the digest of an uninterrupted run', async function () {
    const dir = lab.dir(root);
    const size = '1500M';
    const cmd = `yes | head -c ${size} | sha1sum > result`;
    const expected = spawnSync('sh', ['-c', `yes | head -c ${size} | sha1sum`], { encoding: 'utf8' }).stdout.trim();
    const s = lab.start(root, [target('reaper'), target('reaper'), '--exec', 'sh', '-c', cmd], { cwd: dir });
    const shell = await waitFor('the pipeline to run', () => descendants(s.pid).find((p) => procStatus(p)?.get('Name') === 'sh' && descendants(p).length >= 3));
    await new Promise((res) => setTimeout(res, 400)); // well into its run
    assert.ok(!fs.existsSync(path.join(dir, 'result')) || fs.readFileSync(path.join(dir, 'result'), 'utf8') === '', 'not finished yet');
    const image = path.join(dir, 'pipeline.ckpt');
    const d = await lab.dump(root, shell, image, ['--tree', '--kill']);
    assert.strictEqual(d.code, 0, d.stderr);
    const r = await lab.restore(root, image, ['--stdio=null']);
    assert.strictEqual(r.code, 0, r.stderr);
    await waitFor('the pipeline to finish', () => fs.existsSync(path.join(dir, 'result')) && fs.readFileSync(path.join(dir, 'result'), 'utf8').includes('-'), 60000);
    assert.strictEqual(fs.readFileSync(path.join(dir, 'result'), 'utf8').trim(), expected);
  });

  for (const [name, cmd, result] of [
    ['a Python multiprocessing.Pool of 2 workers', ['python3', target('pool.py')], 'result 2646700'],
    ['node with a child_process.fork child', [process.execPath, target('nodefork.js')], 'result 333833500'],
  ] as const) {
    it(`${name} survives a checkpoint and restore of its tree and finishes its work`, async () => {
      const dir = lab.dir(root);
      const out = path.join(dir, 'out.txt');
      lab.start(root, [target('reaper'), target('reaper'), '--exec', ...cmd, out]);
      const ready = await waitFor('it to start', () => lines(out).find((l) => l.startsWith('ready ')));
      const pid = Number(ready.split(' ')[1]);
      await waitFor('it to get going', () => lines(out).some((l) => l.startsWith('progress 40')), 30000);
      const image = path.join(dir, 'tree.ckpt');
      const d = await lab.dump(root, pid, image, ['--tree', '--kill']);
      assert.strictEqual(d.code, 0, d.stderr);
      assert.ok(!lines(out).includes(result), 'not finished before the checkpoint');
      const r = await lab.restore(root, image, ['--stdio=null']);
      assert.strictEqual(r.code, 0, r.stderr);
      await waitFor('it to finish its work', () => lines(out).includes(result), 60000);
    });
  }

  it('tree images verify, and an image and the image of its restored copy differ in no process', async () => {
    const f = await startFamily(lab, root);
    const a = path.join(f.dir, 'a.ckpt');
    const d = await lab.dump(root, f.root, a, ['--tree', '--kill']);
    assert.strictEqual(d.code, 0, d.stderr);
    await waitFor('its pids to be free', () => [f.root, ...f.workers].every((p) => !procStatus(p)));
    const r = await lab.restore(root, a, ['--stdio=null']);
    assert.strictEqual(r.code, 0, r.stderr);
    for (const p of descendants(r.pid!)) lab.track(p);
    const b = path.join(f.dir, 'b.ckpt');
    const d2 = await lab.dump(root, r.pid!, b, ['--tree']);
    assert.strictEqual(d2.code, 0, d2.stderr);
    const [ia, ib] = [await CheckpointImage.open(a), await CheckpointImage.open(b)];
    try {
      for (const img of [ia, ib]) {
        const v = await verifyImage(img);
        assert.deepStrictEqual(
          v.problems.map((p) => p.message),
          [],
        );
        assert.strictEqual(img.processes().length, 4, '4 processes');
      }
      const diff = await compareImages(ia, ib);
      const shape = diff.nodes.filter((n) => n.kind === 'process' && n.change !== 'changed');
      assert.deepStrictEqual(
        shape.map((n) => `${n.change} ${n.label}`),
        [],
        'no process added or removed',
      );
    } finally {
      await ia.close();
      await ib.close();
    }
  });

  /** Every member runs on, untraced, and still checks itself whole. */
  async function assertUnharmed(f: Family, what: string): Promise<void> {
    for (const p of [f.root, ...f.workers]) {
      await waitFor(`${what}: ${p} untraced`, () => procStatus(p)?.get('TracerPid') === '0', 5000);
      assert.ok(!/^[TtZX]/.test(ids(p).state), `${what}: ${p} runs (state ${ids(p).state})`);
      // Back in the call it slept in (pause, read). A thread whose ckpt was killed while driving
      // it returns there through its signal frame; a signal sent before it got there would run
      // its handler just before pause(), as one sent just before any pause() would.
      await waitFor(`${what}: ${p} asleep again`, () => blockedIn(p) !== undefined, 5000);
    }
    const items = await familyCheck(f, f.root);
    assert.deepStrictEqual(
      items.filter((i) => !i.includes('zombie')),
      ITEMS.filter((i) => !i.includes('zombie')),
      what,
    );
  }

  it('never harm a tree: a full file system, and a dump killed once every member was frozen and written', async function () {
    const f = await startFamily(lab, root);
    if (process.getuid?.() === 0) {
      const full = lab.dir(root);
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128k,mode=0755', 'tmpfs', full], { encoding: 'utf8' });
      assert.strictEqual(m.status, 0, `mount: ${m.stderr}`);
      lab.mounted(full);
      const image = path.join(full, 'full.ckpt');
      const d = await lab.dump(root, f.root, image, ['--tree']);
      assert.strictEqual(d.code, EXIT.io, d.stderr);
      assert.ok(!fs.existsSync(image) && fs.readdirSync(full).length === 0, 'nothing left in the full file system');
      await assertUnharmed(f, 'ENOSPC');
    }
    const image = path.join(f.dir, 'killed.ckpt');
    const s = lab.start(root, [CKPT, 'dump', String(f.root), '-o', image, '--tree', '--kill'], { env: { ...process.env, CKPT_TEST_FAULT: 'kill:@written' } });
    const r = await s.exited;
    assert.notStrictEqual(r.code, 0, 'the worker died');
    assert.ok(!fs.existsSync(image), 'no image under its name');
    await assertUnharmed(f, 'the worker killed after writing');
  });

  it(`never harm a tree: SIGKILL of the dump caller, its worker and its process group, ${TREE_KILLS} moments each over a whole --tree dump`, async function () {
    this.timeout(600000);
    const f = await startFamily(lab, root);
    const image = path.join(f.dir, 'k.ckpt');
    const dump = () => lab.start(root, [CKPT, 'dump', String(f.root), '-o', image, '--tree', '--progress=json'], { detached: true });
    // how long a tree dump takes here (the median of three), to spread the kills over all of it
    const spans: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const r = await dump().exited;
      spans.push(Date.now() - t0);
      assert.strictEqual(r.code, EXIT.ok, r.stderr);
      fs.unlinkSync(image);
    }
    const span = spans.sort((a, b) => a - b)[1];
    const seed = testSeed();
    const rand = prng(seed);
    const counts: string[] = [];
    for (const kind of ['caller', 'worker', 'group'] as const) {
      let published = 0;
      for (let i = 0; i < TREE_KILLS; i++) {
        const at = Math.floor(((i + rand()) / TREE_KILLS) * span);
        const what = `${kind} kill #${i} at ${at} of ${span} ms (seed ${seed})`;
        const s = dump();
        const t0 = Date.now();
        let worker = 0;
        while (Date.now() - t0 < at && s.child.exitCode === null) {
          worker ||= childrenOf(s.pid)[0] ?? 0;
          await sleep(1);
        }
        worker ||= childrenOf(s.pid)[0] ?? 0;
        const victim = kind === 'worker' ? worker : s.pid;
        if (s.child.exitCode === null && victim > 0) {
          try {
            process.kill(kind === 'group' ? -victim : victim, 'SIGKILL');
          } catch {
            // it had just ended
          }
        }
        await s.exited;
        // every process of the dump (its worker may have started after the caller died)
        await waitFor(`${what}: ckpt's processes to end`, () => processGroup(s.pid).length === 0, 20000);
        if (fs.existsSync(image)) {
          // past the point of no return (the publish step): then the image is whole
          assert.ok(
            jsonLines(s.out()).some((e) => e.step === 'publish'),
            `${what}: an image, but no publish step`,
          );
          const img = await CheckpointImage.open(image);
          try {
            assert.deepStrictEqual(
              (await verifyImage(img)).problems.map((p) => p.message),
              [],
              what,
            );
          } finally {
            await img.close();
          }
          fs.unlinkSync(image);
          published++;
        }
        for (const n of fs.readdirSync(f.dir).filter((x) => x.includes('.tmp-'))) fs.unlinkSync(path.join(f.dir, n)); // a killed caller's temp file, which the next dump would remove
        await assertUnharmed(f, what).catch((e: Error) => {
          throw new Error(`${what}: ${e.message}; ckpt said: ${s.out().split('\n').slice(-4).join(' | ')}`);
        });
      }
      counts.push(`${kind} ${TREE_KILLS} (${published} after the point of no return)`);
    }
    console.log(`      (seed ${seed}: kills over ${span} ms tree dumps: ${counts.join(', ')}; every member unharmed after each)`);
  });

  it('a signal that comes during a leave-running dump interrupts the call the process sleeps in, as it would have', async () => {
    const f = await startFamily(lab, root);
    const before = lines(f.out).filter((l) => l === 'done').length;
    const image = path.join(f.dir, 'signalled.ckpt');
    // ckpt stopped while the root's signals are blocked for the injection
    const s = lab.start(root, [CKPT, 'dump', String(f.root), '-o', image, '--tree', '--leave-running', '--progress=json'], {
      env: { ...process.env, CKPT_TEST_FAULT: 'stop:@setsigmask' },
      detached: true,
    });
    const worker = await stoppedAtFaultPoint(s, 'the dump stopped while injecting');
    process.kill(f.root, 'SIGUSR1');
    process.kill(worker, 'SIGCONT');
    const r = await s.exited;
    assert.strictEqual(r.code, EXIT.ok, r.stderr);
    // pause() returns once the handler has run, so the family checks itself without being asked again
    await waitFor('the family to check itself after the dump', () => lines(f.out).filter((l) => l === 'done').length > before, 10000);
    assert.deepStrictEqual(
      lines(f.out)
        .slice(-6, -1)
        .filter((i) => !i.includes('zombie')),
      ITEMS.filter((i) => !i.includes('zombie')),
    );
  });

  it('never harm a tree: a member that exits in the middle of the dump fails it, and the others run on untraced', async () => {
    for (let i = 0; i < 3; i++) {
      const f = await startFamily(lab, root);
      const image = path.join(f.dir, 'exits.ckpt');
      const s = lab.start(root, [CKPT, 'dump', String(f.root), '-o', image, '--tree', '--progress=json']);
      const victim = f.workers[i];
      // once every member is frozen and the dump reads them
      await waitFor('the dump to read the tree', () => /"step":"(threads|mm|vmas|files|signals|pages)"/.test(s.out()) || s.child.exitCode !== null, 20000);
      process.kill(victim, 'SIGKILL');
      const r = await s.exited;
      if (r.code === EXIT.ok) {
        // it had read everything before the kill: the image holds the member as it was
        assert.ok(fs.existsSync(image));
      } else {
        assert.strictEqual(r.code, EXIT.noProcess, r.stderr);
        assert.match(r.stderr, new RegExp(`process ${victim} exited during the checkpoint`));
        assert.ok(!fs.existsSync(image), 'no image');
      }
      for (const p of [f.root, ...f.workers.filter((w) => w !== victim)]) {
        await waitFor(`${p} untraced`, () => procStatus(p)?.get('TracerPid') === '0', 5000);
        assert.ok(!/^[TtX]/.test(ids(p).state), `${p} runs (state ${ids(p).state})`);
      }
      await lab.cleanup();
    }
  });
});
