// Debug Checkpoint as a person uses it, in code-server and headless Chromium, with no debugger
// extension installed (none can be, offline): the button on the image editor's title and the entry
// on a .ckpt's Explorer menu; the button writes the core and says what to install, with the gdb
// command line, which opens the core in gdb with the debuggee's stacks (issue 15).

import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ensureBuilt } from '../../scripts/vscode-host/build';
import { tempFolder } from '../../scripts/vscode-host/cleanup';
import { until } from '../support/until';
import { contextMenuOf, notification, openFile, openView, treeItem, Workbench, openWorkbench, screenshotFailures } from './workbench';

const hasTool = (t: string) => spawnSync(t, ['--version']).status === 0;

describe('Debug Checkpoint, in the browser', function () {
  this.timeout(180_000);
  let wb: Workbench | undefined;
  let folder: string;
  let exe: string;
  let removeFolder = (): void => undefined;

  before(async function () {
    const built = ensureBuilt();
    if (!built.native || !hasTool('gdb') || !hasTool('gcc')) {
      console.log(`    (skipped: needs the native checkpointer, gdb and gcc${built.nativeMissing ? `: ${built.nativeMissing}` : ''})`);
      this.skip();
    }
    ({ path: folder, remove: removeFolder } = tempFolder('ckpt-browser-debug-'));
    exe = path.join(folder, 'debuggee');
    const cc = spawnSync('gcc', ['-O0', '-g', '-fno-omit-frame-pointer', '-pthread', '-o', exe, path.resolve(__dirname, '../native/targets/debuggee.c')], { encoding: 'utf8' });
    assert.strictEqual(cc.status, 0, cc.stderr);
    const child = spawn(exe, [], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += String(d)));
    try {
      await until('the debuggee to be ready', () => /ready \d+/.test(out));
      const dump = spawnSync(built.native!, ['dump', String(child.pid), '-o', path.join(folder, 'debuggee.ckpt'), '--kill'], { encoding: 'utf8' });
      assert.strictEqual(dump.status, 0, dump.stderr);
    } finally {
      child.kill('SIGKILL');
    }
    wb = await openWorkbench({ folder });
  });

  screenshotFailures(() => wb);

  after(async () => {
    await wb?.close();
    removeFolder();
  });

  it('is on the Explorer menu of a .ckpt', async () => {
    const page = wb!.page;
    await openView(page, 'Explorer');
    const menu = await contextMenuOf(page, treeItem(page, 'Explorer', 'debuggee.ckpt'));
    try {
      assert.ok(menu.entries.includes('Debug Checkpoint'), `no "Debug Checkpoint" in ${JSON.stringify(menu.entries)}`);
    } finally {
      await menu.close();
    }
  });

  it("from the editor's title: writes the core and offers the gdb command line, which opens it in gdb", async () => {
    const page = wb!.page;
    await openFile(page, 'debuggee.ckpt');
    await page.locator('.editor-actions [aria-label="Debug Checkpoint"]').first().click();
    const toast = await notification(page, /The core of debuggee\.ckpt is ready/, 60_000);
    const text = await toast.innerText();
    console.log(`    ${await wb!.screenshot('debug-checkpoint-message')}`);
    assert.match(text, /install the C\/C\+\+ extension \(ms-vscode\.cpptools\)/, text);
    assert.match(text, /Copy gdb Command/);
    assert.match(text, /Reveal Core File/);
    const m = /run: gdb (\S+) (\S+\.core)/.exec(text);
    assert.ok(m, `the gdb command line in: ${text}`);
    assert.strictEqual(m[1], exe);
    const core = m[2];
    assert.strictEqual(fs.statSync(core).mode & 0o777, 0o600);
    const gdb = spawnSync('gdb', ['-nx', '-batch', '-ex', 'thread apply all bt', '-ex', 'print the_global', m[1], core], { encoding: 'utf8', timeout: 60_000 });
    const out = `${gdb.stdout}${gdb.stderr}`;
    assert.match(out, /in inner \(depth=2\)[\s\S]*in outer \(depth=1\)[\s\S]*in main \(\)/, out);
    assert.match(out, /pthread_cond_wait/, out);
    assert.match(out, /\{id = 42, big = 81985529216486895, ratio = 2\.5, name = "debuggee/, out);
    // the core lives only as long as the session: its folder is the session's, not the workspace's
    assert.ok(!core.startsWith(folder));
    await until('no core in the workspace', () => !fs.readdirSync(folder).some((f) => f.endsWith('.core')));
  });
});
