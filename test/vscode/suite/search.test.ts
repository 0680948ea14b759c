// Search memory in the real extension host: a string a live process planted (the native
// checkpointer's image), found at its address by the image editor's search pane and shown there
// in the memory view; UTF-16 text; a long search that leaves the extension host answering; a
// regular expression that never finishes, run by the bundled worker and cancelled at once.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { SearchQueryModel } from '../../../src/shared/models';
import type { EditorSearchResult } from '../../../src/webviews/imageEditorProvider';
import { BigImage, writeBigImage } from '../../support/bigImage';
import { HOSTILE_MARKER, HOSTILE_REGEX, hostileMarkerAddr, writeHostileImage } from '../../support/hostileImage';
import { makeRealPair, RealPair } from '../../support/imagePairs';
import { ACROSS, WIDE } from '../../unit/diffRealTarget';
import { activeImageTab, api, closeAllEditors, extensionId, nativeBinary, until, workspaceDir } from './support';

type SearchOutcome = { ok: true; search: EditorSearchResult } | { ok: false; error: string };

const hex = (v: bigint) => `0x${v.toString(16)}`;

function search(uri: vscode.Uri, query: SearchQueryModel, opts: { maxHits?: number; goToFirst?: boolean } = {}): Thenable<SearchOutcome> {
  return vscode.commands.executeCommand('ckptExplorer.searchMemory', uri, { query, ...opts }) as Thenable<SearchOutcome>;
}

describe('searching memory in the image editor', function () {
  this.timeout(90_000);
  let real: RealPair | undefined;
  let big: BigImage | undefined;
  let hostileDir: string | undefined;

  before(async () => {
    await api();
    const bin = nativeBinary();
    if (bin) real = await makeRealPair(workspaceDir(), bin, ['planted.ckpt', 'planted-again.ckpt']);
  });
  after(async () => {
    big?.remove();
    if (hostileDir) fs.rmSync(hostileDir, { recursive: true, force: true });
    await closeAllEditors();
  });

  it('finds the string the process planted across a page boundary, at its address, and the memory view lands there', async function () {
    if (!real) this.skip();
    const uri = vscode.Uri.file(real!.first);
    const r = await search(uri, { mode: 'text', pattern: ACROSS }, { goToFirst: true });
    assert.ok(r.ok, JSON.stringify(r));
    await until('the image editor in front', () => activeImageTab(uri));
    const { across } = real!.planted;
    const { hits, end, shown } = r.search;
    assert.strictEqual(end.status, 'done');
    assert.strictEqual(end.scannedBytes, end.totalBytes);
    assert.deepStrictEqual(
      hits.map((h) => h.address),
      [hex(across)],
    );
    assert.strictEqual(hits[0].pid, real!.pid);
    assert.strictEqual(hits[0].vma?.prot, 'rw-p');
    assert.strictEqual(Buffer.from(hits[0].match).toString(), ACROSS);
    // The webview listed it, showed its process's memory at that address, the match highlighted.
    assert.strictEqual(shown.listed, 1);
    const { editors } = await api();
    const doc = editors.documentFor(uri)!;
    assert.strictEqual(shown.revealed?.process, doc.checkpoint!.processRecords()[0]);
    assert.strictEqual(shown.revealed?.cursor, hex(across));
    assert.deepStrictEqual(shown.revealed?.highlight, { start: hex(across), end: hex(across + BigInt(ACROSS.length)) });
    assert.strictEqual(Buffer.from(shown.revealed!.bytes).toString(), ACROSS);
    // The record selected in the editor is the process whose memory it shows.
    assert.strictEqual(doc.selected, shown.revealed?.process);
  });

  it('finds UTF-16 text whatever its case', async function () {
    if (!real) this.skip();
    const r = await search(vscode.Uri.file(real!.first), { mode: 'text', pattern: WIDE.toUpperCase().replace('SS', 'ß'), encoding: 'utf16le', ignoreCase: true });
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepStrictEqual(
      r.search.hits.map((h) => h.address),
      [hex(real!.planted.wide)],
    );
    assert.strictEqual(r.search.shown.revealed, undefined, 'no jump unless asked');
  });

  it('says what is wrong with a bad pattern', async function () {
    if (!real) this.skip();
    const r = await search(vscode.Uri.file(real!.first), { mode: 'hex', pattern: 'de ad zz' });
    assert.strictEqual(r.ok, false);
    assert.match((r as { error: string }).error, /zz/);
  });

  it('keeps the extension host answering during a long search, and finds the last page of 1 GiB', async () => {
    big = writeBigImage(1, { dir: workspaceDir() });
    const uri = vscode.Uri.file(big.file);
    const running = search(uri, { mode: 'regex', pattern: 'l[a-z]+t page' });
    const { editors } = await api();
    const doc = await until('the big image to open', () => editors.documentFor(uri));
    await until('the search to start', async () => (await activeSearch(doc)) !== undefined, 15_000);
    // While it runs: timers fire nearly on time, and the editor's requests are answered.
    const proc = doc.checkpoint!.processRecords()[0];
    let worst = 0;
    let rounds = 0;
    let stillRunning = true;
    void Promise.resolve(running).then(() => (stillRunning = false));
    while (stillRunning && rounds < 20) {
      const t0 = Date.now();
      await new Promise((res) => setTimeout(res, 20));
      const pieces = (await doc.requests!.handle({ type: 'request', id: 1, method: 'memory', params: { process: proc, addr: hex(big.markerAddr), length: 32 } })) as { bytes?: Uint8Array }[];
      assert.strictEqual(Buffer.from(pieces[0].bytes!).toString().slice(0, 8), big.marker.slice(0, 8));
      worst = Math.max(worst, Date.now() - t0 - 20);
      rounds++;
    }
    console.log(`      (${rounds} rounds during the search; the longest hold-up of a 20 ms timer and a memory request: ${worst} ms)`);
    assert.ok(rounds >= 3, `the search ended after ${rounds} rounds: too short to tell`);
    assert.ok(worst < 500, `the extension host was held up for ${worst} ms during the search`);
    const r = await running;
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepStrictEqual(
      r.search.hits.map((h) => h.address),
      [hex(big.markerAddr + 4n)],
    );
    assert.strictEqual(r.search.end.totalBytes, 1024 * 1024 * 1024);
  });

  it('cancels a regular expression that never finishes at once, the extension host answering all along', async () => {
    const worker = path.join(vscode.extensions.getExtension(extensionId)!.extensionPath, 'dist', 'searchWorker.js');
    assert.ok(fs.existsSync(worker), `${worker} is missing: the extension's search runs there`);
    hostileDir = fs.mkdtempSync(path.join(workspaceDir(), 'hostile-'));
    const uri = vscode.Uri.file(writeHostileImage(hostileDir));
    const marker = hex(hostileMarkerAddr());
    // (a+)+b over memory full of 'a': in the search's worker, it would backtrack for ever.
    const hostile = search(uri, { mode: 'regex', pattern: HOSTILE_REGEX });
    let settled = false;
    void Promise.resolve(hostile).then(() => (settled = true));
    const { editors } = await api();
    const doc = await until('the hostile image to open', () => editors.documentFor(uri));
    const first = await until('the search to start', () => editors.runningSearch(uri), 15_000);
    // For 1.5 s: timers fire on time and the editor's memory requests are answered.
    const proc = doc.checkpoint!.processRecords()[0];
    let worst = 0;
    let rounds = 0;
    const stop = Date.now() + 1500;
    while (Date.now() < stop) {
      const t0 = Date.now();
      await new Promise((res) => setTimeout(res, 20));
      const pieces = (await doc.requests!.handle({ type: 'request', id: 1, method: 'memory', params: { process: proc, addr: marker, length: HOSTILE_MARKER.length } })) as { bytes?: Uint8Array }[];
      assert.strictEqual(Buffer.from(pieces[0].bytes!).toString(), HOSTILE_MARKER);
      worst = Math.max(worst, Date.now() - t0 - 20);
      rounds++;
    }
    console.log(`      (1.5 s of backtracking: ${rounds} rounds of a 20 ms timer and a memory request, the longest hold-up ${worst} ms)`);
    assert.ok(worst < 250, `the extension host was held up for ${worst} ms`);
    assert.strictEqual(editors.runningSearch(uri), first, 'the search was still running');
    assert.strictEqual(settled, false, 'the command had not answered');

    // The next Search Memory ends it: the first command answers at once, as cancelled.
    let t0 = Date.now();
    const next = search(uri, { mode: 'text', pattern: HOSTILE_MARKER });
    const r1 = await hostile;
    const endedIn = Date.now() - t0;
    assert.ok(r1.ok, JSON.stringify(r1));
    assert.strictEqual(r1.search.end.status, 'cancelled');
    assert.strictEqual(r1.search.hits.length, 0);
    const r2 = await next;
    assert.ok(r2.ok, JSON.stringify(r2));
    assert.strictEqual(r2.search.end.status, 'done');
    assert.deepStrictEqual(
      r2.search.hits.map((h) => h.address),
      [marker],
    );

    // Cancel (the command's progress Cancel is this token, given to the same searchInEditor).
    const cts = new vscode.CancellationTokenSource();
    const cancelled = editors.searchInEditor(doc, { mode: 'regex', pattern: HOSTILE_REGEX }, { token: cts.token });
    const third = await until('the third search to start', () => editors.runningSearch(uri), 15_000);
    await new Promise((res) => setTimeout(res, 500));
    assert.strictEqual(editors.runningSearch(uri), third);
    t0 = Date.now();
    cts.cancel();
    const r3 = await cancelled;
    const cancelMs = Date.now() - t0;
    console.log(`      (the next search ended the hostile one ${endedIn} ms after it was asked for; Cancel, to the command's answer: ${cancelMs} ms)`);
    assert.strictEqual(r3.end.status, 'cancelled');
    assert.ok(cancelMs < 1000, `Cancel took ${cancelMs} ms`);
    assert.ok(endedIn < 2000, `the next search ended the hostile one after ${endedIn} ms`);
    assert.strictEqual(editors.runningSearch(uri), undefined);
    // The editor answers on: a request, and one more search.
    const pieces = (await doc.requests!.handle({ type: 'request', id: 2, method: 'memory', params: { process: proc, addr: marker, length: 4 } })) as { bytes?: Uint8Array }[];
    assert.strictEqual(Buffer.from(pieces[0].bytes!).toString(), HOSTILE_MARKER.slice(0, 4));
    const r4 = await search(uri, { mode: 'regex', pattern: 'a{4}END' });
    assert.ok(r4.ok, JSON.stringify(r4));
    assert.deepStrictEqual(
      r4.search.hits.map((h) => h.address),
      [hex(hostileMarkerAddr() - 4n)],
    );
  });
});

/** The id of the search running in the editor of a document, if any (through the provider's panels). */
async function activeSearch(doc: { uri: vscode.Uri }): Promise<number | undefined> {
  const { editors } = await api();
  return editors.runningSearch(doc.uri);
}
