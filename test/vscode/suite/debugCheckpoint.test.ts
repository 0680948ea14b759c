// Debug Checkpoint in the real extension host (issue 15): with no debugger extension installed (none
// can be, offline), the command writes the core of the image's process into a private folder and
// says what to install, with the gdb command line; the core opens in gdb with the debuggee's stacks.

import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { Checkpointer } from '../../../src/checkpointer';
import { ImageWriter } from '../../../src/image/write/imageWriter';
import { api, closeAllEditors, nativeBinary, until, workspaceDir } from './support';

type DebugOutcome = { ok: true; core: string; exe: string; pid: number; debugger: string; gdbCommand: string } | { ok: false; error: string };

const hasTool = (t: string) => spawnSync(t, ['--version']).status === 0;

describe('Debug Checkpoint', function () {
  this.timeout(120000);
  before(function () {
    if (!nativeBinary() || !hasTool('gdb') || !hasTool('gcc')) {
      console.log('      (skipped: needs dist/bin/ckpt, gdb and gcc)');
      this.skip();
    }
  });
  after(closeAllEditors);

  it('without a debugger extension: writes the core (0600, private folder) and offers the gdb command line', async () => {
    await api();
    assert.strictEqual(vscode.extensions.getExtension('ms-vscode.cpptools'), undefined, 'no C/C++ extension here');
    const dir = fs.mkdtempSync(path.join(workspaceDir(), 'debug-'));
    const exe = path.join(dir, 'debuggee');
    const src = path.join(vscode.extensions.getExtension('ckpt-explorer.ckpt-explorer')!.extensionPath, 'test/native/targets/debuggee.c');
    const cc = spawnSync('gcc', ['-O0', '-g', '-fno-omit-frame-pointer', '-pthread', '-o', exe, src], { encoding: 'utf8' });
    assert.strictEqual(cc.status, 0, cc.stderr);
    const child = spawn(exe, [], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += String(d)));
    try {
      await until('the debuggee to be ready', () => /ready \d+/.test(out));
      const image = path.join(dir, 'debuggee.ckpt');
      await new Checkpointer(nativeBinary()!).dump({ pid: child.pid!, image, mode: 'leaveRunning' });
      const r = (await vscode.commands.executeCommand('ckptExplorer.debugCheckpoint', vscode.Uri.file(image))) as DebugOutcome;
      assert.ok(r.ok, JSON.stringify(r));
      assert.strictEqual(r.debugger, 'none');
      assert.strictEqual(r.pid, child.pid);
      assert.strictEqual(r.exe, exe);
      assert.strictEqual(fs.statSync(r.core).mode & 0o777, 0o600, 'the core is mode 0600');
      assert.strictEqual(fs.statSync(path.dirname(r.core)).mode & 0o777, 0o700, 'in a private folder');
      assert.ok(!r.core.startsWith(workspaceDir()), 'outside the workspace, in a temp folder');
      assert.strictEqual(r.gdbCommand, `gdb ${exe} ${r.core}`);
      const gdb = spawnSync('gdb', ['-nx', '-batch', '-ex', 'thread apply all bt', '-ex', 'print the_global.id', exe, r.core], { encoding: 'utf8', timeout: 60000 });
      const text = `${gdb.stdout}${gdb.stderr}`;
      assert.match(text, /in inner \(depth=2\)[\s\S]*in outer \(depth=1\)[\s\S]*in main \(\)/, text);
      assert.match(text, /pthread_cond_wait/, text);
      assert.match(text, /\$1 = 42/, text);
      // what the user is told goes to the log too, with the command line
      const { log } = await api();
      assert.ok(log);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('of a tree image, writes the core of the process asked for', async () => {
    const w = ImageWriter.inMemory(4096);
    w.head();
    const root = w.record('process', { pid: 100, comm: 'parent', exe: '/usr/bin/parent', nthreads: 1 });
    w.mainThread(root, 100);
    w.record('mm', { nvmas: 0 }, { ptag: root });
    const child = w.record('process', { pid: 101, ppid: 100, comm: 'child', exe: '/usr/bin/child', nthreads: 1 }, { ptag: root });
    w.mainThread(child, 101);
    w.record('mm', { nvmas: 0 }, { ptag: child });
    w.tail();
    const image = path.join(fs.mkdtempSync(path.join(workspaceDir(), 'tree-')), 'tree.ckpt');
    fs.writeFileSync(image, w.bytes());
    const r = (await vscode.commands.executeCommand('ckptExplorer.debugCheckpoint', vscode.Uri.file(image), { pid: 101 })) as DebugOutcome;
    assert.ok(r.ok, JSON.stringify(r));
    assert.strictEqual(r.pid, 101);
    assert.strictEqual(r.exe, '/usr/bin/child');
    assert.match(r.gdbCommand, /^gdb \/usr\/bin\/child \S+child-101-\d+\.core$/);
    const missing = (await vscode.commands.executeCommand('ckptExplorer.debugCheckpoint', vscode.Uri.file(image), { pid: 7 })) as DebugOutcome;
    assert.ok(!missing.ok);
    assert.match(missing.error, /no process with pid 7/);
  });
});
