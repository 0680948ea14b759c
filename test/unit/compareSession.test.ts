// The host side of the compare editor (CompareSession), on images with known differences: the
// overview and counts, the tree in bounded pieces, a node's detail (fields, registers, VMA sides),
// changed pages paged one by one, a page's bytes, the order of the sides, progress and cancel.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CompareRequest, DiffRowModel } from '../../src/shared/compareProtocol';
import { CompareSession } from '../../src/webviews/compareSession';
import { RICH, writeRichPair } from '../support/imagePairs';
import { baseSpec, buildImage, copySpec, HEAP, PAGE, pageBytes } from './diffImages';

const hex = (v: bigint) => `0x${v.toString(16)}`;

describe('compare editor: the host side of a comparison', () => {
  let dir: string;
  let files: [string, string];
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-compare-session-'));
    files = writeRichPair(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Every row of the tree, depth first, with its depth. */
  async function allRows(s: CompareSession): Promise<(DiffRowModel & { depth: number })[]> {
    const out: (DiffRowModel & { depth: number })[] = [];
    const walk = async (parent: number | undefined, depth: number) => {
      const { items } = await s.children(parent === undefined ? {} : { parent });
      for (const r of items) {
        out.push({ ...r, depth });
        if (r.childCount) await walk(r.id, depth + 1);
      }
    };
    await walk(undefined, 0);
    return out;
  }

  it('compares, then answers the overview with the counts by kind', async () => {
    const s = await CompareSession.open(...files);
    const before = await s.overview();
    assert.equal(before.status.state, 'running');
    assert.equal(before.result, undefined);
    await assert.rejects(s.children({}), /has not finished/);
    assert.deepEqual(await s.run(), { state: 'done' });
    const o = await s.overview();
    assert.equal(o.a.fileName, 'rich-a.ckpt');
    assert.equal(o.b.fileName, 'rich-b.ckpt');
    assert.equal(o.a.processes, 2);
    assert.equal(o.result!.same, false);
    assert.deepEqual(o.result!.counts, [
      { kind: 'thread', added: 0, removed: 0, changed: 1 },
      { kind: 'vma', added: 1, removed: 0, changed: 1 },
      { kind: 'fd', added: 0, removed: 0, changed: 1 },
    ]);
    assert.deepEqual(o.result!.pages, { modified: 1, added: 1, removed: 0 });
    assert.equal(o.result!.pageMethod, 'hashes');
    assert.equal(o.result!.stats.bytesRead, 0);
    assert.deepEqual(JSON.parse(JSON.stringify(o)), o);
    await s.close();
  });

  it('gives the tree one level at a time, and each node with its fields, registers and VMA sides', async () => {
    const s = await CompareSession.open(...files);
    await s.run();
    const rows = await allRows(s);
    assert.deepEqual(
      rows.map((r) => `${'  '.repeat(r.depth)}${r.change} ${r.kind} ${r.label}`),
      [
        'changed process process 4242 "demo"',
        '  changed thread thread 4243 "worker"',
        `  changed vma ${hex(HEAP)}-${hex(HEAP + 0x21000n)} rw-p [heap]`,
        `  added vma ${hex(RICH.addedVma.start)}-${hex(RICH.addedVma.end)} rw-p anon_private`,
        '  changed fd fd 1 /tmp/demo.log',
      ],
    );
    const paged = await s.children({ parent: rows[0].id, offset: 1, limit: 2 });
    assert.deepEqual(
      paged.items.map((r) => r.kind),
      ['vma', 'vma'],
    );
    assert.equal(paged.total, 4);
    // The thread: its registers on both sides, rip changed.
    const thread = await s.node({ id: rows[1].id });
    assert.deepEqual(thread.path, [rows[0].id]);
    // Its process, by record on each side: the PROCESS records (#1 in both sample images).
    assert.deepEqual(thread.process, { a: 1, b: 1 });
    assert.deepEqual(thread.process, { a: s.recordIndex(rows[0].id, 'a'), b: s.recordIndex(rows[0].id, 'b') });
    const rip = thread.registers!.find((r) => r.name === 'rip')!;
    assert.deepEqual(rip, { name: 'rip', a: RICH.workerRip.a, b: RICH.workerRip.b, changed: true });
    assert.deepEqual(
      thread.registers!.filter((r) => r.changed).map((r) => r.name),
      ['rip'],
    );
    assert.deepEqual(
      thread.fields.map((f) => [f.path, f.a, f.b]),
      [['regs.rip', RICH.workerRip.a, RICH.workerRip.b]],
    );
    // The heap: both sides of the area, its changed page counted.
    const heap = await s.node({ id: rows[2].id });
    assert.deepEqual(heap.vma?.a, heap.vma?.b);
    assert.deepEqual(heap.aspects, ['pages']);
    assert.deepEqual(heap.pages, { modified: 1, added: 0, removed: 0, total: 1, ranges: 1 });
    // The fd: a changed field, A beside B.
    const fd = await s.node({ id: rows[4].id });
    assert.deepEqual(
      fd.fields.map((f) => [f.path, f.a, f.b]),
      [['file.pos', '123', '456']],
    );
    await assert.rejects(s.node({ id: 999 }), /no difference #999/);
    await assert.rejects(s.node({ id: -1 }), RangeError);
    await s.close();
  });

  it('answers through handle() as the webview asks, and counts what it served', async () => {
    const s = await CompareSession.open(...files);
    await s.run();
    const req = (method: CompareRequest['method'], params: object) => s.handle({ type: 'request', id: 1, method, params } as CompareRequest);
    const top = (await req('children', {})) as { total: number };
    assert.equal(top.total, 1);
    assert.equal(s.served.get('children'), 1);
    await s.close();
  });

  it("gives a VMA's changed pages one by one, and a page's bytes side by side", async () => {
    const s = await CompareSession.open(...files);
    await s.run();
    const rows = await allRows(s);
    const heap = rows.find((r) => r.label.includes('[heap]'))!;
    const { items, total } = await s.pages({ id: heap.id });
    assert.equal(total, 1);
    assert.deepEqual(items, [{ addr: hex(RICH.heapPage), change: 'modified' }]);
    const p = await s.pageBytes({ id: heap.id, addr: items[0].addr });
    assert.equal(p.address, hex(RICH.heapPage));
    assert.equal(p.pageSize, PAGE);
    assert.deepEqual(p.changed, [RICH.heapBytes]);
    const added = rows.find((r) => r.change === 'added')!;
    const addedPages = await s.pages({ id: added.id });
    assert.deepEqual(addedPages.items, [{ addr: hex(RICH.addedVma.start + BigInt(PAGE)), change: 'added' }]);
    const q = await s.pageBytes({ id: added.id, addr: addedPages.items[0].addr });
    assert.equal(q.a, null);
    assert.deepEqual(q.changed, [{ offset: 0, length: PAGE }]);
    await assert.rejects(s.pageBytes({ id: heap.id, addr: 'heap' }), /hex string/);
    await assert.rejects(s.pageBytes({ id: 999, addr: '0x0' }), RangeError);
    await s.close();
  });

  it('pages through thousands of changed pages across ranges', async () => {
    const A = baseSpec();
    const B = copySpec(A);
    // 3 heap pages and 2 anonymous pages exist; make a VMA with 600 pages, every other one changed.
    const start = 0x7f5000000000n;
    for (const spec of [A, B]) spec.processes[0].vmas.push({ start, end: start + BigInt(600 * PAGE), prot: 3, kind: 2, path: '' });
    const data = pageBytes(11, 600);
    A.processes[0].pagemaps.push([{ vaddr: start, data }]);
    const changed = new Uint8Array(data);
    for (let i = 0; i < 600; i += 2) changed[i * PAGE + 5] ^= 1;
    B.processes[0].pagemaps.push([{ vaddr: start, data: changed }]);
    const fa = path.join(dir, 'many-a.ckpt'),
      fb = path.join(dir, 'many-b.ckpt');
    fs.writeFileSync(fa, buildImage(A));
    fs.writeFileSync(fb, buildImage(B));
    const s = await CompareSession.open(fa, fb);
    await s.run();
    const vma = (await allRows(s)).find((r) => r.kind === 'vma')!;
    assert.deepEqual(vma.pages, { modified: 300, added: 0, removed: 0 });
    const first = await s.pages({ id: vma.id, limit: 250 });
    const rest = await s.pages({ id: vma.id, offset: 250 });
    assert.equal(first.total, 300);
    const all = [...first.items, ...rest.items];
    assert.equal(all.length, 300);
    assert.deepEqual(
      all.slice(0, 2).map((p) => p.addr),
      [hex(start), hex(start + BigInt(2 * PAGE))],
    );
    assert.equal(all[299].addr, hex(start + BigInt(598 * PAGE)));
    assert.deepEqual((await s.pages({ id: vma.id, offset: 299, limit: 5 })).items, [all[299]]);
    await assert.rejects(s.pages({ id: vma.id, limit: 100000 }), RangeError);
    await s.close();
  });

  it('puts the earlier checkpoint on the left when asked to order by time', async () => {
    const given = await CompareSession.open(files[1], files[0]);
    assert.equal(path.basename(given.pathA), 'rich-b.ckpt');
    await given.close();
    const timed = await CompareSession.open(files[1], files[0], 'time');
    assert.equal(path.basename(timed.pathA), 'rich-a.ckpt');
    assert.equal(path.basename(timed.pathB), 'rich-b.ckpt');
    await timed.close();
  });

  it('says clearly when a file is not an image', async () => {
    const bad = path.join(dir, 'notes.ckpt');
    fs.writeFileSync(bad, 'not an image, only some notes that are long enough to hold a header');
    await assert.rejects(CompareSession.open(files[0], bad), /^Error: notes\.ckpt: .*not a ckpt image/);
  });

  it('finds nothing between an image and itself', async () => {
    const s = await CompareSession.open(files[0], files[0]);
    assert.deepEqual(await s.run(), { state: 'done' });
    const o = await s.overview();
    assert.equal(o.result!.same, true);
    assert.deepEqual(o.result!.counts, []);
    assert.deepEqual(await s.children({}), { items: [], total: 0 });
    await s.close();
  });

  it('without page hashes, reads the pages with progress, and can be cancelled', async () => {
    const [fa, fb] = writeRichPair(dir, ['plain-a.ckpt', 'plain-b.ckpt'], { hashed: false });
    const s = await CompareSession.open(fa, fb);
    const seen: { done: number; total: number }[] = [];
    assert.deepEqual(await s.run({ onProgress: (p) => p.state === 'running' && seen.push({ done: p.done, total: p.total }) }), { state: 'done' });
    const o = await s.overview();
    assert.equal(o.result!.pageMethod, 'bytes');
    assert.ok(o.result!.stats.bytesRead > 0);
    assert.deepEqual(o.result!.pages, { modified: 1, added: 1, removed: 0 });
    assert.ok(seen.length > 0 && seen[seen.length - 1].done === seen[seen.length - 1].total, JSON.stringify(seen));
    // Cancelled before it starts: the status says so, and a second run finishes.
    const abort = new AbortController();
    abort.abort();
    assert.deepEqual(await s.run({ signal: abort.signal }), { state: 'cancelled' });
    assert.equal((await s.overview()).result, undefined);
    await assert.rejects(s.children({}), /no comparison/);
    assert.deepEqual(await s.run(), { state: 'done' });
    await s.close();
  });

  it('cancels a byte comparison in the middle, from its progress', async () => {
    const A = baseSpec();
    A.hashed = false;
    const B = copySpec(A);
    const start = 0x7f5000000000n,
      pages = 4096;
    for (const spec of [A, B]) spec.processes[0].vmas.push({ start, end: start + BigInt(pages * PAGE), prot: 3, kind: 2, path: '' });
    const data = pageBytes(12, pages);
    A.processes[0].pagemaps.push([{ vaddr: start, data }]);
    B.processes[0].pagemaps.push([{ vaddr: start, data: new Uint8Array(data) }]);
    const fa = path.join(dir, 'big-plain-a.ckpt'),
      fb = path.join(dir, 'big-plain-b.ckpt');
    fs.writeFileSync(fa, buildImage(A));
    fs.writeFileSync(fb, buildImage(B));
    const s = await CompareSession.open(fa, fb);
    const abort = new AbortController();
    let calls = 0;
    const status = await s.run({
      signal: abort.signal,
      onProgress: (p) => {
        calls++;
        if (p.state === 'running' && p.done > 0 && p.done < p.total) abort.abort();
      },
    });
    assert.deepEqual(status, { state: 'cancelled' });
    assert.ok(calls > 0);
    assert.deepEqual(s.status, { state: 'cancelled' });
    await s.close();
  });
});
