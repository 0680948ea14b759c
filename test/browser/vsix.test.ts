// The VSIX as a user gets it: `npm run package` (scripts/package.js: vsce for linux-x64, the binary
// stripped), exactly the files intended, installed into a fresh code-server with --install-extension,
// not loaded from the source tree, and activating there.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ensureBuilt } from '../../scripts/vscode-host/build';
import { tempFolder } from '../../scripts/vscode-host/cleanup';
import { repoRoot } from '../../scripts/vscode-host/provision';
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
    // ensureBuilt() has just built dist/: the script need not build again.
    const r = spawnSync('node', [path.join(repoRoot, 'scripts', 'package.js'), '-o', vsix], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CKPT_PACKAGE_NO_BUILD: '1' },
    });
    assert.strictEqual(r.status, 0, `npm run package failed:\n${r.stdout}${r.stderr}`);
  });

  screenshotFailures(() => wb);

  after(async () => {
    await wb?.close();
    removeScratch();
  });

  it('holds exactly the intended files: the bundles and their licenses, the stripped binary, the format, the icon and the Marketplace README', () => {
    const r = spawnSync('unzip', ['-Z1', vsix], { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, `unzip -Z1 failed (apt-get install -y unzip): ${r.stderr ?? r.error}`);
    const files = r.stdout.trim().split('\n').sort();
    // A new bundle, asset or format file is added here on purpose; anything else is a packaging leak.
    assert.deepStrictEqual(
      files,
      [
        '[Content_Types].xml',
        'extension.vsixmanifest',
        'extension/LICENSE.txt',
        'extension/changelog.md',
        'extension/dist/bin/ckpt',
        'extension/dist/ckpt-inspect.js',
        'extension/dist/ckpt-inspect.js.LICENSE.txt',
        'extension/dist/extension.js',
        'extension/dist/extension.js.LICENSE.txt',
        'extension/dist/searchWorker.js',
        'extension/dist/searchWorker.js.LICENSE.txt',
        'extension/dist/webview/compare.js',
        'extension/dist/webview/editor.js',
        'extension/formats/ckpt.ksy',
        'extension/formats/criu_image.ksy',
        'extension/formats/criu/README.md',
        'extension/formats/criu/core.proto',
        'extension/formats/criu/fdinfo.proto',
        'extension/formats/criu/files.proto',
        'extension/formats/criu/inventory.proto',
        'extension/formats/criu/misc.proto',
        'extension/formats/criu/mm.proto',
        'extension/formats/criu/pagemap.proto',
        'extension/formats/criu/pstree.proto',
        'extension/media/checkpoints.svg',
        'extension/media/editor.css',
        'extension/media/icon.png',
        'extension/package.json',
        'extension/readme.md',
      ].sort(),
    );
    // The Marketplace page, not the developer README; the target platform in the manifest.
    const readme = spawnSync('unzip', ['-p', vsix, 'extension/readme.md'], { encoding: 'utf8' }).stdout;
    assert.match(readme, /^# Checkpoint Explorer\n/);
    const manifest = spawnSync('unzip', ['-p', vsix, 'extension.vsixmanifest'], { encoding: 'utf8' }).stdout;
    assert.match(manifest, /TargetPlatform="linux-x64"/);
    // Stripped: no symbol table, no debug info.
    const sections = spawnSync('readelf', ['-S', '-W', path.join(repoRoot, 'dist', 'bin', 'ckpt')], { encoding: 'utf8' }).stdout;
    assert.match(sections, /\.text/);
    assert.doesNotMatch(sections, /\.(symtab|debug_info)\b/);
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
