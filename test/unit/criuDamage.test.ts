import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openCheckpoint } from '../../src/checkpoint';
import { decompressedArchive } from '../../src/criu/archiveCache';
import { ImageError } from '../../src/image';
import { ImageRequests } from '../../src/webviews/imageRequests';
import { copyFixture, criuFixture, decode, encode, MARKERS, readImage, writeImage } from '../support/criuFixtures';
import { runInspect } from '../support/inspect';

/** Every request the editor makes of every record: none may throw anything but a clean error. */
async function exploreAll(where: string): Promise<void> {
  const c = await openCheckpoint(where);
  try {
    const req = new ImageRequests(c, () => ({ status: 'unverified', problems: [] }));
    await req.summary();
    for (let i = 0; i < c.recordCount; i++) {
      await req.node(i);
      const d = await req.record({ index: i });
      for (const v of d.views) {
        if (v === 'process') await req.process({ process: d.process! });
        if (v === 'memory') await req.memoryLayout({ process: d.process! });
        if (v === 'addressSpace') await req.addressSpace({ process: d.process! });
      }
    }
  } finally {
    await c.close();
  }
}

describe('CRIU images: damaged ones are reported with the file and the offset', function () {
  this.timeout(60_000);
  let copy: ReturnType<typeof copyFixture>;
  beforeEach(() => (copy = copyFixture('single')));
  afterEach(() => copy.remove());
  const file = (n: string) => path.join(copy.dir, n);

  it('a truncated image: verify names the file, the entry and its offset; the rest stays readable', async () => {
    const core = file('core-28660.img');
    fs.truncateSync(core, 1000);
    const r = await runInspect('verify', copy.dir);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /^error: core-28660\.img, entry #0 at offset 0x8: its length prefix says 2303 bytes, but only 988 follow: the file is truncated or the length is damaged$/m);
    const s = await runInspect('show', copy.dir);
    assert.equal(s.code, 1, 'damaged: exit 1, as verify');
    assert.match(s.out, /process 28660 "": /, 'the process is still listed, without what its core held');
    await exploreAll(copy.dir);
  });

  it('a bad magic: the file and the offset of the magic, and what it should be', async () => {
    const mm = file('mm-28660.img');
    const b = fs.readFileSync(mm);
    b.writeUInt32LE(0x12345678, 4);
    fs.writeFileSync(mm, b);
    const r = await runInspect('verify', copy.dir);
    assert.equal(r.code, 1);
    assert.match(r.out, /^error: mm-28660\.img, offset 0x4: bad magic 0x12345678 \(0x12345678\): a MM image has 0x57492820$/m);
    // Without its VMAs the memory is still there, outside any VMA.
    const p = await runInspect('pages', copy.dir, '--addr', `0x${MARKERS.single.addr.toString(16)}`, '--len', '16');
    assert.equal(p.code, 0, p.err);
    assert.match(p.out, /criu-fixture-ma/);
    await exploreAll(copy.dir);
  });

  it('a bad length prefix: the entry whose length runs past the file', async () => {
    const pm = file('pagemap-28660.img');
    const b = fs.readFileSync(pm);
    // The third entry's length prefix (entries of 18 bytes after the 8-byte head and the 6-byte head entry).
    const at = 8 + 4 + b.readUInt32LE(8) + 2 * (4 + 14);
    b.writeUInt32LE(0x7fff0000, at);
    fs.writeFileSync(pm, b);
    const r = await runInspect('verify', copy.dir);
    assert.equal(r.code, 1);
    assert.match(
      r.out,
      new RegExp(`^error: pagemap-28660\\.img, entry #3 at offset 0x${at.toString(16)}: a length prefix of 2147418112 bytes is larger than any message \\(67108864\\): the length is damaged$`, 'm'),
    );
    await exploreAll(copy.dir);
  });

  it("a pagemap past its pages file: the run, its pages, and the file's size", async () => {
    fs.truncateSync(file('pages-1.img'), 40 * 4096);
    const r = await runInspect('verify', copy.dir);
    assert.equal(r.code, 1);
    assert.match(
      r.out,
      /^error: pagemap-28660\.img, entry #12 at offset 0x[0-9a-f]+: the run of 4 pages at 0x7ffe6f5d8000 needs pages 41 to 44 of pages-1\.img, which holds 40 pages \(163840 bytes\): the pagemap runs past the pages file$/m,
    );
    // The pages before it are still there.
    const p = await runInspect('search', copy.dir, MARKERS.single.text, '--context', '0');
    assert.equal(p.code, 0);
    await exploreAll(copy.dir);
  });

  it('a message that is not protobuf: the file, the entry and its offset, never a crash', async () => {
    const pstree = file('pstree.img');
    const img = readImage(pstree);
    img.entries[0].message = Buffer.from([0x08, 0xf4, 0xdf, 0x01, 0x12, 0x40, 0x01]); // pid, then a field of 64 bytes in 1
    writeImage(pstree, img);
    const r = await runInspect('verify', copy.dir);
    assert.equal(r.code, 1);
    assert.match(r.out, /^error: pstree\.img, entry #0 at offset 0x8: not a valid pstree_entry message: .+$/m);
    const j = await runInspect('json', copy.dir);
    assert.equal(j.code, 0);
    assert.match(j.out, /"error": "pstree\.img, entry #0 at offset 0x8: not a valid pstree_entry message/);
    await exploreAll(copy.dir);
  });

  it('a damaged inventory: the checkpoint does not open, and says why', async () => {
    const inv = file('inventory.img');
    const b = fs.readFileSync(inv);
    b.writeUInt32LE(0xdeadbeef, 0);
    fs.writeFileSync(inv, b);
    for (const cmd of ['show', 'json', 'verify']) {
      const r = await runInspect(cmd, copy.dir);
      assert.equal(r.code, 2, cmd);
      // One line: the checkpoint's path, then the file in it and the offset.
      assert.equal(r.err, `ckpt-inspect: ${copy.dir}: not a readable CRIU checkpoint: inventory.img, offset 0x0: bad magic 0xdeadbeef (0xdeadbeef): a INVENTORY image has 0x58313116\n`);
    }
    await assert.rejects(openCheckpoint(copy.dir), ImageError);
  });

  it('a truncated archive or compressed stream: the archive and the offset', async () => {
    const tar = path.join(copy.root, 'cut.tar');
    fs.writeFileSync(tar, fs.readFileSync(criuFixture('podman/podman.tar')).subarray(0, 50_000));
    const r = await runInspect('show', tar);
    assert.equal(r.code, 2);
    assert.match(r.err, /^ckpt-inspect: .*cut\.tar, offset 0x[0-9a-f]+: .*truncated/);
    const gz = path.join(copy.root, 'cut.tar.gz');
    fs.writeFileSync(gz, fs.readFileSync(criuFixture('podman/podman-gzip.tar.gz')).subarray(0, 9000));
    const g = await runInspect('show', gz);
    assert.equal(g.code, 2);
    assert.match(g.err, /cut\.tar\.gz is not a sound gzip stream/);
    const zst = path.join(copy.root, 'cut.tar.zst');
    fs.writeFileSync(zst, fs.readFileSync(criuFixture('podman/podman.tar.gz')).subarray(0, 9000));
    const z = await runInspect('show', zst);
    assert.equal(z.code, 2);
    assert.match(z.err, /cut\.tar\.zst is not a sound zstd stream/);
  });
});

describe('CRIU images: unknown images and fields are shown, not refused', () => {
  let copy: ReturnType<typeof copyFixture>;
  beforeEach(() => (copy = copyFixture('single')));
  afterEach(() => copy.remove());

  it('an image of an unknown kind is a note; a field the .proto does not declare shows by number', async () => {
    // An image with the common magic and a kind magic no reader knows, holding one message.
    writeImage(path.join(copy.dir, 'future-1.img'), {
      head: Buffer.from([0x19, 0x43, 0x56, 0x54, 0x01, 0x02, 0x03, 0x04]),
      entries: [{ message: encode('pstree_entry', { pid: 5 }), extra: Buffer.alloc(0) }],
    });
    // pstree's entry with a field 99 appended.
    const pstree = path.join(copy.dir, 'pstree.img');
    const img = readImage(pstree);
    img.entries[0].message = Buffer.concat([img.entries[0].message, Buffer.from([0x98, 0x06, 0x2a])]); // field 99, varint 42
    writeImage(pstree, img);
    const v = await runInspect('verify', copy.dir);
    assert.equal(v.code, 0, v.out);
    assert.match(v.out, /^note: future-1\.img, offset 0x0: an image of a kind this reader does not know \(magic 0x04030201\); its entries are shown as raw fields$/m);
    const j = JSON.parse((await runInspect('json', copy.dir)).out) as { records: { path: string; children: { payload?: Record<string, unknown> }[] }[] };
    const future = j.records.find((r) => r.path === 'future-1.img')!;
    assert.deepEqual(future.children[0].payload, { '#1': '5' });
    const ps = j.records.find((r) => r.path === 'pstree.img')!;
    assert.equal(ps.children[0].payload!.pid, 28660);
    assert.equal(ps.children[0].payload!['#99'], '42');
    const c = await openCheckpoint(copy.dir);
    try {
      assert.equal((await c.processes())[0].pid, 28660);
    } finally {
      await c.close();
    }
  });
});

describe('CRIU images: memory from pre-dumps, lazy pages and zero pages', function () {
  this.timeout(30_000);
  let parent: ReturnType<typeof copyFixture>;
  let child: string;
  const heap = 0x55b1c78fb000n;

  /**
   * A pre-dump chain made from `single`: the parent is the dump as it is; the child lists the heap
   * run as in the parent (PE_PARENT) and holds the rest of the pages itself, and links to it.
   */
  before(() => {
    parent = copyFixture('single');
    child = path.join(parent.root, 'child');
    fs.cpSync(parent.dir, child, { recursive: true });
    fs.symlinkSync('../single', path.join(child, 'parent'));
    const pm = readImage(path.join(child, 'pagemap-28660.img'));
    const pages = fs.readFileSync(path.join(child, 'pages-1.img'));
    const kept: Buffer[] = [];
    let page = 0;
    pm.entries.forEach((e, i) => {
      if (i === 0) return;
      const run = decode<{ vaddr: string; nr_pages: string; flags: number }>('pagemap_entry', e.message);
      const n = Number(run.nr_pages);
      if (BigInt(run.vaddr) === heap) e.message = encode('pagemap_entry', { ...run, flags: 1 });
      else kept.push(pages.subarray(page * 4096, (page + n) * 4096));
      page += n;
    });
    writeImage(path.join(child, 'pagemap-28660.img'), pm);
    fs.writeFileSync(path.join(child, 'pages-1.img'), Buffer.concat(kept));
  });
  after(() => parent.remove());

  it('reads pages flagged as in the parent from the parent checkpoint, through its link', async () => {
    const c = await openCheckpoint(child);
    try {
      assert.deepEqual(c.problems, []);
      const [p] = await c.processes();
      const mem = await c.memory(p.record);
      const [m] = await mem.read(MARKERS.single.addr, 24);
      assert.equal(m.state, 'dumped');
      assert.equal(Buffer.from(m.bytes!).toString(), MARKERS.single.text);
      assert.equal(mem.dumpedBytes, 45 * 4096, 'all 45 pages, 18 of them in the parent');
      const s = await runInspect('search', child, MARKERS.single.text, '--context', '0');
      assert.match(s.out, /^0x55b1c78fb2a0 {2}pid 28660/m);
      const v = await runInspect('verify', child);
      assert.equal(v.code, 0, v.out);
      assert.match((await runInspect('show', child)).out, /#\d+ LINK: parent -> \.\.\/single/);
    } finally {
      await c.close();
    }
  });

  it('says which parent pages are missing when the link is broken, and leaves them out', async () => {
    fs.renameSync(parent.dir, `${parent.dir}.gone`);
    try {
      const v = await runInspect('verify', child);
      assert.equal(v.code, 1);
      assert.match(v.out, /^error: pagemap-28660\.img, entry #3 at offset 0x[0-9a-f]+: the run of 18 pages at 0x55b1c78fb000 is in the parent checkpoint, and there is no parent link to one$/m);
    } finally {
      fs.renameSync(`${parent.dir}.gone`, parent.dir);
    }
  });

  it('shows lazy pages that are not in the image as not dumped, and zero pages as zeros', async () => {
    const dir = path.join(parent.root, 'lazy');
    fs.cpSync(parent.dir, dir, { recursive: true });
    const pm = readImage(path.join(dir, 'pagemap-28660.img'));
    const pages = fs.readFileSync(path.join(dir, 'pages-1.img'));
    const kept: Buffer[] = [];
    let page = 0;
    const stack = 0x7ffe6f5d8000n;
    pm.entries.forEach((e, i) => {
      if (i === 0) return;
      const run = decode<{ vaddr: string; nr_pages: string; flags: number }>('pagemap_entry', e.message);
      const n = Number(run.nr_pages);
      if (BigInt(run.vaddr) === heap)
        e.message = encode('pagemap_entry', { ...run, flags: 2 }); // lazy, not present
      else if (BigInt(run.vaddr) === stack)
        e.message = encode('pagemap_entry', { ...run, flags: 0 }); // zero pages
      else kept.push(pages.subarray(page * 4096, (page + n) * 4096));
      page += n;
    });
    writeImage(path.join(dir, 'pagemap-28660.img'), pm);
    fs.writeFileSync(path.join(dir, 'pages-1.img'), Buffer.concat(kept));
    const c = await openCheckpoint(dir);
    try {
      const [p] = await c.processes();
      const mem = await c.memory(p.record);
      const [lazy] = await mem.read(MARKERS.single.addr, 24);
      assert.equal(lazy.state, 'not-dumped');
      const [zero] = await mem.read(stack + 0x100n, 64);
      assert.equal(zero.state, 'dumped');
      assert.ok(Buffer.from(zero.bytes!).equals(Buffer.alloc(64)));
      const v = await runInspect('verify', dir);
      assert.equal(v.code, 0, v.out);
    } finally {
      await c.close();
    }
  });
});

describe('CRIU images: hostile pagemaps', function () {
  this.timeout(30_000);
  let copy: ReturnType<typeof copyFixture>;
  beforeEach(() => (copy = copyFixture('single')));
  afterEach(() => copy.remove());

  it('a run of zero pages claiming 4 TiB is left out and reported: a search scans only what the files hold', async () => {
    const file = path.join(copy.dir, 'pagemap-28660.img');
    const pm = readImage(file);
    pm.entries.push({ message: encode('pagemap_entry', { vaddr: String(0x100000000000), nr_pages: String(2 ** 30), flags: 0 }), extra: Buffer.alloc(0) });
    writeImage(file, pm);
    const v = await runInspect('verify', copy.dir);
    assert.equal(v.code, 1);
    assert.match(v.out, /^error: pagemap-28660\.img, entry #13 at offset 0x[0-9a-f]+: the run of 1073741824 zero pages at 0x100000000000 lies outside every VMA: left out$/m);
    const t0 = performance.now();
    const s = await runInspect('search', copy.dir, 'no such text anywhere', '--format=json');
    assert.equal(s.code, 1);
    assert.equal(JSON.parse(s.out).scannedBytes, 45 * 4096);
    assert.ok(performance.now() - t0 < 5000);
  });
});

describe('CRIU archives: decompressed once, into a bounded cache', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'criu-cache-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reuses the cache file of an unchanged archive, and keeps the cache under its bound', async () => {
    const zst = criuFixture('podman/podman.tar.gz');
    const first = await decompressedArchive(zst, 'zstd', { dir });
    const made = fs.statSync(first);
    assert.equal(made.mode & 0o777, 0o600);
    assert.equal(made.size, fs.statSync(criuFixture('podman/podman.tar')).size, 'the tar podman wrote, byte for byte in size');
    assert.equal(await decompressedArchive(zst, 'zstd', { dir }), first);
    assert.equal(fs.statSync(first).ino, made.ino, 'not written again');
    // A bound below two archives keeps the one used last.
    const gz = await decompressedArchive(criuFixture('podman/podman-gzip.tar.gz'), 'gzip', { dir, maxBytes: made.size + 1000 });
    assert.ok(fs.existsSync(gz));
    assert.ok(!fs.existsSync(first), 'the older one went');
    await assert.rejects(decompressedArchive(zst, 'zstd', { dir, maxBytes: 1000 }), /decompresses to more than 1000 bytes/);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.partial-')),
      [],
      'no partial file left',
    );
  });
});
