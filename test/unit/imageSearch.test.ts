// The host side of the editor's memory search (ImageSearch), on real images, each search in a worker
// thread started from the TypeScript source: what it sends the webview, in what order, with what
// bounds; one search at a time; and the editor's other requests answered while a long search runs.

import assert from 'node:assert/strict';
import { CheckpointImage, SearchPatternError } from '../../src/image';
import type { SearchEndModel, SearchHitModel } from '../../src/shared/models';
import { ImageRequests } from '../../src/webviews/imageRequests';
import { ImageSearch, ImageSearchOptions, SearchEvent } from '../../src/webviews/imageSearch';
import { BigImage, writeBigImage } from '../support/bigImage';
import { sourceSearchWorker } from '../support/searchWorkers';
import { buildSample, HEAP, HEAP_STRING, HEAP_STRING_ADDR, PAGE } from '../support/sampleImage';

const hex = (v: bigint) => `0x${v.toString(16)}`;

async function until(what: string, probe: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 5));
  }
}

/** An ImageSearch whose events are recorded, with a way to wait for a search's end. */
function recorder(img: CheckpointImage, opts: ImageSearchOptions = {}): { search: ImageSearch; events: SearchEvent[]; end(id: number): Promise<SearchEndModel>; hits(id: number): SearchHitModel[] } {
  const events: SearchEvent[] = [];
  const waiting = new Map<number, (e: SearchEndModel) => void>();
  const search = new ImageSearch(
    img,
    (e) => {
      events.push(e);
      if (e.type === 'searchEnd') waiting.get(e.search)?.(e.end);
    },
    { startWorker: sourceSearchWorker, ...opts },
  );
  return {
    search,
    events,
    end: (id) => {
      const done = events.find((e): e is Extract<SearchEvent, { type: 'searchEnd' }> => e.type === 'searchEnd' && e.search === id);
      return done ? Promise.resolve(done.end) : new Promise((r) => waiting.set(id, r));
    },
    hits: (id) => events.flatMap((e) => (e.type === 'searchHits' && e.search === id ? e.hits : [])),
  };
}

describe('editor search: the host side of Search memory', () => {
  let img: CheckpointImage;
  before(async () => {
    img = await CheckpointImage.open(buildSample().bytes);
  });
  after(() => img.close());

  it('answers the request at once, then sends the hits and the end as events', async () => {
    const r = recorder(img);
    const { search } = await r.search.search({ query: { mode: 'text', pattern: HEAP_STRING }, maxHits: 100, context: 8 });
    assert.equal(r.events.length, 0, 'no event before the answer');
    const end = await r.end(search);
    assert.equal(end.status, 'done');
    assert.equal(end.hits, 1);
    assert.equal(end.scannedBytes, end.totalBytes);
    const [hit] = r.hits(search);
    assert.equal(hit.address, hex(HEAP_STRING_ADDR));
    assert.equal(hit.pid, 4242);
    assert.equal(hit.process, img.processes()[0].index);
    assert.equal(Buffer.from(hit.match, 'hex').toString(), HEAP_STRING);
    assert.equal(hit.before.length, 16);
    assert.deepEqual(hit.vma, { start: hex(HEAP), end: hex(HEAP + 0x21000n), prot: 'rw-p', kind: 'heap', path: '[heap]' });
    assert.equal(hit.vmaOffset, hex(HEAP_STRING_ADDR - HEAP));
    assert.deepEqual(JSON.parse(JSON.stringify(r.events)), r.events, 'events are plain JSON');
    // The host keeps the result for the Search Memory command.
    assert.deepEqual((await r.search.result(search))?.hits, [hit]);
  });

  it('stops at the cap and says so', async () => {
    const r = recorder(img);
    // Every page of the heap holds the byte pattern (i * 7) & 0xff, so "00 07" is everywhere.
    const { search } = await r.search.search({ query: { mode: 'hex', pattern: '00 07 0e' }, maxHits: 2 });
    const end = await r.end(search);
    assert.equal(end.status, 'truncated');
    assert.equal(r.hits(search).length, 2);
  });

  it('searches one process when asked, and refuses what is not a process', async () => {
    const r = recorder(img);
    const proc = img.processes()[0].index;
    const { search } = await r.search.search({ query: { mode: 'text', pattern: 'hello', ignoreCase: true }, maxHits: 10, process: proc });
    assert.equal((await r.end(search)).hits, 1);
    await assert.rejects(r.search.search({ query: { mode: 'text', pattern: 'x' }, maxHits: 10, process: 0 }), /not a process/);
  });

  it('refuses a bad query with a message for the search box, before any event', async () => {
    const r = recorder(img);
    await assert.rejects(r.search.search({ query: { mode: 'hex', pattern: 'zz' }, maxHits: 10 }), SearchPatternError);
    await assert.rejects(r.search.search({ query: { mode: 'regex', pattern: '(' }, maxHits: 10 }), SearchPatternError);
    await assert.rejects(r.search.search({ query: { mode: 'text', pattern: '' }, maxHits: 10 }), /Type something/);
    await assert.rejects(r.search.search({ query: { mode: 'text', pattern: 'x'.repeat(5000) }, maxHits: 10 }), /longer than/);
    await assert.rejects(r.search.search({ query: { mode: 'sql', pattern: 'x' } as never, maxHits: 10 }), RangeError);
    await assert.rejects(r.search.search({ query: { mode: 'text', pattern: 'x' }, maxHits: 0 }), RangeError);
    await assert.rejects(r.search.search({ query: { mode: 'text', pattern: 'x' }, maxHits: 1e9 }), RangeError);
    await assert.rejects(r.search.search({ query: { mode: 'text', pattern: 'x' }, maxHits: 1, context: 100000 }), RangeError);
    await new Promise((res) => setImmediate(res));
    assert.deepEqual(r.events, []);
  });

  it('finds a string across the boundary of two pages', async () => {
    const r = recorder(img);
    const { search } = await r.search.search({ query: { mode: 'text', pattern: 'heap, across' }, maxHits: 10 });
    await r.end(search);
    const [hit] = r.hits(search);
    assert.ok(BigInt(hit.address) < HEAP + BigInt(PAGE) && BigInt(hit.address) + BigInt(hit.length) > HEAP + BigInt(PAGE));
  });
});

describe('editor search on a 1 GiB image', function () {
  this.timeout(120_000);
  let big: BigImage;
  let img: CheckpointImage;
  before(async () => {
    big = writeBigImage(1);
    img = await CheckpointImage.open(big.file);
  });
  after(async () => {
    await img?.close();
    big?.remove();
  });

  it('reports progress, and a new search ends the one before (cancelled)', async () => {
    const r = recorder(img);
    const first = (await r.search.search({ query: { mode: 'regex', pattern: 'l[a-z]+t page' }, maxHits: 10 })).search;
    // Let it run a little (its worker starts, opens the image and reports progress), then start another.
    await until('progress of the first search', () => r.events.some((e) => e.type === 'searchProgress' && e.search === first));
    const second = (await r.search.search({ query: { mode: 'text', pattern: big.marker }, maxHits: 10 })).search;
    const e1 = await r.end(first);
    assert.equal(e1.status, 'cancelled');
    assert.ok(e1.scannedBytes > 0 && e1.scannedBytes < e1.totalBytes, JSON.stringify(e1));
    assert.ok(r.events.some((e) => e.type === 'searchProgress' && e.search === first));
    const e2 = await r.end(second);
    assert.equal(e2.status, 'done');
    assert.deepEqual(r.hits(second).map((h) => h.address), [hex(big.markerAddr)]);
    // Nothing of the first search after its end.
    const endAt = r.events.findIndex((e) => e.type === 'searchEnd' && e.search === first);
    assert.ok(!r.events.slice(endAt + 1).some((e) => e.search === first));
  });

  it('keeps answering the editor\'s other requests while it searches, and cancels on request', async () => {
    const r = recorder(img);
    const requests = new ImageRequests(img, () => ({ status: 'unverified', problems: [] }));
    const proc = img.processes()[0].index;
    const { search } = await r.search.search({ query: { mode: 'regex', pattern: 'l[a-z]+t page' }, maxHits: 10 });
    // The event loop keeps turning: timers fire on time and requests are answered within a few ticks.
    let worstLag = 0;
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await new Promise((res) => setTimeout(res, 10));
      worstLag = Math.max(worstLag, performance.now() - t0 - 10);
      const q0 = performance.now();
      const pieces = await requests.memory({ process: proc, addr: hex(big.markerAddr), length: 64 });
      assert.equal(Buffer.from(pieces[0].hex!, 'hex').subarray(0, big.marker.length).toString(), big.marker);
      worstLag = Math.max(worstLag, performance.now() - q0);
    }
    assert.ok(worstLag < 250, `the extension host was held up for ${worstLag.toFixed(0)} ms`);
    assert.equal(r.search.runningSearch, search, 'the search was still running');
    assert.deepEqual(await r.search.cancelSearch({ search }), { cancelled: true });
    assert.equal((await r.end(search)).status, 'cancelled');
    assert.deepEqual(await r.search.cancelSearch({ search }), { cancelled: false });
  });
});
