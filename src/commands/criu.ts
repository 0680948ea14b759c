// CRIU checkpoints in the editor: Open CRIU Checkpoint Folder (a folder that `criu dump -D` wrote
// opens through its inventory.img), and the files of a checkpoint archive's rootfs diff, each
// opened read-only in a text editor of its own, read from the archive in place.

import * as path from 'path';
import * as vscode from 'vscode';
import { IMAGE_EDITOR_VIEW_TYPE } from '../webviews/imageEditorProvider';
import { fail, Outcome, Services } from './services';

/** The scheme of a file inside a checkpoint: a read-only document. */
export const MEMBER_SCHEME = 'ckpt-member';
/** The largest file of a rootfs diff opened as text. */
const MAX_MEMBER_FILE = 16 * 1024 * 1024;

export async function openCriuFolderCommand(s: Services, arg: unknown): Promise<Outcome<{ image: vscode.Uri }> | undefined> {
  let folder = arg instanceof vscode.Uri ? arg : typeof arg === 'string' ? vscode.Uri.file(arg) : undefined;
  if (!folder) {
    const picked = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Open CRIU Checkpoint' });
    folder = picked?.[0];
  }
  if (!folder) return undefined;
  const inventory = path.basename(folder.fsPath) === 'inventory.img' ? folder : vscode.Uri.joinPath(folder, 'inventory.img');
  try {
    await vscode.workspace.fs.stat(inventory);
  } catch {
    return fail(s, new Error(`${folder.fsPath} is not a CRIU checkpoint folder: it has no inventory.img`), 'Open CRIU Checkpoint Folder');
  }
  await vscode.commands.executeCommand('vscode.openWith', inventory, IMAGE_EDITOR_VIEW_TYPE);
  return { ok: true, image: inventory };
}

/** The URI of a file of a member (the rootfs diff) of an opened checkpoint. */
export function memberFileUri(checkpoint: vscode.Uri, index: number, file: string): vscode.Uri {
  return vscode.Uri.from({ scheme: MEMBER_SCHEME, path: `/${file.replace(/^\/+/, '')}`, query: JSON.stringify({ checkpoint: checkpoint.toString(), index }) });
}

/**
 * Serves the files of checkpoint members, from the checkpoint open in an editor, as a read-only
 * file system: editors of them cannot be changed or saved.
 */
export class MemberFiles implements vscode.FileSystemProvider {
  private readonly changed = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changed.event;

  constructor(private readonly s: Services) {}

  private async bytes(uri: vscode.Uri): Promise<Uint8Array> {
    let q: { checkpoint?: unknown; index?: unknown };
    try {
      q = JSON.parse(uri.query) as typeof q;
    } catch {
      throw vscode.FileSystemError.FileNotFound(uri);
    }
    if (typeof q.checkpoint !== 'string' || !Number.isSafeInteger(q.index)) throw vscode.FileSystemError.FileNotFound(uri);
    const c = this.s.editors.documentFor(vscode.Uri.parse(q.checkpoint))?.checkpoint;
    if (!c?.memberFile) throw vscode.FileSystemError.Unavailable(`${q.checkpoint} is not open any more: open it again to read its files`);
    return c.memberFile(q.index as number, uri.path.replace(/^\//, ''), MAX_MEMBER_FILE);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const size = (await this.bytes(uri)).length;
    return { type: vscode.FileType.File, ctime: 0, mtime: 0, size, permissions: vscode.FilePermission.Readonly };
  }

  readFile(uri: vscode.Uri): Promise<Uint8Array> {
    return this.bytes(uri);
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  readDirectory(uri: vscode.Uri): never {
    throw vscode.FileSystemError.FileNotADirectory(uri);
  }

  createDirectory(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  writeFile(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  delete(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  rename(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
}

export async function openCheckpointFileCommand(s: Services, checkpoint: unknown, index: unknown, file: unknown): Promise<Outcome<{ uri: vscode.Uri }> | undefined> {
  if (!(checkpoint instanceof vscode.Uri) || typeof index !== 'number' || typeof file !== 'string') return undefined;
  try {
    const uri = memberFileUri(checkpoint, index, file);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
    return { ok: true, uri };
  } catch (e) {
    return fail(s, e, `Opening ${file}`);
  }
}
