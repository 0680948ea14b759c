// Files whose path is gone, per-open-file details, locks and external fds (issue 11). Each family
// has a target that sets every item up and checks it itself (PASS/FAIL per item): it is checked
// before the dump, dumped with --kill, restored, and checked again, as root and as an ordinary
// user. The images are read by `ckpt-inspect show -v`, verified, and diffed against a changed
// copy: the new records are shown with their fields and a changed one is named.

import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import { Readable } from 'stream';
import * as fs from 'fs';
import * as path from 'path';
import { buildTargets, CKPT, EXIT, identities, Identity, Lab, lines, procStatus, ROOT, Started, target, waitFor } from './helpers';

interface SelfChecking {
  dir: string;
  out: string;
  pid: number;
  started: Started;
}

async function startChecking(lab: Lab, id: Identity, name: string, extra: string[] = []): Promise<SelfChecking> {
  const dir = lab.dir(id);
  const out = path.join(dir, `${name}.out`);
  const started = lab.startTarget(id, [target(name), out, dir, ...extra]);
  await waitFor(`${name} to be ready`, () => lines(out).find((l) => l.startsWith('ready ')), 15000).catch((e: Error) => {
    throw new Error(`${e.message}: ${started.err()}`);
  });
  return { dir, out, pid: started.pid, started };
}

/** Asks the target (pid) to check itself; its PASS/FAIL lines. */
async function check(t: SelfChecking, pid: number): Promise<string[]> {
  const before = lines(t.out).filter((l) => l === 'done').length;
  process.kill(pid, 'SIGUSR1');
  await waitFor(`process ${pid} to check itself`, () => lines(t.out).filter((l) => l === 'done').length > before, 20000);
  const all = lines(t.out);
  const end = all.length - 1;
  let start = end - 1;
  while (start >= 0 && all[start] !== 'done' && !all[start].startsWith('ready ')) start--;
  return all.slice(start + 1, end);
}

function inspect(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'src/cli/ckptInspect.ts'), ...args], { encoding: 'utf8', timeout: 60000 });
}

const NOPATH = ['PASS unlinked', 'PASS memfd', 'PASS tmpfile', 'PASS cwd'];
const PERFILE = ['PASS pipe-flags', 'PASS pipe-capacity', 'PASS fifo-rdonly', 'PASS fifo-rdwr', 'PASS map-rw', 'PASS flock', 'PASS posix-lock', 'PASS ofd-lock'];

describe('native: files without a path, per-open-file details, locks (issue 11)', function () {
  this.timeout(120000);
  before(buildTargets);
  const lab = new Lab();
  afterEach(() => lab.cleanup());

  for (const id of identities()) {
    describe(`as ${id.name}`, () => {
      it('files without a path: an unlinked sparse file, a mapped sealed memfd, an O_TMPFILE file, a removed cwd', async () => {
        const t = await startChecking(lab, id, 'nopath');
        assert.deepStrictEqual(await check(t, t.pid), NOPATH, 'before the checkpoint');
        const image = path.join(t.dir, 'nopath.ckpt');
        const d = await lab.dump(id, t.pid, image, ['--kill']);
        assert.strictEqual(d.code, 0, d.stderr);
        await waitFor('the target to be gone', () => !procStatus(t.pid) || /^[ZX]/.test(procStatus(t.pid)!.get('State')!));
        // the hole of the sparse file is not stored: 1 MiB + 300 KiB of data, not 8 MiB
        assert.ok(fs.statSync(image).size < 4 << 20, `the image is ${fs.statSync(image).size} bytes`);
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(await check(t, r.pid!), NOPATH, 'after the restore');
        // nothing of it is left with a name in its directory
        assert.deepStrictEqual(fs.readdirSync(t.dir).filter((n) => !n.endsWith('.out') && !n.endsWith('.ckpt')), []);
      });

      it('per open file: flags and offsets of each description, pipe capacity, FIFOs with bytes, a mapping made writable again, flock/POSIX/OFD locks', async () => {
        const t = await startChecking(lab, id, 'perfile');
        assert.deepStrictEqual(await check(t, t.pid), PERFILE, 'before the checkpoint');
        const image = path.join(t.dir, 'perfile.ckpt');
        const d = await lab.dump(id, t.pid, image, ['--kill']);
        assert.strictEqual(d.code, 0, d.stderr);
        await waitFor('the target to be gone', () => !procStatus(t.pid) || /^[ZX]/.test(procStatus(t.pid)!.get('State')!));
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(await check(t, r.pid!), PERFILE, 'after the restore');
      });

      it('an external pipe (to a process outside the checkpoint, not stdio) is recorded; restore connects it with --inherit-fd or breaks it', async () => {
        const t = await startChecking(lab, id, 'perfile', ['external']);
        assert.deepStrictEqual(await check(t, t.pid), [...PERFILE, 'PASS external connected'], 'before the checkpoint');
        const image = path.join(t.dir, 'external.ckpt');
        const d = await lab.dump(id, t.pid, image, ['--kill']);
        assert.strictEqual(d.code, 0, d.stderr);
        assert.match(d.stderr, /ckpt: warning: process \d+ fd 9 \(pipe:\[\d+\]\): its other end is outside the checkpoint: recorded as external/);
        await waitFor('the target to be gone', () => !procStatus(t.pid) || /^[ZX]/.test(procStatus(t.pid)!.get('State')!));

        // broken: writing fails with EPIPE, and restore said so
        const broken = await lab.restore(id, image);
        assert.strictEqual(broken.code, 0, broken.stderr);
        assert.match(broken.stderr, /ckpt: warning: fd 9: pipe:\[\d+\]: its other end was outside the checkpoint: restored broken \(--inherit-fd 9:FD connects it\)/);
        assert.deepStrictEqual(await check(t, broken.pid!), [...PERFILE, 'PASS external broken']);
        process.kill(broken.pid!, 'SIGKILL');
        await broken.reaperDone;

        // connected: fd 5 of ckpt restore (a pipe of ours) becomes its fd 9
        const argv = id.argv([target('reaper'), CKPT, 'restore', image, '--stdio=null', '--inherit-fd', '9:5']);
        const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'pipe'] });
        let stdout = '', stderr = '', got = '';
        child.stdout!.setEncoding('utf8').on('data', (x: string) => (stdout += x));
        child.stderr!.setEncoding('utf8').on('data', (x: string) => (stderr += x));
        (child.stdio[5] as Readable).setEncoding('utf8').on('data', (x: string) => (got += x));
        try {
          const pid = await waitFor('the restore to end', () => (/reaper: exit (\d+)/.test(stderr) ? Number(/^(\d+)$/m.exec(stdout)?.[1] ?? -1) : undefined), 60000);
          assert.ok(pid > 0, stderr);
          lab.track(pid);
          assert.deepStrictEqual(await check(t, pid), [...PERFILE, 'PASS external connected']);
          await waitFor('what it wrote to its fd 9 to reach us', () => got === 'external\n', 5000);
          process.kill(pid, 'SIGKILL');
        } finally {
          child.kill('SIGKILL');
        }
      });
    });
  }

  it('--inherit-fd takes N:FD with FD open in ckpt, and says so otherwise', async () => {
    const [who] = identities();
    for (const [arg, msg] of [['9', /give N:FD/], ['9:x', /give N:FD/], ['9:987', /fd 987 is not open/]] as const) {
      const r = await lab.run(who, [CKPT, 'restore', '/nonexistent.ckpt', '--inherit-fd', arg]);
      assert.strictEqual(r.code, EXIT.usage, r.stderr);
      assert.match(r.stderr, msg);
    }
  });
});
