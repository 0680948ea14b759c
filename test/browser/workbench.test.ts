// The workbench in headless Chromium, with this repo's extension loaded as under development. Besides
// the extension's own first signs of life, these tests exercise the helpers that the feature tests use
// (openWith + webview text, tree item context menus) on VS Code's built-in views and editors, so that a
// broken helper shows up here rather than as a mysterious feature failure.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { tempFolder } from '../../scripts/vscode-host/cleanup';
import { contextMenuOf, openWith, openWorkbench, outputChannelText, treeItem, webviewText, Workbench, screenshotFailures } from './workbench';

describe('the workbench with the extension under development', function () {
  this.timeout(120_000);
  let wb: Workbench | undefined;
  let folder: string;
  let removeFolder = (): void => undefined;

  before(async () => {
    ({ path: folder, remove: removeFolder } = tempFolder('ckpt-browser-ws-'));
    fs.writeFileSync(path.join(folder, 'NOTES.md'), '# Demo notes\n\nA *markdown* file, to open with a webview editor.\n');
    wb = await openWorkbench({ folder });
  });

  screenshotFailures(() => wb);

  after(async () => {
    await wb?.close();
    removeFolder();
  });

  it('loads the folder and activates the extension: the "Checkpoint Explorer" Output channel shows its activation line', async () => {
    const page = wb!.page;
    assert.match(await page.title(), /\[Extension Development Host\]/);
    const text = await outputChannelText(page, 'Checkpoint Explorer', 'Checkpoint Explorer activated');
    assert.match(text, /\[info\] Checkpoint Explorer activated/);
    console.log(`    ${await wb!.screenshot('output-channel')}`);
  });

  it('opens a file with a chosen editor and reads the webview inside it', async () => {
    const page = wb!.page;
    await openWith(page, 'NOTES.md', 'Markdown Preview');
    const text = await webviewText(page, { extensionId: 'vscode.markdown-language-features', expect: 'Demo notes' });
    assert.match(text, /A markdown file, to open with a webview editor\./);
    console.log(`    ${await wb!.screenshot('open-with-webview')}`);
  });

  it("lists a tree item's context menu entries", async () => {
    const page = wb!.page;
    const menu = await contextMenuOf(page, treeItem(page, 'Explorer', 'NOTES.md'));
    try {
      for (const entry of ['Open to the Side', 'Open With...', 'Copy Path']) assert.ok(menu.entries.includes(entry), `no "${entry}" in ${JSON.stringify(menu.entries)}`);
      console.log(`    ${await wb!.screenshot('context-menu')}`);
    } finally {
      await menu.close();
    }
  });
});
