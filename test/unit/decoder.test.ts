import assert from 'node:assert/strict';
import { CheckpointImage, Ckpt, describeRecord, payloadJson, recordTypeName, RecordType, renderFields, schema, summarizeImage, verifyImage } from '../../src/image';
import { payloadStream } from '../../src/image/bigintStream';
import { encodePayload, ImageWriter } from '../../src/image/write/imageWriter';
import { BIG_R15, buildSample, HEAP, HEAP_STRING, HEAP_STRING_ADDR, PAGE, SECRET_ENV, STACK } from '../support/sampleImage';

describe('decoder: a sound image', () => {
  let img: CheckpointImage;
  const sample = buildSample();
  before(async () => {
    img = await CheckpointImage.open(sample.bytes);
  });
  after(() => img.close());

  it('indexes every record and finds no problem', () => {
    assert.deepEqual(img.problems, []);
    assert.equal(img.complete, true);
    assert.equal(img.records[0].type, RecordType.HEAD);
    assert.equal(img.records[img.records.length - 1].type, RecordType.TAIL);
    // Records start on 8-byte boundaries and page data on a page boundary.
    for (const r of img.records) assert.equal(r.offset % 8, 0);
    const pages = img.ofType(RecordType.PAGES);
    assert.equal(pages.length, 1);
    assert.equal(pages[0].payloadOffset % PAGE, 0);
  });

  it('builds the tree from ptags', () => {
    const top = img.children().map((r) => recordTypeName(r.type));
    assert.deepEqual(top, ['HEAD', 'PROCESS', 'PAD', 'FILE', 'FILE', 'FILE', 'FILE', 'TAIL']);
    const proc = img.byTag(sample.tags.process)!;
    assert.deepEqual(
      img.children(proc).map((r) => recordTypeName(r.type)),
      ['THREAD', 'THREAD', 'MM', 'FILES', 'SIGACTIONS', 'PENDING_SIGNALS'],
    );
    const mm = img.byTag(sample.tags.mm)!;
    assert.deepEqual(
      img.children(mm).map((r) => recordTypeName(r.type)),
      ['VMA', 'VMA', 'VMA', 'VMA', 'VMA', 'PAGEMAP'],
    );
    const pm = img.byTag(sample.tags.pagemap)!;
    assert.deepEqual(
      img.children(pm).map((r) => recordTypeName(r.type)),
      ['PAGES'],
    );
    assert.equal(img.parent(pm), mm);
  });

  it('decodes payloads with the generated classes, 64-bit values exactly', async () => {
    const t = await img.decodeAs(img.byTag(sample.tags.mainThread)!, 'thread');
    assert.equal(typeof t.regs.r15, 'bigint');
    assert.equal(t.regs.r15, BIG_R15); // above 2^53: a Number would have rounded it
    assert.notEqual(Number(BIG_R15).toString(16), BIG_R15.toString(16));
    assert.equal(t.regs.origRax, 0xffffffffffffffffn);
    assert.equal(t.comm.value, 'demo');
    const p = await img.decodeAs(img.byTag(sample.tags.process)!, 'process');
    assert.equal(p.pid, 4242);
    assert.equal(p.rlimits[7].cur, 1024n);
    assert.deepEqual(p.groups, [1000, 27]);
  });

  it('renders fields from the schema, with hex for addresses and strings for 64-bit JSON', async () => {
    const r = img.byTag(sample.tags.mainThread)!;
    const t = await img.decode(r);
    const fields = renderFields('thread', t as never);
    const regs = fields.find((f) => f.name === 'regs')!;
    const r15 = regs.children!.find((f) => f.name === 'r15')!;
    assert.equal(r15.display, '0xfedcba9876543211');
    assert.equal(r15.json, '0xfedcba9876543211');
    assert.match(r15.doc ?? '', /r15/);
    // Offsets point at the field's bytes in the payload.
    const payload = await img.readPayload(r);
    const dv = new DataView(payload.buffer, payload.byteOffset);
    assert.equal(dv.getBigUint64(r15.offset, true), BIG_R15);
    assert.equal(r15.size, 8);
    const flags = fields.find((f) => f.name === 'flags')!;
    assert.equal(flags.display, 'main_thread (0x1)');
    const json = payloadJson('process', (await img.decode(img.byTag(sample.tags.process)!)) as object);
    assert.deepEqual(json.cmdline, ['demo', '--interval', '5']);
    assert.deepEqual(json.environ, ['HOME=/home/user', SECRET_ENV]);
    assert.equal((json.rlimits as Array<{ cur: string }>)[0].cur, '18446744073709551615');
  });

  it('decodes kind-specific file data through the switch, each fd naming its open file description', async () => {
    const fds = img.children(img.byTag(sample.tags.files)!);
    const fd5 = await img.decodeAs(fds[3], 'fd');
    const epollRecord = img.fileRecord(fd5)!;
    const epoll = await img.decodeAs(epollRecord, 'file');
    assert.equal(epoll.kind, Ckpt.FdKind.EPOLL);
    const e = epoll.extra as Ckpt.FdEpoll;
    assert.equal(e.targets[0].data, 0xdeadbeefcafef00dn);
    const pipeRecord = img.fileRecord(await img.decodeAs(fds[2], 'fd'))!;
    assert.equal(e.targets[0].file, pipeRecord.tag, 'an epoll target names the file it watches');
    const rendered = renderFields('file', epoll as never);
    const extra = rendered.find((f) => f.name === 'extra')!;
    assert.deepEqual(extra.json, { count: 1, targets: [{ tfd: 3, file: pipeRecord.tag, events: 1, data: '0xdeadbeefcafef00d' }] });
    const pipe = (await img.decodeAs(pipeRecord, 'file')).extra as Ckpt.FdPipe;
    assert.equal(Buffer.from(pipe.data.value).toString(), 'buffered');
    assert.deepEqual(
      (await img.holdersOf(pipeRecord.tag)).map((h) => h.fd),
      [3],
      'the pipe is held by fd 3',
    );
  });

  it('describes records in one line each', async () => {
    const d = await describeRecord(img, img.byTag(sample.tags.mainThread)!);
    assert.equal(d.title, 'THREAD');
    assert.equal(d.detail, 'tid 4242 "demo" rip 0x555555556123 rsp 0x7ffcd0001f00');
    const vma = await describeRecord(img, img.children(img.byTag(sample.tags.mm)!)[1]);
    assert.equal(vma.detail, '0x55555555a000-0x55555557b000 rw-p heap [heap]');
  });

  it('summarises the image', async () => {
    const s = await summarizeImage(img);
    assert.equal(s.version, `${schema.version.major}.${schema.version.minor}`);
    assert.equal(s.kernel, '6.18.0-test');
    assert.equal(s.hostname, 'testhost');
    assert.equal(s.timeNs, '1790000000123456789');
    assert.equal(s.time, '2026-09-21T14:13:20.123Z');
    assert.deepEqual(s.flags, ['left_running']);
    assert.equal(s.processes.length, 1);
    const p = s.processes[0];
    assert.deepEqual([p.pid, p.comm, p.exe, p.threads.length, p.vmas, p.fds, p.dumpedPages], [4242, 'demo', '/usr/bin/demo', 2, 5, 4, 4]);
    assert.deepEqual(
      p.threads.map((t) => [t.tid, t.comm]),
      [
        [4242, 'demo'],
        [4243, 'worker'],
      ],
    );
  });

  it('reads memory by virtual address, across page boundaries', async () => {
    const mem = await img.memory();
    const pieces = await mem.read(HEAP_STRING_ADDR, HEAP_STRING.length);
    assert.equal(pieces.length, 1);
    assert.equal(pieces[0].state, 'dumped');
    assert.equal(Buffer.from(pieces[0].bytes!).toString(), HEAP_STRING);
    // Past the dumped heap pages: mapped but not dumped; then past the VMA: unmapped.
    const tail = await mem.read(HEAP + 0x20ff0n, 0x20);
    assert.deepEqual(
      tail.map((p) => [p.state, p.length]),
      [
        ['not-dumped', 0x10],
        ['unmapped', 0x10],
      ],
    );
    const stack = await mem.read(STACK + 0x20000n, 4);
    assert.deepEqual([...stack[0].bytes!], [0x5a, 0x5a, 0x5a, 0x5a]);
    assert.equal(stack[0].vma?.path, '[stack]');
  });

  it('verifies page hashes', async () => {
    const report = await verifyImage(img);
    assert.equal(report.ok, true, report.problems.map((p) => p.message).join('\n'));
    assert.equal(report.pagesChecked, 4);
    assert.equal(report.bytesChecked, 4 * PAGE);
  });

  it('parses with the whole-file Kaitai type too, record for record', () => {
    // The .ksy's top-level type (what the Kaitai Web IDE shows) must agree with the streaming index.
    const whole = new Ckpt(payloadStream(sample.bytes));
    whole._read();
    assert.deepEqual(
      whole.records.map((r) => [r.header.type, r.header.tag, r.header.ptag, r.header.len]),
      img.records.map((r) => [r.type, r.tag, r.ptag, r.len]),
    );
    const thread = whole.records.find((r) => r.header.tag === sample.tags.mainThread)!.payload as Ckpt.Thread;
    assert.equal(thread.regs.r15, BIG_R15);
  });

  it('verifies two images at once without mixing up their page hashes', async () => {
    const image = (fill: number) => {
      const w = ImageWriter.inMemory();
      w.head();
      const p = w.record('process', { pid: 1, nthreads: 1 });
      w.mainThread(p, 1);
      const mm = w.record('mm', { nvmas: 1 }, { ptag: p });
      w.record('vma', { start: 0x100000n, end: 0x100000n + 4n * 0x1000000n, prot: 3, kind: 1, path: '' }, { ptag: mm });
      // Several chunks per image, so that the two verifications take turns between reads.
      w.pages(
        mm,
        [0, 1, 2, 3].map((k) => ({ vaddr: 0x100000n + BigInt(k) * 0x1000000n, data: new Uint8Array(64 * PAGE).fill(fill + k) })),
      );
      w.tail();
      return CheckpointImage.open(w.bytes());
    };
    const [a, b] = await Promise.all([image(1), image(100)]);
    const [ra, rb] = await Promise.all([verifyImage(a), verifyImage(b)]);
    assert.deepEqual([ra.ok, rb.ok, ra.pagesChecked, rb.pagesChecked], [true, true, 256, 256], [...ra.problems, ...rb.problems].map((p) => p.message).join('\n'));
  });

  it('re-encodes every decoded payload to the same bytes (round trip)', async () => {
    let checked = 0;
    for (const r of img.records) {
      const decoded = await img.decode(r);
      if (!decoded) continue;
      const typeName = Object.entries(Ckpt.RecordType)
        .find(([, v]) => v === r.type)![0]
        .toLowerCase();
      const again = encodePayload(typeName === 'pending_signals' ? 'pending_signals' : typeName, decoded as never);
      assert.deepEqual(Buffer.from(again), Buffer.from(await img.readPayload(r)), `record #${r.index} ${typeName}`);
      checked++;
    }
    assert.ok(checked >= 15);
  });
});

describe('decoder: evolution', () => {
  it('shows an unknown record type as unknown and reads the rest', async () => {
    const img = await CheckpointImage.open(buildSample({ unknownRecord: true }).bytes);
    const unknown = img.records.find((r) => recordTypeName(r.type) === 'UNKNOWN(0x3e7)')!;
    assert.ok(unknown);
    assert.equal(await img.decode(unknown), undefined);
    assert.deepEqual(
      img.problems.map((p) => p.code),
      ['unknown-type'],
    );
    assert.match(img.problems[0].message, /record #\d+ UNKNOWN\(0x3e7\) \(tag \d+\), file offset 0x[0-9a-f]+: record type 999 is unknown/);
    const report = await verifyImage(img);
    assert.equal(report.ok, true, 'an unknown type is a note, not damage');
  });

  it('reads a later minor version with fields appended to a payload', async () => {
    const w = ImageWriter.inMemory();
    w.head({ versionMinor: 7 });
    const proc = w.record('process', { pid: 1, comm: 'x', nthreads: 1 });
    w.mainThread(proc, 1);
    // A "version 1.7" VMA with 16 bytes of fields this reader does not know after its own.
    const mm = w.record('mm', { nvmas: 1 }, { ptag: proc });
    const vma = encodePayload('vma', { start: 0x1000n, end: 0x2000n, prot: 1, kind: 1, path: 'x' });
    w.raw(RecordType.VMA, Buffer.concat([vma, Buffer.alloc(16, 0xee)]), { ptag: mm });
    w.tail();
    const img = await CheckpointImage.open(w.bytes());
    assert.deepEqual(img.problems, []);
    assert.equal(img.head.versionMinor, 7);
    const v = await img.decodeAs(img.ofType(RecordType.VMA)[0], 'vma');
    assert.equal(v.end, 0x2000n);
    assert.equal(v.path.value, 'x');
  });
});
