// Issue 12: the leave-running precopy (src/native/precopy.c). The pages are copied while the
// process runs, its writes tracked by its own userfaultfd (asynchronous write-protect); at the
// freeze only the pages written since are copied, or taken from a fork snapshot when they are many.
// The image holds exactly what the process held at the freeze, and the process is left as it was:
// untraced, its memory no longer watched, not one descriptor more, after a success and after a
// SIGKILL of ckpt at any step of the precopy.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CKPT, EXIT, Identity, Lab, Started, alive, buildTargets, identities, jsonLines, lines, sleep, stoppedAtFaultPoint, target, tracerPid, waitFor } from './helpers';
import { CheckpointImage, verifyImage } from '../../src/image';
import { EXTRA_PAGES, assertClean, assertStampsOfTheFreeze, imageStamps, probe, startWriter } from './snapwriter';

const PRECOPY_FLAG = 64; // image_flags.precopy (formats/ckpt.ksy)
const SNAPSHOT_FLAG = 16;

/** The areas of a process that a userfaultfd watches for writes (VmFlags "uw"). */
function watchedAreas(pid: number): string[] {
  const smaps = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n');
  const out: string[] = [];
  let area = '';
  for (const l of smaps) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(l)) area = l.split(' ')[0];
    else if (l.startsWith('VmFlags:') && l.split(/\s+/).includes('uw')) out.push(area);
  }
  return out;
}

function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** As it was before the dump: untraced, running, writing, unwatched, with its own descriptors only. */
async function assertUntouched(t: Started, fds: number, what: string): Promise<void> {
  await assertClean(t, what);
  await waitFor(`${what}: no area left watched (${watchedAreas(t.pid).join(', ')})`, () => watchedAreas(t.pid).length === 0);
  assert.strictEqual(fdCount(t.pid), fds, `${what}: the process holds the descriptors it had`);
}

describe('native: the leave-running precopy (issue 12)', function () {
  this.timeout(120000);
  before(buildTargets);
  const lab = new Lab();
  afterEach(() => lab.cleanup());

  const dumpJson = async (id: Identity, t: Started, image: string, extra: string[] = []) => {
    const r = await lab.dump(id, t.pid, image, ['--progress=json', '-v', ...(extra.length ? extra : ['--precopy'])]);
    assert.strictEqual(r.code, 0, r.stderr);
    const ev = jsonLines(r.stdout);
    const frozen = ev.find((e) => e.event === 'frozen');
    assert.ok(frozen, `a frozen event: ${r.stdout}`);
    return { r, ev, frozen };
  };

  for (const id of identities()) {
    it(`holds exactly what a writing process held at the freeze, copied while it ran, and leaves it untouched (as ${id.name})`, async () => {
      const dir = lab.dir(id);
      const { t, at } = await startWriter(lab, id, 32, 'trickle', 'shared');
      const fds = fdCount(t.pid);
      const image = path.join(dir, 'p.ckpt');
      const { r, ev, frozen } = await dumpJson(id, t, image);
      // a process that writes a few pages per ms: they are copied at the freeze, no fork needed
      assert.strictEqual(frozen.mode, 'precopy', `${r.stderr}`);
      assert.ok(!ev.some((e) => e.event === 'snapshot'), 'no snapshot was taken');
      assert.match(r.stderr, /precopy: \d+ areas watched, [\d.]+ MiB staged/);
      const after = await probe(t);
      const { seq, stamps, flags, frozenNs } = await imageStamps(image, at, true);
      assert.ok(flags & PRECOPY_FLAG && !(flags & SNAPSHOT_FLAG), `the image says precopy (flags ${flags})`);
      assert.ok(frozenNs !== undefined && frozenNs > 0n, 'the head holds the freeze time');
      assert.ok(after.seq > seq, `the writer went on (${seq} at the freeze, ${after.seq} after)`);
      // pages written while they were copied, between the two rounds and at the freeze: none stale
      assertStampsOfTheFreeze(stamps, seq, at.pages + EXTRA_PAGES, 'the precopy');
      await assertUntouched(t, fds, 'after a precopy');
      const rs = await lab.restore(id, image, ['--stdio=null']);
      assert.strictEqual(rs.code, 0, rs.stderr);
      assert.ok(rs.pid && alive(rs.pid));
    });
  }

  // the kernel's own writes into a protected page (a read() into a buffer) take the same fault as
  // the process's: tracked too, also for a user's userfaultfd (UFFD_USER_MODE_ONLY)
  const reader = [
    'import ctypes, os, signal, sys, time',
    'buf = bytearray(256 * 4096)',
    'for i in range(0, len(buf), 4096): buf[i] = 1',
    'addr = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))',
    'src = os.open(sys.argv[1], os.O_RDONLY)',
    'def note(s):',
    '    with open(sys.argv[2], "a") as f: f.write(s + "\\n")',
    'def on(sig, frame): note("read %d" % os.preadv(src, [memoryview(buf)[100 * 4096:100 * 4096 + 64]], 0))',
    'signal.signal(signal.SIGUSR1, on)',
    'note("addr %x" % addr)',
    'while True: time.sleep(0.01)',
  ].join('\n');
  for (const id of identities()) {
    it(`bytes the kernel wrote into the process after its pages were staged are in the image (as ${id.name})`, async () => {
      const dir = lab.dir(id);
      const src = path.join(dir, 'src'),
        notes = path.join(dir, 'notes');
      fs.writeFileSync(src, 'A'.repeat(64));
      fs.chmodSync(src, 0o644);
      const t = lab.startTarget(id, ['python3', '-c', reader, src, notes]);
      const addr = BigInt('0x' + (await waitFor('the reader', () => /^addr (\w+)$/m.exec(lines(notes).join('\n'))))[1]);
      const image = path.join(dir, 'k.ckpt');
      const s = lab.start(id, [CKPT, 'dump', String(t.pid), '-o', image, '--precopy', '--progress=json'], {
        env: { ...process.env, CKPT_TEST_FAULT: 'stop:@precopy-restaged' },
      });
      const pid = await stoppedAtFaultPoint(s, 'precopy-restaged');
      assert.ok(pid > 0, s.err());
      const marker = `the kernel wrote this ${Date.now()} `.padEnd(64, '*');
      fs.writeFileSync(src, marker);
      process.kill(t.pid, 'SIGUSR1');
      await waitFor('the read', () => lines(notes).includes('read 64'));
      process.kill(pid, 'SIGCONT');
      const r = await s.exited;
      assert.strictEqual(r.code, 0, r.stderr);
      assert.strictEqual(jsonLines(r.stdout).find((e) => e.event === 'frozen')?.mode, 'precopy');
      const img = await CheckpointImage.open(image);
      try {
        const [p] = await (await img.memory()).read(addr + 100n * 4096n, 64);
        assert.strictEqual(p.state, 'dumped');
        assert.strictEqual(Buffer.from(p.bytes!).toString('latin1'), marker, 'the bytes read() put there at the freeze');
      } finally {
        await img.close();
      }
    });
  }

  const id = identities()[0];

  it('a process that writes everything all the time: the pages written since the precopy come from a fork snapshot, still exact', async () => {
    const dir = lab.dir(id);
    const { t, at } = await startWriter(lab, id, 64, 'write', 'shared');
    const fds = fdCount(t.pid);
    for (let i = 0; i < 2; i++) {
      const image = path.join(dir, `busy-${i}.ckpt`);
      const { r, ev, frozen } = await dumpJson(id, t, image);
      // 64 MiB written in every few ms: more than a freeze copies (8 MiB here), a snapshot then
      const m = /precopy: ([\d.]+) of ([\d.]+) MiB written since or not staged: (.*)/.exec(r.stderr);
      assert.ok(m, r.stderr);
      const fork = Number(m[1]) > 8;
      assert.strictEqual(frozen.mode, fork ? 'snapshot' : 'precopy', r.stderr);
      assert.strictEqual(
        ev.some((e) => e.event === 'snapshot'),
        fork,
        'a snapshot event exactly when one was taken',
      );
      const { seq, stamps } = await imageStamps(image, at, true);
      assertStampsOfTheFreeze(stamps, seq, at.pages + EXTRA_PAGES, `dump ${i} (${frozen.mode})`);
      await assertUntouched(t, fds, `after dump ${i}`);
    }
  });

  it('pages written between the last copy and the freeze are read at the freeze (ckpt held 60 ms there)', async () => {
    const dir = lab.dir(id);
    const { t, at } = await startWriter(lab, id, 32, 'trickle');
    const image = path.join(dir, 'held.ckpt');
    const s = lab.start(id, [CKPT, 'dump', String(t.pid), '-o', image, '--precopy', '--progress=json', '-v'], {
      env: { ...process.env, CKPT_TEST_FAULT: 'stop:@precopy-restaged' },
    });
    const pid = await stoppedAtFaultPoint(s, 'precopy-restaged');
    assert.ok(pid > 0, s.err());
    const before = (await probe(t)).seq;
    await sleep(60);
    process.kill(pid, 'SIGCONT');
    const r = await s.exited;
    assert.strictEqual(r.code, 0, r.stderr);
    const frozen = jsonLines(r.stdout).find((e) => e.event === 'frozen');
    assert.strictEqual(frozen?.mode, 'precopy', r.stderr);
    const m = /precopy: ([\d.]+) of [\d.]+ MiB written since or not staged/.exec(r.stderr);
    assert.ok(m && Number(m[1]) > 0, `pages were written while ckpt was held: ${r.stderr}`);
    const { seq, stamps } = await imageStamps(image, at, false);
    assert.ok(seq > before, `the writer wrote while ckpt was held (${before} then ${seq})`);
    assertStampsOfTheFreeze(stamps, seq, at.pages, 'pages written after the last copy');
  });

  it('a process that runs another program after its pages were staged: nothing staged is used, the image is sound', async () => {
    const dir = lab.dir(id);
    const out = path.join(dir, 'generations');
    const t = lab.startTarget(id, [target('execer'), out]);
    const generation = () => Number(lines(out).pop()?.split(' ')[1] ?? -1);
    await waitFor('a few generations', () => generation() > 3);
    let seen = '';
    for (let i = 0; i < 10 && !seen; i++) {
      const image = path.join(dir, `x${i}.ckpt`);
      const s = lab.start(id, [CKPT, 'dump', String(t.pid), '-o', image, '--precopy', '--progress=json', '-v'], {
        env: { ...process.env, CKPT_TEST_FAULT: 'stop:@precopy-staged' },
      });
      const pid = await stoppedAtFaultPoint(s, 'precopy-staged');
      if (pid) {
        const g = generation();
        await waitFor('the target to run execve while ckpt is held', () => generation() > g + 1);
        process.kill(pid, 'SIGCONT');
      }
      const r = await s.exited;
      if (r.code !== EXIT.ok) {
        // a freeze that meets an execve fails clearly (neverharm.test.ts); another try
        assert.ok([EXIT.noProcess, EXIT.fail].includes(r.code!), `${r.code} ${r.stderr}`);
        continue;
      }
      const img = await CheckpointImage.open(image);
      const v = await verifyImage(img).finally(() => img.source.close());
      assert.ok(v.ok, `dump ${i}: a sound image`);
      if (/ran another program since/.test(r.stderr)) seen = image;
    }
    assert.ok(seen, 'a dump whose process ran execve after the staging succeeded');
    // and the new program's image restores: the process it makes goes on exec'ing
    const rs = await lab.restore(id, seen, ['--stdio=null']);
    assert.strictEqual(rs.code, 0, rs.stderr);
    assert.ok(rs.pid && alive(rs.pid));
  });

  it('by default a precopy from 32 MiB of anonymous memory on; --no-precopy takes the fork snapshot, --no-snapshot neither, --tree no precopy', async () => {
    const dir = lab.dir(id);
    const small = await startWriter(lab, id, 4, 'trickle');
    const big = await startWriter(lab, id, 48, 'trickle');
    for (const [t, opt, mode] of [
      [small.t, '--leave-running', 'snapshot'],
      [big.t, '--leave-running', 'precopy'],
      [big.t, '--no-precopy', 'snapshot'],
      [big.t, '--no-snapshot', 'frozen'],
      [big.t, '--tree', 'snapshot'],
    ] as const) {
      const { r, frozen } = await dumpJson(id, t, path.join(dir, `${opt.slice(2)}-${t.pid}.ckpt`), [opt]);
      assert.strictEqual(frozen.mode, mode, `${opt}: ${r.stderr}`);
      if (mode !== 'precopy') assert.doesNotMatch(r.stderr, /precopy: \d+ areas/, `${opt}: no precopy`);
    }
  });

  it('the freeze does not grow with the memory: 256 MiB frozen for less than a fork takes, as the target sees it', async () => {
    const dir = lab.dir(id);
    const { t } = await startWriter(lab, id, 256, 'trickle');
    await probe(t);
    const best: Record<string, { ckpt: number; target: number }> = {};
    // three of each, alternating, the shortest counted: a load spike can stretch any one
    for (let i = 0; i < 6; i++) {
      const mode = i % 2 ? 'snapshot' : 'precopy';
      const { frozen } = await dumpJson(id, t, path.join(dir, `f-${i}.ckpt`), ['--no-fsync', mode === 'snapshot' ? '--no-precopy' : '--precopy']);
      assert.strictEqual(frozen.mode, mode);
      const seen = { ckpt: Number(frozen.ms), target: (await probe(t)).gapMs };
      if (!best[mode] || seen.target < best[mode].target) best[mode] = seen;
      fs.unlinkSync(path.join(dir, `f-${i}.ckpt`));
    }
    console.log(
      `      frozen (256 MiB, by ckpt / by the target): precopy ${best.precopy.ckpt.toFixed(1)} / ${best.precopy.target.toFixed(1)} ms, ` +
        `fork snapshot ${best.snapshot.ckpt.toFixed(1)} / ${best.snapshot.target.toFixed(1)} ms`,
    );
    // the precopy's own short freeze (for the userfaultfd) counts too: the target's largest gap
    assert.ok(best.precopy.target < best.snapshot.target, `the precopy freezes the target less: ${JSON.stringify(best)}`);
  });

  it('never harm the target: SIGKILL of ckpt and its group in the precopy leaves it unwatched, with its own descriptors', async () => {
    const dir = lab.dir(id);
    const { t } = await startWriter(lab, id, 64, 'trickle');
    const fds = fdCount(t.pid);
    // in its short freeze (the userfaultfd just taken and closed in the process), and once staged
    for (const point of ['precopy-uffd', 'precopy-staged']) {
      const s = lab.start(id, [CKPT, 'dump', String(t.pid), '-o', path.join(dir, `${point}.ckpt`), '--precopy', '--progress=json'], {
        detached: true,
        env: { ...process.env, CKPT_TEST_FAULT: `stop:@${point}` },
      });
      const pid = await stoppedAtFaultPoint(s, point);
      assert.ok(pid > 0, `${point}: ckpt stopped there: ${s.err()}`);
      if (point === 'precopy-staged') assert.ok(watchedAreas(t.pid).length > 0, 'while staged, its areas are watched');
      process.kill(-s.pid, 'SIGKILL');
      await s.exited;
      await assertUntouched(t, fds, `after SIGKILL at ${point}`);
      assert.strictEqual(tracerPid(t.pid), 0);
    }
    assert.deepStrictEqual(
      fs.readdirSync(dir).filter((n) => n.endsWith('.ckpt')),
      [],
      'no image',
    );
  });
});
