// A restore that fails, late or early: it ends within seconds with one clear line, leaves no
// process behind, removes nothing it did not make (a pid file that was already there), and
// says what an image names without letting it reach the terminal (escape sequences).

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointImage, RecordType } from '../../src/image';
import { resealEdited } from '../support/imageReseal';
import type { PayloadFields } from '../support/imageReseal';
import { assertOneErrorLine, buildTargets, EXIT, identities, Identity, Lab, lines, processesWhere, target, unprivileged, waitFor } from './helpers';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** How long a failing restore may take; a hang fails the test instead of waiting forever. */
const FAIL_WITHIN_MS = 15000;

/** The thread with its xstate blob 64 bytes short: PTRACE_SETREGSET refuses it, after every thread exists. */
function shortXstate(typeName: string, p: PayloadFields): PayloadFields | undefined {
  if (typeName !== 'thread') return undefined;
  assert.strictEqual(p.xstateKind, 2, 'an XSAVE area (PTRACE_SETREGSET checks its size)');
  const x = (p.xstate as { value: Uint8Array }).value;
  assert.ok(x.length > 576, `an xstate blob to cut (${x.length} bytes)`);
  return { ...p, xstate: x.subarray(0, x.length - 64) };
}

/** Every process the restore made is gone: the reaper (their subreaper) ended, and none by that name is left. */
async function nothingLeft(r: { reaperDone: Promise<unknown> }, match: { comm?: string; uid?: number }): Promise<void> {
  const done = await Promise.race([r.reaperDone.then(() => true), new Promise((res) => setTimeout(() => res(false), 10000))]);
  assert.ok(done, 'the restore left a process behind (its reaper did not end)');
  assert.deepStrictEqual(processesWhere(match), [], `no process ${JSON.stringify(match)} is left`);
}

/** A private copy of the threads target under a name no other test uses, so that a leftover is found by its comm. */
function privateThreads(dir: string, id: Identity): string {
  const exe = path.join(dir, `thr${process.pid % 100000}`);
  fs.copyFileSync(target('threads'), exe);
  fs.chownSync(exe, id.uid, id.gid);
  fs.chmodSync(exe, 0o755);
  return exe;
}

async function threadsImage(lab: Lab, id: Identity, dir: string, exe = target('threads')): Promise<string> {
  const out = path.join(dir, 'threads.txt');
  const t = lab.startTarget(id, [exe, out]);
  await waitFor('the threads to run', () => lines(out).filter((l) => l.startsWith('p ')).length >= 10);
  assert.ok(fs.readdirSync(`/proc/${t.pid}/task`).length >= 5, 'several threads');
  const image = path.join(dir, 'threads.ckpt');
  const d = await lab.dump(id, t.pid, image, ['--kill']);
  assert.strictEqual(d.code, 0, d.stderr);
  await t.exited;
  return image;
}

async function counterImage(lab: Lab, id: Identity, dir: string): Promise<string> {
  const out = path.join(dir, 'counter.txt');
  const t = lab.startTarget(id, [target('counter'), out]);
  await waitFor('the counter to run', () => lines(out).length > 5);
  const image = path.join(dir, 'counter.ckpt');
  const d = await lab.dump(id, t.pid, image, ['--kill']);
  assert.strictEqual(d.code, 0, d.stderr);
  await t.exited;
  return image;
}

/** A uid of the test's own, with no passwd entry and no process: RLIMIT_NPROC counts exactly what the test starts. */
function uidOfItsOwn(): Identity {
  for (let uid = 61000 + (process.pid % 1000); ; uid++) {
    let named = true;
    try {
      named = fs
        .readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .some((l) => l.split(':')[2] === String(uid));
    } catch {
      named = false;
    }
    if (named || processesWhere({ uid }).length) continue;
    return { name: `uid ${uid}`, uid, gid: uid, argv: (c) => ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', ...c] };
  }
}

describe('native: a restore that fails', function () {
  this.timeout(120000);
  before(buildTargets);
  const lab = new Lab();
  afterEach(() => lab.cleanup());

  describe('after the threads of a multi-threaded image exist: ends in seconds, nothing left', () => {
    // ckpt used to wait for the leader alone while it still held the other threads, already
    // dead and traced by it, unreaped: the kernel reports the leader only after them, so that
    // wait never ended. These images hung restore forever.
    for (const id of identities()) {
      it(`an xstate blob of the wrong size, restored by ${id.name}`, async () => {
        const dir = lab.dir(id);
        const exe = privateThreads(dir, id);
        const image = await threadsImage(lab, id, dir, exe);
        const bad = path.join(dir, 'short-xstate.ckpt');
        await resealEdited(image, bad, shortXstate);
        fs.chownSync(bad, id.uid, id.gid);
        const r = await lab.restore(id, bad, ['--stdio=null'], [], FAIL_WITHIN_MS);
        assert.strictEqual(r.code, EXIT.unsupported, r.stderr);
        assertOneErrorLine(r.stderr, /^ckpt: cannot restore the FPU\/AVX state of thread \d+ \(a different CPU\?\): Bad address$/);
        await nothingLeft(r, { comm: path.basename(exe) });
      });
    }

    // RLIMIT_NPROC counts every task of a user (threads too) and binds no root process, so this
    // runs as a uid of its own: then the count is exactly the reaper, ckpt and what restore makes,
    // and a limit of 5 lets the fork and the first threads through and fails a later clone.
    it('a user at its RLIMIT_NPROC: a later thread cannot be created', async function () {
      if (identities().length < 2) this.skip(); // needs root to take a uid of its own
      const id = uidOfItsOwn();
      const dir = lab.dir(id);
      const image = await threadsImage(lab, id, dir);
      await waitFor(`no process of ${id.name} left from the dump`, () => processesWhere({ uid: id.uid }).length === 0);
      const r = await lab.restore(id, image, ['--stdio=null'], ['prlimit', '--nproc=5:5', '--'], FAIL_WITHIN_MS);
      assert.strictEqual(r.code, EXIT.fail, r.stderr);
      assertOneErrorLine(r.stderr, /^ckpt: cannot create thread \d+ \(clone, the user's RLIMIT_NPROC\?\): Resource temporarily unavailable$/);
      await nothingLeft(r, { uid: id.uid });
    });

    it("root restoring the image of a user at its RLIMIT_NPROC (the limit binds once the ids are the user's)", async function () {
      if (identities().length < 2) this.skip();
      const root = identities()[0];
      const id = uidOfItsOwn();
      const dir = lab.dir(id);
      const image = await threadsImage(lab, id, dir);
      await waitFor(`no process of ${id.name} left from the dump`, () => processesWhere({ uid: id.uid }).length === 0);
      // root's ckpt is not bound by it; the new process, as the user, keeps the hard limit 3 it
      // inherits (it may not raise it to the image's): the third thread's clone fails
      const r = await lab.restore(root, image, ['--stdio=null'], ['prlimit', '--nproc=3:3', '--'], FAIL_WITHIN_MS);
      assert.strictEqual(r.code, EXIT.fail, r.stderr);
      assertOneErrorLine(r.stderr, /^ckpt: cannot create thread \d+ \(clone, the user's RLIMIT_NPROC\?\): Resource temporarily unavailable$/);
      assert.match(r.stderr, /^ckpt: warning: rlimit nproc: the image's hard limit \S+ cannot be restored without CAP_SYS_RESOURCE; kept at 3$/m);
      await nothingLeft(r, { uid: id.uid });
    });
  });

  it('--pid-file: a file that was already there survives a failed restore', async () => {
    const id = unprivileged();
    const dir = lab.dir(id);
    const image = await counterImage(lab, id, dir);
    const bad = path.join(dir, 'short-xstate.ckpt');
    await resealEdited(image, bad, shortXstate);
    fs.chownSync(bad, id.uid, id.gid);
    const pidFile = path.join(dir, 'precious.pid');
    fs.writeFileSync(pidFile, "not ckpt's\n");
    fs.chownSync(pidFile, id.uid, id.gid);
    // the failure comes after the new process exists, where a restore removes its own pid file
    const r = await lab.restore(id, bad, ['--stdio=null', `--pid-file=${pidFile}`], [], FAIL_WITHIN_MS);
    assert.strictEqual(r.code, EXIT.unsupported, r.stderr);
    assertOneErrorLine(r.stderr, /FPU\/AVX state/);
    await r.reaperDone;
    assert.strictEqual(fs.readFileSync(pidFile, 'utf8'), "not ckpt's\n", 'the file restore did not write is left as it was');
    assert.deepStrictEqual(
      fs.readdirSync(dir).filter((n) => n.includes('.tmp-')),
      [],
      'no temp file of the pid file is left',
    );
  });

  /** The tag of the file record that fd `n` of the image's process names. */
  async function fileOfFd(image: string, n: number): Promise<number> {
    const img = await CheckpointImage.open(image);
    try {
      for (const r of img.ofType(RecordType.FD)) {
        const fd = await img.decodeAs(r, 'fd');
        if (fd.fd === n) return fd.file;
      }
      throw new Error(`no fd ${n} in ${image}`);
    } finally {
      await img.close();
    }
  }

  describe('image strings in messages: escaped for the terminal, exact in JSON', () => {
    const ESC_TITLE = '\x1b]0;pwned\x07';
    const ESC_CLEAR = '\x1b[2J';
    const C1_CSI = '\u009b';
    /** Two bytes that begin no UTF-8 character, put into the encoded path in place of this marker. */
    const MARK = '@@';
    /** Also text that looks like an escape (a backslash), which must not pass for one, and an é, which is no control. */
    const evil = `/nonexistent-${ESC_TITLE}/${ESC_CLEAR}${C1_CSI}\\x1b-é${MARK}`;
    /** What a terminal may see of it. */
    const shown = '/nonexistent-\\x1b]0;pwned\\x07/\\x1b[2J\\xc2\\x9b\\\\x1b-é\\xff\\xfe';
    const controls = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/; // anything but a newline

    /** The counter's image with its cwd, or the path of its fd 3, set to `evil` (with two invalid bytes). */
    async function evilImage(lab2: Lab, id: Identity, field: 'cwd' | 'fd', name = 'evil.ckpt'): Promise<string> {
      const dir = lab2.dir(id);
      const image = await counterImage(lab2, id, dir);
      const out = path.join(dir, name);
      // fd 3's path is its open file description's (format 2.0): the file record fd 3 names
      const fd3File = await fileOfFd(image, 3);
      await resealEdited(image, out, (t, p, r) => {
        if (field === 'cwd' && t === 'process') return { ...p, cwd: evil };
        if (field === 'fd' && t === 'file' && r.tag === fd3File) return { ...p, path: evil };
        return undefined;
      });
      // the two invalid bytes in place of the marker (same length: only the payload sum changes)
      const bytes = fs.readFileSync(out);
      const at = bytes.indexOf(Buffer.from(evil)) + Buffer.from(evil).length - MARK.length;
      assert.ok(at > 0 && bytes.subarray(at, at + 2).toString() === MARK, 'the marker is in the image');
      bytes[at] = 0xff;
      bytes[at + 1] = 0xfe;
      fs.writeFileSync(out, bytes);
      await resealEdited(out, out + '.sealed', () => undefined); // the payload sum again
      fs.renameSync(out + '.sealed', out);
      fs.chownSync(out, id.uid, id.gid);
      return out;
    }

    for (const field of ['cwd', 'fd'] as const) {
      it(`a ${field === 'cwd' ? 'working directory' : 'file'} named with escape sequences: stderr shows them escaped`, async () => {
        const id = unprivileged();
        const image = await evilImage(lab, id, field);
        const r = await lab.restore(id, image, ['--stdio=null'], [], FAIL_WITHIN_MS);
        assert.strictEqual(r.code, EXIT.fail, r.stderr);
        assert.doesNotMatch(r.stderr, controls, `no control character reaches the terminal:\n${JSON.stringify(r.stderr)}`);
        const what = field === 'cwd' ? 'cannot restore the working directory' : 'fd 3: cannot open';
        assertOneErrorLine(r.stderr, new RegExp(`^ckpt: ${what} ${escapeRegExp(shown)}: No such file or directory$`));
        await r.reaperDone;
      });
    }

    it('--progress=json: the same message exact in the error event, no raw control character on stdout', async () => {
      const id = unprivileged();
      const image = await evilImage(lab, id, 'cwd');
      const r = await lab.restore(id, image, ['--stdio=null', '--progress=json'], [], FAIL_WITHIN_MS);
      assert.strictEqual(r.code, EXIT.fail, r.stderr);
      assert.doesNotMatch(r.stdout, controls, 'JSON escapes every control character');
      const events = r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string; message?: string; exit?: number });
      const err = events.find((e) => e.event === 'error');
      assert.ok(err, r.stdout);
      assert.strictEqual(err.exit, EXIT.fail);
      const exact = evil.replace(MARK, '\ufffd\ufffd'); // a byte of no UTF-8 character becomes U+FFFD, as a decoder would make it
      assert.strictEqual(err.message, `cannot restore the working directory ${exact}: No such file or directory`);
      assert.doesNotMatch(r.stderr, controls);
      await r.reaperDone;
    });

    it('-v: an image path with escape sequences is shown escaped in the steps', async () => {
      const id = unprivileged();
      const dir = lab.dir(id);
      const image = await counterImage(lab, id, dir);
      const named = path.join(dir, `x${ESC_CLEAR}${ESC_TITLE}.ckpt`);
      fs.renameSync(image, named);
      // a user's image restored by the user: it succeeds, and -v names the image on every step
      const r = await lab.restore(id, named, ['--stdio=null', '-v'], [], FAIL_WITHIN_MS);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /restore-load: reading .*x\\x1b\[2J\\x1b\]0;pwned\\x07\.ckpt$/m);
      assert.doesNotMatch(r.stderr, controls);
    });
  });
});
