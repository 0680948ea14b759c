import assert from 'node:assert/strict';
import { CheckpointImage, compileQuery, parseHexPattern, SearchHit, SearchPatternError, searchAll, searchMemory, SearchQuery } from '../../src/image';
import { ImageWriter, PageRunData } from '../../src/image/write/imageWriter';

const PAGE = 4096;
const HEAP = 0x555555560000n;
const LIB = 0x7f0000000000n;
const BIG = 0x7e0000000000n;

/** Background bytes that none of the patterns below can match: only the bytes 0x80-0xbf. */
function background(seed: number, pages: number): Uint8Array {
  const b = new Uint8Array(pages * PAGE);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < b.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = 0x80 | ((x >>> 16) & 0x3f);
  }
  return b;
}

function plant(buf: Uint8Array, offset: number, what: string | Uint8Array): void {
  buf.set(typeof what === 'string' ? Buffer.from(what) : what, offset);
}

/** What is planted where; the tests look for these. */
const AT = {
  crossPage: HEAP + BigInt(PAGE - 7), // inside one run, across a page boundary
  crossRun: HEAP + BigInt(2 * PAGE - 5), // across two pagemaps with contiguous addresses
  notContiguousHead: HEAP + BigInt(3 * PAGE - 4), // "NOT-" ends the last page before a gap
  notContiguousTail: HEAP + BigInt(4 * PAGE), // "CONTIGUOUS" starts the first page after it
  utf16: HEAP + 0x801n, // an odd address
  upper: HEAP + 0x900n,
  ecole: HEAP + 0x980n,
  hexBytes: HEAP + 0xa00n,
  regex: HEAP + 0xb00n,
  aaaa: HEAP + 0xc00n,
  crossVma: LIB + BigInt(PAGE - 3), // across two adjacent VMAs
  chunk: BIG + 0x20000n - 6n, // across the engine's 128 KiB read boundary
};

function processRecords(w: ImageWriter, pid: number, opts: { bigPages: number }): void {
  const proc = w.record('process', { pid, comm: `p${pid}`, nthreads: 1 });
  w.mainThread(proc, pid);
  const vmas = [
    { start: HEAP, end: HEAP + 0x10000n, prot: 3, kind: 5, path: '[heap]' },
    { start: LIB, end: LIB + BigInt(PAGE), prot: 5, kind: 3, path: '/usr/lib/libdemo.so' },
    { start: LIB + BigInt(PAGE), end: LIB + BigInt(2 * PAGE), prot: 3, kind: 3, path: '/usr/lib/libdemo.so' },
    { start: BIG, end: BIG + BigInt(opts.bigPages * PAGE), prot: 3, kind: 1, path: '' },
  ];
  const mm = w.record('mm', { nvmas: vmas.length }, { ptag: proc });
  for (const v of vmas) w.record('vma', v, { ptag: mm });

  // Heap: pages 0-1 in one pagemap, page 2 in another (contiguous), page 3 missing, page 4 present.
  const heap = background(pid, 5);
  plant(heap, PAGE - 7, 'CROSS-PAGE-SECRET');
  plant(heap, 2 * PAGE - 5, 'CROSS-RUN-SECRET');
  plant(heap, 3 * PAGE - 4, 'NOT-');
  plant(heap, 4 * PAGE, 'CONTIGUOUS');
  plant(heap, 0x801, Buffer.from('Grüße aus dem Speicher', 'utf16le'));
  plant(heap, 0x900, 'HELLO World');
  plant(heap, 0x980, 'ÉCOLE');
  plant(heap, 0xa00, Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]));
  plant(heap, 0xb00, 'user=alice;');
  plant(heap, 0xc00, 'aaaaaaaaa');
  const lib = background(pid + 1, 2);
  plant(lib, PAGE - 3, 'SPANS-TWO-VMAS');
  const big = background(pid + 2, opts.bigPages);
  plant(big, 0x20000 - 6, 'CHUNK-SEAM');
  const page = (b: Uint8Array, i: number, n = 1) => b.subarray(i * PAGE, (i + n) * PAGE);

  const runs1: PageRunData[] = [
    { vaddr: HEAP, data: page(heap, 0, 2) },
    { vaddr: LIB, data: page(lib, 0, 2) },
  ];
  w.pages(mm, runs1);
  w.pages(mm, [
    { vaddr: HEAP + BigInt(2 * PAGE), data: page(heap, 2) },
    { vaddr: HEAP + BigInt(4 * PAGE), data: page(heap, 4) },
  ]);
  w.pages(mm, [{ vaddr: BIG, data: big }]);
}

function buildSearchImage(opts: { pids?: number[]; bigPages?: number } = {}): Uint8Array {
  const w = ImageWriter.inMemory(PAGE);
  w.head();
  for (const pid of opts.pids ?? [100]) processRecords(w, pid, { bigPages: opts.bigPages ?? 64 });
  w.tail();
  return w.bytes();
}

const hexOf = (s: string | Uint8Array) => Buffer.from(s as string).toString('hex');
/** Bytes as a hit carries them: a plain Uint8Array, its own copy. */
const bytesOf = (s: string | Uint8Array) => new Uint8Array(Buffer.from(s as string));
const where = (h: SearchHit) => `${h.pid} ${h.address} ${h.vma?.path ?? '-'} +${h.vmaOffset}`;
async function find(img: CheckpointImage, q: SearchQuery, opts = {}): Promise<string[]> {
  return (await searchAll(img, q, opts)).hits.map(where);
}

describe('searchMemory', () => {
  let img: CheckpointImage;
  before(async () => {
    img = await CheckpointImage.open(buildSearchImage());
  });

  it('finds text across a page boundary, with the VMA, its protection and the context', async () => {
    const r = await searchAll(img, { mode: 'text', pattern: 'CROSS-PAGE-SECRET' }, { context: 8 });
    assert.equal(r.hits.length, 1);
    const heap = background(100, 5);
    const off = PAGE - 7;
    assert.deepEqual(r.hits[0], {
      pid: 100,
      address: `0x${AT.crossPage.toString(16)}`,
      length: 17,
      vma: { start: '0x555555560000', end: '0x555555570000', prot: 'rw-p', kind: 'heap', path: '[heap]' },
      vmaOffset: '0xff9',
      before: bytesOf(heap.subarray(off - 8, off)),
      match: bytesOf('CROSS-PAGE-SECRET'),
      after: bytesOf(heap.subarray(off + 17, off + 25)),
    });
    assert.equal(r.scannedBytes, r.totalBytes);
    assert.equal(r.totalBytes, (2 + 2 + 1 + 1 + 64) * PAGE);
    assert.equal(r.truncated, false);
  });

  it('finds matches across runs and pagemaps when the addresses are contiguous, never across a gap', async () => {
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'CROSS-RUN-SECRET' }), [`100 0x${AT.crossRun.toString(16)} [heap] +0x1ffb`]);
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'NOT-CONTIGUOUS' }), []);
    assert.deepEqual(await find(img, { mode: 'regex', pattern: 'NOT-.?CONTIGUOUS' }), []);
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'CONTIGUOUS' }), [`100 0x${AT.notContiguousTail.toString(16)} [heap] +0x4000`]);
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'NOT-' }), [`100 0x${AT.notContiguousHead.toString(16)} [heap] +0x2ffc`]);
    // Across two VMAs that touch: found, and given the VMA it starts in.
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'SPANS-TWO-VMAS' }), [`100 0x${AT.crossVma.toString(16)} /usr/lib/libdemo.so +0xffd`]);
  });

  it('stops the context where the contiguous memory stops', async () => {
    const [hit] = (await searchAll(img, { mode: 'text', pattern: 'CONTIGUOUS' }, { context: 16 })).hits;
    assert.equal(hit.before.length, 0, 'the page before is not dumped');
    const [head] = (await searchAll(img, { mode: 'text', pattern: 'NOT-' }, { context: 16 })).hits;
    assert.equal(head.after.length, 0, 'nothing after the end of the run');
    assert.equal(head.before.length, 16);
  });

  it('finds every kind of pattern across the boundary between two reads', async () => {
    const at = `100 0x${AT.chunk.toString(16)}  +0x1fffa`;
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'CHUNK-SEAM' }), [at]);
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'chunk-seam', ignoreCase: true }), [at]);
    assert.deepEqual(await find(img, { mode: 'hex', pattern: hexOf('CHUNK-SEAM').replace('53', '??') }), [at]);
    assert.deepEqual(await find(img, { mode: 'regex', pattern: 'CHUNK-[A-Z]{4}' }), [at]);
  });

  it('finds UTF-16LE text at an odd address', async () => {
    const r = await searchAll(img, { mode: 'text', pattern: 'Grüße aus dem Speicher', encoding: 'utf16le' }, { context: 0 });
    assert.deepEqual(r.hits.map(where), [`100 0x${AT.utf16.toString(16)} [heap] +0x801`]);
    assert.deepEqual(Buffer.from(r.hits[0].match), Buffer.from('Grüße aus dem Speicher', 'utf16le'));
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'Grüße aus dem Speicher' }), [], 'not as UTF-8');
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'GRÜSSE', encoding: 'utf16le', ignoreCase: true }), []);
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'GRÜßE AUS', encoding: 'utf16le', ignoreCase: true }), [`100 0x${AT.utf16.toString(16)} [heap] +0x801`]);
  });

  it('ignores case when asked, in ASCII and beyond', async () => {
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'hello world' }), []);
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'hello world', ignoreCase: true }), [`100 0x${AT.upper.toString(16)} [heap] +0x900`]);
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'école' }), []);
    assert.deepEqual(await find(img, { mode: 'text', pattern: 'école', ignoreCase: true }), [`100 0x${AT.ecole.toString(16)} [heap] +0x980`]);
  });

  it('finds hex bytes with ?? and half-byte wildcards', async () => {
    const at = [`100 0x${AT.hexBytes.toString(16)} [heap] +0xa00`];
    assert.deepEqual(await find(img, { mode: 'hex', pattern: 'de ad be ef' }), at);
    assert.deepEqual(await find(img, { mode: 'hex', pattern: 'DEADBEEF0102' }), at);
    assert.deepEqual(await find(img, { mode: 'hex', pattern: 'de ad ?? ef' }), at);
    assert.deepEqual(await find(img, { mode: 'hex', pattern: '?? ad be ?? 01' }), at);
    assert.deepEqual(await find(img, { mode: 'hex', pattern: 'd? a? be e? 0x01' }), at);
    assert.deepEqual(await find(img, { mode: 'hex', pattern: 'de ad ?? ee' }), []);
    const [hit] = (await searchAll(img, { mode: 'hex', pattern: 'de ad ?? ef' })).hits;
    assert.deepEqual(Buffer.from(hit.match), Buffer.from('deadbeef', 'hex'));
  });

  it('finds regular expressions, over bytes', async () => {
    const r = await searchAll(img, { mode: 'regex', pattern: 'user=[a-z]+;' });
    assert.deepEqual(r.hits.map(where), [`100 0x${AT.regex.toString(16)} [heap] +0xb00`]);
    assert.equal(r.hits[0].length, 11);
    assert.deepEqual(await find(img, { mode: 'regex', pattern: 'USER=ALICE', ignoreCase: true }), [`100 0x${AT.regex.toString(16)} [heap] +0xb00`]);
    assert.deepEqual(await find(img, { mode: 'regex', pattern: '\\xde\\xad.\\xef' }), [`100 0x${AT.hexBytes.toString(16)} [heap] +0xa00`]);
    assert.deepEqual(await find(img, { mode: 'regex', pattern: 'ÉCOLE' }), [`100 0x${AT.ecole.toString(16)} [heap] +0x980`]);
  });

  it('reports matches that do not overlap, in address order', async () => {
    const r = await searchAll(img, { mode: 'text', pattern: 'aaaa' });
    assert.deepEqual(
      r.hits.map((h) => h.address),
      [`0x${AT.aaaa.toString(16)}`, `0x${(AT.aaaa + 4n).toString(16)}`],
    );
  });

  it('searches every process, or the one asked for', async () => {
    const two = await CheckpointImage.open(buildSearchImage({ pids: [100, 200] }));
    assert.deepEqual(await find(two, { mode: 'text', pattern: 'CROSS-RUN' }), ['100 0x555555561ffb [heap] +0x1ffb', '200 0x555555561ffb [heap] +0x1ffb']);
    assert.deepEqual(await find(two, { mode: 'text', pattern: 'CROSS-RUN' }, { pid: 200 }), ['200 0x555555561ffb [heap] +0x1ffb']);
    await assert.rejects(searchAll(two, { mode: 'text', pattern: 'x' }, { pid: 300 }), /no process with pid 300/);
  });

  it('stops at maxHits and says so', async () => {
    const r = await searchAll(img, { mode: 'regex', pattern: '[A-Z]{4}' }, { maxHits: 3 });
    assert.equal(r.hits.length, 3);
    assert.equal(r.truncated, true);
    assert.ok(r.scannedBytes < r.totalBytes);
  });

  it('rejects patterns it cannot search for, with a reason', () => {
    const bad: [SearchQuery, RegExp][] = [
      [{ mode: 'text', pattern: '' }, /empty/],
      [{ mode: 'hex', pattern: 'de ad b' }, /not hex bytes/],
      [{ mode: 'hex', pattern: 'xy' }, /not hex bytes/],
      [{ mode: 'hex', pattern: '?? ??' }, /at least one whole byte/],
      [{ mode: 'hex', pattern: 'de ad', ignoreCase: true }, /ignoring case/],
      [{ mode: 'regex', pattern: 'a(' }, /invalid regular expression/],
      [{ mode: 'regex', pattern: 'a', encoding: 'utf16le' }, /UTF-16 applies to text/],
    ];
    for (const [q, message] of bad)
      assert.throws(
        () => compileQuery(q),
        (e: Error) => e instanceof SearchPatternError && message.test(e.message),
        JSON.stringify(q),
      );
    assert.deepEqual(parseHexPattern('4? ?a ff'), { value: Uint8Array.from([0x40, 0x0a, 0xff]), mask: Uint8Array.from([0xf0, 0x0f, 0xff]) });
  });

  it('agrees with a plain search of each contiguous stretch, on random layouts and patterns', async function () {
    this.timeout(20000);
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let trial = 0; trial < 10; trial++) {
      // A word planted many times, near page and run ends too, in bytes that cannot be text.
      const word = Buffer.from(Array.from({ length: 3 + rnd(4) }, () => 'abA'.charCodeAt(rnd(3))));
      // Runs of pages, some touching the one before, some after a gap; some longer than a read.
      const runs: { vaddr: bigint; data: Uint8Array }[] = [];
      let addr = 0x10000000n;
      for (let i = 0, n = 2 + rnd(6); i < n; i++) {
        if (i > 0 && rnd(2)) addr += BigInt((1 + rnd(3)) * PAGE);
        const pages = rnd(4) === 0 ? 33 + rnd(40) : 1 + rnd(3);
        const data = new Uint8Array(pages * PAGE);
        for (let k = 0; k < data.length; k++) data[k] = rnd(16) === 0 ? 'abA'.charCodeAt(rnd(3)) : 0x80 + rnd(64);
        for (let k = 0; k < 8 * pages; k++) {
          const at = rnd(4) === 0 ? Math.max(0, (1 + rnd(pages)) * PAGE - rnd(word.length + 1)) : rnd(data.length);
          data.set(word.subarray(0, data.length - at), at);
        }
        runs.push({ vaddr: addr, data });
        addr += BigInt(pages * PAGE);
      }
      const w = ImageWriter.inMemory(PAGE);
      w.head();
      const proc = w.record('process', { pid: 7, nthreads: 1 });
      w.mainThread(proc, 7);
      const mm = w.record('mm', { nvmas: 1 }, { ptag: proc });
      w.record('vma', { start: 0x10000000n, end: addr, prot: 3, kind: 1, path: '' }, { ptag: mm });
      for (let i = 0; i < runs.length;) {
        const n = 1 + rnd(3);
        w.pages(mm, runs.slice(i, i + n));
        i += n;
      }
      w.tail();
      const image = await CheckpointImage.open(w.bytes());
      // The contiguous stretches, as the engine must see them.
      const stretches: { start: bigint; bytes: Buffer }[] = [];
      for (const r of runs) {
        const last = stretches[stretches.length - 1];
        if (last && last.start + BigInt(last.bytes.length) === r.vaddr) last.bytes = Buffer.concat([last.bytes, r.data]);
        else stretches.push({ start: r.vaddr, bytes: Buffer.from(r.data) });
      }
      /** Non-overlapping matches, leftmost first, in each stretch; `prepare` gives the test at each position. */
      const expect = (prepare: (b: Buffer) => (i: number) => number) => {
        const out: string[] = [];
        for (const st of stretches) {
          const test = prepare(st.bytes);
          for (let i = 0; i < st.bytes.length;) {
            const len = test(i);
            if (len > 0) {
              out.push(`0x${(st.start + BigInt(i)).toString(16)}/${len}`);
              i += len;
            } else i++;
          }
        }
        return out;
      };
      const got = async (q: SearchQuery) => (await searchAll(image, q, { context: rnd(3) * 20 })).hits.map((h) => `${h.address}/${h.length}`);
      for (let k = 0; k < 3; k++) {
        // A piece of the data around a planted word, with some bytes made wildcards.
        const src = runs[rnd(runs.length)].data;
        const at = Math.max(0, src.indexOf(word[0], rnd(src.length - 16)) - rnd(3));
        const lit = Buffer.from(src.subarray(at, at + 2 + rnd(10)));
        const mask = Array.from(lit, () => (rnd(4) === 0 ? 0 : 0xff));
        mask[rnd(mask.length)] = 0xff;
        const hex = Array.from(lit, (b, i) => (mask[i] ? b.toString(16).padStart(2, '0') : '??')).join(' ');
        assert.deepEqual(
          await got({ mode: 'hex', pattern: hex }),
          expect((b) => (i) => (i + lit.length <= b.length && lit.every((x, j) => !mask[j] || b[i + j] === x) ? lit.length : 0)),
          `trial ${trial}: ${hex}`,
        );
      }
      const ascii = word.toString('latin1');
      const msg = `trial ${trial}: ${ascii}`;
      assert.deepEqual(
        await got({ mode: 'text', pattern: ascii }),
        expect((b) => (i) => (b.subarray(i, i + word.length).equals(word) ? word.length : 0)),
        msg,
      );
      const folded = ascii.toLowerCase();
      assert.deepEqual(
        await got({ mode: 'text', pattern: ascii.toUpperCase(), ignoreCase: true }),
        expect((b) => {
          const lower = b.toString('latin1').toLowerCase();
          return (i) => (lower.startsWith(folded, i) ? word.length : 0);
        }),
        msg,
      );
      const re = /a[abA]{0,6}b/y;
      assert.deepEqual(
        await got({ mode: 'regex', pattern: re.source }),
        expect((b) => {
          const text = b.toString('latin1');
          return (i) => {
            re.lastIndex = i;
            const m = re.exec(text);
            return m ? m[0].length : 0;
          };
        }),
        `trial ${trial}: regex`,
      );
    }
  });

  describe('on a larger image', () => {
    let big: CheckpointImage;
    before(async () => {
      big = await CheckpointImage.open(buildSearchImage({ bigPages: 4096 })); // 16 MiB
    });

    it('yields hits while it is still reading, and reports progress to the end', async () => {
      const seen: number[] = [];
      let scannedAtFirstHit = -1;
      const it = searchMemory(big, { mode: 'text', pattern: 'CROSS-PAGE-SECRET' }, { onProgress: (p) => seen.push(p.scannedBytes) });
      for await (const _ of it) if (scannedAtFirstHit < 0) scannedAtFirstHit = seen.length;
      assert.equal(scannedAtFirstHit, 0, 'the first hit came before any progress report');
      assert.ok(seen.length >= 2);
      assert.equal(seen[seen.length - 1], (2 + 2 + 1 + 1 + 4096) * PAGE);
    });

    it('stops when cancelled, before or during the search', async () => {
      const pre = new AbortController();
      pre.abort();
      await assert.rejects(searchAll(big, { mode: 'text', pattern: 'nothing here' }, { signal: pre.signal }), { name: 'AbortError' });
      const mid = new AbortController();
      let last = 0;
      await assert.rejects(searchAll(big, { mode: 'text', pattern: 'nothing here' }, { signal: mid.signal, onProgress: (p) => ((last = p.scannedBytes), mid.abort()) }), { name: 'AbortError' });
      assert.ok(last > 0 && last < 4096 * PAGE, `stopped after ${last} bytes`);
    });
  });
});
