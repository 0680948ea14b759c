// The machine's processes, read from /proc: what the Processes view lists and what the checkpoint
// command names its images after. No vscode import; parsing is separate from reading so that both
// can be tested (the parsers on fixed text, the reader on this machine's own /proc).

import { promises as fsp, readFileSync } from 'fs';
import * as path from 'path';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** One-letter state from /proc/PID/stat (R, S, D, T, Z, ...). */
  state: string;
  /** Real uid. */
  uid: number;
  user: string;
  rssBytes: number;
  threads: number;
  cmdline: string[];
  /** Start time in clock ticks since boot: with the PID, it names one process even across PID reuse. */
  startTime: number;
  /** Session ID: the view groups processes by their session. */
  sid: number;
}

export interface StatFields {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  sid: number;
  flags: number;
  threads: number;
  startTime: number;
  rssPages: number;
}

/** PF_KTHREAD in /proc/PID/stat's flags: a kernel thread, which has no user memory to checkpoint. */
const PF_KTHREAD = 0x00200000;

/** Parses /proc/PID/stat. The comm is between the first '(' and the LAST ')', as it may hold either. */
export function parseStat(text: string): StatFields | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); field n is rest[n - 3].
  const field = (n: number) => Number(rest[n - 3]);
  if (!Number.isSafeInteger(pid) || rest.length < 22) return undefined;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0],
    ppid: field(4),
    sid: field(6),
    flags: field(9),
    threads: field(20),
    startTime: field(22),
    rssPages: field(24),
  };
}

export function isKernelThread(s: StatFields): boolean {
  return (s.flags & PF_KTHREAD) !== 0 || s.pid === 2 || s.ppid === 2;
}

export interface StatusFields {
  uids: number[];
  vmRssKiB?: number;
  threads?: number;
}

/** Parses the few lines of /proc/PID/status the view needs. */
export function parseStatus(text: string): StatusFields {
  const uid = /^Uid:\s+(.*)$/m.exec(text);
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  const threads = /^Threads:\s+(\d+)/m.exec(text);
  return {
    uids: uid ? uid[1].trim().split(/\s+/).map(Number) : [],
    ...(rss ? { vmRssKiB: Number(rss[1]) } : {}),
    ...(threads ? { threads: Number(threads[1]) } : {}),
  };
}

/** uid -> user name, from /etc/passwd text. */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split('\n')) {
    const parts = line.split(':');
    if (parts.length >= 3 && /^\d+$/.test(parts[2]) && !users.has(Number(parts[2]))) users.set(Number(parts[2]), parts[0]);
  }
  return users;
}

/** NUL-separated /proc/PID/cmdline. */
export function parseCmdline(bytes: Buffer): string[] {
  const parts = bytes.toString('utf8').split('\0');
  if (parts.length && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

export interface ReadOptions {
  /** Only processes of this real uid; all users' when undefined. */
  uid?: number;
  /** Where proc is mounted (tests may point elsewhere). */
  procRoot?: string;
  passwdFile?: string;
}

/** The processes of the machine (or of one user), kernel threads and zombies left out. Processes that exit while being read are skipped. */
export async function readProcesses(opts: ReadOptions = {}): Promise<ProcessInfo[]> {
  const root = opts.procRoot ?? '/proc';
  const users = await fsp.readFile(opts.passwdFile ?? '/etc/passwd', 'utf8').then(parsePasswd, () => new Map<number, string>());
  const names = (await fsp.readdir(root)).filter((n) => /^\d+$/.test(n));
  const out: ProcessInfo[] = [];
  await Promise.all(
    names.map(async (n) => {
      try {
        const dir = path.join(root, n);
        const status = parseStatus(await fsp.readFile(path.join(dir, 'status'), 'utf8'));
        const uid = status.uids[0];
        if (uid === undefined || (opts.uid !== undefined && uid !== opts.uid)) return;
        const stat = parseStat(await fsp.readFile(path.join(dir, 'stat'), 'utf8'));
        // Kernel threads have no user memory, and zombies no longer run: neither can be checkpointed.
        if (!stat || isKernelThread(stat) || stat.state === 'Z' || stat.state === 'X') return;
        const cmdline = parseCmdline(await fsp.readFile(path.join(dir, 'cmdline')));
        out.push({
          pid: stat.pid,
          ppid: stat.ppid,
          comm: stat.comm,
          state: stat.state,
          uid,
          user: users.get(uid) ?? String(uid),
          rssBytes: (status.vmRssKiB ?? 0) * 1024,
          threads: status.threads ?? stat.threads,
          cmdline,
          startTime: stat.startTime,
          sid: stat.sid,
        });
      } catch {
        // The process exited between readdir and now, or is not readable: not listed.
      }
    }),
  );
  return out.sort((a, b) => a.pid - b.pid);
}

export interface ProcessNode {
  info: ProcessInfo;
  parent?: ProcessNode;
  children: ProcessNode[];
}

/** True when the filter (case-insensitive) is in the process's name, command line or PID. */
export function matchesFilter(p: ProcessInfo, filter: string): boolean {
  const f = filter.trim().toLowerCase();
  if (!f) return true;
  return p.comm.toLowerCase().includes(f) || p.cmdline.join(' ').toLowerCase().includes(f) || String(p.pid) === f;
}

/**
 * The parent/child forest of the listed processes. A process whose parent is not listed hangs under
 * its nearest listed ancestor, or at the top. `all` holds every process, for finding ancestors.
 */
export function buildProcessForest(listed: ProcessInfo[], all: ProcessInfo[] = listed): { roots: ProcessNode[]; byPid: Map<number, ProcessNode> } {
  const byPid = new Map<number, ProcessNode>();
  for (const p of listed) byPid.set(p.pid, { info: p, children: [] });
  const parentOf = new Map<number, number>();
  for (const p of all) parentOf.set(p.pid, p.ppid);
  for (const p of listed) parentOf.set(p.pid, p.ppid);
  const roots: ProcessNode[] = [];
  for (const node of byPid.values()) {
    let ancestor: ProcessNode | undefined;
    const seen = new Set<number>([node.info.pid]);
    for (let pp = node.info.ppid; pp > 0 && !seen.has(pp); pp = parentOf.get(pp) ?? 0) {
      seen.add(pp);
      ancestor = byPid.get(pp);
      if (ancestor) break;
    }
    node.parent = ancestor;
  }
  // /proc read during a fork storm can show a parent loop; a node whose chain comes back to it
  // becomes a root, so that the tree is always finite.
  for (const node of byPid.values()) {
    const seen = new Set<ProcessNode>([node]);
    for (let a = node.parent; a; a = a.parent) {
      if (seen.has(a)) {
        node.parent = undefined;
        break;
      }
      seen.add(a);
    }
  }
  for (const node of byPid.values()) {
    if (node.parent) node.parent.children.push(node);
    else roots.push(node);
  }
  const byPidOrder = (a: ProcessNode, b: ProcessNode) => a.info.pid - b.info.pid;
  roots.sort(byPidOrder);
  for (const n of byPid.values()) n.children.sort(byPidOrder);
  return { roots, byPid };
}

/** The live descendants of a process (children, their children, ...), nearest first; zombies are not listed. */
export function descendantsOf(pid: number, all: ProcessInfo[]): ProcessInfo[] {
  const children = new Map<number, ProcessInfo[]>();
  for (const p of all) {
    if (p.pid === p.ppid) continue;
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const out: ProcessInfo[] = [];
  const seen = new Set<number>([pid]);
  for (let queue = [pid], i = 0; i < queue.length; i++) {
    for (const c of children.get(queue[i]) ?? []) {
      if (seen.has(c.pid)) continue; // a parent loop seen mid-fork
      seen.add(c.pid);
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number, procRoot = '/proc'): boolean {
  try {
    const s = parseStat(readFileSync(path.join(procRoot, String(pid), 'stat'), 'utf8'));
    return !!s && s.state !== 'Z' && s.state !== 'X';
  } catch {
    return false;
  }
}
