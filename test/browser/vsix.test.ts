// The VSIX as a user gets it: `vsce package` (the same command as `npm run package`), installed into a
// fresh code-server with --install-extension, not loaded from the source tree, and activating there.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ensureBuilt } from '../vscode/host/build';
import { tempFolder } from '../vscode/host/cleanup';
import { repoRoot } from '../vscode/host/provision';
import { extensionId, openWorkbench, outputChannelText, Workbench, screenshotFailures } from './workbench';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };

describe('the packaged VSIX', function () {
  this.timeout(180_000);
  let scratch: string;
  let vsix: string;
  let wb: Workbench | undefined;
  let removeScratch = (): void => undefined;

  before(() => {
    ({ path: scratch, remove: removeScratch } = tempFolder('ckpt-vsix-'));
    fs.mkdirSync(path.join(scratch, 'workspace'));
    ensureBuilt();
    vsix = path.join(scratch, `ckpt-explorer-${pkg.version}.vsix`);
    const vsce = path.join(repoRoot, 'node_modules', '.bin', 'vsce');
    const r = spawnSync(vsce, ['package', '--no-dependencies', '--allow-missing-repository', '-o', vsix], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.strictEqual(r.status, 0, `vsce package failed:\n${r.stdout}${r.stderr}`);
  });

  screenshotFailures(() => wb);

  after(async () => {
    await wb?.close();
    removeScratch();
  });

  it('holds the bundle, the format, README and LICENSE, and no sources or node_modules', () => {
    const r = spawnSync('unzip', ['-Z1', vsix], { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, `unzip -Z1 failed (apt-get install -y unzip): ${r.stderr ?? r.error}`);
    const files = r.stdout.trim().split('\n');
    for (const f of ['extension/package.json', 'extension/dist/extension.js', 'extension/readme.md', 'extension/LICENSE.txt', 'extension/formats/ckpt.ksy']) {
      assert.ok(files.includes(f), `${f} is not in the VSIX: ${files.join(' ')}`);
    }
    assert.ok(files.includes('extension/dist/bin/ckpt'), 'the native checkpointer dist/bin/ckpt is not in the VSIX');
    const stray = files.filter((f) => /^extension\/(src|test|node_modules|scripts|build|out|\.vscode-test)\//.test(f) || f.endsWith('.map'));
    assert.deepStrictEqual(stray, []);
    const kib = fs.statSync(vsix).size / 1024;
    console.log(`    ${path.basename(vsix)}: ${files.length} files, ${kib.toFixed(0)} KiB`);
    assert.ok(kib < 10 * 1024, `the VSIX is ${kib.toFixed(0)} KiB`);
  });

  it('installs into code-server with --install-extension and activates there', async () => {
    wb = await openWorkbench({ folder: path.join(scratch, 'workspace'), development: false, installExtensions: [vsix] });
    const installed = path.join(wb.server.extensionsDir, `${extensionId}-${pkg.version}`);
    assert.ok(fs.existsSync(path.join(installed, 'package.json')), `not installed: ${fs.readdirSync(wb.server.extensionsDir).join(' ')}`);
    const ckpt = path.join(installed, 'dist', 'bin', 'ckpt');
    if (fs.existsSync(ckpt)) fs.accessSync(ckpt, fs.constants.X_OK); // the native binary stays executable
    const page = wb.page;
    assert.doesNotMatch(await page.title(), /Extension Development Host/);
    const text = await outputChannelText(page, 'Checkpoint Explorer', 'Checkpoint Explorer activated');
    assert.match(text, /\[info\] Checkpoint Explorer activated/);
    console.log(`    ${await wb.screenshot('vsix-installed')}`);
  });
});
