// Memory search on a real process checkpointed by the native checkpointer: strings the process
// planted are found at the addresses it reports, one across a page boundary, one in UTF-16LE.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli/ckptInspect';
import { BufferedOutput } from '../../src/cli/output';
import { CheckpointImage, searchAll } from '../../src/image';
import { ACROSS, buildTarget, RealTarget, realTargetUnavailable, startTarget, WIDE } from './diffRealTarget';

const hex = (v: bigint) => `0x${v.toString(16)}`;

describe('searchMemory on a real process', function () {
  this.timeout(60_000);
  let dir: string;
  let target: RealTarget | undefined;
  let image: string;

  before(async function () {
    const why = realTargetUnavailable();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-search-real-'));
    target = await startTarget(buildTarget(dir));
    image = path.join(dir, 'planted.ckpt');
    target.dump(image);
  });
  after(() => {
    target?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds the string planted across a page boundary, once, at its address', async () => {
    const img = await CheckpointImage.open(image);
    const { across, map, page } = target!.planted;
    assert.notEqual(across / BigInt(page), (across + BigInt(ACROSS.length) - 1n) / BigInt(page), 'the plant crosses a page boundary');
    const r = await searchAll(img, { mode: 'text', pattern: ACROSS }, { context: 4 });
    assert.equal(r.hits.length, 1, JSON.stringify(r.hits));
    const [hit] = r.hits;
    assert.equal(hit.pid, target!.pid);
    assert.equal(hit.address, hex(across));
    assert.equal(Buffer.from(hit.match).toString(), ACROSS);
    assert.equal(hit.vma!.prot, 'rw-p');
    assert.ok(BigInt(hit.vma!.start) <= map && map < BigInt(hit.vma!.end));
    assert.deepEqual([...hit.after], [0, 0, 0, 0]);
    assert.equal(r.scannedBytes, r.totalBytes);
    await img.close();
  });

  it('finds the UTF-16LE string at its odd address, and ignoring case', async () => {
    const img = await CheckpointImage.open(image);
    const { wide } = target!.planted;
    assert.equal(wide % 2n, 1n);
    const r = await searchAll(img, { mode: 'text', pattern: WIDE, encoding: 'utf16le' });
    assert.deepEqual(
      r.hits.map((h) => h.address),
      [hex(wide)],
    );
    const i = await searchAll(img, { mode: 'text', pattern: WIDE.toUpperCase().replace('SS', 'ß'), encoding: 'utf16le', ignoreCase: true });
    assert.deepEqual(
      i.hits.map((h) => h.address),
      [hex(wide)],
    );
    await img.close();
  });

  it('ckpt-inspect search prints it with its VMA', async () => {
    const o = new BufferedOutput();
    assert.equal(await main(['search', image, ACROSS, '--context=0'], o), 0);
    const img = await CheckpointImage.open(image);
    const { across } = target!.planted;
    const vma = (await img.memory()).vmaAt(across)!;
    await img.close();
    assert.match(o.out, new RegExp(`^${hex(across)}  pid ${target!.pid}  rw-p anon_private\\+${hex(across - vma.start)}  "${ACROSS}"$`, 'm'));
  });
});
