// The extension's UI as a person sees it, in code-server and headless Chromium: the image editor (its
// summary, decoded fields and hex rows, the address space and memory), selection kept in step with
// the Image Records view, the context menus on a process and on an image, and screenshots in the
// light and dark themes.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ensureBuilt } from '../../scripts/vscode-host/build';
import { tempFolder } from '../../scripts/vscode-host/cleanup';
import { ImageWriter } from '../../src/image/write/imageWriter';
import { buildSample } from '../support/sampleImage';
import { killQuietly, startTicker, Ticker } from '../support/ticker';
import { until } from '../support/until';
import {
  contextMenuOf,
  filterProcessesTo,
  openFile,
  openView,
  runCommand,
  treeItem,
  viewPane,
  webviewFrame,
  webviewText,
  Workbench,
  openWorkbench,
  screenshotFailures,
  setColorTheme,
  notification,
} from './workbench';

/** Libraries mapped by the image of writeManyVmas: more than one page of the editor's tree (500 rows). */
const MANY_VMAS = 1600;

/** An image (test writer) of a process whose memory map holds MANY_VMAS one-page file mappings, /lib/v<i>.so. */
function writeManyVmas(folder: string): void {
  const w = ImageWriter.inMemory(4096);
  w.head();
  const proc = w.record('process', { pid: 4343, comm: 'many', nthreads: 1 });
  w.mainThread(proc, 4343);
  const mm = w.record('mm', { nvmas: MANY_VMAS }, { ptag: proc });
  for (let i = 0; i < MANY_VMAS; i++) {
    const start = 0x7f0000000000n + BigInt(i) * 0x2000n;
    w.record('vma', { start, end: start + 0x1000n, prot: 1, kind: 3, path: `/lib/v${i}.so` }, { ptag: mm });
  }
  w.tail();
  fs.writeFileSync(path.join(folder, 'many-vmas.ckpt'), w.bytes());
}

/** Hex rows as the webview shows them: an address, then 16 bytes in hex. */
const HEX_ROW = /^[0-9a-f]{8,16}\s+(?:[0-9a-f]{2}\s+){16}/m;

describe('the image editor and the views, in the browser', function () {
  this.timeout(180_000);
  let wb: Workbench | undefined;
  let folder: string;
  let removeFolder = (): void => undefined;
  let ticker: Ticker | undefined;
  let madeBy: 'ckpt' | 'test-writer';
  let restoredPid: number | undefined;

  before(async () => {
    const built = ensureBuilt();
    ({ path: folder, remove: removeFolder } = tempFolder('ckpt-browser-editor-'));
    // A live process: the image is made from it, and it stays for the Processes view.
    ticker = await startTicker();
    const image = path.join(folder, 'ticker.ckpt');
    if (built.native) {
      const r = spawnSync(built.native, ['dump', String(ticker.pid), '-o', image], { encoding: 'utf8' });
      assert.strictEqual(r.status, 0, `ckpt dump failed: ${r.stderr}`);
      madeBy = 'ckpt';
    } else {
      console.log(`    (${built.nativeMissing}: using an image from the test writer)`);
      fs.writeFileSync(image, buildSample().bytes);
      madeBy = 'test-writer';
    }
    writeManyVmas(folder);
    // Terminals drawn as text (not on a canvas), so that the test can read what a restored process prints.
    wb = await openWorkbench({ folder, settings: { 'terminal.integrated.gpuAcceleration': 'off' } });
  });

  screenshotFailures(() => wb);

  after(async () => {
    await wb?.close();
    ticker?.stop();
    killQuietly(restoredPid);
    removeFolder();
  });

  it('opens an image in its editor: the summary, a decoded field and hex rows', async () => {
    const page = wb!.page;
    await openFile(page, 'ticker.ckpt');
    const comm = madeBy === 'ckpt' ? 'perl' : 'demo';
    const text = await webviewText(page, { expect: /Verified: sound/, timeout: 30_000 });
    assert.match(text, new RegExp(`${comm}\\s+pid ${madeBy === 'ckpt' ? ticker!.pid : 4242}`));
    for (const fact of ['Threads', 'Memory', 'Taken', 'Kernel', 'Image']) assert.match(text, new RegExp(`^${fact}\\b`, 'm'), `no "${fact}" in the summary`);
    // The process record is selected first: its decoded fields, and its raw bytes in hex rows.
    const frame = webviewFrame(page);
    const comField = frame.locator('.field-row', { has: frame.locator('.field-name', { hasText: /^comm$/ }) });
    assert.strictEqual((await comField.locator('.field-value').innerText()).trim(), `"${comm}"`);
    const raw = frame.locator('.fields-panel .hexview');
    await raw.locator('.b.loading').first().waitFor({ state: 'detached', timeout: 10_000 });
    assert.match(await raw.innerText(), HEX_ROW);
    // Selecting a field highlights its bytes.
    await comField.click();
    await frame.locator('.hex-row .b.hl').first().waitFor({ state: 'visible' });
    assert.ok((await frame.locator('.hex-row .b.hl').count()) >= comm.length);
    console.log(`    ${await wb!.screenshot('editor-summary-fields-light')}`);
  });

  it('keeps the selection of the editor and of the Image Records view in step', async () => {
    const page = wb!.page;
    const frame = webviewFrame(page);
    // Editor -> view: open the process in the editor's tree and select its MM record.
    await frame
      .locator('.tree-row', { has: frame.locator('.badge', { hasText: /^PROCESS$/ }) })
      .locator('.twistie')
      .click();
    await frame.locator('.tree-row', { has: frame.locator('.badge', { hasText: /^MM$/ }) }).click();
    await openView(page, 'Image Records');
    const records = viewPane(page, 'Image Records');
    await records.locator('.monaco-list-row.selected', { hasText: 'MM' }).waitFor({ state: 'visible', timeout: 15_000 });
    // View -> editor: select the TAIL row in the view.
    await treeItem(page, 'Image Records', /^TAIL$/).click();
    await frame.locator('.detail-title .badge', { hasText: /^TAIL$/ }).waitFor({ state: 'visible', timeout: 15_000 });
    assert.match(await frame.locator('.tree-row.selected').innerText(), /TAIL/);
    console.log(`    ${await wb!.screenshot('records-view-in-step')}`);
  });

  it('moves through the records with the keyboard', async () => {
    const page = wb!.page;
    const frame = webviewFrame(page);
    await frame.locator('.tree-row.selected').focus();
    await page.keyboard.press('Home');
    await frame.locator('.detail-title .badge', { hasText: /^HEAD$/ }).waitFor({ state: 'visible' });
    // Down, past the open file descriptions (top-level FILE records, before the processes that hold them), to the process.
    const processBadge = frame.locator('.detail-title .badge', { hasText: /^PROCESS$/ });
    const title = frame.locator('.detail-title');
    for (let i = 0; i < 20 && !(await processBadge.isVisible()); i++) {
      const before = await title.innerText();
      await page.keyboard.press('ArrowDown');
      await until('the next record in the detail pane', async () => (await title.innerText()) !== before, 10_000);
    }
    await processBadge.waitFor({ state: 'visible' });
    // Right opens the process, Down goes to its first child.
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await frame.locator('.detail-title .badge', { hasText: /^THREAD$/ }).waitFor({ state: 'visible' });
    assert.strictEqual(await frame.locator('.tree-row[tabindex="0"]').count(), 1, 'one tab stop in the tree');
    // Tab leaves the tree for the next part of the page.
    await page.keyboard.press('Tab');
    assert.strictEqual(await frame.locator('.tree-row:focus').count(), 0);
  });

  it('draws the address space to scale and shows memory by address', async () => {
    const page = wb!.page;
    const frame = webviewFrame(page);
    await frame.locator('.tree-row', { has: frame.locator('.badge', { hasText: /^MM$/ }) }).click();
    await frame.locator('.as-vma').first().waitFor({ state: 'visible' });
    const heading = await frame.locator('.as-heading').innerText();
    assert.match(heading, /^\d+ VMAs, .* mapped, .* dumped$/);
    const heap = frame.locator('.as-vma.k-heap').first();
    await heap.hover();
    assert.match(await frame.locator('.as-hover').innerText(), /heap/);
    console.log(`    ${await wb!.screenshot('address-space')}`);
    // Double-click the heap: its memory, by virtual address.
    await heap.dblclick();
    await frame.locator('.tab[aria-selected="true"]', { hasText: 'Memory' }).waitFor({ state: 'visible' });
    const rows = frame.locator('.memory-pane .hex-row:not(.gap):not(.empty)');
    await rows.first().waitFor({ state: 'visible' });
    await frame
      .locator('.memory-pane .b.loading')
      .first()
      .waitFor({ state: 'detached', timeout: 10_000 })
      .catch(() => undefined);
    assert.match(await rows.first().innerText(), /^[0-9a-f]{12}\s+(?:[0-9a-f]{2}\s+){16}/);
    // Scrolling far is cheap: End jumps to the last row of the range.
    await frame.locator('.memory-pane .hexview').focus();
    const status = frame.locator('.memory-pane .hex-status');
    const atTop = await status.innerText();
    await page.keyboard.press('End');
    await until('the memory view to scroll to the end', async () => (await status.innerText()) !== atTop, 10_000);
    assert.match(await status.innerText(), /row \d+ of \d+/);
    console.log(`    ${await wb!.screenshot('memory')}`);
  });

  it('right-clicks a process: Checkpoint (leave running) and Checkpoint and Stop', async () => {
    const page = wb!.page;
    await openView(page, 'Processes');
    const row = await filterProcessesTo(page, ticker!.pid);
    // the row says the name and the PID, which fit the sidebar; the hover says the rest
    assert.match(await row.innerText(), new RegExp(`^perl\\s*${ticker!.pid}$`));
    await row.hover();
    const hover = page
      .locator('.monaco-hover, .workbench-hover')
      .filter({ hasText: `PID ${ticker!.pid}` })
      .first();
    await hover.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await hover.innerText(), /user \w+ \(uid \d+\) · state \w · session \d+ · .*iB resident · 1 thread/);
    await page.keyboard.press('Escape');
    const menu = await contextMenuOf(page, row);
    try {
      for (const entry of ['Checkpoint (leave running)', 'Checkpoint and Stop']) assert.ok(menu.entries.includes(entry), `no "${entry}" in ${JSON.stringify(menu.entries)}`);
      console.log(`    ${await wb!.screenshot('process-context-menu')}`);
    } finally {
      await menu.close();
    }
  });

  it('checkpoints a process from its row: Cancel in the progress notification leaves it as it was; done, the image opens', async () => {
    const page = wb!.page;
    // Touched heap enough that the dump takes seconds here, time enough to press Cancel.
    // 2 GiB: a leave-running dump reads a snapshot now, and 1 GiB could be done before Cancel shows
    const big = await startTicker({ heapMiB: 2048 });
    try {
      await openView(page, 'Processes');
      const checkpointFromRow = async (pid: number) => {
        const menu = await contextMenuOf(page, await filterProcessesTo(page, pid));
        assert.ok(menu.entries.includes('Checkpoint (leave running)'), JSON.stringify(menu.entries));
        await page
          .locator('.context-view .monaco-menu .action-item .action-label', { hasText: /^Checkpoint \(leave running\)$/ })
          .first()
          .click();
      };
      const images = () => (fs.existsSync(path.join(folder, 'checkpoints')) ? fs.readdirSync(path.join(folder, 'checkpoints')) : []);
      const status = (pid: number) => fs.readFileSync(`/proc/${pid}/status`, 'utf8');

      await checkpointFromRow(big.pid);
      // Cancel at any step before the image is published leaves the process as it was. A click
      // on a menu that a redraw of the view closed starts nothing: then the row is asked again.
      const progress = await notification(page, `Checkpointing perl (PID ${big.pid})`, 8_000).catch(async () => {
        await checkpointFromRow(big.pid);
        return notification(page, `Checkpointing perl (PID ${big.pid})`);
      });
      console.log(`    ${await wb!.screenshot('checkpoint-progress')}`);
      await progress.locator('.monaco-button', { hasText: /^Cancel$/ }).click();
      await notification(page, `Checkpoint cancelled; process ${big.pid} was left as it was.`);
      await runCommand(page, 'Notifications: Clear All Notifications');
      assert.deepStrictEqual(images(), [], 'no image and no temp file is left');
      assert.match(status(big.pid), /^TracerPid:\s+0$/m, 'ckpt has let go of it');
      assert.doesNotMatch(status(big.pid), /^State:\s+[tT]/m, 'it is not stopped');
      const ticks = big.output().length;
      await until('the process to go on ticking', () => big.output().length > ticks);

      // The same from the small ticker's row, to the end: the image opens in its editor.
      await checkpointFromRow(ticker!.pid);
      await page.locator('.tabs-container .tab.active', { hasText: new RegExp(`^perl-${ticker!.pid}-.*\\.ckpt`) }).waitFor({ state: 'visible', timeout: 30_000 });
      await webviewText(page, { expect: new RegExp(`perl\\s+pid ${ticker!.pid}[\\s\\S]*Verified: sound`), timeout: 30_000 });
      const written = images();
      assert.strictEqual(written.length, 1, JSON.stringify(written));
      assert.strictEqual(fs.statSync(path.join(folder, 'checkpoints', written[0])).mode & 0o777, 0o600);
      console.log(`    ${await wb!.screenshot('checkpoint-opened')}`);
    } finally {
      big.stop();
    }
  });

  it('right-clicks an image in the Explorer: Restore, Verify, Reveal in Records, Select Checkpoint for Compare', async () => {
    const page = wb!.page;
    await openView(page, 'Explorer');
    const menu = await contextMenuOf(page, treeItem(page, 'Explorer', 'ticker.ckpt'));
    try {
      for (const entry of ['Restore', 'Verify', 'Reveal in Records']) assert.ok(menu.entries.includes(entry), `no "${entry}" in ${JSON.stringify(menu.entries)}`);
      // Comparing: one image can be selected for compare; Compare Checkpoints needs two selected.
      assert.ok(menu.entries.includes('Select Checkpoint for Compare'), `no "Select Checkpoint for Compare" in ${JSON.stringify(menu.entries)}`);
      assert.ok(!menu.entries.includes('Compare Selected Checkpoints'), 'Compare Checkpoints is for two selected images');
      console.log(`    ${await wb!.screenshot('image-context-menu')}`);
    } finally {
      await menu.close();
    }
  });

  it('follows the dark and high-contrast themes', async () => {
    const page = wb!.page;
    await openFile(page, 'ticker.ckpt');
    const frame = webviewFrame(page);
    const background = () => frame.locator('body').evaluate((b) => getComputedStyle(b).backgroundColor);
    const light = await background();
    await setColorTheme(page, 'Dark Modern');
    await frame.locator('body.vscode-dark').waitFor({ state: 'attached' });
    const dark = await background();
    assert.notStrictEqual(dark, light);
    await frame.locator('.tree-row', { has: frame.locator('.badge', { hasText: /^PROCESS$/ }) }).click();
    await frame.locator('.field-row').first().waitFor({ state: 'visible' });
    console.log(`    ${await wb!.screenshot('editor-dark')}`);
    await setColorTheme(page, 'Dark High Contrast');
    await frame.locator('body.vscode-high-contrast').waitFor({ state: 'attached' });
    console.log(`    ${await wb!.screenshot('editor-high-contrast')}`);
    await setColorTheme(page, 'Light Modern');
  });

  it("restores from the editor's Restore button: the new process's output in a terminal named after it", async function () {
    if (madeBy !== 'ckpt') this.skip();
    const page = wb!.page;
    await openFile(page, 'ticker.ckpt');
    await webviewFrame(page).locator('button[data-command="restore"]').click();
    // The terminal's name carries the new PID.
    const tab = page
      .locator('.part.panel')
      .getByText(/perl \(pid \d+\)/)
      .first();
    await tab.waitFor({ state: 'visible', timeout: 30_000 });
    restoredPid = Number(/pid (\d+)/.exec(await tab.innerText())![1]);
    assert.notStrictEqual(restoredPid, ticker!.pid);
    assert.ok(fs.existsSync(`/proc/${restoredPid}`), 'the restored process runs');
    await page.locator('.part.panel .xterm').first().waitFor({ state: 'visible' });
    // ... and its PID is revealed in the Processes view.
    await viewPane(page, 'Processes')
      .locator('.monaco-list-row.selected', { has: page.locator('.label-description', { hasText: new RegExp(`^${restoredPid}(?: ·|$)`) }) })
      .waitFor({ state: 'visible', timeout: 15_000 });
    // Its ticks, as the process writes them after the restore, shown in its terminal.
    const rows = page.locator('.part.panel .xterm-rows').filter({ visible: true }).first();
    const ticks = async () => ((await rows.innerText({ timeout: 5_000 })).replace(/\u00a0/g, ' ').match(/^tick \d+ *$/gm) ?? []).length;
    await until("five tick lines in the restored process's terminal", async () => (await ticks()) >= 5, 20_000).catch(async (e: Error) => {
      throw new Error(`${e.message}; the terminal shows:\n${await rows.innerText({ timeout: 5_000 }).catch(() => '(no rows)')}`);
    });
    console.log(`    ${await wb!.screenshot('restored-terminal')}`);
  });

  it('pages a record with thousands of children, and reveals one far down the list', async () => {
    const page = wb!.page;
    await openFile(page, 'many-vmas.ckpt');
    await webviewText(page, { expect: /Verified: sound/, timeout: 30_000 });
    const frame = webviewFrame(page);
    const vmaRows = frame.locator('.tree-row', { has: frame.locator('.badge', { hasText: /^VMA$/ }) });
    const more = frame.locator('.tree-more');
    await frame
      .locator('.tree-row', { has: frame.locator('.badge', { hasText: /^PROCESS$/ }) })
      .locator('.twistie')
      .click();
    await frame
      .locator('.tree-row', { has: frame.locator('.badge', { hasText: /^MM$/ }) })
      .locator('.twistie')
      .click();
    await more.filter({ hasText: `Show 500 more of ${MANY_VMAS - 500}` }).waitFor({ state: 'visible' });
    assert.strictEqual(await vmaRows.count(), 500);
    await more.click();
    await more.filter({ hasText: `Show 500 more of ${MANY_VMAS - 1000}` }).waitFor({ state: 'visible' });
    assert.strictEqual(await vmaRows.count(), 1000);
    // The memory map's table picks a VMA the tree has not loaded yet: the tree loads up to it and selects it.
    await frame.locator('.tree-row', { has: frame.locator('.badge', { hasText: /^MM$/ }) }).click();
    await frame.locator('.as-table tr', { hasText: '/lib/v1200.so' }).click();
    await frame.locator('.detail-title .badge', { hasText: /^VMA$/ }).waitFor({ state: 'visible' });
    const selected = frame.locator('.tree-row.selected');
    await selected.filter({ hasText: '/lib/v1200.so' }).waitFor({ state: 'visible' });
    assert.ok(
      await selected.evaluate((el) => {
        const r = el.getBoundingClientRect();
        return r.bottom > 0 && r.top < innerHeight;
      }),
      'the revealed row is scrolled into view',
    );
    assert.strictEqual(await vmaRows.count(), 1500);
    assert.strictEqual((await more.innerText()).trim(), `Show ${MANY_VMAS - 1500} more of ${MANY_VMAS - 1500}`);
    // End goes to the last row (the tail), Up from there to the last VMA loaded, past the "more" button.
    await selected.focus();
    await page.keyboard.press('End');
    await frame.locator('.tree-row:focus', { has: frame.locator('.badge', { hasText: /^TAIL$/ }) }).waitFor({ state: 'visible' });
    await page.keyboard.press('ArrowUp');
    await frame.locator('.tree-row:focus', { hasText: '/lib/v1499.so' }).waitFor({ state: 'visible' });
    assert.strictEqual(await frame.locator('.tree-row[tabindex="0"]').count(), 1, 'one tab stop in the tree');
    console.log(`    ${await wb!.screenshot('paged-records')}`);
  });

  it('broke no rule of its Content-Security-Policy', () => {
    assert.deepStrictEqual(wb!.cspViolations, []);
  });
});
