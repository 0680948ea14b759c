import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runInspect } from '../support/inspect';
import { CheckpointImage, compareImages, RecordType } from '../../src/image';
import { baseSpec, buildImage, copySpec, ImageSpec, PAGE } from './diffImages';

describe('ckpt-inspect diff', () => {
  let dir: string;
  const file = (name: string, spec: ImageSpec) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, buildImage(spec));
    return f;
  };
  let a: string, same: string, changed: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-diff-'));
    a = file('a.ckpt', baseSpec());
    const reordered = copySpec(baseSpec());
    reordered.reverse = true;
    reordered.timeNs = 1_790_000_009_000_000_000n;
    same = file('same.ckpt', reordered);
    const B = copySpec(baseSpec());
    const p = B.processes[0];
    p.threads[1].rip = 0x7f12345a0010n;
    p.environ = ['HOME=/root', 'PATH=/usr/bin'];
    p.pagemaps[0][0].data[PAGE + 5] ^= 1;
    p.pagemaps[0][0].data[2 * PAGE + 5] ^= 1;
    p.fds = p.fds.filter((f) => f.fd !== 3);
    p.threads[1].comm = 'worker';
    changed = file('b.ckpt', B);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exits 0 and says "no differences" for images that are the same', async () => {
    assert.deepEqual(await runInspect('diff', a, same), { code: 0, out: 'no differences\n', err: '' });
    const json = await runInspect('diff', a, same, '--format=json');
    assert.equal(json.code, 0);
    assert.equal(JSON.parse(json.out).same, true);
  });

  it('exits 1 and prints the differences as a tree with a summary', async () => {
    const r = await runInspect('diff', a, changed);
    assert.equal(r.code, 1, r.err);
    assert.equal(r.err, '');
    const lines = r.out.split('\n');
    assert.match(lines[0], /^--- .*a\.ckpt  2026-09-21T14:13:20\.123Z  \d+ KiB$/);
    assert.match(lines[1], /^\+\+\+ .*b\.ckpt  2026-09-21T14:13:20\.123Z  \d+ KiB$/);
    assert.deepEqual(lines.slice(2), [
      '~ process 4242 "demo"',
      '    environ.HOME: "/home/user" -> "/root"',
      '    environ.API_TOKEN: "s3cr3t" -> (absent)',
      '  ~ thread 4243 "worker"',
      '      regs.rip: 0x7f12345a0000 -> 0x7f12345a0010',
      '  ~ vma 0x55555555a000-0x55555557b000 rw-p [heap]: pages',
      '      pages: 2 pages modified',
      '        0x55555555b000-0x55555555d000  modified, 2 pages',
      '  - fd 3 pipe:[99]',
      '',
      '1 process changed, 1 thread changed, 1 VMA changed, 1 fd removed, 2 pages modified; pages compared by page hash',
      '',
    ]);
  });

  it('--bytes compares page bytes and says so', async () => {
    const r = await runInspect('diff', '--bytes', a, changed);
    assert.equal(r.code, 1);
    assert.match(r.out, /2 pages modified; pages compared by reading 96 KiB of pages\n$/);
    // each changed byte run, A's bytes over B's, under its VMA
    const runs = r.out.split('\n').filter((l) => /^\s+0x[0-9a-f]+: \d+ bytes? changed$/.test(l));
    assert.deepEqual(
      runs.map((l) => l.trim()),
      ['0x55555555b005: 1 byte changed', '0x55555555c005: 1 byte changed'],
    );
    const at = r.out.split('\n').findIndex((l) => l.trim() === '0x55555555b005: 1 byte changed');
    const [minus, plus] = r.out
      .split('\n')
      .slice(at + 1, at + 3)
      .map((l) => l.trim());
    assert.match(minus, /^0x55555555b005  - ([0-9a-f]{2})\s+\|.\|$/);
    assert.match(plus, /^\+ ([0-9a-f]{2})\s+\|.\|$/);
    const old = parseInt(/- ([0-9a-f]{2})/.exec(minus)![1], 16),
      now = parseInt(/\+ ([0-9a-f]{2})/.exec(plus)![1], 16);
    assert.equal(old ^ now, 1, 'the flipped bit');
    // --max bounds the runs shown, and says that more were left out
    const one = await runInspect('diff', '--bytes', '--max', '1', a, changed);
    assert.equal(one.out.split('\n').filter((l) => /bytes? changed$/.test(l)).length, 1);
    assert.match(one.out, /more changed bytes not shown \(--max 1/);
  });

  it('--format=json prints the whole comparison as plain JSON', async () => {
    const r = await runInspect('diff', a, changed, '--format=json');
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.out);
    const ia = await CheckpointImage.open(a),
      ib = await CheckpointImage.open(changed);
    const direct = await compareImages(ia, ib);
    await ia.close();
    await ib.close();
    assert.deepEqual({ ...doc, stats: { ...doc.stats, ms: 0 } }, JSON.parse(JSON.stringify({ ...direct, stats: { ...direct.stats, ms: 0 } })));
    assert.equal(doc.nodes[0].children[0].registers.find((x: { name: string }) => x.name === 'rip').b, '0x7f12345a0010');
  });

  it('pairs processes by their place in the tree, or by pid with --match=pid', async () => {
    // The same one-process image under another PID (a restored copy): the root is the root.
    const moved = copySpec(baseSpec());
    moved.processes = [moved.processes[0]];
    const p = moved.processes[0];
    p.pid = 5242;
    p.threads[0].tid = 5242;
    p.threads[1].tid = 5243;
    const one = copySpec(baseSpec());
    one.processes = [one.processes[0]];
    const A = file('one.ckpt', one),
      B = file('moved.ckpt', moved);
    const r = await runInspect('diff', A, B);
    assert.equal(r.code, 1, r.err);
    assert.deepEqual(r.out.split('\n').slice(2, 12), [
      '~ process 4242 -> 5242 "demo"',
      '    pid: 4242 -> 5242',
      '    pgid: 4242 -> 5242',
      '    sid: 4242 -> 5242',
      '  ~ thread 4242 -> 5242 "demo"',
      '      tid: 4242 -> 5242',
      '  ~ thread 4243 -> 5243 "worker"',
      '      tid: 4243 -> 5243',
      '',
      '1 process changed, 2 threads changed; pages compared by page hash',
    ]);
    const byPid = await runInspect('diff', A, B, '--match=pid');
    assert.equal(byPid.code, 1);
    assert.deepEqual(byPid.out.split('\n').slice(2, 4), ['- process 4242 "demo"', '+ process 5242 "demo"']);
    const bad = await runInspect('diff', A, B, '--match=name');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--match must be tree or pid, not 'name'/);
  });

  it('exits 2 on errors: a missing image, a wrong argument count, a bad --format, a damaged image', async () => {
    const missing = await runInspect('diff', a, path.join(dir, 'nope.ckpt'));
    assert.equal(missing.code, 2);
    assert.match(missing.err, /nope\.ckpt: no such file or folder$/m);
    const one = await runInspect('diff', a);
    assert.equal(one.code, 2);
    assert.match(one.err, /expected two images/);
    const fmt = await runInspect('diff', a, same, '--format=yaml');
    assert.equal(fmt.code, 2);
    assert.match(fmt.err, /--format must be text or json/);
    const notImage = path.join(dir, 'text.ckpt');
    fs.writeFileSync(notImage, 'this is not a checkpoint image at all, just some text');
    const bad = await runInspect('diff', a, notImage);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /not a ckpt image/);
    // A damaged record: the rest is still compared and printed, and the exit status says trouble.
    const bytes = buildImage(baseSpec());
    const img = await CheckpointImage.open(bytes);
    // The path of fd 1's open file description runs past its FILE record.
    const file = img.ofType(RecordType.FILE)[1];
    new DataView(bytes.buffer).setUint32(file.payloadOffset + 48, 0xffff, true);
    const damaged = path.join(dir, 'damaged.ckpt');
    fs.writeFileSync(damaged, bytes);
    const r = await runInspect('diff', a, damaged);
    assert.equal(r.code, 2);
    assert.match(r.out, /^  - fd 1 \/tmp\/demo\.log$/m);
    assert.match(r.err, /^ckpt-inspect diff: B: record #\d+ FILE .*path\.len.*\(left out of the comparison\)$/m);
  });
});
