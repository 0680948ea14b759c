import assert from 'node:assert/strict';
import { CheckpointImage, RecordType, verifyImage } from '../../src/image';
import type { FieldModel, VerificationModel } from '../../src/shared/models';
import { CkptCheckpoint } from '../../src/checkpoint';
import { ImageRequests, problemModel } from '../../src/webviews/imageRequests';
import { writeBigImage } from '../support/bigImage';
import { buildSample, HEAP, HEAP_STRING, HEAP_STRING_ADDR, PAGE, STACK } from '../support/sampleImage';

const find = (fields: FieldModel[], name: string): FieldModel => {
  const f = fields.find((x) => x.name === name);
  assert.ok(f, `field ${name} among ${fields.map((x) => x.name).join(', ')}`);
  return f;
};

describe('editor requests: answering the webview from an image', () => {
  const sample = buildSample();
  let img: CheckpointImage;
  let req: ImageRequests;
  const verification: VerificationModel = { status: 'unverified', problems: [] };
  before(async () => {
    img = await CheckpointImage.open(sample.bytes);
    req = new ImageRequests(new CkptCheckpoint(img), () => verification);
  });
  after(() => img.close());

  it('summarises the image with 64-bit values as hex strings', async () => {
    const s = await req.summary();
    assert.equal(s.records, img.records.length);
    assert.equal(s.processes.length, 1);
    const p = s.processes[0];
    assert.equal(p.pid, 4242);
    assert.equal(p.comm, 'demo');
    assert.deepEqual(p.cmdline, ['demo', '--interval', '5']);
    assert.equal(p.index, img.byTag(sample.tags.process)!.index);
    assert.deepEqual(
      p.threads.map((t) => t.tid),
      [4242, 4243],
    );
    assert.equal(p.threads[0].rip, '0x555555556123');
    assert.equal(s.verification, verification);
    // Everything crosses postMessage as JSON.
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });

  it('pages the record tree with one-line labels', async () => {
    const top = await req.children({});
    assert.deepEqual(
      top.items.map((n) => n.title),
      ['HEAD', 'PROCESS', 'PAD', 'FILE', 'FILE', 'FILE', 'FILE', 'TAIL'],
    );
    assert.equal(top.total, 8);
    const proc = top.items[1];
    assert.match(proc.detail, /pid 4242 "demo"/);
    assert.equal(proc.childCount, 6);
    const page = await req.children({ parent: proc.index, offset: 1, limit: 2 });
    assert.deepEqual(
      page.items.map((n) => n.title),
      ['THREAD', 'MM'],
    );
    assert.equal(page.total, 6);
    await assert.rejects(req.children({ parent: 9999 }), /no record #9999/);
    await assert.rejects(req.children({ limit: 100000 }), RangeError);
  });

  it('decodes one record with fields at file offsets that hold their bytes', async () => {
    const thread = img.byTag(sample.tags.mainThread)!;
    const d = await req.record({ index: thread.index });
    assert.equal(d.node.title, 'THREAD');
    assert.deepEqual(d.path, [img.byTag(sample.tags.process)!.index]);
    assert.deepEqual(d.views, ['fields']);
    assert.equal(d.process, img.byTag(sample.tags.process)!.index);
    const regs = find(d.fields!, 'regs');
    const r15 = find(regs.children!, 'r15');
    assert.equal(r15.display, '0xfedcba9876543211');
    assert.equal(r15.size, 8);
    // The field's bytes, read through the bytes request, are the little-endian value.
    const b = await req.bytes({ index: thread.index, offset: r15.fileOffset, length: 8 });
    assert.ok(b.bytes instanceof Uint8Array && b.bytes.constructor === Uint8Array, 'bytes go to the webview as binary');
    assert.strictEqual(b.bytes.byteLength, b.bytes.buffer.byteLength, 'in a buffer of their own: postMessage carries a view of a larger one wrong');
    assert.equal(Buffer.from(b.bytes).toString('hex'), '1132547698badcfe');
    // The header is described from the schema, with its real checksum.
    assert.deepEqual(
      d.header.map((f) => f.name),
      ['type', 'flags', 'len', 'tag', 'ptag', 'payload_sum', 'reserved', 'header_sum'],
    );
    assert.equal(find(d.header, 'type').display, 'thread (11)');
    assert.equal(find(d.header, 'tag').display, String(sample.tags.mainThread));
    assert.equal(find(d.header, 'len').fileOffset, thread.offset + 8);
  });

  it('shows every 64-bit value in hex, beside its decimal when the format prefers decimal', async () => {
    const d = await req.record({ index: img.byTag(sample.tags.process)!.index });
    assert.equal(find(d.fields!, 'start_time').display, '123456 (0x1e240)');
    assert.equal(find(d.fields!, 'pid').display, '4242');
    const rl = find(d.fields!, 'rlimits').children![7];
    assert.equal(find(rl.children!, 'cur').display, '1024 (0x400)');
  });

  it('keeps byte reads inside the record and bounded', async () => {
    const head = img.records[0];
    await assert.rejects(req.bytes({ index: 0, offset: head.payloadOffset + head.len, length: 1 }), /outside record #0/);
    await assert.rejects(req.bytes({ index: 0, offset: 0, length: 1 << 20 }), RangeError);
    const h = await req.bytes({ index: 0, offset: 0, length: 32 + 8 });
    assert.equal(Buffer.from(h.bytes.subarray(32)).toString('latin1'), 'CKPTIMG\n');
  });

  it('offers the address space and memory of a VMA, PAGES and MM', async () => {
    const mm = img.byTag(sample.tags.mm)!;
    const proc = img.byTag(sample.tags.process)!;
    assert.deepEqual((await req.record({ index: mm.index })).views, ['fields', 'addressSpace', 'memory']);
    const vma = img.childrenOfType(mm, RecordType.VMA)[1];
    const dv = await req.record({ index: vma.index });
    assert.deepEqual(dv.memoryRange, { start: `0x${HEAP.toString(16)}`, end: `0x${(HEAP + 0x21000n).toString(16)}` });
    const pages = img.ofType(RecordType.PAGES)[0];
    const dp = await req.record({ index: pages.index });
    assert.deepEqual(dp.views, ['fields', 'memory']);
    assert.deepEqual(dp.memoryRange, { start: `0x${HEAP.toString(16)}`, end: `0x${(STACK + 0x21000n).toString(16)}` });
    assert.equal(dp.fields, undefined);

    const as = await req.addressSpace({ process: proc.index });
    assert.equal(as.vmas.length, 5);
    const heap = as.vmas.find((v) => v.kind === 'heap')!;
    assert.equal(heap.prot, 'rw-p');
    assert.equal(heap.dumpedBytes, 3 * PAGE);
    assert.equal(heap.size, 0x21000);
    await assert.rejects(req.addressSpace({ process: mm.index }), /not a process/);
  });

  it('lays memory out as dumped stretches and one-row gaps, labelled by VMA', async () => {
    const proc = img.byTag(sample.tags.process)!;
    const l = await req.memoryLayout({ process: proc.index });
    const kinds = l.spans.map((s) => s.kind);
    assert.equal(l.truncated, false);
    assert.equal(kinds[0], 'not-dumped'); // the executable's pages are not dumped
    const data = l.spans.filter((s) => s.kind === 'data');
    assert.deepEqual(
      data.map((s) => [s.start, s.end]),
      [
        [`0x${HEAP.toString(16)}`, `0x${(HEAP + 3n * BigInt(PAGE)).toString(16)}`],
        [`0x${(STACK + 0x20000n).toString(16)}`, `0x${(STACK + 0x21000n).toString(16)}`],
      ],
    );
    const afterHeap = l.spans[l.spans.findIndex((s) => s.kind === 'data') + 1];
    assert.equal(afterHeap.kind, 'not-dumped');
    assert.match(afterHeap.label!, /rw-p heap \[heap\]/);
    assert.ok(kinds.includes('unmapped'));
    // Spans tile the range without holes.
    for (let i = 1; i < l.spans.length; i++) assert.equal(l.spans[i].start, l.spans[i - 1].end);
    const vmaOnly = await req.memoryLayout({ process: proc.index, start: `0x${HEAP.toString(16)}`, end: `0x${(HEAP + 0x21000n).toString(16)}` });
    assert.deepEqual(
      vmaOnly.spans.map((s) => s.kind),
      ['data', 'not-dumped'],
    );
  });

  it('reads memory by virtual address, across a page boundary', async () => {
    const proc = img.byTag(sample.tags.process)!;
    const pieces = await req.memory({ process: proc.index, addr: `0x${HEAP_STRING_ADDR.toString(16)}`, length: HEAP_STRING.length });
    assert.equal(pieces.length, 1);
    assert.equal(pieces[0].state, 'dumped');
    assert.equal(Buffer.from(pieces[0].bytes!).toString(), HEAP_STRING);
    const edge = await req.memory({ process: proc.index, addr: `0x${(HEAP + 3n * BigInt(PAGE) - 4n).toString(16)}`, length: 8 });
    assert.deepEqual(
      edge.map((p) => [p.state, p.length]),
      [
        ['dumped', 4],
        ['not-dumped', 4],
      ],
    );
    assert.equal(edge[1].bytes, undefined);
    await assert.rejects(req.memory({ process: proc.index, addr: '12', length: 1 << 20 }), RangeError);
  });
});

describe('editor requests: backtraces', () => {
  it("answers a thread's backtrace as JSON, saying why it ends, and refuses threads that are not there", async () => {
    const sample = buildSample();
    const img = await CheckpointImage.open(sample.bytes);
    try {
      const req = new ImageRequests(new CkptCheckpoint(img), () => ({ status: 'unverified', problems: [] }));
      const proc = img.byTag(sample.tags.process)!.index;
      const b = await req.backtrace({ process: proc, tid: 4242 });
      assert.deepEqual(JSON.parse(JSON.stringify(b)), b);
      assert.equal(b.tid, 4242);
      assert.equal(b.frames[0].pc, '0x555555556123');
      assert.equal(b.frames[0].method, 'registers');
      // The sample's files are made up: what is not on this machine is said, and the walk ends with a reason.
      assert.ok(b.stop.message.length > 0);
      assert.notEqual(b.stop.reason, 'outermost');
      assert.equal(await req.frameSource(proc, 4242, 0), undefined);
      await assert.rejects(req.backtrace({ process: proc, tid: 1 }), /has no thread 1/);
      await assert.rejects(req.backtrace({ process: 0, tid: 4242 }), /is not a process/);
    } finally {
      await img.close();
    }
  });
});

describe('editor requests: damage', () => {
  it('flags a damaged record and the records above it once verification finds it', async () => {
    const sample = buildSample({ corruptHashOfPage: 1 });
    const img = await CheckpointImage.open(sample.bytes);
    try {
      let verification: VerificationModel = { status: 'unverified', problems: img.problems.map(problemModel) };
      const req = new ImageRequests(new CkptCheckpoint(img), () => verification);
      const pages = img.ofType(RecordType.PAGES)[0];
      assert.equal((await req.node(pages.index)).problem, undefined);
      const r = await verifyImage(img);
      verification = { status: 'damaged', problems: r.problems.map(problemModel) };
      const bad = await req.node(pages.index);
      assert.match(bad.problem!, /does not match its hash/);
      assert.equal(bad.problemBelow, undefined);
      const proc = await req.node(img.byTag(sample.tags.process)!.index);
      assert.equal(proc.problemBelow, true);
      const d = await req.record({ index: pages.index });
      assert.equal(d.problems.length, 1);
      assert.equal(d.problems[0].severity, 'error');
    } finally {
      await img.close();
    }
  });
});

describe('editor requests: a 4 GiB image', function () {
  this.timeout(60_000);
  it('answers what the editor asks first as fast as for a small image, and reads its last page', async () => {
    const big = writeBigImage(4);
    try {
      const t0 = performance.now();
      const img = await CheckpointImage.open(big.file);
      const req = new ImageRequests(new CkptCheckpoint(img), () => ({ status: 'unverified', problems: [] }));
      const s = await req.summary();
      const top = await req.children({});
      const proc = s.processes[0];
      const pages = img.ofType(RecordType.PAGES);
      const d = await req.record({ index: pages[pages.length - 1].index });
      const layout = await req.memoryLayout({ process: proc.index });
      const marker = await req.memory({ process: proc.index, addr: `0x${big.markerAddr.toString(16)}`, length: big.marker.length });
      const ms = performance.now() - t0;
      await img.close();
      assert.equal(s.size, big.bytes);
      assert.ok(top.total >= 3);
      assert.deepEqual(d.views, ['fields', 'memory']);
      assert.equal(layout.spans.filter((x) => x.kind === 'data').length, 1, 'the 1 GiB chunks read as one stretch');
      assert.equal(Buffer.from(marker[0].bytes!).toString(), big.marker);
      assert.ok(ms < 500, `the first answers took ${ms.toFixed(0)} ms`);
      console.log(`      open, summary, tree, record, layout and the last page of ${(big.bytes / 2 ** 30).toFixed(1)} GiB: ${ms.toFixed(0)} ms`);
    } finally {
      big.remove();
    }
  });
});
