// Opening images and showing their records: Open Image (a file dialog at the image folder) and
// Reveal in Records (the image's selected record, in the Image Records view).

import * as fs from 'fs';
import * as vscode from 'vscode';
import { RECORDS_VIEW_ID } from '../views/recordsView';
import type { ImageDocument } from '../webviews/imageDocument';
import { IMAGE_EDITOR_VIEW_TYPE } from '../webviews/imageEditorProvider';
import { CHECKPOINT_FILTERS } from './compare';
import { Outcome, Services, targetImage } from './services';
import { imageFolder } from './settings';

export async function openImageCommand(_s: Services, arg: unknown): Promise<Outcome<{ image: vscode.Uri }> | undefined> {
  let uri = arg instanceof vscode.Uri ? arg : typeof arg === 'string' ? vscode.Uri.file(arg) : undefined;
  if (!uri) {
    const folder = imageFolder();
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      filters: CHECKPOINT_FILTERS,
      openLabel: 'Open Image',
      defaultUri: fs.existsSync(folder) ? vscode.Uri.file(folder) : undefined,
    });
    uri = picked?.[0];
  }
  if (!uri) return undefined;
  await vscode.commands.executeCommand('vscode.openWith', uri, IMAGE_EDITOR_VIEW_TYPE);
  return { ok: true, image: uri };
}

/** Waits until the editor of an image is the active one (it opens asynchronously). */
function activeDocumentFor(s: Services, uri: vscode.Uri, timeoutMs = 10_000): Promise<ImageDocument | undefined> {
  const match = () => (s.editors.activeDocument?.uri.toString() === uri.toString() ? s.editors.activeDocument : undefined);
  const now = match();
  if (now) return Promise.resolve(now);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sub.dispose();
      resolve(match());
    }, timeoutMs);
    const sub = s.editors.onDidChangeActiveDocument(() => {
      const d = match();
      if (d) {
        clearTimeout(timer);
        sub.dispose();
        resolve(d);
      }
    });
  });
}

export async function revealInRecordsCommand(s: Services, arg: unknown): Promise<Outcome<{ index: number }> | undefined> {
  const uri = await targetImage(s, arg, 'Reveal in Records');
  if (!uri) return undefined;
  if (s.editors.activeDocument?.uri.toString() !== uri.toString()) {
    await vscode.commands.executeCommand('vscode.openWith', uri, IMAGE_EDITOR_VIEW_TYPE);
  }
  const doc = await activeDocumentFor(s, uri);
  if (!doc?.checkpoint) return { ok: false, error: doc?.openError ?? `${uri.fsPath} did not open as an image` };
  await vscode.commands.executeCommand(`${RECORDS_VIEW_ID}.focus`);
  const index = doc.selected ?? doc.checkpoint.processRecords()[0] ?? 0;
  await s.records.reveal(index, true);
  return { ok: true, index };
}
