// The host side of the editor's memory search (ImageSearch), on real images, each search in a worker
// thread started from the TypeScript source: what it sends the webview, in what order, with what
// bounds; one search at a time; the editor's other requests answered while a long search runs; a
// regular expression that never finishes, cancelled at once; and the same hits as the engine.

import assert from 'node:assert/strict';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { CheckpointImage, searchAll, SearchPatternError, SearchQuery } from '../../src/image';
import { CkptCheckpoint } from '../../src/checkpoint';
import { searchWorkerAt } from '../../src/image/search/searchWorkerProtocol';
import type { SearchEndModel, SearchHitModel } from '../../src/shared/models';
import { ImageRequests } from '../../src/webviews/imageRequests';
import { ImageSearch, ImageSearchOptions, SearchEvent } from '../../src/webviews/imageSearch';
import { BigImage, writeBigImage } from '../support/bigImage';
import { HOSTILE_MARKER, HOSTILE_PID, HOSTILE_REGEX, hostileImageBytes, hostileMarkerAddr, writeHostileImage } from '../support/hostileImage';
import { openFds, sourceSearchWorker, threadCount, watchWorkers } from '../support/searchWorkers';
import { buildSample, HEAP, HEAP_STRING, HEAP_STRING_ADDR, PAGE } from '../support/sampleImage';
import { compressPages } from '../support/compressImage';
import { until as untilEvery } from '../support/until';

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** Polled often: these tests measure how soon things happen. */
const until = (what: string, probe: () => boolean, ms = 10_000) => untilEvery(what, probe, ms, 5);

/** Runs a 10 ms timer for `ms`: how late it fired at worst, and how often it fired. */
async function timerLag(ms: number): Promise<{ worst: number; ticks: number }> {
  let worst = 0;
  let ticks = 0;
  const stop = performance.now() + ms;
  while (performance.now() < stop) {
    const t0 = performance.now();
    await new Promise((res) => setTimeout(res, 10));
    worst = Math.max(worst, performance.now() - t0 - 10);
    ticks++;
  }
  return { worst, ticks };
}

/** An ImageSearch whose events are recorded, with a way to wait for a search's end. */
function recorder(img: CheckpointImage, opts: ImageSearchOptions = {}): { search: ImageSearch; events: SearchEvent[]; end(id: number): Promise<SearchEndModel>; hits(id: number): SearchHitModel[] } {
  const events: SearchEvent[] = [];
  const waiting = new Map<number, (e: SearchEndModel) => void>();
  const search = new ImageSearch(
    new CkptCheckpoint(img),
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
    assert.equal(Buffer.from(hit.match).toString(), HEAP_STRING);
    assert.equal(hit.before.length, 8);
    assert.deepEqual(hit.vma, { start: hex(HEAP), end: hex(HEAP + 0x21000n), prot: 'rw-p', kind: 'heap', path: '[heap]' });
    assert.equal(hit.vmaOffset, hex(HEAP_STRING_ADDR - HEAP));
    // Plain data as a webview message carries it: bytes as Uint8Arrays, each in a buffer of its own
    // (VS Code sends a view's whole ArrayBuffer, and the search's window is overwritten).
    assert.deepEqual(structuredClone(r.events), r.events, 'events are plain data');
    for (const b of [hit.before, hit.match, hit.after]) assert.ok(b instanceof Uint8Array && b.buffer.byteLength === b.length);
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

  it('finds the same across two pages of an image with compressed pages (format 2.2)', async () => {
    const packed = await CheckpointImage.open(compressPages(buildSample().bytes, 2));
    try {
      const r = recorder(packed);
      const { search } = await r.search.search({ query: { mode: 'text', pattern: 'heap, across' }, maxHits: 10 });
      await r.end(search);
      const [hit] = r.hits(search);
      assert.equal(BigInt(hit.address), HEAP_STRING_ADDR + BigInt(HEAP_STRING.indexOf('heap, across')));
    } finally {
      await packed.close();
    }
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
    assert.deepEqual(
      r.hits(second).map((h) => h.address),
      [hex(big.markerAddr)],
    );
    // Nothing of the first search after its end.
    const endAt = r.events.findIndex((e) => e.type === 'searchEnd' && e.search === first);
    assert.ok(!r.events.slice(endAt + 1).some((e) => e.search === first));
  });

  it("keeps answering the editor's other requests while it searches, and cancels on request", async () => {
    const r = recorder(img);
    const requests = new ImageRequests(new CkptCheckpoint(img), () => ({ status: 'unverified', problems: [] }));
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
      assert.equal(Buffer.from(pieces[0].bytes!).subarray(0, big.marker.length).toString(), big.marker);
      worstLag = Math.max(worstLag, performance.now() - q0);
    }
    assert.ok(worstLag < 250, `the extension host was held up for ${worstLag.toFixed(0)} ms`);
    assert.equal(r.search.runningSearch, search, 'the search was still running');
    assert.deepEqual(await r.search.cancelSearch({ search }), { cancelled: true });
    assert.equal((await r.end(search)).status, 'cancelled');
    assert.deepEqual(await r.search.cancelSearch({ search }), { cancelled: false });
  });
});

describe('editor search in a worker thread: a regular expression that never finishes', function () {
  this.timeout(30_000);
  let dir: string;
  let file: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-search-worker-'));
    file = writeHostileImage(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('leaves the extension host turning while it backtracks, and Cancel ends it within a second, its worker gone', async () => {
    const img = await CheckpointImage.open(file);
    try {
      const watched = watchWorkers();
      const r = recorder(img, { startWorker: watched.start });
      const threads = threadCount();
      const fds = openFds();
      const { search } = await r.search.search({ query: { mode: 'regex', pattern: HOSTILE_REGEX }, maxHits: 10 });
      const worker = await watched.online(0);
      assert.equal(threadCount(), threads + 1, 'the search runs on one more thread');
      // Meanwhile the host's timers fire on time, while the worker's thread is busy all the time.
      const lag = await timerLag(1500);
      const elu = worker.performance.eventLoopUtilization();
      console.log(`      (1.5 s of backtracking: a 10 ms timer fired ${lag.ticks} times, at worst ${lag.worst.toFixed(1)} ms late; the worker's thread ${(elu.utilization * 100).toFixed(1)}% busy)`);
      // a regex run on the host would hold it for the whole 1.5 s; a loaded 2-core machine alone
      // can delay one tick by 100+ ms (the worker and other processes share the cores)
      assert.ok(lag.worst < 500, `the host's event loop was held up for ${lag.worst.toFixed(0)} ms`);
      assert.ok(lag.ticks >= 50, `a 10 ms timer fired only ${lag.ticks} times in 1.5 s`);
      assert.ok(elu.utilization > 0.5, `the worker was idle (${elu.utilization}): it is not backtracking`);
      assert.equal(r.search.runningSearch, search);
      assert.ok(!r.events.some((e) => e.type === 'searchEnd'), 'it ran on, with no end');
      const t0 = performance.now();
      assert.deepEqual(await r.search.cancelSearch({ search }), { cancelled: true });
      const cancelMs = performance.now() - t0;
      console.log(`      (Cancel: the end event sent and the worker exited in ${cancelMs.toFixed(1)} ms)`);
      assert.ok(cancelMs < 1000, `Cancel took ${cancelMs.toFixed(0)} ms`);
      const end = await r.end(search);
      assert.equal(end.status, 'cancelled');
      assert.equal(end.hits, 0);
      assert.equal(r.events.filter((e) => e.type === 'searchEnd').length, 1, 'one end event');
      assert.equal(watched.live(), 0, 'the worker exited');
      assert.equal(worker.threadId, -1);
      assert.equal(threadCount(), threads, 'its thread is gone');
      assert.ok(openFds() <= fds, `the worker's file descriptors are closed (${fds} before, ${openFds()} after)`);
      assert.equal(r.search.runningSearch, undefined);
    } finally {
      await img.close();
    }
  });

  it('is ended by the next search, which finds its hits; then no worker is left', async () => {
    // An image held in memory: the worker gets its bytes rather than a path.
    const img = await CheckpointImage.open(hostileImageBytes());
    const watched = watchWorkers();
    const r = recorder(img, { startWorker: watched.start });
    const first = (await r.search.search({ query: { mode: 'regex', pattern: HOSTILE_REGEX }, maxHits: 10 })).search;
    await watched.online(0);
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(r.search.runningSearch, first);
    const t0 = performance.now();
    const second = (await r.search.search({ query: { mode: 'text', pattern: HOSTILE_MARKER }, maxHits: 10 })).search;
    const e1 = await r.end(first);
    const endedIn = performance.now() - t0;
    console.log(`      (the first search ended ${endedIn.toFixed(1)} ms after the second was asked for)`);
    assert.equal(e1.status, 'cancelled');
    assert.ok(endedIn < 1000, `the first search ended ${endedIn.toFixed(0)} ms after the second started`);
    const e2 = await r.end(second);
    assert.equal(e2.status, 'done', JSON.stringify(e2));
    assert.equal(e2.scannedBytes, 64 * 4096);
    assert.deepEqual(
      r.hits(second).map((h) => [h.address, h.pid, h.process]),
      [[hex(hostileMarkerAddr()), HOSTILE_PID, img.processes()[0].index]],
    );
    assert.ok(!r.events.slice(r.events.findIndex((e) => e.type === 'searchEnd' && e.search === first) + 1).some((e) => e.search === first), 'nothing of the first after its end');
    assert.equal(watched.workers.length, 2, 'one worker per search');
    await until('both workers to exit', () => watched.live() === 0, 5000);
    assert.deepEqual(
      watched.workers.map((w) => w.threadId),
      [-1, -1],
    );
  });

  it('ends as failed, with a reason, when the expression makes no progress for the cap (a backstop)', async () => {
    const img = await CheckpointImage.open(hostileImageBytes());
    const watched = watchWorkers();
    const r = recorder(img, { startWorker: watched.start, regexStallMs: 2000 });
    const t0 = performance.now();
    const { search } = await r.search.search({ query: { mode: 'regex', pattern: HOSTILE_REGEX }, maxHits: 10 });
    const end = await r.end(search);
    const ms = performance.now() - t0;
    assert.equal(end.status, 'failed');
    assert.match(end.error ?? '', /no progress in 2 s: it backtracks too much/);
    assert.ok(ms >= 2000 && ms < 4000, `it ended after ${ms.toFixed(0)} ms`);
    await until('the worker to exit', () => watched.live() === 0, 2000);
    // The editor searches on: a sound expression over the same memory.
    const ok = (await r.search.search({ query: { mode: 'regex', pattern: 'a{4}END' }, maxHits: 10 })).search;
    assert.equal((await r.end(ok)).status, 'done');
    assert.deepEqual(
      r.hits(ok).map((h) => h.address),
      [hex(hostileMarkerAddr() - 4n)],
    );
  });
});

describe('editor search in a worker thread: the same answers as the engine in process', function () {
  this.timeout(30_000);
  const queries: SearchQuery[] = [
    { mode: 'text', pattern: HEAP_STRING },
    { mode: 'text', pattern: 'HELLO from', ignoreCase: true },
    { mode: 'text', pattern: 'heap', encoding: 'utf16le' },
    { mode: 'hex', pattern: '00 07 ?? 15' },
    { mode: 'regex', pattern: 'h[a-z]+o f' },
    { mode: 'regex', pattern: 'API_[A-Z]+' },
  ];
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-search-same-'));
    fs.writeFileSync(path.join(dir, 'sample.ckpt'), buildSample().bytes);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const where of ['in memory', 'in a file'] as const) {
    it(`finds exactly the engine's hits, as plain data, for an image ${where}`, async () => {
      const img = await CheckpointImage.open(where === 'in memory' ? buildSample().bytes : path.join(dir, 'sample.ckpt'));
      try {
        const watched = watchWorkers();
        const r = recorder(img, { startWorker: watched.start });
        const proc = img.processes()[0].index;
        let total = 0;
        for (const query of queries) {
          const expected = await searchAll(img, query, { context: 12, maxHits: 40 });
          const { search } = await r.search.search({ query, maxHits: 40, context: 12 });
          const end = await r.end(search);
          assert.equal(end.status, expected.truncated ? 'truncated' : 'done', JSON.stringify(query));
          assert.equal(end.scannedBytes, expected.scannedBytes);
          assert.equal(end.totalBytes, expected.totalBytes);
          assert.deepEqual(
            r.hits(search),
            expected.hits.map((h) => ({ ...h, process: proc })),
            JSON.stringify(query),
          );
          assert.deepEqual((await r.search.result(search))?.hits, r.hits(search));
          total += expected.hits.length;
        }
        assert.ok(total > queries.length, `the queries found ${total} hits: too few to compare`);
        assert.deepEqual(structuredClone(r.events), r.events, 'events are plain data');
        await until('the workers to exit', () => watched.live() === 0, 5000);
        assert.equal(watched.workers.length, queries.length);
      } finally {
        await img.close();
      }
    });
  }

  it('fails a search, with a reason, when the worker cannot start or the file changed on disk', async () => {
    const copy = path.join(dir, 'changing.ckpt');
    fs.writeFileSync(copy, buildSample().bytes);
    const img = await CheckpointImage.open(copy);
    try {
      const missing = recorder(img, { startWorker: searchWorkerAt(path.join(dir, 'no-such-worker.js')) });
      const a = (await missing.search.search({ query: { mode: 'text', pattern: 'hello' }, maxHits: 10 })).search;
      const e1 = await missing.end(a);
      assert.equal(e1.status, 'failed');
      assert.match(e1.error ?? '', /no-such-worker/);
      fs.appendFileSync(copy, Buffer.alloc(4096));
      const changed = recorder(img, { startWorker: sourceSearchWorker });
      const b = (await changed.search.search({ query: { mode: 'text', pattern: 'hello' }, maxHits: 10 })).search;
      const e2 = await changed.end(b);
      assert.equal(e2.status, 'failed');
      assert.match(e2.error ?? '', /changed on disk/);
      assert.equal(changed.hits(b).length, 0, 'nothing searched in the changed file');
    } finally {
      await img.close();
    }
  });
});
