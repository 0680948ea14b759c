// Where new images go: the ckptExplorer.imageFolder setting resolved against the workspace, as a
// pure function so that its rules are tested without VS Code.

import * as path from 'path';

/**
 * The folder for new images. An absolute setting (or one starting with ~/) is used as it is; a
 * relative one (the default, "checkpoints") is inside the first workspace folder, and, with no
 * folder open, images go to the home directory.
 */
export function resolveImageFolder(setting: string | undefined, workspaceFolder: string | undefined, home: string): string {
  const s = (setting ?? '').trim() || 'checkpoints';
  if (s === '~') return home;
  if (s.startsWith('~/')) return path.join(home, s.slice(2));
  if (path.isAbsolute(s)) return path.normalize(s);
  return workspaceFolder ? path.join(workspaceFolder, s) : home;
}
