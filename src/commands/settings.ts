// The extension's settings, read where they are used (so that a change applies at once).

import * as os from 'os';
import * as vscode from 'vscode';
import type { CheckpointMode, RestorePids } from '../checkpointer';
import { resolveImageFolder } from './imageFolder';

const SECTION = 'ckptExplorer';

export function imageFolder(): string {
  const ws = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
  return resolveImageFolder(vscode.workspace.getConfiguration(SECTION).get<string>('imageFolder'), ws?.uri.fsPath, os.homedir());
}

export function defaultCheckpointMode(): CheckpointMode {
  return vscode.workspace.getConfiguration(SECTION).get<string>('checkpointMode') === 'stop' ? 'stop' : 'leaveRunning';
}

export function nativeBinaryOverride(): string | undefined {
  // Machine-scoped in package.json: a workspace cannot point the extension at a binary of its choosing.
  const v = vscode.workspace.getConfiguration(SECTION).inspect<string>('nativeBinaryPath');
  return v?.globalValue || v?.defaultValue || undefined;
}

export function confirmTreeCheckpoint(): boolean {
  return vscode.workspace.getConfiguration(SECTION).get<boolean>('confirmTreeCheckpoint') !== false;
}

/** Stops asking before tree checkpoints (the user chose "Don't Ask Again"). */
export function stopConfirmingTreeCheckpoints(): Thenable<void> {
  return vscode.workspace.getConfiguration(SECTION).update('confirmTreeCheckpoint', false, vscode.ConfigurationTarget.Global);
}

export function restorePids(): RestorePids {
  const v = vscode.workspace.getConfiguration(SECTION).get<string>('restorePids');
  return v === 'original' ? 'original' : v === 'namespace' ? 'namespace' : 'original-or-new';
}
