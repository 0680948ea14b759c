// Special file descriptors, checkpointed with --kill and restored, checked by the process itself
// (targets/specialfds.c): signalfd, timerfd (time left within 10 ms, TFD_TIMER_ABSTIME, unread
// ticks), inotify (watch numbers with a gap, masks, events after restore), an epoll whose watched
// fd was closed; fanotify with an inode mark. Then what is refused (an inotify watch or fanotify
// mark whose path only a handle can name, for a user), the records in `ckpt-inspect show -v`, and a diff that names a changed watch.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointImage, compareImages, DiffNode } from '../../src/image';
import { alive, assertNoImage, assertOneErrorLine, buildTargets, EXIT, identities, Identity, inspect, Lab, lines, procStatus, selfCheck, target, waitFor } from './helpers';

const ITEMS = [
  'signalfd mask',
  'signalfd flags',
  'signalfd read',
  'timerfd remaining',
  'timerfd interval',
  'timerfd abstime',
  'timerfd ticks',
  'timerfd clock and flags',
  'inotify watches',
  'inotify events',
  'inotify flags',
  'epoll closed target',
];

async function start(lab: Lab, id: Identity, mode?: string): Promise<{ dir: string; out: string; pid: number; line: string }> {
  const dir = lab.dir(id);
  const work = path.join(dir, 'work');
  fs.mkdirSync(work);
  fs.chownSync(work, id.uid, id.gid);
  const out = path.join(dir, 'specialfds.txt');
  lab.startTarget(id, [target('specialfds'), work, out, ...(mode ? [mode] : [])]);
  const line = await waitFor('the specialfds target to be ready', () => lines(out).find((l) => l.startsWith('ready ') || l.startsWith('error ')));
  return { dir, out, pid: Number(line.split(' ')[1]), line };
}

describe('special fds', function () {
  this.timeout(120000);
  const lab = new Lab();
  before(() => buildTargets());
  afterEach(() => lab.cleanup());

  for (const id of identities()) {
    describe(`as ${id.name}`, () => {
      it('signalfd, timerfd, inotify and an epoll with a closed target come back as they were', async () => {
        const t = await start(lab, id);
        const image = path.join(t.dir, 'fds.ckpt');
        const d = await lab.dump(id, t.pid, image, ['--kill']);
        assert.strictEqual(d.code, EXIT.ok, d.stderr);
        await waitFor('the target to be gone', () => !procStatus(t.pid) || /^[ZX]/.test(procStatus(t.pid)!.get('State')!));
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, EXIT.ok, r.stderr);
        const c = await selfCheck(t.out, ITEMS, `${id.name}: restored`);
        assert.deepStrictEqual(c.passed, ITEMS, c.lines.join('\n'));
      });

      it('a fanotify group with an inode mark comes back and reports a write', async function () {
        const t = await start(lab, id, 'fanotify');
        if (t.line.startsWith('error ')) this.skip(); // this kernel gives this user no fanotify
        const image = path.join(t.dir, 'fan.ckpt');
        const d = await lab.dump(id, t.pid, image, ['--kill']);
        assert.strictEqual(d.code, EXIT.ok, d.stderr);
        await waitFor('the target to be gone', () => !procStatus(t.pid) || /^[ZX]/.test(procStatus(t.pid)!.get('State')!));
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, EXIT.ok, r.stderr);
        const c = await selfCheck(t.out, ITEMS, `${id.name}: fanotify restored`);
        assert.deepStrictEqual(c.lines, ['PASS fanotify mark', 'PASS fanotify flags']);
        const info = fs.readFileSync(`/proc/${r.pid}/fdinfo/${t.line.split(' ')[2]}`, 'utf8');
        assert.match(info, new RegExp(`fanotify ino:${fs.statSync(path.join(t.dir, 'work', 'f')).ino.toString(16)} .*mask:2 `));
      });

      it(
        id.uid === 0 ? 'a fanotify mark on a far path is named through its handle' : 'a fanotify mark whose path only a handle could name is refused by name, and the process runs on',
        async function () {
          const t = await start(lab, id, 'far-fanotify');
          if (t.line.startsWith('error ')) this.skip();
          const image = path.join(t.dir, 'far-fan.ckpt');
          const d = await lab.dump(id, t.pid, image, ['--kill']);
          if (id.uid !== 0) {
            assert.strictEqual(d.code, EXIT.unsupported, d.stderr);
            assertOneErrorLine(d.stderr, /fd \d+: a fanotify mark whose path cannot be found \(fanotify inode mark on inode \d+ of device \d+:\d+/);
            assertNoImage(image);
            assert.ok(alive(t.pid), 'the target runs on');
            assert.strictEqual(Number(procStatus(t.pid)!.get('TracerPid')), 0);
            return;
          }
          assert.strictEqual(d.code, EXIT.ok, d.stderr);
          const r = await lab.restore(id, image);
          assert.strictEqual(r.code, EXIT.ok, r.stderr);
          const info = fs.readFileSync(`/proc/${r.pid}/fdinfo/${t.line.split(' ')[2]}`, 'utf8');
          assert.match(info, new RegExp(`fanotify ino:${fs.statSync('/etc/passwd').ino.toString(16)} .*mask:2 `));
        },
      );

      it(id.uid === 0 ? 'an inotify watch on a far path is named through its handle' : 'an inotify watch whose path only a handle could name is refused by name', async () => {
        const t = await start(lab, id, 'far-inotify');
        const image = path.join(t.dir, 'far.ckpt');
        const d = await lab.dump(id, t.pid, image, ['--kill']);
        if (id.uid !== 0) {
          assert.strictEqual(d.code, EXIT.unsupported, d.stderr);
          assertOneErrorLine(d.stderr, /fd \d+: an inotify watch whose path cannot be found \(inotify watch 1 on inode \d+ of device \d+:\d+: .*CAP_DAC_READ_SEARCH/);
          assertNoImage(image);
          assert.ok(alive(t.pid), 'the target runs on');
          return;
        }
        assert.strictEqual(d.code, EXIT.ok, d.stderr);
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, EXIT.ok, r.stderr);
        const fd = t.line.split(' ')[2];
        const info = fs.readFileSync(`/proc/${r.pid}/fdinfo/${fd}`, 'utf8');
        const ino = fs.statSync('/etc/passwd').ino.toString(16);
        assert.match(info, new RegExp(`inotify wd:1 ino:${ino} .*mask:2 `));
      });
    });
  }

  it('`ckpt-inspect show -v` shows signalfd, timerfd and inotify with their fields, and diff names a changed watch', async () => {
    const id = identities()[0];
    const t = await start(lab, id);
    const a = path.join(t.dir, 'a.ckpt'),
      b = path.join(t.dir, 'b.ckpt');
    assert.strictEqual((await lab.dump(id, t.pid, a)).code, EXIT.ok);
    fs.writeFileSync(`${t.out}.mask`, '');
    await waitFor('the target to change a watch', () => lines(t.out).includes('masked'));
    assert.strictEqual((await lab.dump(id, t.pid, b)).code, EXIT.ok);
    const s = inspect(['show', '-v', a]);
    assert.strictEqual(s.status, 0, s.stderr);
    assert.match(s.stdout, /mask: 0xa00/); // the signalfd's SIGUSR1|SIGUSR2
    assert.match(s.stdout, /clock_id: realtime \(0\)\n\s*│?\s*settime_flags: abstime\|cancel_on_set \(0x3\)/);
    assert.match(s.stdout, /ticks: 1\n/);
    for (const f of ['interval_ns', 'value_ns', 'wd', 'ino', 'dev', 'path']) assert.match(s.stdout, new RegExp(`^\\s*[│ ]*${f}: `, 'm'), f);
    assert.match(s.stdout, /path: ".*\/work\/w\/a"/);

    const ia = await CheckpointImage.open(a),
      ib = await CheckpointImage.open(b);
    const d = await compareImages(ia, ib);
    await ia.close();
    await ib.close();
    const watches: DiffNode[] = [];
    const walk = (ns: DiffNode[]) => ns.forEach((n) => (n.kind === 'inotify-watch' ? watches.push(n) : walk(n.children)));
    walk(d.nodes);
    assert.deepStrictEqual(
      watches.map((w) => [w.label.replace(/".*\/work\//, '"'), w.change, w.fields.map((f) => `${f.path}: ${f.aText} -> ${f.bText}`)]),
      [['inotify watch 2 "w/a"', 'changed', ['mask: 0x2 -> 0xa']]],
    );
    const cli = inspect(['diff', a, b]);
    assert.match(cli.stdout, /inotify watch 2 ".*\/work\/w\/a"/);
  });
});
