// Files whose path is gone, per-open-file details, locks and external fds (issue 11). Each family
// has a target that sets every item up and checks it itself (PASS/FAIL per item): it is checked
// before the dump, dumped with --kill, restored, and checked again, as root and as an ordinary
// user. The images are read by `ckpt-inspect show -v`, verified, and diffed against a changed
// copy: the new records are shown with their fields and a changed one is named.

import * as assert from 'assert';
import { spawn } from 'child_process';
import { Readable } from 'stream';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointImage, RecordType } from '../../src/image';
import { reseal } from '../support/imageReseal';
import { encodePayload } from '../../src/image/write/imageWriter';
import { assertOneErrorLine, buildTargets, CKPT, EXIT, identities, Identity, inspect, Lab, lines, procStatus, Started, target, waitFor } from './helpers';

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

/** `image` written again as `out` with one field of the first record of `type` changed. */
async function mutate(image: string, out: string, type: number, typeName: string, change: (v: Record<string, unknown>) => Record<string, unknown>, nth = 0): Promise<void> {
  const img = await CheckpointImage.open(image);
  try {
    const victim = img.records.filter((r) => r.type === type)[nth];
    assert.ok(victim, `the image has a record of type ${type}`);
    const v = (await img.decode(victim)) as unknown as Record<string, unknown>;
    await reseal(img, out, (r) => (r === victim ? encodePayload(typeName, change({ ...v })) : undefined));
  } finally {
    await img.close();
  }
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
        const shown = inspect(['show', '-v', image]);
        assert.strictEqual(shown.status, 0, shown.stderr);
        assert.match(shown.stdout, /FILE_CONTENT tag \d+: unlinked file of "[^"]*\/unlinked", 8\.3 MiB with 1\.3 MiB of data in 2 extents/);
        assert.match(shown.stdout, /FILE_CONTENT tag \d+: memfd "ckpt-test-memfd", 12 KiB with 12 KiB of data in 1 extent, seals 0x6\n\s+size: 12388\n\s+flags: memfd \(0x1\)\n\s+seals: 0x6/);
        assert.match(shown.stdout, /FILE_CONTENT tag \d+: O_TMPFILE file of "[^"]*\/#\d+"/);
        assert.match(shown.stdout, /FILE_EXTENT tag \d+: 300 KiB at offset 8388608, 75 pages\n\s+offset: 8388608\n\s+len: 307200\n\s+npages: 75/);
        assert.match(shown.stdout, /FILE_DATA tag \d+: 300 KiB of file data/);
        assert.strictEqual(inspect(['verify', image]).status, 0);
        const changed = path.join(t.dir, 'changed.ckpt');
        await mutate(image, changed, RecordType.FILE_CONTENT, 'file_content', (v) => ({ ...v, seals: 0xf }), 1);
        const diff = inspect(['diff', image, changed]);
        assert.match(diff.stdout, /~ fd 7 \/memfd:ckpt-test-memfd \(deleted\)\n\s+file\.file_content\.seals: 0x6 -> 0xf/);

        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(await check(t, r.pid!), NOPATH, 'after the restore');
        // nothing of it is left with a name in its directory
        assert.deepStrictEqual(
          fs.readdirSync(t.dir).filter((n) => !n.endsWith('.out') && !n.endsWith('.ckpt')),
          [],
        );
      });

      it('per open file: flags and offsets of each description, pipe capacity, FIFOs with bytes, a mapping made writable again, flock/POSIX/OFD locks', async () => {
        const t = await startChecking(lab, id, 'perfile');
        assert.deepStrictEqual(await check(t, t.pid), PERFILE, 'before the checkpoint');
        const image = path.join(t.dir, 'perfile.ckpt');
        const d = await lab.dump(id, t.pid, image, ['--kill']);
        assert.strictEqual(d.code, 0, d.stderr);
        await waitFor('the target to be gone', () => !procStatus(t.pid) || /^[ZX]/.test(procStatus(t.pid)!.get('State')!));
        const shown = inspect(['show', '-v', image]);
        assert.strictEqual(shown.status, 0, shown.stderr);
        assert.match(shown.stdout, /FILE_LOCK tag \d+: flock write lock\n\s+kind: flock \(1\)\n\s+type: write \(2\)/);
        assert.match(
          shown.stdout,
          new RegExp(`FILE_LOCK tag \\d+: posix write lock on bytes 10-19 held by pid ${t.pid}\\n\\s+kind: posix \\(2\\)\\n\\s+type: write \\(2\\)\\n\\s+pid: ${t.pid}\\n\\s+start: 10\\n\\s+len: 10`),
        );
        assert.match(shown.stdout, /FILE_LOCK tag \d+: ofd read lock from byte 100 to the end/);
        assert.match(shown.stdout, /capacity: 262144/);
        const changed = path.join(t.dir, 'changed.ckpt');
        await mutate(image, changed, RecordType.FILE_LOCK, 'file_lock', (v) => ({ ...v, len: 20n }), 1);
        const diff = inspect(['diff', image, changed]);
        assert.match(diff.stdout, new RegExp(`~ fd \\d+ .*/lk-posix\\n\\s+file\\.lock posix pid ${t.pid} @10\\.len: 10 -> 20`));

        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(await check(t, r.pid!), PERFILE, 'after the restore');
      });

      it('an external pipe and socket (to a process outside the checkpoint, not stdio) are recorded; restore connects them with --inherit-fd or breaks them', async () => {
        const t = await startChecking(lab, id, 'perfile', ['external']);
        assert.deepStrictEqual(await check(t, t.pid), [...PERFILE, 'PASS external connected', 'PASS external-socket connected'], 'before the checkpoint');
        const image = path.join(t.dir, 'external.ckpt');
        // a pipe end to outside is recorded as external by itself; a unix socket's peer is named and
        // refused unless --external unix says that it may be recorded (the sockets test has the refusal)
        const d = await lab.dump(id, t.pid, image, ['--kill', '--external', 'unix']);
        assert.strictEqual(d.code, 0, d.stderr);
        assert.match(d.stderr, /ckpt: warning: process \d+ fd 9 \(pipe:\[\d+\]\): its other end is outside the checkpoint: recorded as external/);
        await waitFor('the target to be gone', () => !procStatus(t.pid) || /^[ZX]/.test(procStatus(t.pid)!.get('State')!));

        // broken: writing fails with EPIPE, and restore said so
        const broken = await lab.restore(id, image);
        assert.strictEqual(broken.code, 0, broken.stderr);
        assert.match(broken.stderr, /ckpt: warning: fd 9: pipe:\[\d+\]: its other end was outside the checkpoint: restored broken \(--inherit-fd 9:FD connects it\)/);
        assert.deepStrictEqual(await check(t, broken.pid!), [...PERFILE, 'PASS external broken', 'PASS external-socket broken']);
        process.kill(broken.pid!, 'SIGKILL');
        await broken.reaperDone;

        // connected: fds 5 and 6 of ckpt restore (ours) become its fds 9 and 10
        const argv = id.argv([target('reaper'), CKPT, 'restore', image, '--stdio=null', '--inherit-fd', '9:5', '--inherit-fd', '10:6']);
        const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'pipe', 'pipe'] });
        let stdout = '',
          stderr = '',
          got = '';
        child.stdout!.setEncoding('utf8').on('data', (x: string) => (stdout += x));
        child.stderr!.setEncoding('utf8').on('data', (x: string) => (stderr += x));
        (child.stdio as unknown as Readable[])[5].setEncoding('utf8').on('data', (x: string) => (got += x));
        (child.stdio as unknown as Readable[])[6].setEncoding('utf8').on('data', (x: string) => (got += x));
        try {
          const pid = await waitFor('the restore to end', () => (/reaper: exit (\d+)/.test(stderr) ? Number(/^(\d+)$/m.exec(stdout)?.[1] ?? -1) : undefined), 60000);
          assert.ok(pid > 0, stderr);
          lab.track(pid);
          assert.deepStrictEqual(await check(t, pid), [...PERFILE, 'PASS external connected', 'PASS external-socket connected']);
          await waitFor('what it wrote to its fds 9 and 10 to reach us', () => got.split('\n').sort().join(' ') === ' external socket', 5000);
          process.kill(pid, 'SIGKILL');
        } finally {
          child.kill('SIGKILL');
        }
      });

      it('a lock that another process holds now fails the restore by name, leaving nothing behind', async () => {
        const t = await startChecking(lab, id, 'perfile');
        const image = path.join(t.dir, 'held.ckpt');
        const d = await lab.dump(id, t.pid, image, ['--leave-running']);
        assert.strictEqual(d.code, 0, d.stderr);
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, EXIT.unsupported, r.stderr);
        assertOneErrorLine(
          r.stderr,
          /^ckpt: restore: fd \d+ \(.*\/lk-flock\): its flock write lock cannot be taken again \(another process holds a conflicting lock\): Resource temporarily unavailable$/,
        );
        await r.reaperDone; // the reaper ends once every process the restore made is gone
        // (a FIFO is one object by its path: the restore that failed had put its bytes back into it)
        const after = await check(t, t.pid);
        assert.deepStrictEqual(
          after.filter((l) => /lock|pipe|map/.test(l)),
          PERFILE.filter((l) => /lock|pipe|map/.test(l)),
          'the original goes on, its locks its own',
        );
      });

      for (const [mode, refusal] of [
        ['lease', /^ckpt: process \d+ has state that cannot be checkpointed: fd \d+: it holds a lease or a lock of a kind that cannot be taken again \(.*\/leased\); --allow-unsupported/],
        [
          'linked',
          /^ckpt: process \d+ has state that cannot be checkpointed: fd \d+: its path is gone, but it has other links, which a checkpoint cannot find \(.*\/first-name \(deleted\)\); --allow-unsupported/,
        ],
      ] as const) {
        it(`${mode === 'lease' ? 'a lease' : 'an unlinked file with another name'} is refused: exit 5, one line naming the fd, and the target goes on`, async () => {
          const t = await startChecking(lab, id, 'perfile', [mode]);
          const image = path.join(t.dir, `${mode}.ckpt`);
          const d = await lab.dump(id, t.pid, image, ['--kill']);
          assert.strictEqual(d.code, EXIT.unsupported, d.stderr);
          assertOneErrorLine(d.stderr, refusal);
          assert.ok(!fs.existsSync(image));
          assert.deepStrictEqual(await check(t, t.pid), PERFILE, 'the target goes on');
        });
      }
    });
  }

  it('--inherit-fd takes N:FD with FD open in ckpt, and says so otherwise', async () => {
    const [who] = identities();
    for (const [arg, msg] of [
      ['9', /give N:FD/],
      ['9:x', /give N:FD/],
      ['9:987', /fd 987 is not open/],
    ] as const) {
      const r = await lab.run(who, [CKPT, 'restore', '/nonexistent.ckpt', '--inherit-fd', arg]);
      assert.strictEqual(r.code, EXIT.usage, r.stderr);
      assert.match(r.stderr, msg);
    }
  });
});
