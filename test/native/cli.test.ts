// The CLI contract the extension relies on (src/native/README.md): arguments, exit codes, one
// error line, --progress=json events, `check`, the default --leave-running, and state that
// cannot be checkpointed (named, refused, or recorded with --allow-unsupported).

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointImage, summarizeImage } from '../../src/image';
import { alive, assertCounting, assertNoImage, assertOneErrorLine, buildTargets, CKPT, EXIT, identities, Lab, lines, procStatus, target, tracerPid, unprivileged, waitFor } from './helpers';

function ckpt(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(CKPT, args, { encoding: 'utf8', timeout: 30000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const STEPS = new Set(['precopy', 'freeze', 'threads', 'mm', 'vmas', 'pages', 'files', 'signals', 'write', 'resume', 'snapshot', 'publish']);

describe('native: the ckpt CLI', function () {
  this.timeout(60000);
  before(buildTargets);
  const lab = new Lab();
  afterEach(() => lab.cleanup());

  it('--version and --help', () => {
    const v = ckpt(['--version']);
    assert.strictEqual(v.code, 0);
    assert.match(v.stdout, /^ckpt \d+\.\d+\.\d+\n$/);
    const h = ckpt(['--help']);
    assert.strictEqual(h.code, 0);
    for (const word of ['dump PID -o IMAGE', 'restore IMAGE', 'check', 'exit codes']) assert.ok(h.stdout.includes(word), word);
  });

  it('usage errors exit 2', () => {
    for (const args of [
      [],
      ['bogus'],
      ['dump'],
      ['dump', '1'],
      ['dump', 'abc', '-o', '/tmp/x'],
      ['dump', '1', '-o', '/tmp/x', '--kill', '--leave-running'],
      ['dump', '1', '-o', '/tmp/x', '--kill', '--no-snapshot'],
      ['dump', '1', '-o', '/tmp/x', '--progress=xml'],
      ['restore'],
      ['restore', 'a', 'b'],
      ['check', '--format=yaml'],
    ]) {
      const r = ckpt(args);
      assert.strictEqual(r.code, EXIT.usage, `ckpt ${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.length > 0, 'says why');
    }
  });

  it('an existing IMAGE is an error without --force (the process untouched), and replaced atomically with it', async () => {
    const id = identities()[0];
    const dir = lab.dir(id);
    const image = path.join(dir, 'there.ckpt');
    fs.writeFileSync(image, 'keep me');
    const ticks = path.join(dir, 'ticks');
    const t = lab.startTarget(id, [target('counter'), ticks]);
    await waitFor('the counter', () => lines(ticks).length > 2);
    const refused = await lab.run(id, [CKPT, 'dump', String(t.pid), '-o', image]);
    assert.strictEqual(refused.code, EXIT.usage, refused.stderr);
    assert.match(refused.stderr, /there\.ckpt exists; --force replaces it/);
    assert.strictEqual(fs.readFileSync(image, 'utf8'), 'keep me');
    assert.strictEqual(procStatus(t.pid)?.get('TracerPid'), '0', 'never attached');
    const forced = await lab.run(id, [CKPT, 'dump', String(t.pid), '-o', image, '--force', '--leave-running']);
    assert.strictEqual(forced.code, EXIT.ok, forced.stderr);
    assert.strictEqual(fs.readFileSync(image).subarray(32, 40).toString('latin1'), 'CKPTIMG\n');
    assert.deepStrictEqual(
      fs.readdirSync(dir).filter((n) => n.includes('.tmp-')),
      [],
    );
  });

  it('no such process: exit 3', () => {
    const dir = lab.dir(identities()[0]);
    const image = path.join(dir, 'x.ckpt');
    const r = ckpt(['dump', '999999999', '-o', image]);
    assert.strictEqual(r.code, EXIT.usage, 'an impossible pid is a usage error');
    const r2 = ckpt(['dump', '4194303', '-o', image]);
    assert.strictEqual(r2.code, EXIT.noProcess, r2.stderr);
    assertOneErrorLine(r2.stderr, /^ckpt: process 4194303: no such process$/);
    assertNoImage(image);
  });

  it("permission denied: exit 4 (a user dumping root's process, restoring root's image)", async function () {
    const ids = identities();
    if (ids.length < 2) this.skip(); // needs root to start a process of another user
    const [root, user] = ids;
    const dir = lab.dir(user);
    const out = path.join(dir, 'root-counter.txt');
    const t = lab.startTarget(root, [target('counter'), out]);
    await waitFor('the counter', () => lines(out).length > 3);
    const r = await lab.dump(user, t.pid, path.join(dir, 'x.ckpt'));
    assert.strictEqual(r.code, EXIT.permission, r.stderr);
    assertOneErrorLine(r.stderr, /^ckpt: cannot attach to process \d+ \(ptrace\): Operation not permitted$/);
    assert.ok(alive(t.pid));
    const image = path.join(dir, 'root.ckpt');
    const d = await lab.dump(root, t.pid, image);
    assert.strictEqual(d.code, 0, d.stderr);
    fs.chmodSync(image, 0o644);
    const rr = await lab.restore(user, image);
    assert.strictEqual(rr.code, EXIT.permission, rr.stderr);
    assertOneErrorLine(rr.stderr, new RegExp(`^ckpt: the image's process ran as uid 0 \\(effective 0\\); this restore may only give uid ${user.uid} \\(the user running ckpt\\)$`));
  });

  it('check: what this kernel and user can do, as JSON', () => {
    for (const id of identities()) {
      const argv = id.argv([CKPT, 'check', '--format=json']);
      const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
      assert.strictEqual(r.status, 0, `${id.name}: ${r.stdout}${r.stderr}`);
      const c = JSON.parse(r.stdout) as { ok: boolean; kernel: string; uid: number; checks: Array<{ name: string; ok: boolean; required: boolean; detail: string }> };
      assert.strictEqual(c.ok, true);
      assert.strictEqual(c.uid, id.uid);
      const names = c.checks.map((x) => x.name);
      for (const n of ['ptrace', 'pagemap_scan', 'pr_set_mm_map', 'rseq', 'vdso', 'same_pid']) assert.ok(names.includes(n), n);
      for (const x of c.checks) if (x.required) assert.ok(x.ok, `${x.name}: ${x.detail}`);
      const human = spawnSync(argv[0], argv.slice(1, -1), { encoding: 'utf8' });
      assert.strictEqual(human.status, 0);
      assert.match(human.stdout, /checkpoint and restore can work here/);
    }
  });

  it('--progress=json: steps, page progress, done; and the default leaves the process running', async () => {
    const id = unprivileged();
    const dir = lab.dir(id);
    const out = path.join(dir, 'counter.txt');
    const t = lab.startTarget(id, [target('counter'), out, '24']);
    await waitFor('the counter', () => lines(out).length > 3);
    const image = path.join(dir, 'p.ckpt');
    const r = await lab.dump(id, t.pid, image, ['--progress=json']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(r.stderr, '', 'nothing on stderr when all is well');
    const events = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    let last = -1;
    let total = -1;
    for (const e of events) {
      if (e.event === 'step') {
        assert.ok(STEPS.has(e.step as string), `step ${String(e.step)}`);
        assert.strictEqual(typeof e.message, 'string');
      } else if (e.event === 'progress') {
        assert.strictEqual(e.phase, 'pages');
        const done = e.done as number;
        total = e.total as number;
        assert.ok(done >= last && done <= total, `progress ${done}/${total}`);
        if (last >= 0) assert.ok(done - last <= 8 << 20, 'a progress event at least every 8 MiB');
        last = done;
      } else if (e.event === 'frozen') {
        // the default: pages copied while it runs (a quiet process), or a snapshot
        assert.ok(e.mode === 'precopy' || e.mode === 'snapshot', `frozen mode ${String(e.mode)}`);
        assert.ok(typeof e.ms === 'number' && e.ms > 0, `frozen for ${String(e.ms)} ms`);
      } else if (e.event === 'snapshot') {
        assert.ok(typeof e.cost === 'number', 'the snapshot says what it cost');
      } else {
        assert.strictEqual(e.event, 'done', JSON.stringify(e));
      }
    }
    assert.ok(total > 24 << 20 && last === total, 'page progress ends at its total');
    const done = events[events.length - 1];
    assert.deepStrictEqual(Object.keys(done).sort(), ['bytes', 'event', 'image', 'ms', 'processes']);
    assert.strictEqual(done.processes, 1, 'one process taken');
    assert.strictEqual(done.image, image);
    assert.strictEqual(done.bytes, fs.statSync(image).size);
    for (const s of ['freeze', 'pages', 'write', 'resume', 'publish'])
      assert.ok(
        events.some((e) => e.step === s),
        `step ${s}`,
      );
    assert.strictEqual(events.filter((e) => e.event === 'frozen').length, 1, 'one frozen event');
    // --leave-running is the default: the process goes on, untraced, where it was
    assert.strictEqual(tracerPid(t.pid), 0);
    const n = lines(out).length;
    await waitFor('the counter to go on', () => lines(out).length > n + 10);
    const img = await CheckpointImage.open(image);
    try {
      const s = await summarizeImage(img);
      assert.ok(s.flags.includes('left_running'));
    } finally {
      await img.source.close();
    }
    // restore with --progress=json: restore steps and the new pid as an event
    const rr = await lab.restore(id, image, ['--stdio=null', '--progress=json']);
    assert.strictEqual(rr.code, 0, rr.stderr);
    const rev = rr.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(
      rev.every((e) => e.event !== 'step' || String(e.step).startsWith('restore-')),
      'restore steps are restore-*',
    );
    const restored = rev.find((e) => e.event === 'restored');
    assert.ok(restored && typeof restored.pid === 'number');
    lab.track(restored.pid as number);
    assert.ok(alive(restored.pid as number));
    t.child.kill('SIGKILL');
    await t.exited;
    const c = lines(out)
      .filter((l) => l.startsWith('c '))
      .map((l) => Number(l.slice(2)));
    assert.ok(c.length > n, 'both processes wrote');
    assertCounting(c.slice(0, n), 'the original before the restore');
  });

  it('--stdio=PATH: stdout that was a pipe to the caller goes on in PATH', async () => {
    const id = unprivileged();
    const dir = lab.dir(id);
    const code = 'import time\ni = 0\nwhile True:\n    print(i, flush=True); i += 1\n    time.sleep(0.004)\n';
    const t = lab.startTarget(id, ['python3', '-c', code]);
    await waitFor('output on the pipe', () => t.out().split('\n').length > 20);
    const image = path.join(dir, 'stdio.ckpt');
    const d = await lab.dump(id, t.pid, image, ['--kill']);
    assert.strictEqual(d.code, 0, d.stderr);
    await t.exited;
    const before = t.out();
    const log = path.join(dir, 'stdout.log');
    const r = await lab.restore(id, image, [`--stdio=${log}`]);
    assert.strictEqual(r.code, 0, r.stderr);
    await waitFor('output in the file', () => lines(log).length > 20);
    // One byte stream in two places: print() may write "24" and its newline in two write()s, and the
    // freeze can fall between them, so the pipe's last line may end in the file.
    const stream = (before + fs.readFileSync(log, 'utf8')).split('\n');
    stream.pop();
    assertCounting(stream.map(Number), 'stdout before (pipe) and after (file)');
    assert.strictEqual(fs.statSync(log).mode & 0o777, 0o600);
  });

  describe('state that cannot be checkpointed', () => {
    const tcp = [
      'import socket, sys, time',
      // SO_REUSEADDR as servers set it: the killed process's connections linger on the port (issue 11)
      'srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(("127.0.0.1", 0)); srv.listen(1)',
      'c = socket.create_connection(srv.getsockname()); s, _ = srv.accept()',
      'open(sys.argv[1], "w").write("ready\\n")',
      'while True: time.sleep(0.01)',
    ].join('\n');

    /** python3 holding a listening socket and both ends of an established connection. */
    const startTcp = async () => {
      const id = unprivileged();
      const dir = lab.dir(id);
      const out = path.join(dir, 'tcp.txt');
      const t = lab.startTarget(id, ['python3', '-c', tcp, out]);
      await waitFor('the connection', () => lines(out).includes('ready'));
      return { id, t, image: path.join(dir, 'tcp.ckpt') };
    };

    it('an established TCP connection: exit 5 naming it, the process left running', async () => {
      const { id, t, image } = await startTcp();
      const r = await lab.dump(id, t.pid, image);
      assert.strictEqual(r.code, EXIT.unsupported, r.stderr);
      assertOneErrorLine(r.stderr, /^ckpt: process \d+ has state that cannot be checkpointed: .*an established TCP connection.*--allow-unsupported/);
      assertNoImage(image);
      assert.strictEqual(tracerPid(t.pid), 0);
      assert.ok(alive(t.pid));
    });

    // Kernel state that has no user-space way back. Each target ticks on: a refused dump must leave it running as it was.
    const kernelState: Array<{ mode: string; what: RegExp }> = [
      { mode: 'uring', what: /a mapping of an io_uring ring cannot be recreated \(anon_inode:\[io_uring\]\); fd \d+ \(\[io_uring\]\) cannot be checkpointed/ },
      { mode: 'seccomp', what: /seccomp filter mode: filters cannot be read back and reinstalled/ },
      { mode: 'perf', what: /a mapping of a kernel object cannot be recreated \(anon_inode:\[perf_event\]\); fd \d+ \(\[perf_event\]\) cannot be checkpointed/ },
    ];
    for (const { mode, what } of kernelState) {
      it(`${mode}: exit 5 naming it, the process left ticking`, async () => {
        const id = unprivileged();
        const dir = lab.dir(id);
        const out = path.join(dir, `${mode}.txt`);
        const image = path.join(dir, `${mode}.ckpt`);
        const t = lab.startTarget(id, [target('unsupported'), mode, out]);
        await waitFor(`the ${mode} target`, () => lines(out).includes('ready') || lines(out).find((l) => l.startsWith('err')));
        assert.deepStrictEqual(
          lines(out).filter((l) => l.startsWith('err')),
          [],
          `the ${mode} target could not set itself up`,
        );
        const r = await lab.dump(id, t.pid, image);
        assert.strictEqual(r.code, EXIT.unsupported, r.stderr);
        assertOneErrorLine(r.stderr, new RegExp(`^ckpt: process ${t.pid} has state that cannot be checkpointed: .*${what.source}.*--allow-unsupported`));
        assertNoImage(image);
        assert.strictEqual(tracerPid(t.pid), 0, 'ckpt has let go of it');
        const ticks = () =>
          lines(out)
            .filter((l) => l.startsWith('t '))
            .map((l) => Number(l.slice(2)));
        const atDump = ticks().length;
        await waitFor('more ticks after the refused dump', () => ticks().length > atDump + 10);
        assertCounting(ticks(), `${mode} ticks`);
      });
    }

    it('--allow-unsupported records it; restore warns and goes on', async () => {
      const { id, t, image } = await startTcp();
      const r = await lab.dump(id, t.pid, image, ['--allow-unsupported', '--kill']);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /ckpt: warning: not captured: fd \d+: an established TCP connection/);
      const img = await CheckpointImage.open(image);
      try {
        const s = await summarizeImage(img);
        assert.ok(s.flags.includes('has_unsupported'), `flags ${s.flags}`);
        const u = s.processes[0].unsupported;
        assert.strictEqual(u.filter((x) => x.startsWith('tcp_socket')).length, 2, `both ends of the connection: ${u.join('; ')}`);
        assert.ok(!u.some((x) => x.startsWith('fd:')), 'the listening socket is checkpointed (issue 11)');
      } finally {
        await img.source.close();
      }
      const rr = await lab.restore(id, image);
      assert.strictEqual(rr.code, 0, rr.stderr);
      assert.strictEqual((rr.stderr.match(/^ckpt: warning: not restored: /gm) ?? []).length, 2, rr.stderr);
      await waitFor('the restored process to sleep on', () => alive(rr.pid!));
    });
  });
});
