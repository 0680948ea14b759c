// Whatever a run starts (code-server's process group, Chromium, a demo process, temp folders) is
// registered here, so that it goes away on every way out: a normal return, an exception, Ctrl-C,
// SIGTERM from a parent (a test runner's timeout, @vscode/test-electron's SIGINT) or process.exit.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

type Undo = () => void;

const undos = new Map<number, Undo>();
let nextId = 1;
let installed = false;

function runAll(): void {
  const all = [...undos.values()].reverse();
  undos.clear();
  for (const undo of all) {
    try {
      undo();
    } catch {
      // best effort: the rest must still run
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: cleaning up\n`);
      runAll();
      process.exit(code);
    });
  }
}

/**
 * Registers a synchronous undo step (kill a process group, remove a folder) that runs at exit or on a
 * signal unless it is dropped first; the returned function drops it (after an orderly cleanup).
 */
export function onCleanup(undo: Undo): () => void {
  install();
  const id = nextId++;
  undos.set(id, undo);
  return () => undos.delete(id);
}

/** A fresh folder under the system's temp folder, removed on every way out unless `remove()` ran first. */
export function tempFolder(prefix: string): { path: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const removeNow = () => fs.rmSync(dir, { recursive: true, force: true });
  const drop = onCleanup(removeNow);
  return {
    path: dir,
    remove: () => {
      removeNow();
      drop();
    },
  };
}

/** Sends a signal to a whole process group (a child spawned with detached: true), ignoring ESRCH. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
