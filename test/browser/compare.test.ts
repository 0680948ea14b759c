// The compare editor as a person sees it, in code-server and headless Chromium: two .ckpt files
// selected in the Explorer and compared from its context menu (the real checkpointer's images of a
// process that rewrote one page), the summary counts, the changed VMA and its page, the page's bytes
// side by side with the changed ones highlighted; Select Checkpoint for Compare and Compare with
// Selected Checkpoint on a pair with differences of several kinds, a thread's registers side by
// side; light and dark themes.

import * as assert from 'assert';
import { makeRealPair, RealPair, RICH, writeRichPair } from '../support/imagePairs';
import { tempFolder } from '../../scripts/vscode-host/cleanup';
import { ensureBuilt } from '../../scripts/vscode-host/build';
import {
  chooseFromMenu,
  menuWith,
  openView,
  outputChannelText,
  runCommand,
  treeItem,
  waitForWorkbench,
  webviewFrame,
  webviewText,
  Workbench,
  openWorkbench,
  screenshotFailures,
  setColorTheme,
} from './workbench';

const hex = (v: bigint) => `0x${v.toString(16)}`;

describe('the compare editor, in the browser', function () {
  this.timeout(180_000);
  let wb: Workbench | undefined;
  let folder: string;
  let real: RealPair | undefined;
  let removeFolder = (): void => undefined;

  before(async () => {
    const built = ensureBuilt();
    ({ path: folder, remove: removeFolder } = tempFolder('ckpt-browser-compare-'));
    if (built.native) real = await makeRealPair(folder, built.native);
    writeRichPair(folder);
    wb = await openWorkbench({ folder });
    // The compare entries appear once the extension has activated: wait for that, then hide the panel.
    await outputChannelText(wb.page, 'Checkpoint Explorer', 'Checkpoint Explorer activated');
    await runCommand(wb.page, 'View: Hide Panel');
  });

  screenshotFailures(() => wb);

  after(async () => {
    await wb?.close();
    removeFolder();
  });

  it('offers Compare Selected Checkpoints, first, on two selected .ckpt files, and Select Checkpoint for Compare on one', async () => {
    const page = wb!.page;
    await openView(page, 'Explorer');
    const a = treeItem(page, 'Explorer', 'rich-a.ckpt');
    const b = treeItem(page, 'Explorer', 'rich-b.ckpt');
    // One file: Select Checkpoint for Compare, not Compare Checkpoints.
    const single = await menuWith(page, a, 'Select Checkpoint for Compare');
    try {
      assert.ok(single.entries.includes('Select Checkpoint for Compare'), JSON.stringify(single.entries));
      assert.ok(!single.entries.includes('Compare Selected Checkpoints'), JSON.stringify(single.entries));
      assert.ok(!single.entries.includes('Compare with Selected Checkpoint'), 'nothing is selected for compare yet');
    } finally {
      await single.close();
    }
    // Two files: Compare Selected Checkpoints, before VS Code's own text compare.
    await a.click();
    await b.click({ modifiers: ['Control'] });
    await page.locator('.explorer-folders-view .monaco-list-row.selected').nth(1).waitFor({ state: 'visible' });
    const multi = await menuWith(page, b, 'Compare Selected Checkpoints');
    try {
      assert.ok(multi.entries.includes('Compare Selected Checkpoints'), JSON.stringify(multi.entries));
      // ahead of VS Code's "Compare Selected", which would open two editors side by side and no difference
      const ours = multi.entries.indexOf('Compare Selected Checkpoints'),
        theirs = multi.entries.indexOf('Compare Selected');
      assert.ok(theirs < 0 || ours < theirs, JSON.stringify(multi.entries));
      assert.ok(!multi.entries.includes('Select Checkpoint for Compare'), JSON.stringify(multi.entries));
      console.log(`    ${await wb!.screenshot('compare-menu-two-images')}`);
    } finally {
      await multi.close();
    }
  });

  it('compares two checkpoints of a live process: the summary, the changed VMA and page, the bytes side by side', async function () {
    if (!real) this.skip();
    const page = wb!.page;
    await openView(page, 'Explorer');
    const first = treeItem(page, 'Explorer', 'first.ckpt');
    const changed = treeItem(page, 'Explorer', 'changed.ckpt');
    await first.click();
    await changed.click({ modifiers: ['Control'] });
    await chooseFromMenu(page, changed, 'Compare Selected Checkpoints');
    await page.locator('.tabs-container .tab.active', { hasText: 'first.ckpt ↔ changed.ckpt' }).waitFor({ state: 'visible', timeout: 30_000 });
    const text = await webviewText(page, { expect: /1 VMA changed, 1 page modified/, timeout: 30_000 });
    assert.match(text, /Pages compared by page hash/);
    const frame = webviewFrame(page);
    // The counts by kind: one VMA changed, one page modified.
    const counts = frame.locator('table.counts');
    assert.match(await counts.locator('tr', { hasText: 'VMAs' }).innerText(), /VMAs\s+–\s+–\s+1/);
    assert.match(await counts.locator('tr', { hasText: 'Pages' }).innerText(), /Pages\s+–\s+–\s+1/);
    // The tree: the process, and in it the VMA of the buffer, selected first.
    const { buffer, page: ps } = real!.planted;
    const vma = frame.locator('.diff-row.selected', { has: frame.locator('.badge', { hasText: /^VMA$/ }) });
    await vma.waitFor({ state: 'visible' });
    assert.match(await frame.locator('.diff-row', { has: frame.locator('.badge', { hasText: /^PROCESS$/ }) }).innerText(), new RegExp(`process ${real!.pid}`));
    assert.match(await vma.innerText(), /rw-p.*1 page modified/s);
    // Its changed page, and the page's bytes side by side.
    const pageRow = frame.locator('.page-row', { hasText: hex(buffer) });
    await pageRow.waitFor({ state: 'visible' });
    await pageRow.click();
    const title = frame.locator('.hd-title');
    await title.waitFor({ state: 'visible' });
    assert.match(await title.innerText(), new RegExp(`Page ${hex(buffer)} · ${ps} bytes · \\d+ bytes differ`));
    // The target wrote 0xa5 ^ (i * 31) over a page of zeros (but byte 7, which was 1): byte 0 differs.
    const firstRowA = frame.locator('.hd-row[data-off="0"] .hd-hex.a .x');
    const firstRowB = frame.locator('.hd-row[data-off="0"] .hd-hex.b .x');
    assert.strictEqual(await firstRowA.nth(0).innerText(), '00');
    assert.strictEqual(await firstRowB.nth(0).innerText(), 'a5');
    assert.match((await firstRowB.nth(0).getAttribute('class')) ?? '', /\bd\b/, 'a changed byte is highlighted');
    assert.ok((await frame.locator('.hd-hex.b .x.d').count()) > ps / 2, 'most bytes of the page changed');
    assert.match(await frame.locator('.hd-live').innerText(), /^Change 1 of \d+: /);
    console.log(`    ${await wb!.screenshot('compare-real-page-light')}`);
    await setColorTheme(page, 'Dark Modern');
    await frame.locator('body.vscode-dark').waitFor({ state: 'attached' });
    console.log(`    ${await wb!.screenshot('compare-real-page-dark')}`);
    await setColorTheme(page, 'Light Modern');
  });

  it('compares with Select Checkpoint for Compare and Compare with Selected Checkpoint: registers side by side, changed ones marked', async () => {
    const page = wb!.page;
    await openView(page, 'Explorer');
    await chooseFromMenu(page, treeItem(page, 'Explorer', 'rich-a.ckpt'), 'Select Checkpoint for Compare');
    const entries = await chooseFromMenu(page, treeItem(page, 'Explorer', 'rich-b.ckpt'), 'Compare with Selected Checkpoint');
    assert.ok(entries.includes('Select Checkpoint for Compare'));
    await page.locator('.tabs-container .tab.active', { hasText: 'rich-a.ckpt ↔ rich-b.ckpt' }).waitFor({ state: 'visible', timeout: 30_000 });
    const text = await webviewText(page, { expect: /1 thread changed/, timeout: 30_000 });
    assert.match(text, /1 thread changed, 1 VMA added, 1 VMA changed, 1 fd changed, 1 page modified, 1 page only in B/);
    const frame = webviewFrame(page);
    // The worker thread: its registers side by side, rip marked as changed.
    await frame.locator('.diff-row', { hasText: `thread ${RICH.worker}` }).click();
    const rip = frame.locator('table.registers tr', { has: frame.locator('th', { hasText: /rip$/ }) });
    await rip.waitFor({ state: 'visible' });
    assert.match((await rip.getAttribute('class')) ?? '', /\bdiffers\b/);
    assert.match(await rip.innerText(), new RegExp(`≠\\s*rip\\s+${RICH.workerRip.a}\\s+${RICH.workerRip.b}`));
    const rsp = frame.locator('table.registers tr', { has: frame.locator('th', { hasText: /^rsp$/ }) });
    assert.doesNotMatch((await rsp.getAttribute('class')) ?? '', /\bdiffers\b/);
    console.log(`    ${await wb!.screenshot('compare-registers-light')}`);
    // The heap: one page, 4 bytes differ in one run.
    await frame.locator('.diff-row', { hasText: '[heap]' }).click();
    await frame.locator('.detail-title', { hasText: '[heap]' }).waitFor({ state: 'visible' });
    await frame.locator('.page-row', { hasText: hex(RICH.heapPage) }).click();
    await frame.locator('.hd-title', { hasText: /4 bytes differ, in 1 run/ }).waitFor({ state: 'visible' });
    assert.strictEqual(await frame.locator('.hd-hex.a .x.d').count(), 4);
    // Keyboard: the tree moves with the arrows and keeps one tab stop.
    await frame.locator('.diff-row.selected').focus();
    await page.keyboard.press('Home');
    await frame.locator('.detail-title .badge', { hasText: /^PROCESS$/ }).waitFor({ state: 'visible' });
    assert.strictEqual(await frame.locator('.diff-row[tabindex="0"]').count(), 1);
    await setColorTheme(page, 'Dark Modern');
    await frame.locator('.diff-row', { hasText: `thread ${RICH.worker}` }).click();
    await rip.waitFor({ state: 'visible' });
    console.log(`    ${await wb!.screenshot('compare-registers-dark')}`);
    await setColorTheme(page, 'Light Modern');
  });

  it('comes back after the window reloads, compared again from the two paths it kept', async () => {
    const page = wb!.page;
    await page.locator('.tabs-container .tab', { hasText: 'rich-a.ckpt ↔ rich-b.ckpt' }).click();
    // the way a user reloads: the workbench saves its editors (and the webviews' state) before it
    // goes; a bare page reload can come before that save, and the newest tab is then not reopened
    const reloaded = page.waitForEvent('load', { timeout: 60_000 });
    await runCommand(page, 'Developer: Reload Window');
    await reloaded;
    await waitForWorkbench(page);
    await page.locator('.tabs-container .tab.active', { hasText: 'rich-a.ckpt ↔ rich-b.ckpt' }).waitFor({ state: 'visible', timeout: 30_000 });
    const text = await webviewText(page, { expect: /1 thread changed, 1 VMA added/, timeout: 30_000 });
    assert.match(text, /rich-a\.ckpt[\s\S]*rich-b\.ckpt/);
  });

  it('broke no rule of its Content-Security-Policy', () => {
    assert.deepStrictEqual(wb!.cspViolations, []);
  });
});
