// Damaged, truncated and hostile images: each gives a clear problem that names the record, the
// field and the file offset, and none crashes, hangs or allocates without bound.

import assert from 'node:assert/strict';
import { CheckpointImage, ImageError, ImageProblem, RecordType, verifyImage } from '../../src/image';
import { encodePayload, ImageWriter } from '../../src/image/write/imageWriter';
import { flipByte, rawRecords, setHeaderField } from '../support/imageEdit';
import { buildSample, PAGE } from '../support/sampleImage';

const sample = buildSample();
const records = rawRecords(sample.bytes);
const indexOfType = (type: number) => records.findIndex((r) => r.type === type);

async function openError(bytes: Uint8Array): Promise<ImageError> {
  try {
    const img = await CheckpointImage.open(bytes);
    await img.close();
  } catch (e) {
    assert.ok(e instanceof ImageError, `expected an ImageError, got ${(e as Error).stack}`);
    return e;
  }
  assert.fail('the image opened');
}

async function problemsOf(bytes: Uint8Array, full = false): Promise<ImageProblem[]> {
  const img = await CheckpointImage.open(bytes);
  try {
    return full ? (await verifyImage(img)).problems : img.problems;
  } finally {
    await img.close();
  }
}

describe('corrupt images', () => {
  it('rejects a file that is not an image', async () => {
    const e = await openError(Buffer.from('#!/bin/sh\necho this is a shell script, not a checkpoint image\n'));
    assert.equal(e.code, 'bad-magic');
    assert.equal(e.message, 'record #0, field \'magic\', file offset 0x20: not a ckpt image: the head magic "CKPTIMG\\n" is missing');
    assert.equal((await openError(new Uint8Array(10))).code, 'not-an-image');
  });

  it('rejects a bad magic in the head', async () => {
    const e = await openError(flipByte(sample.bytes, 32 + 3));
    assert.equal(e.code, 'bad-magic');
    assert.equal(e.problem.offset, 0x20);
  });

  it('rejects another major version and names the field', async () => {
    const w = ImageWriter.inMemory();
    w.head({ versionMajor: 3 });
    w.tail();
    const e = await openError(w.bytes());
    assert.equal(e.code, 'bad-version');
    assert.equal(e.message, "record #0 HEAD (tag 1), field 'version_major', file offset 0x28: expected 2, found 3");
  });

  it('reports truncation at every record boundary', async () => {
    for (let i = 1; i < records.length; i++) {
      const cut = sample.bytes.subarray(0, records[i].offset);
      const problems = await problemsOf(cut);
      assert.deepEqual(
        problems.map((p) => p.code),
        ['truncated'],
        `cut before record #${i}`,
      );
      assert.equal(problems[0].message, `file offset 0x${records[i].offset.toString(16)}: no tail record: the image is truncated after record #${i - 1}`);
    }
  });

  it('reports truncation inside a header and inside a payload', async () => {
    for (let i = 1; i < records.length; i++) {
      const r = records[i];
      const inHeader = await problemsOf(sample.bytes.subarray(0, r.offset + 13));
      assert.deepEqual(
        inHeader.map((p) => [p.code, p.record, p.offset]),
        [['truncated', i, r.offset]],
      );
      assert.match(inHeader[0].message, /ends 13 bytes into a record header: it is truncated/);
      if (r.len === 0) continue;
      const inPayload = await problemsOf(sample.bytes.subarray(0, r.payloadOffset + Math.floor(r.len / 2)));
      assert.deepEqual(
        inPayload.map((p) => [p.code, p.record, p.field]),
        [['bad-length', i, 'len']],
      );
      assert.match(
        inPayload[0].message,
        new RegExp(
          `^record #${i} [A-Z_]+ \\(tag ${r.tag}\\), field 'len', file offset 0x${(r.offset + 8).toString(16)}: payload length ${r.len} runs past the end of the file \\(${Math.floor(r.len / 2)} bytes left\\)`,
        ),
      );
    }
  });

  it('cannot open an image cut inside its head', async () => {
    assert.equal((await openError(sample.bytes.subarray(0, 20))).code, 'not-an-image');
    assert.equal((await openError(sample.bytes.subarray(0, records[1].offset - 8))).code, 'bad-length');
  });

  it('reports a length past the end, and a huge length, without reading it', async () => {
    const vma = indexOfType(RecordType.VMA);
    for (const len of [records[vma].len + sample.bytes.length, 0xffffffff]) {
      const problems = await problemsOf(setHeaderField(sample.bytes, vma, 'len', len));
      assert.deepEqual(problems.map((p) => [p.code, p.record, p.field]).slice(0, 1), [['bad-length', vma, 'len']]);
      assert.match(problems[0].message, new RegExp(`payload length ${len} runs past the end of the file`));
    }
  });

  it('reports a damaged header checksum and stops there', async () => {
    const fd = indexOfType(RecordType.FD);
    const problems = await problemsOf(setHeaderField(sample.bytes, fd, 'len', records[fd].len + 8, { resum: false }));
    assert.deepEqual(
      problems.map((p) => [p.code, p.record]),
      [['bad-header-checksum', fd]],
    );
    assert.match(problems[0].message, /record header is damaged \(header_sum mismatch\)/);
  });

  it('reports a damaged payload by its checksum', async () => {
    const thread = indexOfType(RecordType.THREAD);
    const problems = await problemsOf(flipByte(sample.bytes, records[thread].payloadOffset + 40));
    assert.deepEqual(
      problems.map((p) => [p.code, p.record, p.tag, p.offset]),
      [['bad-checksum', thread, records[thread].tag, records[thread].offset]],
    );
    assert.equal(problems[0].message, `record #${thread} THREAD (tag ${records[thread].tag}), file offset 0x${records[thread].offset.toString(16)}: the payload is damaged (payload_sum mismatch)`);
  });

  it('finds a damaged page only when verifying, and names its address', async () => {
    const pages = records[indexOfType(RecordType.PAGES)];
    const bytes = flipByte(sample.bytes, pages.payloadOffset + PAGE + 7);
    assert.deepEqual(await problemsOf(bytes), [], 'opening never reads page bytes');
    const problems = await problemsOf(bytes, true);
    assert.deepEqual(
      problems.map((p) => [p.code, p.offset]),
      [['bad-page-hash', pages.payloadOffset + PAGE]],
    );
    assert.match(problems[0].message, /PAGES .*: page at 0x55555555b000 does not match its hash in pagemap tag \d+/);
  });

  it('refuses page data without per-page hashes, and metadata that claims to be page data', async () => {
    // The one rule of the .ksy grammar: pages carry page_hashed, every other record no flags, so
    // that no metadata record can escape its payload_sum by claiming to be page data.
    const plain = buildSample({ unhashedPages: true });
    const pages = rawRecords(plain.bytes).find((r) => r.type === RecordType.PAGES)!;
    const problems = await problemsOf(plain.bytes);
    assert.deepEqual(
      problems.map((p) => [p.code, p.offset]),
      [['bad-flags', pages.offset + 4]],
    );
    assert.match(problems[0].message, /PAGES \(tag \d+\), field 'flags', .*: header flags 0x0, a PAGES record has 0x1$/);
    const vmaIndex = rawRecords(sample.bytes).findIndex((r) => r.type === RecordType.VMA);
    const flagged = setHeaderField(sample.bytes, vmaIndex, 'flags', 1);
    assert.deepEqual(
      (await problemsOf(flagged)).map((p) => p.code),
      ['bad-flags', 'bad-tail'],
    );
  });

  it('reports a damaged tail', async () => {
    const tail = records.length - 1;
    // Change a header field and fix its header checksum: only the tail's sum of headers can tell.
    const edited = setHeaderField(sample.bytes, indexOfType(RecordType.THREAD), 'reserved', 7);
    const problems = await problemsOf(edited);
    assert.deepEqual(
      problems.map((p) => [p.code, p.record, p.field]),
      [['bad-tail', tail, 'headers_sum']],
    );
    assert.match(problems[0].message, /headers_sum 0x[0-9a-f]+ does not match the headers \(0x[0-9a-f]+\): a record was changed, added or removed/);
  });

  it('reports a dangling ptag', async () => {
    const w = ImageWriter.inMemory();
    w.head();
    const proc = w.record('process', { pid: 1, nthreads: 1 });
    w.record('thread', { tid: 1 }, { ptag: 4242 });
    w.record('thread', { tid: 2 }, { ptag: proc });
    w.tail();
    const problems = await problemsOf(w.bytes());
    assert.deepEqual(
      problems.map((p) => [p.code, p.record, p.field]),
      [['dangling-ptag', 2, 'ptag']],
    );
    assert.match(problems[0].message, /^record #2 THREAD \(tag 3\), field 'ptag', file offset 0x[0-9a-f]+: ptag 4242 names no record$/);
    const img = await CheckpointImage.open(w.bytes());
    assert.equal(img.children().length, 4, 'the orphan is shown at the top level');
  });

  it('reports a cyclic ptag without looping', async () => {
    const w = ImageWriter.inMemory();
    w.head();
    const proc = w.record('process', { pid: 1, nthreads: 0 });
    // mm (tag 3) names the files record (tag 4) as parent, and files names mm.
    w.record('mm', {}, { ptag: 4, tag: 3 });
    w.record('files', {}, { ptag: 3, tag: 4 });
    w.record('sigactions', {}, { ptag: proc });
    w.tail();
    const problems = await problemsOf(w.bytes());
    const cyc = problems.find((p) => p.code === 'cyclic-ptag')!;
    assert.ok(cyc, JSON.stringify(problems));
    assert.equal(cyc.record, 2);
    assert.match(cyc.message, /ptag chain 3 -> 4 -> 3 is a cycle/);
    const img = await CheckpointImage.open(w.bytes());
    assert.ok(img.children().length >= 3);
  });

  it('reports duplicate and zero tags', async () => {
    const w = ImageWriter.inMemory();
    w.head();
    w.record('process', { pid: 1 }, { tag: 2 });
    w.record('process', { pid: 2 }, { tag: 2 });
    w.tail();
    assert.deepEqual(
      (await problemsOf(w.bytes())).map((p) => p.code),
      ['duplicate-tag'],
    );
    const proc = indexOfType(RecordType.PROCESS);
    // The process's six children lose their parent; the tail's sum of headers sees the change.
    assert.deepEqual((await problemsOf(setHeaderField(sample.bytes, proc, 'tag', 0))).map((p) => p.code).sort(), ['bad-tag', 'bad-tail', ...Array(6).fill('dangling-ptag')]);
  });

  it('stops on hostile counts at once, naming the field', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['pagemap', { nruns: 0xffffffff, npages: 0, runs: [], pageHashes: new Uint8Array(0) }, 'nruns'],
      ['pagemap', { nruns: 0, npages: 0x7fffffff, pageHashes: new Uint8Array(0) }, 'npages'],
      ['process', { pid: 1, ngroups: 0xfffffff0 }, 'ngroups'],
    ];
    for (const [label, value, field] of cases) {
      const w = ImageWriter.inMemory();
      w.head();
      const proc = w.record('process', { pid: 1 });
      const mm = w.record('mm', {}, { ptag: proc });
      if (label === 'pagemap') w.record('pagemap', value, { ptag: mm });
      else w.raw(RecordType.PROCESS, encodePayload('process', value));
      w.tail();
      const img = await CheckpointImage.open(w.bytes());
      const r = img.ofType(label === 'pagemap' ? RecordType.PAGEMAP : RecordType.PROCESS).at(-1)!;
      const t0 = performance.now();
      await assert.rejects(img.decode(r), (e: unknown) => {
        assert.ok(e instanceof ImageError);
        assert.equal(e.problem.field, field);
        assert.match(e.message, new RegExp(`record #${r.index} [A-Z]+ \\(tag ${r.tag}\\), field '${field}', file offset 0x[0-9a-f]+: value \\d+ does not fit in the rest of the payload`));
        return true;
      });
      assert.ok(performance.now() - t0 < 50, 'no loop over a hostile count');
    }
  });

  it('names the field and offset of a string that runs past its payload', async () => {
    const w = ImageWriter.inMemory();
    w.head();
    const proc = w.record('process', { pid: 1 });
    const mm = w.record('mm', {}, { ptag: proc });
    const vma = Buffer.from(encodePayload('vma', { start: 0x1000n, end: 0x2000n, path: 'abc' }));
    vma.writeUInt32LE(1000, vma.length - 7); // path.len: 3 -> 1000
    w.raw(RecordType.VMA, vma, { ptag: mm });
    w.tail();
    const img = await CheckpointImage.open(w.bytes());
    const r = img.ofType(RecordType.VMA)[0];
    await assert.rejects(img.decode(r), (e: unknown) => {
      assert.ok(e instanceof ImageError);
      assert.equal(e.problem.field, 'path.len');
      assert.equal(e.problem.offset, r.payloadOffset + vma.length - 7);
      return true;
    });
  });

  it('notes data after the tail', async () => {
    const problems = await problemsOf(Buffer.concat([sample.bytes, Buffer.alloc(64)]));
    assert.deepEqual(
      problems.map((p) => p.code),
      ['misplaced-record'],
    );
    assert.match(problems[0].message, /64 bytes follow the tail record/);
  });

  it('survives thousands of random mutations with only ImageErrors', async function () {
    this.timeout(60000);
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let opened = 0,
      rejected = 0;
    for (let iter = 0; iter < 1500; iter++) {
      let bytes: Uint8Array = Uint8Array.from(sample.bytes);
      const kind = rand(4);
      if (kind === 0) for (let k = 0; k < 1 + rand(4); k++) bytes[rand(bytes.length)] ^= 1 << rand(8);
      else if (kind === 1) bytes = bytes.subarray(0, rand(bytes.length));
      else {
        // Rewrite a header field to a random or extreme value with a valid header_sum, so
        // that the damage reaches the payload decoders and the tree.
        const i = rand(records.length);
        const field = (['type', 'len', 'tag', 'ptag', 'flags'] as const)[rand(5)];
        const v = [0, 1, 0xffffffff, rand(0x10000), records[rand(records.length)].tag][rand(5)];
        bytes = setHeaderField(bytes, i, field, v);
        if (kind === 3) for (let k = 0; k < 4; k++) bytes[records[i].payloadOffset + rand(Math.max(1, records[i].len))] ^= 0xff;
      }
      try {
        const img = await CheckpointImage.open(bytes);
        opened++;
        await verifyImage(img);
        for (const r of img.records) await img.decode(r).catch((e) => assert.ok(e instanceof ImageError, (e as Error).stack));
        const mem = await img.memory().catch((e) => assert.ok(e instanceof ImageError || /no process/.test((e as Error).message), (e as Error).stack));
        if (mem) await mem.read(0x55555555a000n, 8192);
        await img.close();
      } catch (e) {
        assert.ok(e instanceof ImageError, `iteration ${iter}: ${(e as Error).stack}`);
        rejected++;
      }
    }
    assert.ok(opened > 100 && rejected > 10, `${opened} opened, ${rejected} rejected`);
  });
});
