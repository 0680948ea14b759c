// `npm run screenshots`: the Marketplace icon (media/icon.png, from media/icon.svg) and the Marketplace
// README's pictures (media/screenshots/*.png), taken in the real
// workbench (code-server + headless Chromium, the browser tests' harness) on images that the real
// checkpointer made from a live process. A small window keeps each PNG under ~100 KiB. Run it again
// when the UI changes, look at the PNGs, and commit them.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ensureBuilt } from '../../scripts/vscode-host/build';
import { tempFolder } from '../../scripts/vscode-host/cleanup';
import { launchBrowser } from '../../scripts/vscode-host/browser';
import { repoRoot } from '../../scripts/vscode-host/provision';
import { makeRealPair } from '../support/imagePairs';
import { startTicker } from '../support/ticker';
import { contextMenuOf, filterProcessesTo, openFile, openView, openWorkbench, outputChannelText, runCommand, treeItem, webviewFrame, webviewText } from './workbench';

const OUT = path.join(repoRoot, 'media', 'screenshots');

/** media/icon.png (128×128, transparent corners) from media/icon.svg, rendered by Chromium. */
async function renderIcon(): Promise<void> {
  const browser = await launchBrowser({ viewport: { width: 128, height: 128 } });
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    const svg = fs.readFileSync(path.join(repoRoot, 'media', 'icon.svg'), 'utf8');
    await page.setContent(`<html><body style="margin:0;background:transparent">${svg}</body></html>`);
    const file = path.join(repoRoot, 'media', 'icon.png');
    await page.locator('svg').screenshot({ path: file, omitBackground: true });
    console.log(`media/icon.png: ${(fs.statSync(file).size / 1024).toFixed(1)} KiB`);
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  await renderIcon();
  const built = ensureBuilt();
  assert.ok(built.native, `the screenshots need the real checkpointer: ${built.nativeMissing}`);
  const { path: folder, remove } = tempFolder('ckpt-shots-');
  const ticker = await startTicker();
  const wb = await openWorkbench({ folder, settings: { 'workbench.colorTheme': 'Default Dark Modern' } });
  try {
    const page = wb.page;
    await page.setViewportSize({ width: 1100, height: 640 });
    fs.mkdirSync(OUT, { recursive: true });
    const shot = async (name: string) => {
      const file = path.join(OUT, `${name}.png`);
      await page.screenshot({ path: file });
      console.log(`${path.relative(repoRoot, file)}: ${(fs.statSync(file).size / 1024).toFixed(0)} KiB`);
    };

    const image = path.join(folder, 'ticker.ckpt');
    const r = spawnSync(built.native!, ['dump', String(ticker.pid), '-o', image], { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, `ckpt dump failed: ${r.stderr}`);
    const real = await makeRealPair(folder, built.native!);
    assert.ok(real, 'no image pair: the real checkpointer could not run');
    await outputChannelText(page, 'Checkpoint Explorer', 'Checkpoint Explorer activated');
    await runCommand(page, 'View: Hide Panel');
    await runCommand(page, 'View: Close All Editors');

    // The Processes view, with the checkpoint menu of a process.
    await openView(page, 'Processes');
    const row = await filterProcessesTo(page, ticker.pid);
    const rowMenu = await contextMenuOf(page, row);
    assert.ok(rowMenu.entries.includes('Checkpoint (leave running)'), JSON.stringify(rowMenu.entries));
    await shot('processes');
    await rowMenu.close();
    await runCommand(page, 'Checkpoint Explorer: Clear Process Filter');

    // The image editor: summary, records, and the decoded fields of the process.
    await openFile(page, 'ticker.ckpt');
    await webviewText(page, { expect: /Verified: sound/, timeout: 30_000 });
    await treeItem(page, 'Processes', /./).waitFor({ state: 'visible' });
    await webviewText(page, { expect: /^[0-9a-f]{8,16}\s+(?:[0-9a-f]{2}\s+){16}/m }); // the raw bytes have loaded
    await shot('image-editor');

    // The compare editor: two checkpoints of a process that rewrote one page, that page side by side.
    await openView(page, 'Explorer');
    await treeItem(page, 'Explorer', 'first.ckpt').click();
    const changed = treeItem(page, 'Explorer', 'changed.ckpt');
    await changed.click({ modifiers: ['Control'] });
    await page.locator('.explorer-folders-view .monaco-list-row.selected').nth(1).waitFor({ state: 'visible' });
    const menu = await contextMenuOf(page, changed);
    assert.ok(menu.entries.includes('Compare Selected Checkpoints'), JSON.stringify(menu.entries));
    await page
      .locator('.context-view .monaco-menu .action-item .action-label', { hasText: /^Compare Selected Checkpoints$/ })
      .first()
      .click();
    await webviewText(page, { expect: /1 page modified/, timeout: 30_000 });
    const frame = webviewFrame(page);
    const pageRow = frame.locator('.page-row', { hasText: `0x${real.planted.buffer.toString(16)}` });
    await pageRow.click();
    await frame.locator('.hd-title').waitFor({ state: 'visible' });
    await shot('compare');
  } finally {
    await wb.close();
    ticker.stop();
    remove();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
