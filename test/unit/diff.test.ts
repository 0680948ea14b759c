import assert from 'node:assert/strict';
import { BufferByteSource, CheckpointImage, Ckpt, compareImages, decodePayload, DiffNode, matchVmas, payloadTypeName, RecordType, VmaInfo } from '../../src/image';
import { checkpointPageBytes, CkptCheckpoint } from '../../src/checkpoint';
import { equalDecoded } from '../../src/image/diff/fieldDiff';
import { diffHashArrays } from '../../src/image/diff/hashDiff';
import { baseProcess, baseSpec, buildImage, copySpec, EXE, HEAP, ImageSpec, PAGE, pageBytes, STACK } from './diffImages';

const open = (spec: ImageSpec) => CheckpointImage.open(buildImage(spec));

/** Every node, field change and page range of a diff, one readable string each, as a tree. */
function outline(nodes: DiffNode[]): unknown[] {
  return nodes.map((n) => ({
    [`${n.change} ${n.kind} ${n.key}`]: [
      ...n.fields.map((f) => `${f.path}: ${JSON.stringify(f.a)} -> ${JSON.stringify(f.b)}`),
      ...(n.pages?.ranges.map((r) => `${r.change} ${r.start}-${r.end} (${r.pages})`) ?? []),
      ...outline(n.children),
    ],
  }));
}

const zero = { added: 0, removed: 0, changed: 0 };
const noCounts = { image: zero, process: zero, thread: zero, mm: zero, vma: zero, fd: zero, signal: zero, rlimit: zero, 'pending-signal': zero, timer: zero, 'inotify-watch': zero, unsupported: zero };

/** A: the base spec plus an anonymous VMA with one page, which B drops. */
function specA(): ImageSpec {
  const A = baseSpec();
  A.processes[0].vmas.push({ start: 0x7e0000000000n, end: 0x7e0000001000n, prot: 3, kind: Ckpt.VmaKind.ANON_PRIVATE, path: '' });
  A.processes[0].pagemaps[1].unshift({ vaddr: 0x7e0000000000n, data: pageBytes(9) });
  return A;
}

/** B: A with a known list of changes, written in the opposite record order, 5 s later. */
function specB(A: ImageSpec): ImageSpec {
  const B = copySpec(A);
  B.timeNs = 1_790_000_005_000_000_000n;
  B.reverse = true;
  const p = B.processes[0];
  p.threads[1].rip = 0x7f12345a0010n;
  p.threads[1].sigmask = 0n;
  p.threads.push({ tid: 4250, comm: 'io', rip: 0x7f12345b0000n, rsp: 0x7f1232fff000n, pending: [12] });
  p.environ = ['HOME=/root', 'PATH=/usr/bin', 'LANG=C.UTF-8'];
  p.cmdline = ['demo', '--interval', '10'];
  // The heap grows by a page, which is dumped; one byte of its second page changes.
  p.vmas[1].end = HEAP + 0x22000n;
  p.brk = HEAP + 0x22000n;
  p.pagemaps[0][0].data[PAGE + 100] ^= 1;
  p.pagemaps[0].push({ vaddr: HEAP + 0x21000n, data: pageBytes(7) });
  p.vmas[2].prot = 3;
  p.vmas[0].inode = 5678n;
  p.vmas[0].path = '/usr/bin/demo.new';
  p.vmas = p.vmas.filter((v) => v.start !== 0x7e0000000000n);
  p.pagemaps[1] = p.pagemaps[1].filter((r) => r.vaddr !== 0x7e0000000000n);
  p.vmas.push({ start: 0x7f0000000000n, end: 0x7f0000002000n, prot: 3, kind: Ckpt.VmaKind.ANON_PRIVATE, path: '' });
  p.pagemaps[1].push({ vaddr: 0x7f0000001000n, data: pageBytes(8) });
  p.fds[1].pos = 456n;
  p.fds = p.fds.filter((f) => f.fd !== 3);
  p.fds.push({ fd: 7, kind: Ckpt.FdKind.REGULAR, flags: 0, path: '/etc/hosts', mode: 0o100644 });
  p.handlers[2].handler = 0x555555556300n;
  p.handlers[15] = { handler: 1n };
  p.rlimits[7].cur = 4096n;
  p.pending = [10, 12];
  B.processes[1] = { ...baseProcess(4400), comm: 'other' };
  return B;
}

/** What the diff of specA and specB must say, all of it, processes matched by PID. */
const EXPECTED_OUTLINE = [
  {
    'changed process 4242': [
      'cmdline: ["demo","--interval","5"] -> ["demo","--interval","10"]',
      'environ.HOME: "/home/user" -> "/root"',
      'environ.API_TOKEN: "s3cr3t" -> null',
      'environ.LANG: null -> "C.UTF-8"',
      { 'changed thread 4243': ['regs.rip: "0x7f12345a0000" -> "0x7f12345a0010"', 'sigmask: "0x200" -> "0x0"'] },
      { 'added thread 4250': [] },
      { 'changed mm mm': ['brk: "0x55555557b000" -> "0x55555557c000"'] },
      { 'changed vma 0x555555554000-0x555555558000': ['inode: "1234" -> "5678"', 'path: "/usr/bin/demo" -> "/usr/bin/demo.new"'] },
      { 'changed vma 0x55555555a000-0x55555557b000': ['end: "0x55555557b000" -> "0x55555557c000"', 'modified 0x55555555b000-0x55555555c000 (1)', 'added 0x55555557b000-0x55555557c000 (1)'] },
      { 'removed vma 0x7e0000000000-0x7e0000001000': ['removed 0x7e0000000000-0x7e0000001000 (1)'] },
      { 'added vma 0x7f0000000000-0x7f0000002000': ['added 0x7f0000001000-0x7f0000002000 (1)'] },
      { 'changed vma 0x7f1234500000-0x7f1234600000': ['prot: 0 -> 3'] },
      { 'changed fd 1': ['file.pos: "123" -> "456"'] },
      { 'removed fd 3': [] },
      { 'added fd 7': [] },
      { 'changed signal 2': ['handler: "0x555555556200" -> "0x555555556300"'] },
      { 'changed signal 15': ['handler: "0x0" -> "0x1"'] },
      { 'changed rlimit nofile': ['cur: "1024" -> "4096"'] },
      { 'added pending-signal 12': [] },
    ],
  },
  { 'removed process 4300': [] },
  { 'added process 4400': [] },
];

describe('compareImages', () => {
  it('finds nothing between two images built alike', async () => {
    const d = await compareImages(await open(baseSpec()), await open(baseSpec()));
    assert.equal(d.same, true);
    assert.deepEqual(d.nodes, []);
    assert.deepEqual(d.counts, { byKind: noCounts, pages: { modified: 0, added: 0, removed: 0 }, total: 0 });
    assert.equal(d.pageMethod, 'hashes');
    assert.equal(d.stats.pagesCompared, 2 * 6);
    assert.equal(d.stats.bytesRead, 0);
    assert.deepEqual(d.problems, []);
  });

  it('matches by meaning: record order, pagemap split and checkpoint time are no difference', async () => {
    const B = copySpec(baseSpec());
    B.reverse = true;
    B.timeNs = 1_800_000_000_000_000_000n;
    const d = await compareImages(await open(baseSpec()), await open(B));
    assert.equal(d.same, true, JSON.stringify(outline(d.nodes)));
    assert.notEqual(d.a.timeNs, d.b.timeNs);
  });

  it('reports exactly the changes made, and nothing else', async () => {
    const A = specA();
    const d = await compareImages(await open(A), await open(specB(A)), { match: 'pid' });
    assert.equal(d.same, false);
    assert.deepEqual(outline(d.nodes), EXPECTED_OUTLINE);
    assert.deepEqual(d.counts, {
      byKind: {
        ...noCounts,
        process: { added: 1, removed: 1, changed: 1 },
        thread: { added: 1, removed: 0, changed: 1 },
        mm: { added: 0, removed: 0, changed: 1 },
        vma: { added: 1, removed: 1, changed: 3 },
        fd: { added: 1, removed: 1, changed: 1 },
        signal: { added: 0, removed: 0, changed: 2 },
        rlimit: { added: 0, removed: 0, changed: 1 },
        'pending-signal': { added: 1, removed: 0, changed: 0 },
      },
      pages: { modified: 1, added: 2, removed: 1 },
      total: 22,
    });
    assert.equal(d.pageMethod, 'hashes');
    assert.equal(d.stats.bytesRead, 0);
    assert.deepEqual(d.problems, []);
  });

  it('gives a changed VMA both sides, what changed, and its page ranges', async () => {
    const A = specA();
    const d = await compareImages(await open(A), await open(specB(A)));
    const heap = d.nodes[0].children.find((n) => n.key === '0x55555555a000-0x55555557b000')!;
    const { aTag, bTag, ...rest } = heap;
    assert.ok(aTag && bTag);
    assert.deepEqual(rest, {
      kind: 'vma',
      key: '0x55555555a000-0x55555557b000',
      label: '0x55555555a000-0x55555557b000 rw-p [heap]',
      change: 'changed',
      fields: [{ path: 'end', a: '0x55555557b000', b: '0x55555557c000', aText: '0x55555557b000', bText: '0x55555557c000' }],
      vma: {
        a: { start: '0x55555555a000', end: '0x55555557b000', prot: 'rw-p', kind: 'heap', path: '[heap]' },
        b: { start: '0x55555555a000', end: '0x55555557c000', prot: 'rw-p', kind: 'heap', path: '[heap]' },
      },
      aspects: ['resized', 'pages'],
      pages: {
        modified: 1,
        added: 1,
        removed: 0,
        ranges: [
          { start: '0x55555555b000', end: '0x55555555c000', pages: 1, change: 'modified' },
          { start: '0x55555557b000', end: '0x55555557c000', pages: 1, change: 'added' },
        ],
      },
      children: [],
    });
    const prot = d.nodes[0].children.find((n) => n.key === '0x7f1234500000-0x7f1234600000')!;
    assert.deepEqual(prot.aspects, ['protection']);
    assert.equal(prot.fields[0].aText, 'none (0x0)');
    assert.equal(prot.fields[0].bText, 'read|write (0x3)');
    const exe = d.nodes[0].children.find((n) => n.key === '0x555555554000-0x555555558000')!;
    assert.deepEqual(exe.aspects, ['backing-file']);
  });

  it('gives a changed thread every register side by side', async () => {
    const A = specA();
    const d = await compareImages(await open(A), await open(specB(A)));
    const worker = d.nodes[0].children.find((n) => n.kind === 'thread' && n.key === '4243')!;
    assert.equal(worker.label, 'thread 4243 "worker"');
    assert.equal(worker.registers!.length, 27);
    assert.deepEqual(
      worker.registers!.filter((r) => r.changed),
      [{ name: 'rip', a: '0x7f12345a0000', b: '0x7f12345a0010', changed: true }],
    );
    assert.deepEqual(
      worker.registers!.find((r) => r.name === 'r15'),
      { name: 'r15', a: '0x0', b: '0x0', changed: false },
    );
    const added = d.nodes[0].children.find((n) => n.kind === 'thread' && n.key === '4250')!;
    assert.ok(added.registers!.every((r) => r.a === null && r.b !== null && !r.changed));
  });

  it('compares pages by their hashes without reading any page data', async () => {
    const A = specA();
    /** A source that logs every range read from it. */
    const logged = (bytes: Uint8Array) => {
      const src = new BufferByteSource(bytes);
      const reads: [number, number][] = [];
      const read = src.read.bind(src);
      src.read = (offset, length) => {
        reads.push([offset, offset + length]);
        return read(offset, length);
      };
      src.readIntoSync = (offset, target) => {
        reads.push([offset, offset + target.length]);
        target.set(bytes.subarray(offset, offset + target.length));
      };
      return { src, reads };
    };
    const la = logged(buildImage(A)),
      lb = logged(buildImage(specB(A)));
    const a = await CheckpointImage.open(la.src),
      b = await CheckpointImage.open(lb.src);
    la.reads.length = lb.reads.length = 0;
    const d = await compareImages(a, b);
    assert.equal(d.counts.pages.modified, 1);
    for (const [img, reads] of [
      [a, la.reads],
      [b, lb.reads],
    ] as const) {
      assert.ok(reads.length > 0);
      for (const r of img.ofType(RecordType.PAGES)) {
        for (const [s, e] of reads) assert.ok(e <= r.payloadOffset || s >= r.payloadOffset + r.len, `read ${s}-${e} touches page data at ${r.payloadOffset}`);
      }
    }
  });

  it('counts a page once when a VMA is split in two', async () => {
    const X = 0x7f5500000000n;
    const A = baseSpec();
    A.processes[0].vmas.push({ start: X, end: X + 0x4000n, prot: 3, kind: Ckpt.VmaKind.ANON_PRIVATE, path: '' });
    A.processes[0].pagemaps.push([{ vaddr: X, data: pageBytes(20, 4) }]);
    const B = copySpec(A);
    const p = B.processes[0];
    p.vmas = p.vmas.filter((v) => v.start !== X);
    p.vmas.push({ start: X, end: X + 0x2000n, prot: 3, kind: Ckpt.VmaKind.ANON_PRIVATE, path: '' });
    p.vmas.push({ start: X + 0x2000n, end: X + 0x4000n, prot: 1, kind: Ckpt.VmaKind.ANON_PRIVATE, path: '' });
    p.pagemaps[2][0].data[3 * PAGE] ^= 0xff;
    const d = await compareImages(await open(A), await open(B));
    assert.deepEqual(outline(d.nodes), [
      {
        'changed process 4242': [
          { 'changed vma 0x7f5500000000-0x7f5500004000': ['end: "0x7f5500004000" -> "0x7f5500002000"'] },
          { 'added vma 0x7f5500002000-0x7f5500004000': ['modified 0x7f5500003000-0x7f5500004000 (1)'] },
        ],
      },
    ]);
    assert.deepEqual(d.counts.pages, { modified: 1, added: 0, removed: 0 });
  });

  describe('without usable page hashes', () => {
    it('reads both page streams and finds the same pages', async () => {
      const A = specA();
      const B = specB(A);
      const hashed = await compareImages(await open(A), await open(B), { match: 'pid' });
      const d = await compareImages(await open({ ...A, hashed: false }), await open({ ...B, hashed: false }), { match: 'pid' });
      assert.equal(d.pageMethod, 'bytes');
      assert.deepEqual(outline(d.nodes), outline(hashed.nodes));
      assert.deepEqual(d.counts, hashed.counts);
      // Pages dumped at the same address on both sides (process 4242: heap 3, stack 1, anon 2), read on both sides.
      assert.equal(d.stats.pagesCompared, 6);
      assert.equal(d.stats.bytesRead, 2 * 6 * PAGE);
    });

    it("hashes the side that has none and compares it with the other side's hashes", async () => {
      const A = specA();
      const B = specB(A);
      const d = await compareImages(await open(A), await open({ ...B, hashed: false }), { match: 'pid' });
      assert.equal(d.pageMethod, 'bytes');
      assert.equal(d.stats.bytesRead, 6 * PAGE);
      assert.deepEqual(outline(d.nodes), EXPECTED_OUTLINE);
    });

    it("with pages: 'bytes' reads even hashed images, and sees through a wrong hash", async () => {
      const A = baseSpec();
      const bytes = buildImage(A);
      const img = await CheckpointImage.open(bytes);
      // Damage the stored hash of the first heap page in a copy: the hashes now say it changed.
      const damaged = new Uint8Array(bytes);
      const pm = img.ofType(RecordType.PAGEMAP)[0];
      const pmv = await img.decodeAs(pm, 'pagemap');
      damaged[pm.payloadOffset + 8 + pmv.nruns * 16] ^= 0xff;
      const other = await CheckpointImage.open(damaged, { checkPayloads: false });
      const byHash = await compareImages(img, other);
      assert.deepEqual(byHash.counts.pages, { modified: 1, added: 0, removed: 0 });
      const byBytes = await compareImages(img, other, { pages: 'bytes' });
      assert.equal(byBytes.same, true);
      assert.equal(byBytes.pageMethod, 'bytes');
    });

    it('reports progress and stops when cancelled', async () => {
      const A = { ...baseSpec(), hashed: false };
      const a = await open(A),
        b = await open(A);
      const seen: { done: number; total: number }[] = [];
      const d = await compareImages(a, b, { onProgress: (p) => seen.push(p) });
      assert.equal(d.same, true);
      assert.deepEqual(seen[seen.length - 1], { done: 2 * 12 * PAGE, total: 2 * 12 * PAGE });

      const pre = new AbortController();
      pre.abort();
      await assert.rejects(compareImages(a, b, { signal: pre.signal }), { name: 'AbortError' });
      const mid = new AbortController();
      const partial: number[] = [];
      await assert.rejects(compareImages(a, b, { signal: mid.signal, onProgress: (p) => (partial.push(p.done), mid.abort()) }), { name: 'AbortError' });
      assert.equal(partial.length, 1);
      assert.ok(partial[0] < 2 * 12 * PAGE);
    });
  });

  it('pairs processes by their place in the tree by default: roots by PID order, children by command', async () => {
    const A = specA();
    const d = await compareImages(await open(A), await open(specB(A)));
    // The second root is another process in B (4400 "other" for 4300 "child"): the same place.
    assert.deepEqual(outline(d.nodes)[0], EXPECTED_OUTLINE[0]);
    assert.deepEqual(outline(d.nodes.slice(1)), [
      {
        'changed process 4300->4400': [
          'pid: 4300 -> 4400',
          'pgid: 4300 -> 4400',
          'sid: 4300 -> 4400',
          'comm: "child" -> "other"',
          {
            'changed thread main': ['tid: 4300 -> 4400', 'regs.rsp: "0x7ffcd0001e00" -> "0x7ffcd0001f00"', 'comm: "child" -> "demo"'],
          },
          { 'added thread worker#0': [] },
        ],
      },
    ]);
  });

  it('compares a tree with its copy under other PIDs process by process, thread by thread', async () => {
    // A parent with two children of one command and one of another; in B every PID and TID is 1000 more.
    const tree = (shift: number): ImageSpec => {
      const p = (pid: number, comm: string, parent?: number) => ({ ...baseProcess(pid + shift), comm, ...(parent !== undefined ? { parent } : {}) });
      return { processes: [p(100, 'sh'), p(200, 'worker', 0), p(300, 'worker', 0), p(400, 'logger', 0), p(500, 'helper', 2)] };
    };
    const A = tree(0),
      B = tree(1000);
    B.processes[2].threads[1].rip += 16n; // the second worker's worker thread moved on
    const d = await compareImages(await open(A), await open(B));
    const shifted = (pid: number) => [`pid: ${pid} -> ${pid + 1000}`, `pgid: ${pid} -> ${pid + 1000}`, `sid: ${pid} -> ${pid + 1000}`];
    const ppid = (pid: number) => `ppid: ${pid} -> ${pid + 1000}`;
    const threads = (pid: number) => [{ 'changed thread main': [`tid: ${pid} -> ${pid + 1000}`] }, { 'changed thread worker#0': [`tid: ${pid + 1} -> ${pid + 1001}`] }];
    const out = outline(d.nodes) as Record<string, unknown[]>[];
    assert.deepEqual(
      out.map((n) => Object.keys(n)[0]),
      ['changed process 100->1100', 'changed process 200->1200', 'changed process 300->1300', 'changed process 400->1400', 'changed process 500->1500'],
    );
    assert.deepEqual(out[0]['changed process 100->1100'], [...shifted(100), ...threads(100)]);
    assert.deepEqual(out[1]['changed process 200->1200'], [shifted(200)[0], ppid(100), ...shifted(200).slice(1), ...threads(200)]);
    assert.deepEqual(out[2]['changed process 300->1300'][5], { 'changed thread worker#0': ['tid: 301 -> 1301', 'regs.rip: "0x7f12345a0000" -> "0x7f12345a0010"'] });
    assert.deepEqual(out[4]['changed process 500->1500'].slice(0, 2), ['pid: 500 -> 1500', ppid(300)]);
    // By PID, nothing pairs: five processes removed, five added.
    const byPid = await compareImages(await open(A), await open(B), { match: 'pid' });
    assert.deepEqual(byPid.counts.byKind.process, { added: 5, removed: 5, changed: 0 });
  });

  it('adds or removes a child that came or went with everything below it', async () => {
    const A: ImageSpec = { processes: [baseProcess(100), { ...baseProcess(200), comm: 'worker', parent: 0 }, { ...baseProcess(300), comm: 'helper', parent: 1 }] };
    const B: ImageSpec = { processes: [baseProcess(100), { ...baseProcess(250), comm: 'cron', parent: 0 }] };
    const d = await compareImages(await open(A), await open(B));
    assert.deepEqual(
      d.nodes.map((n) => `${n.change} ${n.key}`),
      ['removed 200', 'removed 300', 'added 250'],
    );
  });

  it('reports records it could not read, and compares the rest', async () => {
    const A = baseSpec();
    const bytes = buildImage(A);
    const img = await CheckpointImage.open(bytes);
    const file = img.ofType(RecordType.FILE)[1];
    const damaged = new Uint8Array(bytes);
    // A length inside the path string of fd 1's file that runs past its payload: the record cannot be decoded.
    new DataView(damaged.buffer).setUint32(file.payloadOffset + 48, 0xffff, true);
    const d = await compareImages(img, await CheckpointImage.open(damaged));
    assert.deepEqual(
      d.problems.map((p) => p.side),
      ['b', 'b'],
    );
    assert.match(d.problems[0].message, /^record #\d+ FILE \(tag \d+\), field 'path.len', .*does not fit/);
    assert.match(d.problems[1].message, /^record #\d+ FILE .*payload_sum mismatch/);
    // The fd that cannot be read is left out on B's side: it shows as removed.
    assert.deepEqual(outline(d.nodes), [{ 'changed process 4242': [{ 'removed fd 1': [] }] }]);
  });
});

describe('equalDecoded', () => {
  it('finds a change in any byte of any payload, and none between two decodes of the same bytes', async () => {
    const bytes = buildImage(baseSpec());
    const img = await CheckpointImage.open(bytes);
    let flipped = 0;
    for (const r of img.records) {
      const typeName = payloadTypeName(r.type);
      if (!typeName || r.type === RecordType.PAGES || r.type === RecordType.PAGEMAP) continue;
      const payload = bytes.subarray(r.payloadOffset, r.payloadOffset + r.len);
      const x = decodePayload(r, payload)!;
      assert.equal(equalDecoded(typeName, x, decodePayload(r, new Uint8Array(payload))!), true, typeName);
      for (let i = 0; i < payload.length; i++) {
        const copy = new Uint8Array(payload);
        copy[i] ^= 0x10;
        let y;
        try {
          y = decodePayload(r, copy);
        } catch {
          continue; // a length that no longer fits: not a payload to compare
        }
        flipped++;
        assert.equal(equalDecoded(typeName, x, y!), false, `${typeName} byte ${i}`);
      }
    }
    assert.ok(flipped > 3000, `${flipped} payloads with one byte changed`);
  });
});

describe('diffHashArrays', () => {
  it('finds every differing 8-byte hash, at any offset, across batches', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const n = 150_000; // more than one batch of the WebAssembly loop
    const a = new Uint8Array((n + 10) * 8).map(() => rnd(256));
    const b = new Uint8Array((n + 20) * 8);
    const ia = 3,
      ib = 17; // the hashes of one range start at different places in each array
    b.set(a.subarray(ia * 8, (ia + n) * 8), ib * 8);
    const changed = new Set<number>([0, 1, n - 1, 65535, 65536, 65537]);
    for (let i = 0; i < 500; i++) changed.add(rnd(n));
    for (const i of changed) b[(ib + i) * 8 + rnd(8)] ^= 1 + rnd(255);
    const found: number[] = [];
    diffHashArrays(a, ia, b, ib, n, (i) => found.push(i));
    assert.deepEqual(
      found,
      [...changed].sort((x, y) => x - y),
    );
    // A view that does not start on a multiple of 8 in its buffer works the same.
    const shifted = new Uint8Array(b.length + 3).subarray(3);
    shifted.set(b);
    const again: number[] = [];
    diffHashArrays(a, ia, shifted, ib, n, (i) => again.push(i));
    assert.deepEqual(again, found);
  });
});

describe('matchVmas', () => {
  const v = (start: bigint, end: bigint): VmaInfo => ({ start, end, prot: 3, flags: 0, kind: 'anon_private', path: '', offset: 0n, entry: undefined as never });
  const pairs = (A: VmaInfo[], B: VmaInfo[]) => matchVmas(A, B).map(({ a, b }) => [a && `${a.start.toString(16)}-${a.end.toString(16)}`, b && `${b.start.toString(16)}-${b.end.toString(16)}`]);

  it('pairs a heap that grew, a stack that grew down, and leaves a moved area unpaired', () => {
    assert.deepEqual(pairs([v(0x1000n, 0x3000n), v(0x10000n, 0x12000n), v(0x20000n, 0x21000n)], [v(0x1000n, 0x5000n), v(0xe000n, 0x12000n), v(0x30000n, 0x31000n)]), [
      ['1000-3000', '1000-5000'],
      ['10000-12000', 'e000-12000'],
      ['20000-21000', undefined],
      [undefined, '30000-31000'],
    ]);
  });

  it('pairs an area cut in two with the piece that keeps most of it', () => {
    // Both pieces share a boundary with A's area; the one with the larger overlap is its partner.
    assert.deepEqual(pairs([v(0x1000n, 0x9000n)], [v(0x1000n, 0x2000n), v(0x2000n, 0x9000n)]), [
      ['1000-9000', '2000-9000'],
      [undefined, '1000-2000'],
    ]);
    // Two areas merged into one: the larger is the partner, the other was removed.
    assert.deepEqual(pairs([v(0x1000n, 0x2000n), v(0x2000n, 0x9000n)], [v(0x1000n, 0x9000n)]), [
      ['1000-2000', undefined],
      ['2000-9000', '1000-9000'],
    ]);
  });
});

describe('checkpointPageBytes of two .ckpt images', () => {
  // The process of a PID, by its record on each side, as the compare editor pairs them.
  const pair = async (a: CkptCheckpoint, b: CkptCheckpoint, pid: number) => {
    const record = async (c: CkptCheckpoint) => (await c.searchTarget()).processes.find((p) => p.pid === pid)?.record;
    return { a: await record(a), b: await record(b) };
  };
  const hexOf = (x: Uint8Array | null) => (x ? Buffer.from(x).toString('hex') : x);

  it('gives both sides of a changed page and the runs of bytes that differ', async () => {
    const A = baseSpec();
    const B = copySpec(A);
    const heap = B.processes[0].pagemaps[0][0].data;
    heap[PAGE + 10] ^= 1;
    heap[PAGE + 11] ^= 1;
    heap[PAGE + 200] ^= 1;
    const a = new CkptCheckpoint(await open(A)),
      b = new CkptCheckpoint(await open(B));
    const p = await checkpointPageBytes(a, b, HEAP + 0x1234n, await pair(a, b, 4242));
    assert.equal(p.address, '0x55555555b000');
    assert.deepEqual(p.changed, [
      { offset: 10, length: 2 },
      { offset: 200, length: 1 },
    ]);
    assert.equal(hexOf(p.a), Buffer.from(A.processes[0].pagemaps[0][0].data.subarray(PAGE, 2 * PAGE)).toString('hex'));
    assert.equal(hexOf(p.b), Buffer.from(heap.subarray(PAGE, 2 * PAGE)).toString('hex'));
    const missing = await checkpointPageBytes(a, b, EXE);
    assert.deepEqual(missing, { address: '0x555555554000', pageSize: PAGE, a: null, b: null, changed: [] });
    const stack = await checkpointPageBytes(a, b, STACK + 0x20000n, await pair(a, b, 4300));
    assert.ok(stack.a && stack.b, 'the stack page of pid 4300 is dumped on both sides');
    assert.deepEqual(stack.changed, []);
  });
});
