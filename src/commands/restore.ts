// Restore an image: `ckpt restore` with the new process's stdio going to a file the extension owns,
// then its output in a terminal named after it, and the new PID revealed in the Processes view,
// with its restored children under it when the image holds a tree.

import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { checkpointFormat, CkptCheckpoint } from '../checkpoint';
import { CheckpointImage } from '../image';
import { RESTORE_DIR_PREFIX, RestoredProcessTerminal } from './restoredTerminal';
import { checkpointer, fail, Outcome, Services, targetImage } from './services';
import { restorePids } from './settings';

/** The process name in an image, for naming the terminal; the file name when it cannot be read. */
async function processName(s: Services, image: string): Promise<string> {
  const doc = s.editors.documentFor(vscode.Uri.file(image))?.checkpoint;
  const open = doc instanceof CkptCheckpoint ? doc.image : undefined;
  let img: CheckpointImage | undefined;
  try {
    img = open ?? (await CheckpointImage.open(image, { checkPayloads: false }));
    const proc = img.processes()[0];
    if (proc) return (await img.decodeAs(proc, 'process')).comm.value || path.basename(image, '.ckpt');
  } catch {
    // named after the file below
  } finally {
    if (img && !open) await img.close();
  }
  return path.basename(image, '.ckpt');
}

export async function restoreCommand(s: Services, arg: unknown): Promise<Outcome<{ pid: number; processes: number; output: string; terminal: string }> | undefined> {
  const uri = await targetImage(s, arg, 'Restore');
  if (!uri) return undefined;
  const image = uri.fsPath;
  try {
    if ((await checkpointFormat(image)) === 'criu') {
      throw new Error(`${path.basename(image)} is a CRIU checkpoint: ckpt restores .ckpt images only. Explore it here, or restore it with criu restore (or its container engine).`);
    }
    const comm = await processName(s, image);
    const cp = checkpointer(s);
    // The restored process's stdout and stderr: a file of ours, in a private folder.
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), RESTORE_DIR_PREFIX));
    const output = path.join(dir, 'output.log');
    const pidFile = path.join(dir, 'pid');
    await fsp.writeFile(output, '', { mode: 0o600 });
    // As root, ckpt restores a user's image as that user (the image file's owner), who opens
    // the output file itself: the file becomes theirs, and the folder (root's, not writable by
    // them, so the file cannot be swapped) lets them reach it by name.
    const owner = (await fsp.stat(image)).uid;
    if (process.getuid?.() === 0 && owner !== 0) {
      await fsp.chown(output, owner, -1);
      await fsp.chmod(dir, 0o711);
    }
    s.log.info(`Restore of ${image}; the new process's output goes to ${output}`);
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Restoring ${comm} from ${path.basename(image)}`, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        try {
          return await cp.restore({
            image,
            stdio: output,
            pidFile,
            pids: restorePids(),
            signal: abort.signal,
            onEvent: (e) => {
              if (e.event === 'step') progress.report({ message: e.message || e.step });
            },
          });
        } finally {
          sub.dispose();
        }
      },
    );
    const name = `${comm} (pid ${result.pid})`;
    const members = result.processes && result.processes > 1 ? ` with ${result.processes - 1} more process${result.processes === 2 ? '' : 'es'} under it` : '';
    s.log.info(`Restored ${image} as PID ${result.pid}${members}`);
    for (const w of result.warnings) s.log.warn(`Restore of ${path.basename(image)}: ${w}`);
    const terminal = vscode.window.createTerminal({
      name,
      pty: new RestoredProcessTerminal(result.pid, output, `Restored ${comm} from ${path.basename(image)} as PID ${result.pid}; its output follows.`),
      iconPath: new vscode.ThemeIcon('debug-restart'),
    });
    terminal.show(true);
    void s.processes.reveal(result.pid).then(
      (shown) => {
        if (!shown) s.log.info(`PID ${result.pid} is not listed in the Processes view (it may have exited, or be filtered out).`);
      },
      (e: unknown) => s.log.warn(`Cannot reveal PID ${result.pid} in the Processes view: ${e instanceof Error ? e.message : String(e)}`),
    );
    void vscode.window.showInformationMessage(`Restored ${comm} as PID ${result.pid}${members}.${result.warnings.length ? ` ${result.warnings.length} warning(s) in the log.` : ''}`);
    return { ok: true, pid: result.pid, processes: result.processes ?? 1, output, terminal: name };
  } catch (e) {
    return fail(s, e, `Restore of ${image}`);
  }
}
