// Checkpoint and restore from VS Code, on a live process: the commands as the Processes view runs
// them, the image they write, the editor they open, the process they restore and its terminal.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { isAlive, matchesFilter } from '../../../src/processes/procfs';
import { isProcessItem } from '../../../src/views/processesView';
import { killQuietly, startTicker, Ticker, unusedPid } from '../../support/ticker';
import { activeImageTab, api, closeAllEditors, nativeBinary, until, workspaceDir } from './support';

type Outcome = { ok: true; image?: vscode.Uri; pid?: number; output?: string; terminal?: string } | { ok: false; error: string; kind?: string };

describe('checkpoint and restore from VS Code', function () {
  let ticker: Ticker | undefined;
  let restored: number | undefined;

  before(function () {
    if (!nativeBinary()) {
      console.log('      (skipped: dist/bin/ckpt is missing)');
      this.skip();
    }
  });
  afterEach(() => {
    ticker?.stop();
    ticker = undefined;
  });
  after(async () => {
    killQuietly(restored);
    for (const t of vscode.window.terminals) t.dispose();
    await closeAllEditors();
  });

  let image: vscode.Uri;

  it('checkpoints a live process from its Processes row, into checkpoints/, and opens the image', async () => {
    ticker = await startTicker();
    const { processes } = await api();
    // The row the view shows for the process is what the context menu passes to the command.
    await processes.setShowAll(true);
    const row = await until('the process in the Processes view', async () => {
      await processes.refresh();
      return processes.find(ticker!.pid);
    });
    assert.strictEqual(row.info.comm, 'perl');
    const r = (await vscode.commands.executeCommand('ckptExplorer.checkpointLeaveRunning', row)) as Outcome;
    assert.ok(r.ok, JSON.stringify(r));
    image = r.image!;
    assert.strictEqual(path.dirname(image.fsPath), path.join(workspaceDir(), 'checkpoints'));
    assert.match(path.basename(image.fsPath), new RegExp(`^perl-${ticker.pid}-\\d{8}-\\d{6}\\.ckpt$`));
    assert.ok(fs.statSync(image.fsPath).size > 4096);
    await until('the new image in the editor', () => activeImageTab(image));
    assert.ok(isAlive(ticker.pid), 'Checkpoint (leave running) leaves the process running');
    const { log } = await api();
    assert.ok(log, 'the log channel exists');
  });

  it('redraws the Processes view only with what it has read, and of two quick filters the last wins', async () => {
    ticker = await startTicker();
    const { processes } = await api();
    // A redraw makes VS Code drop the rows it handed out: when it is asked for, the new rows must be ready.
    await processes.setShowAll(true);
    const drawn: string[] = [];
    const watching = processes.onDidChangeTreeData(() => drawn.push(String(processes.view.description)));
    try {
      const first = processes.setFilter('no process is called this');
      const second = processes.setFilter(String(ticker.pid));
      await Promise.all([first, second]);
      const expected = `all users, matching "${ticker.pid}"`;
      assert.ok(drawn.length >= 1 && drawn.every((d) => d === expected), `redrawn with ${JSON.stringify(drawn)}, not only with ${expected}`);
      // a filter shows its matches flat: process rows, no groups
      const roots = (await processes.getChildren()).flatMap((r) => (isProcessItem(r) ? [r] : []));
      assert.ok(roots.some((r) => r.info.pid === ticker!.pid));
      // Other processes may match too: the filter is also a substring of command lines.
      for (const r of roots) assert.ok(matchesFilter(r.info, String(ticker.pid)), `${r.info.pid} ${r.info.comm} does not match`);
    } finally {
      watching.dispose();
      await processes.setFilter('');
    }
  });

  it('restores the image: a new process runs, its output is in a terminal, its PID in the Processes view', async () => {
    const { processes } = await api();
    const r = (await vscode.commands.executeCommand('ckptExplorer.restore', image)) as Outcome;
    assert.ok(r.ok, JSON.stringify(r));
    restored = r.pid!;
    assert.ok(isAlive(restored), `the restored process ${restored} runs`);
    // It goes on printing where the image left off, into the file the extension gave it.
    await until('the restored process to print', () => /tick \d+\n/.test(fs.readFileSync(r.output!, 'utf8')), 5000);
    const before = fs.readFileSync(r.output!, 'utf8').length;
    await until('it to go on printing', () => fs.readFileSync(r.output!, 'utf8').length > before, 5000);
    const terminal = await until('its terminal', () => vscode.window.terminals.find((t) => t.name === `perl (pid ${restored})`));
    assert.strictEqual(terminal.name, r.terminal);
    await until('its row in the Processes view', () => processes.find(restored!));
    await until('its row to be revealed and selected', () => isProcessItem(processes.view.selection[0]) && processes.view.selection[0].info.pid === restored);
  });

  it('checkpoints and stops a process (Checkpoint and Stop)', async () => {
    ticker = await startTicker();
    const r = (await vscode.commands.executeCommand('ckptExplorer.checkpointAndStop', { pid: ticker.pid })) as Outcome;
    assert.ok(r.ok, JSON.stringify(r));
    await until('the process to be stopped', () => !isAlive(ticker!.pid), 5000);
    assert.ok(fs.existsSync(r.image!.fsPath));
  });

  it('says clearly that a process does not exist, and writes no image', async () => {
    const before = fs.readdirSync(path.join(workspaceDir(), 'checkpoints')).length;
    const pid = unusedPid();
    const r = (await vscode.commands.executeCommand('ckptExplorer.checkpointLeaveRunning', { pid })) as Outcome;
    assert.strictEqual(r.ok, false);
    assert.match((r as { error: string }).error, new RegExp(`Process ${pid} does not exist`));
    assert.strictEqual(fs.readdirSync(path.join(workspaceDir(), 'checkpoints')).length, before);
  });

  it('says clearly that a file is not an image when asked to restore it', async () => {
    const file = path.join(workspaceDir(), 'not-an-image.ckpt');
    fs.writeFileSync(file, 'plain text, long enough that it could have held a header or two, but no');
    const r = (await vscode.commands.executeCommand('ckptExplorer.restore', vscode.Uri.file(file))) as Outcome;
    assert.strictEqual(r.ok, false);
    assert.match((r as { error: string }).error, /not-an-image\.ckpt is not a valid checkpoint image/);
  });
});
