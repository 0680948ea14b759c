import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runInspect } from '../support/inspect';
import { flipByte, rawRecords } from '../support/imageEdit';
import { buildSample, HEAP_STRING, HEAP_STRING_ADDR } from '../support/sampleImage';
import { RecordType, schema } from '../../src/image';

describe('ckpt-inspect', () => {
  let dir: string;
  let good: string;
  let damaged: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-cli-'));
    good = path.join(dir, 'good.ckpt');
    damaged = path.join(dir, 'damaged.ckpt');
    const s = buildSample();
    fs.writeFileSync(good, s.bytes);
    const pages = rawRecords(s.bytes).find((r) => r.type === RecordType.PAGES)!;
    fs.writeFileSync(damaged, flipByte(s.bytes, pages.payloadOffset + 100));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('show prints the summary and the record tree', async () => {
    const r = await runInspect('show', good);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^.*good\\.ckpt: ckpt image ${schema.version.major}\\.${schema.version.minor}, x86_64, kernel 6\\.18\\.0-test, host testhost$`, 'm'));
    assert.match(r.out, /^  process 4242 "demo": "demo" "--interval" "5"$/m);
    assert.match(r.out, /^#1 PROCESS tag 2: pid 4242 "demo" \/usr\/bin\/demo, 2 threads$/m);
    assert.match(r.out, /^   ├─ #2 THREAD tag 3: tid 4242 "demo" rip 0x555555556123 rsp 0x7ffcd0001f00$/m);
    assert.match(r.out, /^   │  └─ #10 PAGEMAP tag 11: 2 runs, 4 pages \(16 KiB\)$/m);
    assert.match(r.out, /^   │     └─ #12 PAGES tag 13: 16 KiB of page data$/m);
    assert.doesNotMatch(r.out, /problem/);
  });

  it('show -v prints decoded fields under each record', async () => {
    const r = await runInspect('show', '-v', good);
    assert.equal(r.code, 0);
    assert.match(r.out, /r15: 0xfedcba9876543211/);
    assert.match(r.out, /\[nofile\]:/);
    assert.match(r.out, /cmdline: "demo" "--interval" "5"/);
    // values by their meaning, from the .ksy: a state letter, RLIM_INFINITY
    assert.match(r.out, /^\s+state: S \(sleeping, interruptibly\)$/m);
    assert.match(r.out, /\[nofile\]:\s*\n\s+cur: 1024\n\s+max: unlimited\n/);
    // JSON keeps the numbers
    const json = JSON.parse((await runInspect('json', good)).out);
    const proc = JSON.stringify(json);
    assert.match(proc, /"state":83/);
    assert.match(proc, /"max":"18446744073709551615"/);
  });

  it('json gives the whole decode with 64-bit values as strings', async () => {
    const r = await runInspect('json', good);
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    assert.equal(doc.summary.processes[0].pid, 4242);
    const proc = doc.records.find((x: { type: string }) => x.type === 'PROCESS');
    const thread = proc.children.find((x: { type: string }) => x.type === 'THREAD');
    assert.equal(thread.payload.regs.r15, '0xfedcba9876543211');
    assert.equal(thread.payload.regs.orig_rax, '0xffffffffffffffff');
    assert.equal(thread.payload.tid, 4242);
    const mm = proc.children.find((x: { type: string }) => x.type === 'MM');
    const pagemap = mm.children.find((x: { type: string }) => x.type === 'PAGEMAP');
    assert.equal(pagemap.payload.page_hashes.length, 4);
    assert.match(pagemap.payload.page_hashes[0], /^[0-9a-f]{16}$/);
  });

  it('verify exits 0 on a sound image and 1 with the problems on a damaged one', async () => {
    const ok = await runInspect('verify', good);
    assert.equal(ok.code, 0);
    assert.match(ok.out, /^OK: 25 records, 4 pages \(16 KiB\) in \d+ ms$/m);
    const bad = await runInspect('verify', damaged);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /^error: record #12 PAGES \(tag 13\), file offset 0x[0-9a-f]+: page at 0x55555555a000 does not match its hash in pagemap tag 11 \(rule page_hash\)$/m);
    assert.match(bad.out, /^DAMAGED: 1 problem; checked/m);
    const json = JSON.parse((await runInspect('verify', '--format=json', damaged)).out);
    assert.equal(json.ok, false);
    assert.equal(json.problems[0].code, 'bad-page-hash');
  });

  it('pages hexdumps memory by address and says where there is none', async () => {
    const r = await runInspect('pages', good, '--addr', `0x${HEAP_STRING_ADDR.toString(16)}`, '--len', String(HEAP_STRING.length));
    assert.equal(r.code, 0, r.err);
    const ascii = r.out
      .trim()
      .split('\n')
      .map((l) => l.slice(l.indexOf('|') + 1, l.lastIndexOf('|')))
      .join('');
    assert.equal(ascii, HEAP_STRING);
    assert.match(r.out, /^000055555555afec  68 65 6c 6c 6f 20 66 72  6f 6d 20 74 68 65 20 68  \|hello from the h\|$/m);
    // bare hex, as the editor's Go box takes it
    const bare = await runInspect('pages', good, '--addr', HEAP_STRING_ADDR.toString(16), '--len', String(HEAP_STRING.length));
    assert.equal(bare.out, r.out);
    const gap = await runInspect('pages', good, '--addr', '0x55555557aff0', '--len', '32');
    assert.equal(gap.out, '000055555557aff0-000055555557b000  mapped, not in the image (never touched, zero, or clean file pages) in [heap]\n000055555557b000-000055555557b010  not mapped\n');
  });

  it('errors exit 2 with one clear line', async () => {
    const missing = await runInspect('show', path.join(dir, 'nope.ckpt'));
    assert.equal(missing.code, 2);
    assert.equal(missing.err, `ckpt-inspect: ${path.join(dir, 'nope.ckpt')}: no such file or folder\n`);
    const folder = await runInspect('show', dir);
    assert.equal(folder.code, 2);
    assert.equal(folder.err.split('\n').length, 2, 'one line');
    assert.match(folder.err, new RegExp(`^ckpt-inspect: ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    const none = await runInspect();
    assert.equal(none.code, 2);
    assert.equal(none.out, '', 'usage on standard error');
    assert.match(none.err, /^usage: ckpt-inspect/);
    const notImage = path.join(dir, 'x.ckpt');
    fs.writeFileSync(notImage, 'hello, this is not an image at all, not at all');
    const bad = await runInspect('verify', notImage);
    assert.equal(bad.code, 2);
    assert.equal(bad.err, `ckpt-inspect: ${notImage}: record #0, field 'magic', file offset 0x20: not a ckpt image: the head magic "CKPTIMG\\n" is missing\n`);
    assert.equal((await runInspect('frobnicate')).code, 2);
    assert.equal((await runInspect('pages', good)).code, 2);
    assert.match((await runInspect('pages', good, '--addr', 'zz')).err, /address 'zz' is not a 64-bit hex address/);
  });

  it('runs as the bundled executable', function () {
    const bin = path.resolve(__dirname, '../../dist/ckpt-inspect.js');
    if (!fs.existsSync(bin)) this.skip(); // built by `npm install`; the suite in CI always has it
    const r = spawnSync(bin, ['verify', good], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^OK: 25 records/m);
    const d = spawnSync(bin, ['verify', damaged], { encoding: 'utf8' });
    assert.equal(d.status, 1);
  });
});
