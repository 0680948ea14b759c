// Comparing two images, as VS Code compares two files: select two .ckpt files in the Explorer and
// choose Compare Checkpoints (the earlier checkpoint goes on the left), or Select Checkpoint for
// Compare on one and Compare with Selected Checkpoint on the other (the selected one goes on the
// left). The titles say "Checkpoint" because VS Code's own Select for Compare and Compare with
// Selected are in the same Explorer menu. From the palette or an image editor's title, the images
// that are missing are asked for.

import * as path from 'path';
import * as vscode from 'vscode';
import type { ImageDiff } from '../image';
import type { CompareStatusModel } from '../shared/compareProtocol';
import { fail, Outcome, Services, targetImage } from './services';

export type CompareOutcome = Outcome<{ a: vscode.Uri; b: vscode.Uri; panel: vscode.WebviewPanel; status: CompareStatusModel; diff?: ImageDiff }>;

const isUri = (u: unknown): u is vscode.Uri => u instanceof vscode.Uri;

/** The images a command was invoked on: the Explorer's selection (uri, uris[]), one URI, a path, or none. */
function urisOf(arg: unknown, all: unknown): vscode.Uri[] {
  if (Array.isArray(all) && all.length > 0 && all.every(isUri)) return all;
  if (Array.isArray(arg)) return arg.flatMap((x) => (isUri(x) ? [x] : typeof x === 'string' ? [vscode.Uri.file(x)] : []));
  if (isUri(arg)) return [arg];
  if (typeof arg === 'string') return [vscode.Uri.file(arg)];
  return [];
}

/** What the pickers offer: .ckpt images, CRIU checkpoint folders (by their inventory.img) and archives. */
const CHECKPOINT_GLOB = '**/{*.ckpt,inventory.img,*.tar,*.tar.gz,*.tar.zst}';
export const CHECKPOINT_FILTERS = { Checkpoints: ['ckpt', 'img', 'tar', 'gz', 'tgz', 'zst'], 'All files': ['*'] };

/** Asks for a checkpoint: the workspace's images, CRIU folders and archives, or any file through a dialog. */
async function pickImage(title: string, except: vscode.Uri[]): Promise<vscode.Uri | undefined> {
  const skip = new Set(except.map((u) => u.toString()));
  const found = (await vscode.workspace.findFiles(CHECKPOINT_GLOB, '**/node_modules/**', 500)).filter((u) => !skip.has(u.toString()));
  if (found.length === 0) {
    const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: CHECKPOINT_FILTERS, openLabel: 'Compare', title });
    return picked?.[0];
  }
  const browse = { label: '$(folder-opened) Browse...', uri: undefined as vscode.Uri | undefined };
  const items = found
    // A CRIU folder is named by its folder, not by its inventory.img.
    .map((uri) => ({
      label: path.basename(path.basename(uri.fsPath) === 'inventory.img' ? path.dirname(uri.fsPath) : uri.fsPath),
      description: vscode.workspace.asRelativePath(path.dirname(uri.fsPath)),
      uri,
    }))
    .sort((x, y) => y.label.localeCompare(x.label));
  const choice = await vscode.window.showQuickPick([...items, browse], { title, placeHolder: 'The image to compare with' });
  if (!choice) return undefined;
  if (choice.uri) return choice.uri;
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: CHECKPOINT_FILTERS, openLabel: 'Compare', title });
  return picked?.[0];
}

async function runCompare(s: Services, a: vscode.Uri, b: vscode.Uri, order: 'given' | 'time'): Promise<CompareOutcome> {
  const what = `Comparing ${a.fsPath} with ${b.fsPath}`;
  try {
    const entry = await s.compares.compare(a, b, order);
    const status = await entry.finished;
    if (status.state === 'failed') return { ok: false, error: status.error };
    if (status.state === 'cancelled') return { ok: false, error: 'The comparison was cancelled.', kind: 'cancelled' };
    return {
      ok: true,
      a: vscode.Uri.file(entry.session.pathA),
      b: vscode.Uri.file(entry.session.pathB),
      panel: entry.panel,
      status,
      diff: entry.session.result,
    };
  } catch (e) {
    return fail(s, e, what);
  }
}

/** Compare Checkpoints: two images selected in the Explorer, or the ones asked for. */
export async function compareCommand(s: Services, arg: unknown, all: unknown): Promise<CompareOutcome | undefined> {
  const uris = urisOf(arg, all);
  if (uris.length > 2) return fail(s, new Error(`Compare Checkpoints compares two images; ${uris.length} are selected.`), 'Compare Checkpoints');
  if (uris.length === 0 && s.editors.activeDocument) uris.push(s.editors.activeDocument.uri);
  while (uris.length < 2) {
    const first = uris[0];
    const next = await pickImage(first ? `Compare ${path.basename(first.fsPath)} with...` : 'Compare Checkpoints: the first image', uris);
    if (!next) return undefined;
    uris.push(next);
  }
  return runCompare(s, uris[0], uris[1], 'time');
}

/** Select for Compare: remembers an image for Compare with Selected. */
export async function selectForCompareCommand(s: Services, arg: unknown): Promise<Outcome<{ selected: vscode.Uri }> | undefined> {
  const uri = await targetImage(s, arg, 'Select for Compare');
  if (!uri) return undefined;
  s.compares.select(uri);
  s.log.info(`Selected ${uri.fsPath} for compare`);
  return { ok: true, selected: uri };
}

/** Compare with Selected: the image selected for compare (on the left) with this one. */
export async function compareWithSelectedCommand(s: Services, arg: unknown): Promise<CompareOutcome | undefined> {
  const selected = s.compares.selected;
  if (!selected) return fail(s, new Error('Choose Select Checkpoint for Compare on an image first.'), 'Compare with Selected');
  const uri = await targetImage(s, arg, 'Compare with Selected');
  if (!uri) return undefined;
  return runCompare(s, selected, uri, 'given');
}
