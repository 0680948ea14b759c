// How the Processes view arranges the forest of processes: those started from VS Code (its
// terminals and tasks, and what the extension restored) first, expanded; then every other
// session of the user's, collapsed, each under its session leader's name. Pure: procfs readings
// in, groups out, so that it is tested without a VS Code.

import { plural } from '../shared/plural';
import type { ProcessInfo, ProcessNode } from '../processes/procfs';

export interface ProcessGroup {
  /** Stable across readings, for the tree view's element ids. */
  id: string;
  label: string;
  description: string;
  /** Started from VS Code: shown expanded, first. */
  fromVSCode: boolean;
  roots: ProcessNode[];
}

/**
 * VS Code's own processes: the one that runs the extension host (`host`'s parent: code-server's
 * server, or the desktop app's main process) and its direct children (the extension host, the
 * pty host, file watchers). They are not the user's programs; what runs under them is.
 */
export function vscodeInternals(all: ProcessInfo[], host: number): Set<number> {
  const server = all.find((p) => p.pid === host)?.ppid;
  const out = new Set<number>([host]);
  if (server === undefined || server <= 1) return out;
  out.add(server);
  for (const p of all) if (p.ppid === server) out.add(p.pid);
  return out;
}

/** Whether a process descends from one of VS Code's processes (a terminal's shell, a task, a restored process). */
function underVSCode(p: ProcessInfo, internals: Set<number>, parentOf: Map<number, number>): boolean {
  const seen = new Set<number>();
  for (let pp = p.ppid; pp > 0 && !seen.has(pp); pp = parentOf.get(pp) ?? 0) {
    if (internals.has(pp)) return true;
    seen.add(pp);
  }
  return false;
}

/** The forest's roots in groups: from VS Code first, then by session in the order of their leaders' PIDs. */
export function groupProcesses(roots: ProcessNode[], all: ProcessInfo[], internals: Set<number>): ProcessGroup[] {
  const parentOf = new Map(all.map((p) => [p.pid, p.ppid]));
  const byPid = new Map(all.map((p) => [p.pid, p]));
  const vscode: ProcessNode[] = [];
  const sessions = new Map<number, ProcessNode[]>();
  for (const r of roots) {
    if (underVSCode(r.info, internals, parentOf)) vscode.push(r);
    else sessions.set(r.info.sid, [...(sessions.get(r.info.sid) ?? []), r]);
  }
  const groups: ProcessGroup[] = [];
  if (vscode.length) groups.push({ id: 'vscode', label: 'Started in VS Code', description: 'terminals, tasks, restored processes', fromVSCode: true, roots: vscode });
  for (const [sid, members] of [...sessions].sort((a, b) => a[0] - b[0])) {
    const leader = byPid.get(sid);
    const count = members.reduce((n, m) => n + size(m), 0);
    groups.push({
      id: `session:${sid}:${leader?.startTime ?? 0}`,
      label: leader ? `${leader.comm} session` : sid === 0 ? 'no session' : `session ${sid}`,
      description: `${sid ? `SID ${sid} · ` : ''}${plural(count, 'process', 'processes')}`,
      fromVSCode: false,
      roots: members,
    });
  }
  return groups;
}

function size(n: ProcessNode): number {
  let total = 0;
  for (const todo = [n]; todo.length; total++) todo.push(...todo.pop()!.children);
  return total;
}
