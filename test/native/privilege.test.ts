// An image is data, never authority. Root restoring a user's image gives the new process the
// credentials of the image file's owner, never what the image says, and every path the image
// names is opened as that user; a user restores only as itself. The reproducers of issue 9:
// a user edits its own image (resealing the checksums, which are no signature) to say uid 0 or
// group shadow; or, with honest ids, the image names files and directories that root swapped
// for root-only ones. Each is refused, or opened as the user and denied, and leaves nothing.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { resealEdited } from '../support/imageReseal';
import { alive, assertOneErrorLine, buildTargets, CKPT, EXIT, identities, Lab, lines, processesWhere, samePidPossible, target, unprivileged, waitFor } from './helpers';

const NO_CAPS = '0000000000000000';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** uid, gids, groups and capabilities of every thread of `pid`, as /proc/PID/task/TID/status says. */
function credentials(pid: number): Array<{ tid: number; uid: string; gid: string; groups: string; capEff: string; capPrm: string; capAmb: string }> {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
    const t = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    const get = (k: string) => (new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(t)?.[1] ?? '').trim().replace(/\s+/g, ' ');
    return { tid: Number(tid), uid: get('Uid'), gid: get('Gid'), groups: get('Groups'), capEff: get('CapEff'), capPrm: get('CapPrm'), capAmb: get('CapAmb') };
  });
}

/** python3 -c IN_PTY CMD...: runs CMD on a new pseudo-terminal, its controlling terminal and stdio, and copies what it writes to stdout. */
const IN_PTY = [
  'import os, pty, sys',
  'pid, fd = pty.fork()',
  'if pid == 0:',
  '    os.execvp(sys.argv[1], sys.argv[1:])',
  'while True:',
  '    try:',
  '        d = os.read(fd, 4096)',
  '    except OSError:',
  '        break',
  '    if not d:',
  '        break',
  '    sys.stdout.buffer.write(d)',
  '    sys.stdout.flush()',
].join('\n');

/** Session and controlling terminal of a process (/proc/PID/stat fields 6 and 7). */
function session(pid: number): { sid: number; ttyNr: number } {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { sid: Number(f[3]), ttyNr: Number(f[4]) };
}

function groupId(name: string): number | undefined {
  const r = spawnSync('getent', ['group', name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split(':')[2]) : undefined;
}

function counts(file: string): number {
  return lines(file).filter((l) => l.startsWith('c ')).length;
}

describe('native: privileges: an image never grants any', function () {
  this.timeout(120000);
  before(buildTargets);
  const lab = new Lab();
  afterEach(() => lab.cleanup());
  const ids = identities();
  const [root] = ids;
  const user = unprivileged();
  const needRoot = function (this: Mocha.Context) {
    if (ids.length < 2) this.skip(); // root restoring another user's image
  };

  /** The user's counter, dumped by the user with --kill: the image is the user's file. */
  async function userCounter(): Promise<{ dir: string; image: string; out: string }> {
    const dir = lab.dir(user);
    const out = path.join(dir, 'counter.txt');
    const t = lab.startTarget(user, [target('counter'), out]);
    await waitFor('the counter', () => counts(out) > 5);
    const image = path.join(dir, 'counter.ckpt');
    const d = await lab.dump(user, t.pid, image, ['--kill']);
    assert.strictEqual(d.code, 0, d.stderr);
    await t.exited;
    return { dir, image, out };
  }

  /** The user's image with its process record changed as the user could, resealed, owned by the user. */
  async function forged(image: string, change: Record<string, unknown>, name: string): Promise<string> {
    const out = path.join(path.dirname(image), name);
    await resealEdited(image, out, (t, p) => (t === 'process' ? { ...p, ...change } : undefined));
    fs.chownSync(out, user.uid, user.gid);
    return out;
  }

  /**
   * The failed restore made nothing that is left: its reaper (the subreaper of whatever it made)
   * ended, so no process of it lives; no pid file; and no process by the target's name when the
   * name is one only this suite uses.
   */
  async function nothingLeft(r: { reaperDone: Promise<unknown> }, pidFile: string, comm?: string): Promise<void> {
    const done = await Promise.race([r.reaperDone.then(() => true), new Promise((res) => setTimeout(() => res(false), 10000))]);
    assert.ok(done, 'the restore left a process behind');
    if (comm) assert.deepStrictEqual(processesWhere({ comm }), [], `no ${comm} is left`);
    assert.ok(!fs.existsSync(pidFile), 'no pid file');
  }

  describe('forged ids', () => {
    it('an image edited to say uid 0: root refuses it (exit 4); --as-recorded restores it as uid 0, with a warning', async function () {
      needRoot.call(this);
      const { image, out } = await userCounter();
      const bad = await forged(image, { uids: [0, 0, 0, 0] }, 'uid0.ckpt');
      const pidFile = path.join(lab.dir(root), 'pid');
      const r = await lab.restore(root, bad, ['--stdio=null', `--pid-file=${pidFile}`]);
      assert.strictEqual(r.code, EXIT.permission, r.stderr);
      assertOneErrorLine(r.stderr, new RegExp(`^ckpt: the image's process ran as uid 0 \\(effective 0\\); this restore may only give uid ${user.uid} \\(the image file's owner\\)$`));
      await nothingLeft(r, pidFile);

      // the documented escape hatch: root trusts the image's ids, and is told so
      const a = await lab.restore(root, bad, ['--stdio=null', '--as-recorded']);
      assert.strictEqual(a.code, 0, a.stderr);
      assert.match(a.stderr, /^ckpt: warning: --as-recorded: the image's recorded ids are used as they are, unchecked: uid 0, gid \d+/m);
      assert.strictEqual(credentials(a.pid!)[0].uid, '0 0 0 0', 'as recorded: uid 0');
      const n = counts(out);
      await waitFor('the counter to count on', () => counts(out) > n + 5);
    });

    it('an image edited to add the group shadow: root refuses it (exit 4), naming the group', async function () {
      needRoot.call(this);
      const shadow = groupId('shadow');
      if (shadow === undefined) this.skip();
      const { image } = await userCounter();
      const img = await forged(image, { groups: [user.gid, shadow], ngroups: undefined }, 'shadow.ckpt');
      const pidFile = path.join(lab.dir(root), 'pid');
      const r = await lab.restore(root, img, ['--stdio=null', `--pid-file=${pidFile}`]);
      assert.strictEqual(r.code, EXIT.permission, r.stderr);
      assertOneErrorLine(r.stderr, new RegExp(`^ckpt: the image's process was in group ${shadow} \\(shadow\\); uid ${user.uid} \\(the image file's owner\\) is not, so this restore may not give it$`));
      await nothingLeft(r, pidFile);
    });

    it('an image edited to say gid 0: root refuses it (exit 4)', async function () {
      needRoot.call(this);
      const { image } = await userCounter();
      const img = await forged(image, { gids: [0, 0, 0, 0] }, 'gid0.ckpt');
      const r = await lab.restore(root, img);
      assert.strictEqual(r.code, EXIT.permission, r.stderr);
      assertOneErrorLine(r.stderr, new RegExp(`^ckpt: the image's process ran as gid 0 \\(effective 0\\); this restore may only give gid ${user.gid} \\(the group of the image file's owner\\)$`));
      await r.reaperDone;
    });

    it('the user restoring its own image forged to say uid 0: refused (exit 4); --as-recorded is for root only (exit 2)', async () => {
      const { image } = await userCounter();
      const bad = await forged(image, { uids: [0, 0, 0, 0] }, 'uid0.ckpt');
      if (user.uid === 0) return; // no ordinary user to run as
      const r = await lab.restore(user, bad);
      assert.strictEqual(r.code, EXIT.permission, r.stderr);
      assertOneErrorLine(r.stderr, new RegExp(`^ckpt: the image's process ran as uid 0 \\(effective 0\\); this restore may only give uid ${user.uid} \\(the user running ckpt\\)$`));
      await r.reaperDone;
      const a = await lab.restore(user, bad, ['--stdio=null', '--as-recorded']);
      assert.strictEqual(a.code, EXIT.usage, a.stderr);
      assert.match(a.stderr, /^ckpt: --as-recorded: only root may trust the ids an image records$/m);
    });
  });

  describe("honest ids, paths the user may not open: root restoring the user's image opens them as the user", () => {
    // The user's process held each of these when it was checkpointed; then root made it root's.
    // Restore reopens by path: as root it used to succeed, handing the user's process a read
    // handle to a root-only file, a write handle or a writable shared mapping of root's files,
    // or a cwd in root's private directory.
    const cases: Array<{ what: string; mode: string; make: (p: string) => void; lock: (p: string) => void; error: (p: string) => RegExp }> = [
      {
        what: 'a root-only 0600 file open for reading (fd)',
        mode: 'read',
        make: (p) => fs.writeFileSync(p, 'secret\n', { mode: 0o600 }),
        lock: (p) => (fs.chownSync(p, 0, 0), fs.chmodSync(p, 0o600)),
        error: (p) => new RegExp(`^ckpt: fd 3: cannot open ${escapeRegExp(p)}: Permission denied$`),
      },
      {
        what: 'a root-owned 0644 file open for writing (fd)',
        mode: 'write',
        make: (p) => fs.writeFileSync(p, 'log\n', { mode: 0o644 }),
        lock: (p) => (fs.chownSync(p, 0, 0), fs.chmodSync(p, 0o644)),
        error: (p) => new RegExp(`^ckpt: fd 3: cannot open ${escapeRegExp(p)}: Permission denied$`),
      },
      {
        what: 'a writable shared mapping of a root-owned 0644 file',
        mode: 'map',
        make: (p) => fs.writeFileSync(p, Buffer.alloc(4096, 1), { mode: 0o644 }),
        lock: (p) => (fs.chownSync(p, 0, 0), fs.chmodSync(p, 0o644)),
        error: (p) => new RegExp(`^ckpt: cannot open ${escapeRegExp(p)} to map it: Permission denied$`),
      },
      {
        what: 'a cwd inside a root-only 0700 directory',
        mode: 'cwd',
        make: (p) => fs.mkdirSync(p, { mode: 0o755 }),
        lock: (p) => (fs.chownSync(p, 0, 0), fs.chmodSync(p, 0o700)),
        error: (p) => new RegExp(`^ckpt: cannot restore the working directory ${escapeRegExp(p)}: Permission denied$`),
      },
    ];
    for (const c of cases) {
      it(`${c.what}: refused (exit 4), naming the path, nothing left`, async function () {
        needRoot.call(this);
        const dir = lab.dir(user);
        const thing = path.join(dir, c.mode === 'cwd' ? 'private' : 'file');
        c.make(thing);
        fs.chownSync(thing, user.uid, user.gid);
        const out = path.join(dir, 'holder.txt');
        const t = lab.startTarget(user, [target('holder'), c.mode, thing, out]);
        await waitFor('the holder', () => lines(out).length > 0);
        assert.deepStrictEqual(lines(out), ['ready']);
        const image = path.join(dir, 'holder.ckpt');
        const d = await lab.dump(user, t.pid, image, ['--kill']);
        assert.strictEqual(d.code, 0, d.stderr);
        await t.exited;
        c.lock(thing);
        const pidFile = path.join(lab.dir(root), 'pid');
        const r = await lab.restore(root, image, ['--stdio=null', `--pid-file=${pidFile}`]);
        assert.strictEqual(r.code, EXIT.permission, r.stderr);
        assertOneErrorLine(r.stderr, c.error(thing));
        await nothingLeft(r, pidFile, 'holder');
      });
    }

    it('--stdio=PATH in a directory only root may enter: opened as the user, refused', async function () {
      needRoot.call(this);
      const { image } = await userCounter();
      const log = path.join(lab.dir(root, 0o700), 'out.log');
      const r = await lab.restore(root, image, [`--stdio=${log}`]);
      assert.strictEqual(r.code, EXIT.permission, r.stderr);
      assertOneErrorLine(r.stderr, new RegExp(`^ckpt: cannot set up stdio fd 1 in ${escapeRegExp(log)}: Permission denied$`));
      await r.reaperDone;
      assert.ok(!fs.existsSync(log), 'the user could not create it');
    });
  });

  describe('what the restored process is', () => {
    it("root restoring a user's image from its terminal: no share of root's terminal", async function () {
      // A process in root's session could open /dev/tty, read root's terminal and push input
      // into root's shell (TIOCSTI); with --stdio=inherit it would even hold it as its stdio.
      needRoot.call(this);
      const { image, out } = await userCounter();
      const inTerminal = async (extra: string[]) => {
        const s = lab.start(root, ['python3', '-c', IN_PTY, target('reaper'), CKPT, 'restore', image, ...extra]);
        const code = await waitFor('ckpt restore in a terminal to exit', () => /reaper: exit (\d+)/.exec(s.out())?.[1]);
        return { code: Number(code), text: s.out() };
      };
      const r = await inTerminal(['--stdio=null']);
      assert.strictEqual(r.code, 0, r.text);
      const pid = Number(/^(\d+)\r?\n/.exec(r.text)?.[1]);
      lab.track(pid);
      assert.deepStrictEqual(session(pid), { sid: pid, ttyNr: 0 }, 'a session of its own, without a controlling terminal');
      const n = counts(out);
      await waitFor('the counter to count on', () => counts(out) > n + 5);
      process.kill(pid, 'SIGKILL');
      const inherit = await inTerminal([]);
      assert.strictEqual(inherit.code, EXIT.permission, inherit.text);
      assert.match(inherit.text, new RegExp(`^ckpt: --stdio=inherit would give this terminal \\(fd 0\\) to a process of uid ${user.uid}: restore with --stdio=null or --stdio=PATH\r?$`, 'm'));
    });

    it("root restoring a user's threads: every thread has the user's ids and groups and no capability", async function () {
      needRoot.call(this);
      const dir = lab.dir(user);
      const out = path.join(dir, 'threads.txt');
      const t = lab.startTarget(user, [target('threads'), out]);
      await waitFor('the threads', () => lines(out).filter((l) => l.startsWith('p ')).length >= 10);
      const before = credentials(t.pid);
      const image = path.join(dir, 'threads.ckpt');
      const d = await lab.dump(user, t.pid, image, ['--kill']);
      assert.strictEqual(d.code, 0, d.stderr);
      await t.exited;
      const r = await lab.restore(root, image);
      assert.strictEqual(r.code, 0, r.stderr);
      const after = credentials(r.pid!);
      assert.strictEqual(after.length, before.length, 'every thread is back');
      const ug = `${user.uid} ${user.uid} ${user.uid} ${user.uid}`;
      for (const c of after) {
        assert.strictEqual(c.uid, ug, `thread ${c.tid}: uid`);
        assert.strictEqual(c.gid, `${user.gid} ${user.gid} ${user.gid} ${user.gid}`, `thread ${c.tid}: gid`);
        assert.strictEqual(c.groups, before[0].groups, `thread ${c.tid}: the groups it had`);
        assert.deepStrictEqual([c.capEff, c.capPrm, c.capAmb], [NO_CAPS, NO_CAPS, NO_CAPS], `thread ${c.tid}: no capability`);
      }
      assert.strictEqual(fs.statSync(`/proc/${r.pid}`).uid, user.uid, "dumpable: /proc/PID is the user's");
      // The PID is chosen by root's ckpt before the new process takes the user's ids, so it comes
      // back; the threads are created by the new process itself, as the user, without
      // CAP_CHECKPOINT_RESTORE: clone3's set_tid is refused and they get new TIDs.
      if (samePidPossible(root)) assert.strictEqual(r.pid, t.pid, 'the PID is the original one');
      const originalTids = new Set(before.map((c) => c.tid));
      assert.ok(
        after.filter((c) => c.tid !== r.pid).every((c) => !originalTids.has(c.tid)),
        'the other threads have new TIDs',
      );
      const n = lines(out).length;
      await waitFor('the threads to go on', () => lines(out).length > n + 20);
      assert.deepStrictEqual(
        lines(out).filter((l) => l.startsWith('e ')),
        [],
        'no thread reported an error',
      );
    });

    it("root dumping a user's process: the image is the user's, and root restores it as the user", async function () {
      needRoot.call(this);
      const dir = lab.dir(user);
      const out = path.join(dir, 'counter.txt');
      const t = lab.startTarget(user, [target('counter'), out]);
      await waitFor('the counter to count', () => counts(out) > 3);
      const image = path.join(dir, 'counter-by-root.ckpt');
      const d = await lab.dump(root, t.pid, image, ['--kill']);
      assert.strictEqual(d.code, 0, d.stderr);
      await t.exited;
      const st = fs.statSync(image);
      assert.deepStrictEqual([st.uid, st.gid, st.mode & 0o777], [user.uid, user.gid, 0o600], "owned by the process's user, mode 0600");
      const r = await lab.restore(root, image);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.strictEqual(credentials(r.pid!)[0].uid, `${user.uid} ${user.uid} ${user.uid} ${user.uid}`, 'restored as the user');
      const n = counts(out);
      await waitFor('the counter to count on', () => counts(out) > n + 3);
    });

    it("the user restoring its own image: its ids, no capability; root restoring its own: root's capabilities", async () => {
      const { image, out } = await userCounter();
      const r = await lab.restore(user, image);
      assert.strictEqual(r.code, 0, r.stderr);
      const [c] = credentials(r.pid!);
      assert.strictEqual(c.uid, `${user.uid} ${user.uid} ${user.uid} ${user.uid}`);
      if (user.uid !== 0) assert.deepStrictEqual([c.capEff, c.capPrm, c.capAmb], [NO_CAPS, NO_CAPS, NO_CAPS]);
      const n = counts(out);
      await waitFor('the counter to count on', () => counts(out) > n + 5);
      if (ids.length < 2) return;
      const dir = lab.dir(root);
      const rootOut = path.join(dir, 'counter.txt');
      const t = lab.startTarget(root, [target('counter'), rootOut]);
      await waitFor("root's counter", () => counts(rootOut) > 5);
      const mine = credentials(t.pid)[0];
      const rootImage = path.join(dir, 'counter.ckpt');
      const d = await lab.dump(root, t.pid, rootImage, ['--kill']);
      assert.strictEqual(d.code, 0, d.stderr);
      const rr = await lab.restore(root, rootImage);
      assert.strictEqual(rr.code, 0, rr.stderr);
      const [rc] = credentials(rr.pid!);
      assert.strictEqual(rc.uid, '0 0 0 0');
      assert.strictEqual(rc.capEff, mine.capEff, "root restoring its own image keeps root's capabilities");
      assert.ok(alive(rr.pid!));
    });
  });
});
