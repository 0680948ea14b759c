// What the commands work with, made once at activation, and the one way they report failure.

import * as vscode from 'vscode';
import { Checkpointer, CheckpointerError, resolveCheckpointerBinary } from '../checkpointer';
import type { ProcessesView } from '../views/processesView';
import type { RecordsView } from '../views/recordsView';
import type { ComparePanels } from '../webviews/comparePanels';
import type { ImageEditorProvider } from '../webviews/imageEditorProvider';
import { nativeBinaryOverride } from './settings';

export interface Services {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  editors: ImageEditorProvider;
  compares: ComparePanels;
  processes: ProcessesView;
  records: RecordsView;
}

/** What a command returns, so that tests (and other commands) can tell how it went. */
export type Outcome<T> = ({ ok: true } & T) | { ok: false; error: string; kind?: string };

/** The checkpointer, bundled in the extension's install folder or set by the machine's settings. */
export function checkpointer(s: Services): Checkpointer {
  const binary = resolveCheckpointerBinary(s.context.extensionUri.fsPath, nativeBinaryOverride());
  return new Checkpointer(binary, (line) => s.log.info(line));
}

/**
 * Logs a failure and shows it as a notification with a "Show Log" button; returns the failed
 * outcome. The notification is not awaited: it stays until the user closes it.
 */
export function fail(s: Services, e: unknown, what: string): { ok: false; error: string; kind?: string } {
  const error = e instanceof Error ? e.message : String(e);
  const kind = e instanceof CheckpointerError ? e.kind : undefined;
  s.log.error(`${what}: ${error}`);
  if (e instanceof CheckpointerError && e.detail && !error.includes(e.detail)) s.log.error(`  checkpointer said: ${e.detail}`);
  if (kind === 'cancelled') {
    void vscode.window.showInformationMessage(error);
  } else {
    void vscode.window.showErrorMessage(error, 'Show Log').then((choice) => {
      if (choice === 'Show Log') s.log.show(true);
    });
  }
  return { ok: false, error, kind };
}

/** The .ckpt a command acts on: its argument, else the image of the active editor, else one the user picks. */
export async function targetImage(s: Services, arg: unknown, title: string): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string') return vscode.Uri.file(arg);
  if (s.editors.activeDocument) return s.editors.activeDocument.uri;
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Checkpoints: ['ckpt', 'img', 'tar', 'gz', 'tgz', 'zst'] }, openLabel: title });
  return picked?.[0];
}
