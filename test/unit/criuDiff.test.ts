// Comparing CRIU checkpoints by meaning: the two dumps of one process taken a second apart differ in
// exactly the page it rewrote; a CRIU checkpoint and a .ckpt image of the same program compare
// process to process, fd to fd; and the comparison through the common model agrees with the .ckpt
// comparison on two real .ckpt images.

import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareCheckpoints, compareModels, openCheckpoint } from '../../src/checkpoint';
import { CheckpointImage, compareImages, DiffNode } from '../../src/image';
import { criuFixture, MARKERS } from '../support/criuFixtures';
import { runInspect } from '../support/inspect';
import { buildTarget, CKPT, realTargetUnavailable, startTarget } from './diffRealTarget';

function* nodes(list: DiffNode[]): Generator<DiffNode> {
  for (const n of list) {
    yield n;
    yield* nodes(n.children);
  }
}

describe('CRIU diff: two dumps of one process, a second apart', function () {
  this.timeout(30_000);

  it('differ in exactly the page the process rewrote, found by its bytes', async () => {
    const a = await openCheckpoint(criuFixture('leave-running-twice/a'));
    const b = await openCheckpoint(criuFixture('leave-running-twice/b'));
    try {
      const d = await compareCheckpoints(a, b);
      assert.deepEqual(d.problems, []);
      assert.equal(d.pageMethod, 'bytes');
      assert.deepEqual(d.counts.pages, { modified: 1, added: 0, removed: 0 });
      const vmas = [...nodes(d.nodes)].filter((n) => n.kind === 'vma');
      assert.equal(vmas.length, 1);
      assert.deepEqual(vmas[0].pages!.ranges, [{ start: '0x7f8982c15000', end: '0x7f8982c16000', pages: 1, change: 'modified' }]);
      assert.deepEqual(vmas[0].aspects, ['pages']);
      // The README's other difference: the register holding the "changed" flag.
      const thread = [...nodes(d.nodes)].find((n) => n.kind === 'thread')!;
      assert.deepEqual(
        thread.fields.map((f) => [f.path, f.aText, f.bText]),
        [['regs.r15', '0x0', '0x1']],
      );
      assert.deepEqual([...nodes(d.nodes)].map((n) => n.kind).sort(), ['process', 'thread', 'vma']);
      const same = await compareCheckpoints(a, a);
      assert.equal(same.same, true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('ckpt-inspect diff prints that page and exits 1', async () => {
    const r = await runInspect('diff', criuFixture('leave-running-twice/a'), criuFixture('leave-running-twice/b'));
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /^ {8}0x7f8982c15000-0x7f8982c16000 {2}modified, 1 page$/m);
    assert.match(r.out, /1 page modified; pages compared by reading 280 KiB of pages$/m);
    const j = JSON.parse((await runInspect('diff', '--format=json', criuFixture('leave-running-twice/a'), criuFixture('leave-running-twice/b'))).out);
    assert.equal(j.counts.total, 3);
  });

  it('an archive and the same checkpoint unpacked compare the same', async () => {
    const a = await openCheckpoint(criuFixture('podman/podman.tar'));
    try {
      const d = await compareCheckpoints(a, a);
      assert.equal(d.same, true);
      const other = await openCheckpoint(criuFixture('podman/podman-gzip.tar.gz'));
      try {
        const e = await compareCheckpoints(a, other);
        assert.equal(e.same, false, 'two containers of one image are two processes with other heaps');
        assert.equal(e.nodes[0].kind, 'process');
        assert.equal(e.nodes[0].key, '1');
      } finally {
        await other.close();
      }
    } finally {
      await a.close();
    }
  });
});

describe('CRIU diff: a CRIU checkpoint against a .ckpt image of the same program', function () {
  this.timeout(60_000);
  let dir: string;
  let child: ChildProcess | undefined;
  let image: string;

  before(async function () {
    const why = realTargetUnavailable();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'criu-vs-ckpt-'));
    const bin = path.join(dir, 'single');
    const cc = spawnSync('cc', ['-O2', '-o', bin, criuFixture('targets/single.c')], { encoding: 'utf8' });
    assert.equal(cc.status, 0, cc.stderr);
    child = spawn(bin, [path.join(dir, 'single-out.dat')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the target did not start')), 10_000);
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    image = path.join(dir, 'single.ckpt');
    // The test runner's own descriptors, which the target inherits, are recorded as unsupported.
    const r = spawnSync(CKPT, ['dump', String(child.pid), '-o', image, '--allow-unsupported'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => {
    child?.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pairs the processes by their place in the tree, the main threads, and the descriptors by number', async () => {
    const criu = await openCheckpoint(criuFixture('single'));
    const ckpt = await openCheckpoint(image);
    try {
      assert.equal(ckpt.format, 'ckpt');
      const d = await compareCheckpoints(criu, ckpt);
      assert.equal(d.nodes.length, 1, 'one process on each side, paired');
      const proc = d.nodes[0];
      assert.equal(proc.kind, 'process');
      assert.equal(proc.change, 'changed');
      const pid = proc.fields.find((f) => f.path === 'pid')!;
      assert.deepEqual([pid.a, pid.b], [MARKERS.single.pid, child!.pid]);
      assert.equal(
        proc.fields.find((f) => f.path === 'comm'),
        undefined,
        'both are "single"',
      );
      const thread = proc.children.find((n) => n.kind === 'thread')!;
      assert.equal(thread.change, 'changed', 'the main threads, paired though their tids differ');
      assert.ok(thread.registers!.some((r) => r.name === 'rip'));
      // fd 3: the same open file at the same position, only at another path.
      const fd3 = proc.children.find((n) => n.kind === 'fd' && n.key === '3');
      assert.ok(fd3, 'fd 3 differs in its path');
      assert.deepEqual(
        fd3.fields.map((f) => f.path),
        ['path'],
      );
      // Address-space randomisation put everything elsewhere: VMAs only in A, and only in B.
      assert.ok(d.counts.byKind.vma.removed > 0 && d.counts.byKind.vma.added > 0);
      // The heap marker is in both.
      for (const c of [criu, ckpt]) {
        const r = await runInspect('search', c.name, MARKERS.single.text, '--context', '0');
        assert.equal(r.code, 0, `${c.name}: ${r.out}`);
      }
      const cli = await runInspect('diff', criuFixture('single'), image);
      assert.equal(cli.code, 1, cli.err);
      assert.match(cli.out, new RegExp(`^~ process ${MARKERS.single.pid} -> ${child!.pid} "single"$`, 'm'));
      assert.match(cli.out, new RegExp(`^ {4}pid: ${MARKERS.single.pid} -> ${child!.pid}$`, 'm'));
    } finally {
      await criu.close();
      await ckpt.close();
    }
  });
});

describe('CRIU diff: the common model agrees with the .ckpt comparison', function () {
  this.timeout(60_000);
  let dir: string;
  let stop: (() => void) | undefined;

  before(async function () {
    const why = realTargetUnavailable();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'criu-model-diff-'));
    const target = await startTarget(buildTarget(dir));
    stop = () => target.stop();
    target.dump(path.join(dir, 'a.ckpt'));
    await target.change();
    target.dump(path.join(dir, 'b.ckpt'));
  });
  after(() => {
    stop?.();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds the same changed pages in two real images, by their stored hashes', async () => {
    const a = await openCheckpoint(path.join(dir, 'a.ckpt'));
    const b = await openCheckpoint(path.join(dir, 'b.ckpt'));
    const ia = await CheckpointImage.open(path.join(dir, 'a.ckpt'));
    const ib = await CheckpointImage.open(path.join(dir, 'b.ckpt'));
    try {
      const byModel = await compareModels(a, b);
      const bySchema = await compareImages(ia, ib);
      const ranges = (d: typeof byModel) => [...nodes(d.nodes)].filter((n) => n.pages).flatMap((n) => n.pages!.ranges);
      assert.deepEqual(ranges(byModel), ranges(bySchema));
      assert.equal(byModel.pageMethod, 'hashes');
      assert.equal(byModel.stats.bytesRead, 0);
      assert.deepEqual(byModel.counts.pages, bySchema.counts.pages);
      assert.ok(byModel.counts.pages.modified >= 1);
    } finally {
      for (const c of [a, b, ia, ib]) await c.close();
    }
  });
});
