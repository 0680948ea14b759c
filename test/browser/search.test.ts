// Search memory in the image editor, as a person uses it in code-server and headless Chromium: type
// a string a live process planted, see the result (address, VMA, context with the match), click it
// and land on that address in the memory view with the match highlighted; UTF-16 and hex with
// wildcards; a long search over 2 GiB that leaves the editor answering, and its Cancel; Cancel of a
// regular expression that would never finish.

import * as assert from 'assert';
import * as path from 'path';
import type { FrameLocator } from 'playwright-core';
import { BigImage, writeBigImage } from '../support/bigImage';
import { HOSTILE_MARKER, HOSTILE_REGEX, writeHostileImage } from '../support/hostileImage';
import { makeRealPair, RealPair } from '../support/imagePairs';
import { ACROSS, WIDE } from '../unit/diffRealTarget';
import { tempFolder } from '../../scripts/vscode-host/cleanup';
import { ensureBuilt } from '../../scripts/vscode-host/build';
import { openFile, webviewFrame, webviewText, Workbench, openWorkbench, screenshotFailures, setColorTheme } from './workbench';

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** Opens the Search memory tab of the editor in front and searches. */
async function search(frame: FrameLocator, pattern: string, opts: { mode?: 'Text' | 'Hex' | 'Regex'; utf16?: boolean } = {}): Promise<void> {
  await frame.locator('.pane-tab', { hasText: /^Search memory$/ }).click();
  await frame
    .locator('label.opt', { hasText: opts.mode ?? 'Text' })
    .locator('input')
    .check();
  const utf16 = frame.locator('input.opt-utf16');
  if (opts.utf16) await utf16.check();
  else if (await utf16.isEnabled()) await utf16.uncheck();
  const input = frame.locator('.search-input');
  await input.fill(pattern);
  await input.press('Enter');
}

describe('search memory in the image editor, in the browser', function () {
  this.timeout(180_000);
  let wb: Workbench | undefined;
  let folder: string;
  let real: RealPair | undefined;
  let big: BigImage | undefined;
  let removeFolder = (): void => undefined;

  before(async () => {
    const built = ensureBuilt();
    ({ path: folder, remove: removeFolder } = tempFolder('ckpt-browser-search-'));
    if (built.native) real = await makeRealPair(folder, built.native, ['planted.ckpt', 'planted-again.ckpt']);
    big = writeBigImage(2, { dir: folder });
    writeHostileImage(folder);
    wb = await openWorkbench({ folder });
  });

  screenshotFailures(() => wb);

  after(async () => {
    await wb?.close();
    big?.remove();
    removeFolder();
  });

  it('finds a string the process planted across a page boundary, and jumps to it in the memory view', async function () {
    if (!real) this.skip();
    const page = wb!.page;
    await openFile(page, 'planted.ckpt');
    await webviewText(page, { expect: /planter\s+pid/, timeout: 30_000 });
    const frame = webviewFrame(page);
    await search(frame, ACROSS);
    const hit = frame.locator('.hit').first();
    await hit.waitFor({ state: 'visible', timeout: 30_000 });
    await frame.locator('.search-message', { hasText: /^1 result in / }).waitFor({ state: 'visible', timeout: 30_000 });
    const { across } = real!.planted;
    assert.strictEqual(await hit.locator('.hit-addr').innerText(), hex(across));
    assert.match(await hit.locator('.hit-place').innerText(), /^rw-p anon_private\+0x[0-9a-f]+$/);
    assert.strictEqual(await hit.locator('mark.hit-match').innerText(), ACROSS);
    console.log(`    ${await wb!.screenshot('search-result-light')}`);
    // Click it: the process's memory, at that address, the match highlighted.
    await hit.click();
    await frame.locator('.tab[aria-selected="true"]', { hasText: /^Memory$/ }).waitFor({ state: 'visible' });
    const status = frame.locator('.memory-pane .hex-status');
    await status.filter({ hasText: `address ${hex(across)}:` }).waitFor({ state: 'visible', timeout: 10_000 });
    await frame.locator('.memory-pane .b.loading').first().waitFor({ state: 'detached', timeout: 10_000 });
    const highlighted = frame.locator('.memory-pane .c.hl');
    assert.strictEqual((await highlighted.allInnerTexts()).join(''), ACROSS, 'the ASCII column shows the match, highlighted');
    const cursorRow = frame.locator('.memory-pane .hex-row', { has: frame.locator('.b.cur') });
    assert.strictEqual(await cursorRow.getAttribute('data-addr'), (across - (across % 16n)).toString(16));
    console.log(`    ${await wb!.screenshot('search-jump-light')}`);
    await setColorTheme(page, 'Dark Modern');
    await frame.locator('body.vscode-dark').waitFor({ state: 'attached' });
    console.log(`    ${await wb!.screenshot('search-jump-dark')}`);
    await setColorTheme(page, 'Light Modern');
  });

  it('finds UTF-16 text and hex bytes with wildcards; Enter on a result jumps too', async function () {
    if (!real) this.skip();
    const page = wb!.page;
    await openFile(page, 'planted.ckpt');
    const frame = webviewFrame(page);
    await search(frame, WIDE.toLowerCase(), { utf16: true });
    await frame.locator('.search-message', { hasText: /^1 result in / }).waitFor({ state: 'visible', timeout: 30_000 });
    const hit = frame.locator('.hit').first();
    assert.strictEqual(await hit.locator('.hit-addr').innerText(), hex(real!.planted.wide));
    assert.strictEqual(await hit.locator('mark.hit-match').innerText(), WIDE);
    // Hex: the first four bytes of the planted string, then two unknown, then the next two.
    const bytes = Buffer.from(ACROSS).subarray(0, 8).toString('hex').match(/../g)!;
    await search(frame, [...bytes.slice(0, 4), '??', '??', ...bytes.slice(6)].join(' '), { mode: 'Hex' });
    await frame.locator('.search-message', { hasText: /^1 result in / }).waitFor({ state: 'visible', timeout: 30_000 });
    assert.strictEqual(await frame.locator('.hit .hit-addr').first().innerText(), hex(real!.planted.across));
    assert.strictEqual(await frame.locator('.hit mark.hit-match').first().innerText(), bytes.join(' '));
    await frame.locator('.hit').first().focus();
    await page.keyboard.press('Enter');
    await frame
      .locator('.memory-pane .hex-status')
      .filter({ hasText: `address ${hex(real!.planted.across)}:` })
      .waitFor({ state: 'visible', timeout: 10_000 });
    assert.strictEqual(await frame.locator('.hit[aria-selected="true"]').count(), 1);
  });

  it('keeps answering the editor during a long search, which Cancel stops; run to the end, it finds the last page', async () => {
    const page = wb!.page;
    const rel = path.relative(folder, big!.file);
    await openFile(page, rel);
    await webviewText(page, { expect: /big\s+pid 777/, timeout: 30_000 });
    const frame = webviewFrame(page);
    // A regular expression over 2 GiB: seconds of work on the extension host.
    await search(frame, 'l[a-z]+t page', { mode: 'Regex' });
    const message = frame.locator('.search-message');
    await message.filter({ hasText: /^Searching… \d+%/ }).waitFor({ state: 'visible', timeout: 15_000 });
    // Meanwhile the editor asks for records, and gets them.
    await frame.locator('.pane-tab', { hasText: /^Records$/ }).click();
    await frame.locator('.tree-row', { has: frame.locator('.badge', { hasText: /^TAIL$/ }) }).click();
    await frame.locator('.detail-title .badge', { hasText: /^TAIL$/ }).waitFor({ state: 'visible', timeout: 5000 });
    await frame.locator('.tree-row', { has: frame.locator('.badge', { hasText: /^HEAD$/ }) }).click();
    await frame.locator('.detail-title .badge', { hasText: /^HEAD$/ }).waitFor({ state: 'visible', timeout: 5000 });
    await frame.locator('.fields-panel .b.loading').first().waitFor({ state: 'detached', timeout: 5000 });
    await frame.locator('.pane-tab', { hasText: /^Search memory$/ }).click();
    assert.match(await message.innerText(), /^Searching… \d+%/, 'the search was still running while the records were shown');
    console.log(`    ${await wb!.screenshot('search-running')}`);
    await frame.locator('.search-row button', { hasText: 'Cancel' }).click();
    await message.filter({ hasText: /^Cancelled at \d+%: 0 results$/ }).waitFor({ state: 'visible', timeout: 10_000 });
    // Again, to the end: the marker on the very last page.
    await frame.locator('.search-input').press('Enter');
    await message.filter({ hasText: /^1 result in 2\.0 GiB/ }).waitFor({ state: 'visible', timeout: 120_000 });
    const hit = frame.locator('.hit').first();
    assert.strictEqual(await hit.locator('.hit-addr').innerText(), hex(big!.markerAddr + 4n));
    await hit.click();
    await frame
      .locator('.memory-pane .hex-status')
      .filter({ hasText: `address ${hex(big!.markerAddr + 4n)}:` })
      .waitFor({ state: 'visible', timeout: 10_000 });
    console.log(`    ${await wb!.screenshot('search-big-image')}`);
  });

  it('stops a regular expression that would never finish when Cancel is clicked, the editor answering meanwhile', async () => {
    const page = wb!.page;
    await openFile(page, 'hostile.ckpt');
    await webviewText(page, { expect: /hostile\s+pid 666/, timeout: 30_000 });
    const frame = webviewFrame(page);
    // (a+)+b over memory full of 'a': its worker would backtrack for ever.
    await search(frame, HOSTILE_REGEX, { mode: 'Regex' });
    const message = frame.locator('.search-message');
    await message.filter({ hasText: /^Searching…/ }).waitFor({ state: 'visible', timeout: 15_000 });
    await frame.locator('.pane-tab', { hasText: /^Records$/ }).click();
    await frame.locator('.tree-row', { has: frame.locator('.badge', { hasText: /^TAIL$/ }) }).click();
    await frame.locator('.detail-title .badge', { hasText: /^TAIL$/ }).waitFor({ state: 'visible', timeout: 5000 });
    await frame.locator('.pane-tab', { hasText: /^Search memory$/ }).click();
    assert.match(await message.innerText(), /^Searching…/, 'the search was still running while the record was shown');
    const t0 = Date.now();
    await frame.locator('.search-row button', { hasText: 'Cancel' }).click();
    await message.filter({ hasText: /^Cancelled at \d+%: 0 results$/ }).waitFor({ state: 'visible', timeout: 2000 });
    console.log(`    (Cancel clicked to "Cancelled" shown: ${Date.now() - t0} ms)`);
    // The editor searches on.
    await search(frame, HOSTILE_MARKER);
    await frame.locator('.search-message', { hasText: /^1 result in / }).waitFor({ state: 'visible', timeout: 15_000 });
  });

  it('broke no rule of its Content-Security-Policy', () => {
    assert.deepStrictEqual(wb!.cspViolations, []);
  });
});
