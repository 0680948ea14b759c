// Build-ids in images (format 2.2, issue 15): a `build_id` record under the VMA that maps an ELF
// file from offset 0 is decoded (`show -v`), compared (`diff` names a file whose build-id
// changed), checked (a length out of range is a damaged record), and carried into a core's notes.

import * as assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { runInspect } from '../support/inspect';
import { ImageWriter } from '../../src/image/write/imageWriter';

const PAGE = 4096;
const LIB = 0x7f0000000000n;
const ID_A = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
const ID_B = Uint8Array.from({ length: 20 }, (_, i) => 0xf0 - i);

/** One process mapping /usr/lib/libx.so from offset 0, with this build-id (or a raw build_id payload). */
function imageWith(id: Uint8Array, raw?: Uint8Array): Uint8Array {
  const w = ImageWriter.inMemory(PAGE);
  w.head();
  const proc = w.record('process', { pid: 9, comm: 'lib', nthreads: 1 });
  w.mainThread(proc, 9);
  const mm = w.record('mm', { nvmas: 2 }, { ptag: proc });
  const vma = w.record('vma', { start: LIB, end: LIB + 4n * BigInt(PAGE), prot: 5, kind: 3, inode: 1234n, path: '/usr/lib/libx.so' }, { ptag: mm });
  if (raw) w.raw(80, raw, { ptag: vma });
  else w.record('build_id', { source: 1, len: id.length, id }, { ptag: vma });
  w.record('vma', { start: LIB + 0x10000n, end: LIB + 0x11000n, prot: 3, kind: 1, path: '' }, { ptag: mm });
  w.pages(mm, [{ vaddr: LIB + 0x10000n, data: new Uint8Array(PAGE).fill(1) }]);
  w.tail();
  return w.bytes();
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('build-ids in images (format 2.2)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-buildid-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, bytes: Uint8Array) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, bytes);
    return f;
  };

  it('show -v decodes the build-id under its VMA', async () => {
    const r = await runInspect('show', '-v', write('a.ckpt', imageWith(ID_A)));
    assert.strictEqual(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`BUILD_ID .*GNU build-id ${hexOf(ID_A)} \\(read from file\\)`));
  });

  it('diff names a file whose build-id changed, and nothing for the same one', async () => {
    const a = write('a.ckpt', imageWith(ID_A)),
      a2 = write('a2.ckpt', imageWith(ID_A)),
      b = write('b.ckpt', imageWith(ID_B));
    assert.strictEqual((await runInspect('diff', a, a2)).code, 0);
    const r = await runInspect('diff', a, b);
    assert.strictEqual(r.code, 1, r.err);
    assert.match(r.out, /libx\.so/);
    assert.match(r.out, new RegExp(`build_id.*${hexOf(ID_A)}.*${hexOf(ID_B)}`));
    const json = JSON.parse((await runInspect('diff', a, b, '--format=json')).out);
    const text = JSON.stringify(json);
    assert.ok(text.includes('"backing-file"') && text.includes(hexOf(ID_B)), 'the VMA is marked as another backing file, with both ids');
  });

  it('a build_id whose length is out of range is a damaged record, named by verify', async () => {
    const raw = Buffer.alloc(8 + 65);
    raw.writeUInt16LE(1, 0);
    raw.writeUInt32LE(65, 4);
    const r = await runInspect('verify', write('bad.ckpt', imageWith(ID_A, raw)));
    assert.strictEqual(r.code, 1, r.out + r.err);
    assert.match(r.out + r.err, /record #\d+ BUILD_ID.*len/);
  });

  it("a core carries the build-ids in a CKPT note, with each file's address and path", async () => {
    const core = path.join(dir, 'a.core');
    const r = await runInspect('core', write('a.ckpt', imageWith(ID_A)), '-o', core);
    assert.strictEqual(r.code, 0, r.err);
    const bytes = fs.readFileSync(core);
    const at = bytes.indexOf(Buffer.from('CKPT\0'));
    assert.ok(at > 0, 'a CKPT note');
    const desc = bytes.subarray(at + 8);
    assert.strictEqual(desc.readBigUInt64LE(0), LIB);
    assert.strictEqual(desc.readUInt32LE(8), 20);
    assert.strictEqual(hexOf(desc.subarray(12, 32)), hexOf(ID_A));
    assert.strictEqual(desc.subarray(32, 32 + 17).toString(), '/usr/lib/libx.so\0');
  });
});
