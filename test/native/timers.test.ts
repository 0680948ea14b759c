// Timers, checkpointed with --kill and restored, checked by the process itself
// (targets/timers.c): interval timers, POSIX timers with their ids, clocks, signals, values and
// threads, the remaining time of each within 10 ms on the process's own clock, the timer slack.
// Then the records as `ckpt-inspect show -v` shows them, and a diff that names the timers that
// changed between two checkpoints.

import * as assert from 'assert';
import * as path from 'path';
import { CheckpointImage, compareImages, DiffNode } from '../../src/image';
import { buildTargets, EXIT, identities, Identity, inspect, Lab, lines, procStatus, selfCheck, target, waitFor } from './helpers';

const ITEMS = [
  'remaining monotonic-signal',
  'remaining boottime-none',
  'remaining itimer-real',
  'remaining itimer-virtual',
  'remaining itimer-prof',
  'id monotonic-signal',
  'id realtime-thread-id',
  'id boottime-none',
  'id periodic-signal',
  'id disarmed',
  'interval itimer-real',
  'interval itimer-virtual',
  'interval itimer-prof',
  'signal periodic-signal',
  'signal realtime-thread-id',
  'overrun',
  'timer-slack',
];

async function startTimers(lab: Lab, id: Identity): Promise<{ dir: string; out: string; pid: number }> {
  const dir = lab.dir(id);
  const out = path.join(dir, 'timers.txt');
  lab.startTarget(id, [target('timers'), out]);
  const ready = await waitFor('the timers target to be ready', () => lines(out).find((l) => l.startsWith('ready ')));
  return { dir, out, pid: Number(ready.split(' ')[1]) };
}

describe('timers', function () {
  this.timeout(120000);
  const lab = new Lab();
  before(() => buildTargets());
  afterEach(() => lab.cleanup());

  for (const id of identities()) {
    describe(`as ${id.name}`, () => {
      it('every timer comes back with its id, clock, signal and value, its remaining time within 10 ms, and the timer slack', async () => {
        const t = await startTimers(lab, id);
        const image = path.join(t.dir, 'timers.ckpt');
        const d = await lab.dump(id, t.pid, image, ['--kill']);
        assert.strictEqual(d.code, EXIT.ok, d.stderr);
        await waitFor('the target to be gone', () => !procStatus(t.pid) || /^[ZX]/.test(procStatus(t.pid)!.get('State')!));
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, EXIT.ok, r.stderr);
        const c = await selfCheck(t.out, ITEMS, `${id.name}: restored`);
        assert.deepStrictEqual(c.passed, ITEMS, c.lines.join('\n'));
      });
    });
  }

  it('`ckpt-inspect show -v` shows the timer records with their fields', async () => {
    const id = identities()[0];
    const t = await startTimers(lab, id);
    const image = path.join(t.dir, 'timers.ckpt');
    assert.strictEqual((await lab.dump(id, t.pid, image)).code, EXIT.ok);
    const s = inspect(['show', '-v', image]);
    assert.strictEqual(s.status, 0, s.stderr);
    assert.match(s.stdout, /TIMERS tag \d+: itimers real [\d.]+ s, virtual [\d.]+ s, prof [\d.]+ s; timer slack 123456 ns/);
    assert.match(s.stdout, /timer_slack_ns: 123456/);
    assert.match(s.stdout, /POSIX_TIMER tag \d+: id \d+ realtime, SIGRTMIN\+1|POSIX_TIMER tag \d+: id \d+ realtime, (UNKNOWN|SIGNAL 35) to thread \d+/);
    for (const field of ['id', 'clock_id', 'notify', 'signo', 'sival', 'target_tid', 'overrun', 'interval_ns', 'value_ns'])
      assert.match(s.stdout, new RegExp(`^\\s*│?\\s*${field}: `, 'm'), `show -v lists ${field}`);
    assert.match(s.stdout, /sival: 0x77/);
    assert.match(s.stdout, /clock_id: boottime \(7\)/);
    assert.match(s.stdout, /notify: thread_id \(4\)/);
  });

  it('diff names the timers that changed between two checkpoints', async () => {
    const id = identities()[0];
    const t = await startTimers(lab, id);
    const a = path.join(t.dir, 'a.ckpt'),
      b = path.join(t.dir, 'b.ckpt');
    assert.strictEqual((await lab.dump(id, t.pid, a)).code, EXIT.ok);
    await new Promise((res) => setTimeout(res, 50));
    assert.strictEqual((await lab.dump(id, t.pid, b)).code, EXIT.ok);
    const ia = await CheckpointImage.open(a),
      ib = await CheckpointImage.open(b);
    const d = await compareImages(ia, ib);
    await ia.close();
    await ib.close();
    const timers: DiffNode[] = [];
    const walk = (ns: DiffNode[]) => ns.forEach((n) => (n.kind === 'timer' ? timers.push(n) : walk(n.children)));
    walk(d.nodes);
    const labels = timers.map((n) => n.label);
    // the armed timers counted down; the disarmed one and the timer slack did not change
    assert.ok(
      labels.some((l) => /^POSIX timer \d+ MONOTONIC SIGUSR1$/.test(l)),
      labels.join('\n'),
    );
    assert.ok(
      labels.some((l) => /^POSIX timer \d+ BOOTTIME no signal$/.test(l)),
      labels.join('\n'),
    );
    assert.ok(labels.includes('itimer real'), labels.join('\n'));
    assert.ok(!labels.includes('timer slack'), labels.join('\n'));
    const mono = timers.find((n) => /MONOTONIC SIGUSR1/.test(n.label))!;
    assert.deepStrictEqual(
      mono.fields.map((f) => f.path),
      ['value_ns'],
    );
    assert.ok(BigInt(mono.fields[0].a as string) > BigInt(mono.fields[0].b as string), 'the timer counted down');
    const cli = inspect(['diff', a, b]);
    assert.match(cli.stdout, /POSIX timer \d+ MONOTONIC SIGUSR1/);
    assert.match(cli.stdout, /value_ns/);
  });
});
