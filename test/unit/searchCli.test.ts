import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runInspect } from '../support/inspect';
import { buildSample, HEAP_STRING, HEAP_STRING_ADDR, SECRET_ENV } from '../support/sampleImage';

describe('ckpt-inspect search', () => {
  let dir: string;
  let image: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-search-'));
    image = path.join(dir, 'sample.ckpt');
    fs.writeFileSync(image, buildSample().bytes);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const addr = `0x${HEAP_STRING_ADDR.toString(16)}`;

  it('prints each match with its address, VMA and a hexdump of the context; exit 0', async () => {
    const r = await runInspect('search', image, 'hello from the heap', '--context', '4');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.split('\n'), [
      `${addr}  pid 4242  rw-p [heap]+0xfec  "hello from the heap"`,
      // The heap's bytes are (offset * 7) & 0xff: 0xfe8..0xfeb are 58 5f 66 6d.
      '    000055555555afe8  58 5f 66 6d 68 65 6c 6c  6f 20 66 72 6f 6d 20 74  |X_fmhello from t|',
      '    000055555555aff8  68 65 20 68 65 61 70 2c  20 61 63                 |he heap, ac|',
      r.out.split('\n')[3],
      '',
    ]);
    assert.match(r.out.split('\n')[3], /^1 match in 16 KiB of memory, \d+ ms$/);
  });

  it('with --context 0 prints one line per match', async () => {
    const r = await runInspect('search', image, '--context', '0', '--', 'page boundary');
    assert.equal(r.code, 0);
    assert.equal(r.out.split('\n')[0], `0x55555555b00a  pid 4242  rw-p [heap]+0x100a  "page boundary"`);
    assert.equal(r.out.split('\n').length, 3);
  });

  it('exits 1 when nothing is found; environment strings are not memory pages', async () => {
    const r = await runInspect('search', image, SECRET_ENV);
    assert.equal(r.code, 1);
    assert.match(r.out, /^0 matches in 16 KiB of memory, \d+ ms\n$/);
  });

  it('--hex, --utf16, --regex and -i choose how the pattern is read', async () => {
    const hex = await runInspect('search', image, '--hex', '68 65 6c 6c 6f ?? 66', '--context=0');
    assert.equal(hex.code, 0);
    assert.match(hex.out, new RegExp(`^${addr}  pid 4242  rw-p \\[heap\\]\\+0xfec  "hello f"$`, 'm'));
    assert.equal((await runInspect('search', image, '--utf16', 'hello')).code, 1);
    const re = await runInspect('search', image, '--regex', 'heap, [a-z]+ a', '--context=0');
    assert.match(re.out, /^0x55555555affb .* "heap, across a"$/m);
    assert.equal((await runInspect('search', image, 'HELLO FROM')).code, 1);
    assert.equal((await runInspect('search', image, '-i', 'HELLO FROM')).code, 0);
  });

  it('--format=json gives the hits as plain data', async () => {
    const r = await runInspect('search', image, HEAP_STRING, '--format=json', '--context', '2');
    assert.equal(r.code, 0);
    const doc = JSON.parse(r.out);
    assert.equal(doc.hits.length, 1);
    assert.deepEqual(doc.hits[0], {
      pid: 4242,
      address: addr,
      length: HEAP_STRING.length,
      vma: { start: '0x55555555a000', end: '0x55555557b000', prot: 'rw-p', kind: 'heap', path: '[heap]' },
      vmaOffset: '0xfec',
      before: '666d',
      match: Buffer.from(HEAP_STRING).toString('hex'),
      after: doc.hits[0].after,
    });
    assert.equal(doc.hits[0].after.length, 4);
    assert.deepEqual({ scanned: doc.scannedBytes, total: doc.totalBytes, truncated: doc.truncated }, { scanned: 16384, total: 16384, truncated: false });
    assert.deepEqual(doc.query, { mode: 'text', pattern: HEAP_STRING, encoding: 'utf8', ignoreCase: false });
  });

  it('--max stops early and says so; --pid picks a process', async () => {
    const r = await runInspect('search', image, '--hex', '5a 5a 5a 5a', '--max', '2', '--context=0');
    assert.equal(r.code, 0);
    const lines = r.out.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[2], /^2 matches in .* \(stopped at --max 2\)$/);
    assert.equal((await runInspect('search', image, 'hello', '--pid', '4242')).code, 0);
    const none = await runInspect('search', image, 'hello', '--pid', '1');
    assert.equal(none.code, 2);
    assert.match(none.err, /no process with pid 1/);
  });

  it('exits 2 on a bad pattern or conflicting options', async () => {
    const bad = await runInspect('search', image, '--hex', 'xyz');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /'xyz' is not hex bytes/);
    const both = await runInspect('search', image, '--hex', '--regex', 'aa');
    assert.equal(both.code, 2);
    assert.match(both.err, /--hex and --regex cannot be used together/);
    const re = await runInspect('search', image, '--regex', '(');
    assert.equal(re.code, 2);
    assert.equal(re.err, "ckpt-inspect: invalid regular expression '(': unterminated group\n");
    const ctx = await runInspect('search', image, 'a', '--context', 'lots');
    assert.equal(ctx.code, 2);
    assert.equal((await runInspect('search', image)).code, 2);
  });
});
