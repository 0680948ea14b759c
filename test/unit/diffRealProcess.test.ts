// The diff on a real process, checkpointed twice by the native checkpointer while it rewrites
// one known page: the diff must name that page and nothing else.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli/ckptInspect';
import { BufferedOutput } from '../../src/cli/output';
import { checkpointPageBytes, CkptCheckpoint } from '../../src/checkpoint';
import { CheckpointImage, compareImages, DiffNode } from '../../src/image';
import { buildTarget, RealTarget, realTargetUnavailable, startTarget } from './diffRealTarget';

const hex = (v: bigint) => `0x${v.toString(16)}`;

describe('compareImages on a real process checkpointed twice', function () {
  this.timeout(60_000);
  let dir: string;
  let target: RealTarget | undefined;
  const file = (name: string) => path.join(dir, name);

  before(async function () {
    const why = realTargetUnavailable();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-diff-real-'));
    target = await startTarget(buildTarget(dir));
    target.dump(file('first.ckpt'));
    target.dump(file('again.ckpt'));
    await target.change();
    target.dump(file('changed.ckpt'));
  });
  after(() => {
    target?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds no difference between two checkpoints with nothing done in between', async () => {
    const a = await CheckpointImage.open(file('first.ckpt'));
    const b = await CheckpointImage.open(file('again.ckpt'));
    const d = await compareImages(a, b);
    await a.close();
    await b.close();
    assert.deepEqual(d.nodes, [], JSON.stringify(d.nodes, null, 1));
    assert.equal(d.same, true);
    assert.equal(d.pageMethod, 'hashes');
    const o = new BufferedOutput();
    assert.equal(await main(['diff', file('first.ckpt'), file('again.ckpt')], o), 0);
    assert.equal(o.out, 'no differences\n');
  });

  it('names exactly the page the process rewrote, and nothing else', async () => {
    const a = await CheckpointImage.open(file('first.ckpt'));
    const b = await CheckpointImage.open(file('changed.ckpt'));
    const d = await compareImages(a, b);
    const { map, buffer, page } = target!.planted;
    const vma = (await a.memory()).vmaAt(map)!;
    const outline = (nodes: DiffNode[]): unknown[] =>
      nodes.map((n) => ({ [`${n.change} ${n.kind} ${n.key}`]: [...n.fields.map((f) => f.path), ...(n.pages?.ranges.map((r) => `${r.change} ${r.start}-${r.end}`) ?? []), ...outline(n.children)] }));
    assert.deepEqual(outline(d.nodes), [{ [`changed process ${target!.pid}`]: [{ [`changed vma ${hex(vma.start)}-${hex(vma.end)}`]: [`modified ${hex(buffer)}-${hex(buffer + BigInt(page))}`] }] }]);
    assert.equal(d.nodes[0].label, `process ${target!.pid} "planter"`);
    assert.deepEqual(d.counts.pages, { modified: 1, added: 0, removed: 0 });
    assert.equal(d.stats.bytesRead, 0);
    // The bytes before and after, as the target wrote them.
    const p = await checkpointPageBytes(new CkptCheckpoint(a), new CkptCheckpoint(b), buffer);
    const before = Buffer.alloc(page);
    before[7] = 1;
    const after = Buffer.from(Array.from({ length: page }, (_, i) => 0xa5 ^ ((i * 31) & 0xff)));
    assert.deepEqual(Buffer.from(p.a!), before);
    assert.deepEqual(Buffer.from(p.b!), after);
    // Reading both page streams agrees with the hashes.
    const bytes = await compareImages(a, b, { pages: 'bytes' });
    assert.deepEqual(outline(bytes.nodes), outline(d.nodes));
    await a.close();
    await b.close();
  });

  it('ckpt-inspect diff exits 1 and shows the page', async () => {
    const o = new BufferedOutput();
    assert.equal(await main(['diff', file('first.ckpt'), file('changed.ckpt')], o), 1);
    const { buffer, page } = target!.planted;
    assert.match(o.out, new RegExp(`^        ${hex(buffer)}-${hex(buffer + BigInt(page))}  modified, 1 page$`, 'm'));
    assert.match(o.out, /^1 VMA changed, 1 page modified; pages compared by page hash$/m);
  });
});
