// Where `ckpt` cannot run (another OS or architecture, or no binary), the extension still opens,
// explores and compares images, and the native commands say why they cannot. Made real here by
// pointing ckptExplorer.nativeBinaryPath (a user setting) at a binary that does not exist; the
// OS/architecture message itself is unit-tested (test/unit/checkpointerEvents.test.ts).

import * as assert from 'assert';
import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ImageDiff } from '../../../src/image';
import { writeRichPair } from '../../support/imagePairs';
import { activeImageTab, api, closeAllEditors, until, workspaceDir } from './support';

type Outcome = { ok: true } | { ok: false; error: string; kind?: string };
type CompareOutcome = { ok: true; diff: ImageDiff } | { ok: false; error: string };

describe('without a checkpointer that can run', function () {
  this.timeout(60_000);
  let missing: string;
  let images: [vscode.Uri, vscode.Uri];
  let sleeper: ChildProcess | undefined;
  const setting = () => vscode.workspace.getConfiguration('ckptExplorer');

  before(async () => {
    await api();
    const dir = path.join(workspaceDir(), 'without-ckpt');
    fs.mkdirSync(dir, { recursive: true });
    missing = path.join(dir, 'no-such-ckpt');
    images = writeRichPair(dir, ['without-a.ckpt', 'without-b.ckpt']).map((f) => vscode.Uri.file(f)) as [vscode.Uri, vscode.Uri];
    await setting().update('nativeBinaryPath', missing, vscode.ConfigurationTarget.Global);
    await until('the setting to apply', () => setting().inspect<string>('nativeBinaryPath')?.globalValue === missing);
  });

  after(async () => {
    sleeper?.kill('SIGKILL');
    await setting().update('nativeBinaryPath', undefined, vscode.ConfigurationTarget.Global);
    await closeAllEditors();
  });

  it('refuses to checkpoint, says why and what still works, leaves the process running and writes no image', async () => {
    sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    const pid = sleeper.pid!;
    const folder = path.join(workspaceDir(), 'checkpoints');
    const before = fs.existsSync(folder) ? fs.readdirSync(folder).length : 0;
    const r = (await vscode.commands.executeCommand('ckptExplorer.checkpointLeaveRunning', { pid })) as Outcome;
    assert.ok(!r.ok, 'the checkpoint succeeded without a checkpointer');
    assert.strictEqual(r.kind, 'binary-missing');
    assert.ok(r.error.includes(missing), r.error);
    assert.match(r.error, /ckptExplorer\.nativeBinaryPath.*Opening, exploring and comparing images works without it/);
    assert.strictEqual(sleeper.exitCode, null);
    process.kill(pid, 0); // still there
    assert.strictEqual(fs.existsSync(folder) ? fs.readdirSync(folder).length : 0, before);
  });

  it('refuses to restore with the same reason', async () => {
    const r = (await vscode.commands.executeCommand('ckptExplorer.restore', images[0])) as Outcome;
    assert.ok(!r.ok);
    assert.strictEqual(r.kind, 'binary-missing');
    assert.ok(r.error.includes(missing), r.error);
  });

  it('opens an image in its editor and shows its records', async () => {
    await vscode.commands.executeCommand('vscode.open', images[0]);
    await until('the image editor in front', () => activeImageTab(images[0]));
    const { editors, records } = await api();
    const doc = await until('the image to be the active document', () => editors.activeDocument?.uri.fsPath === images[0].fsPath && editors.activeDocument);
    assert.ok(doc.checkpoint, `the image did not open: ${doc.openError}`);
    assert.ok((await doc.checkpoint.processes()).length >= 1);
    await until('the Image Records view to follow the editor', () => records.currentDocument?.uri.fsPath === images[0].fsPath);
    const rows = records.getChildren();
    const labels = await Promise.all(rows.map(async (r) => String((await records.getTreeItem(r)).label)));
    assert.strictEqual(labels[0], 'HEAD');
  });

  it('compares two images', async () => {
    const r = (await vscode.commands.executeCommand('ckptExplorer.compare', images[0], images)) as CompareOutcome;
    assert.ok(r.ok, JSON.stringify(r));
    assert.ok(r.diff.nodes.length > 0, 'the two images differ, and the compare shows it');
  });
});
