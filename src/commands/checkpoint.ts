// Checkpoint a process: `ckpt dump` under a progress notification with a percentage and a Cancel
// that stops the dump and leaves the process as it was, into the image folder under a name that
// says what it is; then the image opens in the editor. A process with children is taken with its
// descendants (`--tree`) by default: the user means the program, not its first process. Checkpoint
// This Process Only takes the process alone.

import { promises as fsp } from 'fs';
import * as vscode from 'vscode';
import { CheckpointMode, freshImagePath, ProgressTracker } from '../checkpointer';
import { formatBytes } from '../image';
import { descendantsOf, parseStat, readProcesses } from '../processes/procfs';
import { isProcessItem, processDescription } from '../views/processesView';
import { IMAGE_EDITOR_VIEW_TYPE } from '../webviews/imageEditorProvider';
import { checkpointer, fail, Outcome, Services } from './services';
import { confirmTreeCheckpoint, defaultCheckpointMode, imageFolder, stopConfirmingTreeCheckpoints } from './settings';
import { plural } from '../shared/plural';

interface Target {
  pid: number;
  comm: string;
  /** When known, the process must still have this start time (else its PID was reused). */
  startTime?: number;
}

/** The process a checkpoint command was given: a Processes view row, {pid}, a PID, or one the user picks. */
async function targetProcess(arg: unknown): Promise<Target | undefined> {
  if (isProcessItem(arg)) return { pid: arg.info.pid, comm: arg.info.comm, startTime: arg.info.startTime };
  const pid = typeof arg === 'number' ? arg : typeof arg === 'object' && arg !== null && typeof (arg as { pid?: unknown }).pid === 'number' ? (arg as { pid: number }).pid : undefined;
  if (pid !== undefined) return { pid, comm: '' };
  const own = (await readProcesses({ uid: process.getuid?.() })).filter((p) => p.pid !== process.pid);
  const pick = await vscode.window.showQuickPick(
    own.map((p) => ({ label: p.comm, description: processDescription(p), detail: p.cmdline.join(' '), p })),
    { title: 'Checkpoint a process', placeHolder: 'Process to checkpoint', matchOnDescription: true, matchOnDetail: true },
  );
  return pick ? { pid: pick.p.pid, comm: pick.p.comm, startTime: pick.p.startTime } : undefined;
}

/** What to take: the process and its descendants, or the process alone. */
export type CheckpointScope = 'tree' | 'process';

/** Options a caller (a test, another extension) may pass after the process: `{ confirm: false }` skips the question. */
interface CheckpointCallOptions {
  confirm?: boolean;
}

function callOptions(x: unknown): CheckpointCallOptions {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && typeof (x as CheckpointCallOptions).confirm === 'boolean' ? (x as CheckpointCallOptions) : {};
}

/**
 * Asks before taking a tree, naming how many processes it takes (and whether they stop); the
 * answer may also be to take the process alone. Undefined when the user cancels.
 */
async function confirmScope(comm: string, pid: number, descendants: number, how: CheckpointMode): Promise<CheckpointScope | undefined> {
  const total = descendants + 1;
  const take = how === 'stop' ? `Checkpoint and Stop ${total} Processes` : `Checkpoint ${total} Processes`;
  const alone = 'This Process Only';
  const never = "Don't Ask Again";
  const pick = await vscode.window.showInformationMessage(
    `Checkpoint ${comm} (PID ${pid}) with its ${plural(descendants, 'descendant')}: ${total} processes in one image?`,
    {
      modal: true,
      detail: `Every thread of the ${total} processes is frozen together, and what they share (pipes, shared memory, open files) is recorded once.${how === 'stop' ? ` All ${total} processes are stopped once the image is written.` : ' They keep running afterwards.'}`,
    },
    take,
    alone,
    never,
  );
  if (pick === never) await stopConfirmingTreeCheckpoints();
  return pick === take || pick === never ? 'tree' : pick === alone ? 'process' : undefined;
}

export async function checkpointCommand(
  s: Services,
  arg: unknown,
  mode?: CheckpointMode,
  scope?: CheckpointScope,
  options?: unknown,
): Promise<Outcome<{ image: vscode.Uri; processes: number }> | undefined> {
  const target = await targetProcess(arg);
  if (!target) return undefined;
  const how = mode ?? defaultCheckpointMode();
  const confirm = callOptions(options).confirm ?? confirmTreeCheckpoint();
  let image: string | undefined;
  try {
    // The row may be stale: make sure the PID still names the same process.
    let stat;
    try {
      stat = parseStat(await fsp.readFile(`/proc/${target.pid}/stat`, 'utf8'));
    } catch {
      stat = undefined;
    }
    if (!stat || (target.startTime !== undefined && stat.startTime !== target.startTime)) {
      throw new Error(`Process ${target.pid}${target.comm ? ` (${target.comm})` : ''} does not exist any more.`);
    }
    const comm = target.comm || stat.comm;
    // The tree as /proc shows it now; the dump freezes it as it is then, forks included.
    const descendants = scope === 'process' ? 0 : descendantsOf(target.pid, await readProcesses()).length;
    let take: CheckpointScope = scope ?? 'tree';
    if (take === 'tree' && descendants > 0 && confirm) {
      const answer = await confirmScope(comm, target.pid, descendants, how);
      if (!answer) return undefined;
      take = answer;
    }
    const count = take === 'tree' ? descendants + 1 : 1;
    const what = count > 1 ? `${comm} (PID ${target.pid}) and ${plural(count - 1, 'descendant')}` : `${comm} (PID ${target.pid})`;
    const cp = checkpointer(s);
    const folder = imageFolder();
    await fsp.mkdir(folder, { recursive: true });
    image = freshImagePath(folder, comm, target.pid);
    const out = image;
    s.log.info(`Checkpoint of ${what} into ${out}, ${how === 'stop' ? 'stopping it afterwards' : 'leaving it running'}`);
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Checkpointing ${what}`, cancellable: true }, async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      const tracker = new ProgressTracker();
      try {
        return await cp.dump({
          pid: target.pid,
          image: out,
          mode: how,
          tree: take === 'tree',
          signal: abort.signal,
          onEvent: (e) => {
            const increment = tracker.increment(e);
            if (e.event === 'step') progress.report({ increment, message: e.message || e.step });
            else if (e.event === 'progress') progress.report({ increment, message: `${e.phase}: ${formatBytes(e.done)} of ${formatBytes(e.total)}` });
            else if (increment) progress.report({ increment });
          },
        });
      } finally {
        sub.dispose();
      }
    });
    const uri = vscode.Uri.file(result.image);
    const frozen = result.frozenMs !== undefined ? `frozen for ${Math.max(1, Math.round(result.frozenMs))} ms` : undefined;
    s.log.info(
      `Checkpoint written: ${result.image}${result.bytes !== undefined ? `, ${formatBytes(result.bytes)}` : ''}${result.ms !== undefined ? ` in ${result.ms} ms` : ''}${frozen ? `, the process ${frozen}` : ''}`,
    );
    if (frozen && !result.warnings.length) void vscode.window.showInformationMessage(`Checkpoint of ${comm} written: it was ${frozen}.`);
    for (const w of result.warnings) s.log.warn(`Checkpoint of ${target.pid}: ${w}`);
    if (result.warnings.length) {
      void vscode.window
        .showWarningMessage(`Checkpoint of ${comm} was written with ${result.warnings.length} warning${result.warnings.length === 1 ? '' : 's'}: ${result.warnings[0]}`, 'Show Log')
        .then((c) => {
          if (c) s.log.show(true);
        });
    }
    void s.processes.refresh();
    await vscode.commands.executeCommand('vscode.openWith', uri, IMAGE_EDITOR_VIEW_TYPE);
    return { ok: true, image: uri, processes: result.processes ?? count };
  } catch (e) {
    // A failed or cancelled dump leaves no half-written image behind.
    if (image) await fsp.rm(image, { force: true }).catch(() => undefined);
    return fail(s, e, `Checkpoint of PID ${target.pid}`);
  }
}
