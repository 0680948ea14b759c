// Process trees from VS Code: a right-click on a process with children takes the tree (the user
// means the program), Checkpoint This Process Only takes the process alone, the editor shows the
// tree, and a restore brings the tree back, revealed in the Processes view with its children.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { CheckpointImage } from '../../../src/image';
import { isAlive } from '../../../src/processes/procfs';
import { isProcessItem } from '../../../src/views/processesView';
import { FamilyTicker, killQuietly, startFamilyTicker, startTicker, workersOf } from '../../support/ticker';
import { activeImageTab, api, closeAllEditors, nativeBinary, until, workspaceDir } from './support';

type Outcome = { ok: true; image?: vscode.Uri; pid?: number; processes?: number; output?: string } | { ok: false; error: string };

describe('process trees from VS Code', function () {
  let family: FamilyTicker | undefined;
  const restored: number[] = [];

  before(async function () {
    if (!nativeBinary()) {
      console.log('      (skipped: dist/bin/ckpt is missing)');
      this.skip();
    }
    family = await startFamilyTicker();
  });
  after(async () => {
    family?.stop();
    for (const pid of restored) {
      for (const w of workersOf(pid)) killQuietly(w);
      killQuietly(pid);
    }
    for (const t of vscode.window.terminals) t.dispose();
    await closeAllEditors();
  });

  let tree: vscode.Uri;

  it('marks a process with children in the Processes view, for Checkpoint This Process Only', async () => {
    const { processes } = await api();
    await processes.setShowAll(true);
    const row = await until('the parent in the Processes view', async () => {
      await processes.refresh();
      return processes.find(family!.pid);
    });
    assert.strictEqual(processes.getTreeItem(row as never).contextValue, 'processWithChildren');
    const worker = await until('a worker in the Processes view', () => processes.find(family!.workers[0]));
    assert.strictEqual(processes.getTreeItem(worker as never).contextValue, 'process');
  });

  it('checkpoints a process with children as a tree by default, and the editor lists the tree', async () => {
    const { processes, editors } = await api();
    const row = await processes.find(family!.pid);
    // {confirm: false}: what "Don't Ask Again" leaves; the question itself is the browser test's.
    const r = (await vscode.commands.executeCommand('ckptExplorer.checkpointLeaveRunning', row, { confirm: false })) as Outcome;
    assert.ok(r.ok, JSON.stringify(r));
    assert.strictEqual(r.processes, 3);
    tree = r.image!;
    await until('the tree image in the editor', () => activeImageTab(tree));
    const checkpoint = await until('its document, read', () => editors.documentFor(tree)?.checkpoint);
    const summary = await checkpoint.summary();
    const pids = summary.processes.map((p) => p.pid).sort((a, b) => a - b);
    assert.deepStrictEqual(
      pids,
      [family!.pid, ...family!.workers].sort((a, b) => a - b),
    );
    for (const w of summary.processes.filter((p) => p.pid !== family!.pid)) assert.strictEqual(w.ppid, family!.pid);
    // The workers' write ends of the pipe are one open file description, which the process view says they share.
    const all = await checkpoint.processes();
    const [w1, w2] = all.filter((p) => p.pid !== family!.pid);
    const pipeOf = (p: (typeof all)[number]) => p.fds.find((f) => f.file.kind === 'pipe' && f.file.pipe?.end === 'write')!;
    assert.strictEqual(pipeOf(w1).file.id, pipeOf(w2).file.id);
    assert.ok(isAlive(family!.pid) && family!.workers.every((w) => isAlive(w)), 'the tree keeps running');
  });

  it('refuses Checkpoint This Process Only while a pipe links the process to a child, suggesting the tree', async () => {
    const { processes } = await api();
    const row = await processes.find(family!.pid);
    const before = fs.readdirSync(path.join(workspaceDir(), 'checkpoints')).length;
    const r = (await vscode.commands.executeCommand('ckptExplorer.checkpointProcessOnly', row)) as Outcome;
    assert.strictEqual(r.ok, false);
    assert.match((r as { error: string }).error, /a pipe whose other end is outside the checkpoint, child process \d+ holds the other end: dump with --tree/);
    assert.strictEqual(fs.readdirSync(path.join(workspaceDir(), 'checkpoints')).length, before, 'no image is left');
    const ticks = family!.output().length;
    await until('the tree to go on ticking', () => family!.output().length > ticks);
  });

  it('takes the process alone with Checkpoint This Process Only, and the image says its child was left out', async () => {
    const parent = await startTicker({ sleepingChild: true });
    try {
      const { processes } = await api();
      const row = await until('the parent in the Processes view', async () => {
        await processes.refresh();
        return processes.find(parent.pid);
      });
      const r = (await vscode.commands.executeCommand('ckptExplorer.checkpointProcessOnly', row)) as Outcome;
      assert.ok(r.ok, JSON.stringify(r));
      assert.strictEqual(r.processes, 1);
      const img = await CheckpointImage.open(r.image!.fsPath);
      try {
        assert.strictEqual(img.processes().length, 1);
        const p = await img.decodeAs(img.processes()[0], 'process');
        assert.strictEqual(p.nomitted, 1, 'the child is recorded as left out');
        assert.deepStrictEqual([...p.omitted], workersOf(parent.pid));
      } finally {
        await img.close();
      }
    } finally {
      parent.stop();
    }
  });

  it('restores the tree and reveals its root in the Processes view with its children under it', async () => {
    const { processes } = await api();
    const r = (await vscode.commands.executeCommand('ckptExplorer.restore', tree)) as Outcome;
    assert.ok(r.ok, JSON.stringify(r));
    const root = r.pid!;
    restored.push(root);
    assert.strictEqual(r.processes, 3);
    // The restored workers write into the restored pipe: the restored parent prints what they wrote.
    const printed = () => fs.readFileSync(r.output!, 'utf8');
    await until('both restored workers to be heard', () => /tick w1 \d+/.test(printed()) && /tick w2 \d+/.test(printed()), 10_000);
    const row = await until('the restored root, selected in the Processes view', () => {
      const sel = processes.view.selection[0];
      return isProcessItem(sel) && sel.info.pid === root ? sel : undefined;
    });
    const children = (await processes.getChildren(row as never)).flatMap((r) => (isProcessItem(r) ? [r] : []));
    assert.deepStrictEqual(
      children.map((c) => c.info.comm),
      ['perl', 'perl'],
    );
    assert.deepStrictEqual(
      children.map((c) => c.info.ppid),
      [root, root],
    );
  });
});
