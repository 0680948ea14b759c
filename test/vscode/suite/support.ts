// Helpers of the feature tests in the real extension host: the extension's API, waiting, and the
// images they open (made by the real checkpointer from a live process, or, only while dist/bin/ckpt
// does not exist, written by the test writer).

import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { Checkpointer } from '../../../src/checkpointer';
import type { CheckpointExplorerApi } from '../../../src/extension';
import { buildSample } from '../../support/sampleImage';
import { startTicker, Ticker } from '../../support/ticker';

export const extensionId = 'ckpt-explorer.ckpt-explorer';
export const viewType = 'ckptExplorer.image';

export async function api(): Promise<CheckpointExplorerApi> {
  const ext = vscode.extensions.getExtension<CheckpointExplorerApi>(extensionId);
  if (!ext) throw new Error(`${extensionId} is not loaded`);
  return ext.activate();
}

export { until } from '../../support/until';

export function workspaceDir(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error('the suite runs with a folder open');
  return f.uri.fsPath;
}

export function nativeBinary(): string | undefined {
  const ext = vscode.extensions.getExtension(extensionId)!;
  const bin = path.join(ext.extensionPath, 'dist', 'bin', 'ckpt');
  return fs.existsSync(bin) ? bin : undefined;
}

/** The custom editor tab in front, if it shows this image. */
export function activeImageTab(uri: vscode.Uri): vscode.Tab | undefined {
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
  const input = tab?.input;
  return input instanceof vscode.TabInputCustom && input.viewType === viewType && input.uri.toString() === uri.toString() ? tab : undefined;
}

export interface MadeImage {
  uri: vscode.Uri;
  /** 'ckpt' when the real checkpointer made it from a live process. */
  madeBy: 'ckpt' | 'test-writer';
  pid?: number;
}

/** An image of a live ticker, by the real checkpointer (the ticker is stopped afterwards). */
export async function makeImage(name: string): Promise<MadeImage> {
  const file = path.join(workspaceDir(), name);
  const bin = nativeBinary();
  if (!bin) {
    console.log('      (dist/bin/ckpt is missing: using an image from the test writer)');
    fs.writeFileSync(file, buildSample().bytes);
    return { uri: vscode.Uri.file(file), madeBy: 'test-writer' };
  }
  let ticker: Ticker | undefined;
  try {
    ticker = await startTicker();
    await new Checkpointer(bin).dump({ pid: ticker.pid, image: file, mode: 'leaveRunning' });
    return { uri: vscode.Uri.file(file), madeBy: 'ckpt', pid: ticker.pid };
  } finally {
    ticker?.stop();
  }
}

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}
