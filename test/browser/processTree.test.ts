// A process tree as a person checkpoints it, in code-server and headless Chromium: a right-click on a
// parent with two workers offers Checkpoint This Process Only; Checkpoint (leave running) asks
// first, saying how many processes it takes; the progress says so too; the image opens with the
// process tree in its summary, and each worker's view says with whom it shares the pipe they
// write into. Screenshots of the question and of the tree.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ensureBuilt } from '../../scripts/vscode-host/build';
import { tempFolder } from '../../scripts/vscode-host/cleanup';
import { FamilyTicker, startFamilyTicker } from '../support/ticker';
import { contextMenuOf, filterProcessesTo, openView, outputChannelText, Workbench, openWorkbench, screenshotFailures, webviewFrame, webviewText } from './workbench';

describe('a process tree, in the browser', function () {
  this.timeout(180_000);
  let wb: Workbench | undefined;
  let folder: string;
  let removeFolder = (): void => undefined;
  let family: FamilyTicker | undefined;

  before(async function () {
    const built = ensureBuilt();
    if (!built.native) {
      console.log(`    (skipped: ${built.nativeMissing})`);
      this.skip();
    }
    ({ path: folder, remove: removeFolder } = tempFolder('ckpt-browser-tree-'));
    family = await startFamilyTicker();
    wb = await openWorkbench({ folder });
  });

  screenshotFailures(() => wb);

  after(async () => {
    await wb?.close();
    family?.stop();
    removeFolder();
  });

  it('asks before taking the tree, saying how many processes, and opens the image with the process tree', async () => {
    const page = wb!.page;
    const { pid, workers } = family!;
    await openView(page, 'Processes');
    const menu = await contextMenuOf(page, await filterProcessesTo(page, pid));
    assert.ok(menu.entries.includes('Checkpoint This Process Only'), `no "Checkpoint This Process Only" in ${JSON.stringify(menu.entries)}`);
    await page
      .locator('.context-view .monaco-menu .action-item .action-label', { hasText: /^Checkpoint \(leave running\)$/ })
      .first()
      .click();

    // The question, in a modal dialog.
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ state: 'visible', timeout: 15_000 });
    assert.match(await dialog.innerText(), new RegExp(`Checkpoint perl \\(PID ${pid}\\) with its 2 descendants: 3 processes in one image\\?`));
    assert.match(await dialog.innerText(), /They keep running afterwards/);
    console.log(`    ${await wb!.screenshot('tree-checkpoint-question')}`);
    await dialog.locator('.dialog-buttons .monaco-button', { hasText: /^Checkpoint 3 Processes$/ }).click();

    // The image opens; its summary lists the three processes as a tree.
    await page.locator('.tabs-container .tab.active', { hasText: new RegExp(`^perl-${pid}-.*\\.ckpt`) }).waitFor({ state: 'visible', timeout: 30_000 });
    await webviewText(page, { expect: /and 2 more processes[\s\S]*Verified: sound/, timeout: 30_000 });
    const frame = webviewFrame(page);
    const tree = frame.locator('ul.proc-tree').first();
    const top = tree.locator(':scope > li');
    assert.strictEqual(await top.count(), 1, 'one root');
    assert.match(await top.first().locator('button').first().innerText(), new RegExp(`^${pid} perl$`));
    const kids = top.first().locator(':scope > ul.proc-tree > li > button');
    assert.deepStrictEqual((await kids.allInnerTexts()).sort(), workers.map((w) => `${w} perl`).sort());
    console.log(`    ${await wb!.screenshot('tree-summary')}`);

    // A worker's view: the write end of the pipe, shared with the other worker.
    await kids.first().click();
    const [self, other] = /^(\d+)/.exec(await kids.first().innerText())![1] === String(workers[0]) ? workers : [...workers].reverse();
    const pipeRow = frame
      .locator('.process-view tr', { hasText: /pipe/ })
      .filter({ hasText: /O_WRONLY/ })
      .first();
    await pipeRow.waitFor({ state: 'visible', timeout: 15_000 });
    assert.match(await pipeRow.innerText(), new RegExp(`${other} perl fd \\d+`), `worker ${self}'s pipe shows whom it shares with`);
    console.log(`    ${await wb!.screenshot('tree-worker-shares')}`);

    // The checkpointer's last word: it took three processes.
    await outputChannelText(page, 'Checkpoint Explorer', /"processes":3\}/);
    const images = fs.readdirSync(path.join(folder, 'checkpoints'));
    assert.strictEqual(images.length, 1, JSON.stringify(images));
  });
});
