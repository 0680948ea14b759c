// Debug Checkpoint: the image's process as a core file (ckpt-inspect core's writer), opened in a
// debug session. The core goes to a private folder of this session (mode 0700, the core 0600),
// removed when the extension host ends. The C/C++ extension (cppdbg) opens cores with
// `coreDumpPath`; without it, the user is told what to install and given the gdb command line
// and the core. (Native Debug has no configuration that opens a core: its attach request always
// attaches to a process and its launch request runs the program, code-debug issue #360; so it
// gets the command line too, with a word about why.)

import fs from 'fs';
import os from 'os';
import path from 'path';
import * as vscode from 'vscode';
import { checkpointFormat, CkptCheckpoint } from '../checkpoint';
import { CheckpointImage, formatBytes } from '../image';
import { coreProcesses, gdbCommandLine, writeCore } from '../image/core/writeCore';
import { fail, Outcome, Services, targetImage } from './services';

export const CPPTOOLS = 'ms-vscode.cpptools';
export const NATIVE_DEBUG = 'webfreak.debug';

export interface DebugArgs {
  /** The process of a tree image, without asking. */
  pid?: number;
}

export type DebugOutcome = Outcome<{
  core: string;
  exe: string;
  pid: number;
  /** How it was opened: a cppdbg session, or nothing (the message with the gdb command line). */
  debugger: 'cppdbg' | 'none';
  gdbCommand: string;
}>;

let sessionDir: string | undefined;

/** This session's private folder for cores, made on first use and removed with the extension host. */
function coreDir(s: Services): string {
  if (!sessionDir) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-debug-'));
    fs.chmodSync(dir, 0o700);
    sessionDir = dir;
    s.context.subscriptions.push({ dispose: () => fs.rmSync(dir, { recursive: true, force: true }) });
  }
  return sessionDir;
}

export async function debugCheckpointCommand(s: Services, arg: unknown, args: DebugArgs = {}): Promise<DebugOutcome | undefined> {
  const uri = await targetImage(s, arg, 'Debug');
  if (!uri) return undefined;
  const image = uri.fsPath;
  const name = path.basename(image);
  try {
    if ((await checkpointFormat(image)) !== 'ckpt') throw new Error(`${name} is not a .ckpt image: Debug Checkpoint makes a core file of .ckpt images only.`);
    const doc = s.editors.documentFor(uri)?.checkpoint;
    const open = doc instanceof CkptCheckpoint ? doc.image : undefined;
    const img = open ?? (await CheckpointImage.open(image));
    try {
      const procs = await coreProcesses(img);
      let proc = procs.find((p) => p.pid === args.pid) ?? (args.pid === undefined && procs.length === 1 ? procs[0] : undefined);
      if (args.pid !== undefined && !proc) throw new Error(`${name} holds no process with pid ${args.pid}`);
      if (!proc) {
        const pick = await vscode.window.showQuickPick(
          procs.map((p, i) => ({ label: `${p.comm} (pid ${p.pid})`, description: i === 0 ? 'root' : undefined, detail: p.exe, proc: p })),
          { title: `Debug ${name}: which process?`, placeHolder: 'The process whose core the debugger opens' },
        );
        if (!pick) return undefined;
        proc = pick.proc;
      }
      const core = path.join(coreDir(s), `${(proc.comm || 'process').replace(/[^\w.-]/g, '_')}-${proc.pid}-${Date.now()}.core`);
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Writing a core of ${proc.comm} (pid ${proc.pid})` }, async (progress) => {
        let shown = 0;
        return writeCore(img, core, {
          pid: proc!.pid,
          fsync: false, // a scratch file of this session: no need to wait for the disk
          onProgress: (done, total) => {
            const pct = total ? (done / total) * 100 : 100;
            if (pct - shown >= 1) {
              progress.report({ increment: pct - shown, message: `${formatBytes(done)} of ${formatBytes(total)}` });
              shown = pct;
            }
          },
        });
      });
      const gdbCommand = gdbCommandLine(r.exe, core);
      s.log.info(`Debug ${name}: core of process ${r.pid} (${r.threads} threads, ${formatBytes(r.dataBytes)} of memory) at ${core}; ${gdbCommand}`);
      const folder = vscode.workspace.getWorkspaceFolder(uri) ?? vscode.workspace.workspaceFolders?.[0];
      if (vscode.extensions.getExtension(CPPTOOLS) && r.exe.startsWith('/')) {
        const started = await vscode.debug.startDebugging(folder, {
          type: 'cppdbg',
          request: 'launch',
          name: `Checkpoint ${name} (pid ${r.pid})`,
          program: r.exe,
          coreDumpPath: core,
          cwd: path.dirname(r.exe) || os.homedir(),
          MIMode: 'gdb',
        });
        if (started) return { ok: true, core, exe: r.exe, pid: r.pid, debugger: 'cppdbg', gdbCommand };
        s.log.warn(`Debug ${name}: the cppdbg session did not start`);
      }
      offerCommandLine(name, core, gdbCommand);
      return { ok: true, core, exe: r.exe, pid: r.pid, debugger: 'none', gdbCommand };
    } finally {
      if (!open) await img.close();
    }
  } catch (e) {
    return fail(s, e, `Debug of ${image}`);
  }
}

/** No debugger extension that opens cores: say which to install, and offer the core and gdb's command line. */
function offerCommandLine(name: string, core: string, gdbCommand: string): void {
  const why = vscode.extensions.getExtension(NATIVE_DEBUG)
    ? 'Native Debug cannot open a core file; install the C/C++ extension (ms-vscode.cpptools) to debug it here'
    : 'To debug it here, install the C/C++ extension (ms-vscode.cpptools)';
  void vscode.window.showInformationMessage(`The core of ${name} is ready. ${why}, or run: ${gdbCommand}`, 'Copy gdb Command', 'Reveal Core File').then(async (choice) => {
    if (choice === 'Copy gdb Command') await vscode.env.clipboard.writeText(gdbCommand);
    if (choice === 'Reveal Core File') {
      try {
        await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(core));
      } catch {
        // a browser has no file manager: copy the path instead
        await vscode.env.clipboard.writeText(core);
        void vscode.window.showInformationMessage(`Core file: ${core} (its path is on the clipboard)`);
      }
    }
  });
}
