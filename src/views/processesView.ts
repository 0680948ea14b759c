// The Processes view: the machine's processes as a parent/child tree, the user's own by default,
// those started from VS Code first and the other sessions collapsed under their leaders (a
// filter shows its matches flat), with a refresh. The description is the PID; the rest is in
// the hover, so that rows read at the default sidebar width. Rows carry the process's identity (PID and start time), so
// that a command on a row that has since exited or been reused fails clearly instead of hitting
// another process.

import * as vscode from 'vscode';
import { formatBytes } from '../image';
import { checkpointingUnavailable } from '../checkpointer';
import { groupProcesses, ProcessGroup, vscodeInternals } from './processGroups';
import { buildProcessForest, isAlive, matchesFilter, ProcessInfo, ProcessNode, readProcesses } from '../processes/procfs';
import { plural } from '../shared/plural';

export const PROCESSES_VIEW_ID = 'ckptExplorer.processes';

/** What a process row hands to the commands run on it. */
export interface ProcessItem {
  readonly kind: 'process';
  readonly info: ProcessInfo;
}

export function isProcessItem(x: unknown): x is ProcessItem {
  return typeof x === 'object' && x !== null && (x as ProcessItem).kind === 'process' && typeof (x as ProcessItem).info?.pid === 'number';
}

/** One reading of /proc, as the view shows it. */
interface ShownProcesses {
  rows: Map<number, ProcessRow>;
  roots: Row[];
  /** The group a top-level process row is shown under. */
  groupOf: Map<number, GroupRow>;
  description: string;
  message: string | undefined;
}

class ProcessRow implements ProcessItem {
  readonly kind = 'process';
  constructor(
    readonly node: ProcessNode,
    /** It has children, listed or not: a checkpoint takes it as a tree, or, if asked, alone. */
    readonly hasChildren: boolean,
    /** Drawn expanded: under "Started in VS Code", or a filter's matches. */
    readonly expanded: boolean,
  ) {}
  get info(): ProcessInfo {
    return this.node.info;
  }
}

/** A group of top-level processes: those started from VS Code, or one session. */
class GroupRow {
  readonly kind = 'group';
  children: ProcessRow[] = [];
  constructor(readonly group: ProcessGroup) {}
}

type Row = ProcessRow | GroupRow;

export class ProcessesView implements vscode.TreeDataProvider<Row>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Row | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly view: vscode.TreeView<Row>;
  private rows = new Map<number, ProcessRow>();
  private roots: Row[] = [];
  private groupOf = new Map<number, GroupRow>();
  /** The newest /proc reading asked for, and the promise of its being shown. */
  private latest?: Promise<ShownProcesses>;
  private loaded?: Promise<void>;
  private firstShown?: Promise<void>;
  private filter = '';
  private showAll = false;
  private readonly ownUid = process.getuid?.() ?? -1;

  constructor() {
    this.view = vscode.window.createTreeView(PROCESSES_VIEW_ID, { treeDataProvider: this, showCollapseAll: true });
    // Processes come and go while the view is hidden: read /proc again when it comes back.
    this.view.onDidChangeVisibility((e) => {
      if (e.visible && this.loaded) void this.refresh();
    });
    void vscode.commands.executeCommand('setContext', 'ckptExplorer.processes.showAll', false);
    void vscode.commands.executeCommand('setContext', 'ckptExplorer.processes.filtered', false);
  }

  dispose(): void {
    this.view.dispose();
    this.changed.dispose();
  }

  get filterText(): string {
    return this.filter;
  }

  setFilter(text: string): Promise<void> {
    this.filter = text.trim();
    void vscode.commands.executeCommand('setContext', 'ckptExplorer.processes.filtered', this.filter !== '');
    return this.refresh();
  }

  setShowAll(all: boolean): Promise<void> {
    this.showAll = all;
    void vscode.commands.executeCommand('setContext', 'ckptExplorer.processes.showAll', all);
    return this.refresh();
  }

  /**
   * Reads /proc again, then redraws the tree; resolves when the newest reading is shown. Reading
   * comes first because a redraw makes VS Code drop every row it has handed out: a right-click in
   * that gap runs its command with no row, so the gap must be one round trip, not a /proc scan.
   */
  refresh(): Promise<void> {
    return this.reload(true);
  }

  private reload(redraw: boolean): Promise<void> {
    const reading = this.read();
    this.latest = reading;
    this.loaded = reading.then((shown) => {
      if (this.latest !== reading) return; // a newer reading (say, of a new filter) is on its way
      this.rows = shown.rows;
      this.roots = shown.roots;
      this.groupOf = shown.groupOf;
      this.view.description = shown.description;
      this.view.message = shown.message;
      if (redraw) this.changed.fire(undefined);
    });
    return this.settled();
  }

  /** Resolves when no reading is pending any more. */
  private async settled(): Promise<void> {
    for (let pending = this.loaded; ; pending = this.loaded) {
      await pending;
      if (pending === this.loaded) return;
    }
  }

  private async read(): Promise<ShownProcesses> {
    // Where ckpt cannot run, the view says why; without Linux there is no /proc to list either.
    const unavailable = checkpointingUnavailable();
    if (unavailable && process.platform !== 'linux') return { rows: new Map(), groupOf: new Map(), roots: [], description: '', message: unavailable };
    const all = await readProcesses();
    // The filter is read after /proc, so that a reading started before a new filter still shows it.
    // VS Code's own processes (its server, the extension host, the pty host) are not listed.
    const internals = vscodeInternals(all, process.pid);
    const listed = all.filter((p) => (this.showAll || p.uid === this.ownUid) && matchesFilter(p, this.filter) && !internals.has(p.pid));
    const forest = buildProcessForest(listed, all);
    const parents = new Set(all.map((p) => p.ppid));
    // A filter shows its matches flat; otherwise the roots go into groups.
    const groups = this.filter ? undefined : groupProcesses(forest.roots, all, internals);
    const expanded = new Set<number>();
    for (const g of groups ?? [])
      if (g.fromVSCode)
        for (const todo = [...g.roots]; todo.length;) {
          const n = todo.pop()!;
          expanded.add(n.info.pid);
          todo.push(...n.children);
        }
    const rows = new Map([...forest.byPid].map(([pid, n]) => [pid, new ProcessRow(n, parents.has(pid), !groups || expanded.has(pid))]));
    const groupOf = new Map<number, GroupRow>();
    const groupRows = (groups ?? []).map((g) => {
      const row = new GroupRow(g);
      row.children = g.roots.map((n) => rows.get(n.info.pid)!);
      for (const n of g.roots) groupOf.set(n.info.pid, row);
      return row;
    });
    const who = this.showAll ? 'all users' : 'your processes';
    return {
      rows,
      groupOf,
      roots: groups ? groupRows : forest.roots.map((n) => rows.get(n.info.pid)!),
      description: this.filter ? `${who}, matching "${this.filter}"` : who,
      message: unavailable ?? (listed.length === 0 ? (this.filter ? `No process matches "${this.filter}".` : 'No processes to show.') : undefined),
    };
  }

  /** The row of a PID in the newest reading, if it is listed. */
  async find(pid: number): Promise<ProcessItem | undefined> {
    await (this.firstShown ??= this.reload(false));
    await this.settled();
    return this.rows.get(pid);
  }

  /** Refreshes until the PID is listed (a new process may take a moment), then opens the view and selects it there. */
  async reveal(pid: number, timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.refresh();
      let row = this.rows.get(pid);
      if (!row && this.filter && isAlive(pid)) {
        // The filter hides it: the user asked to see this process, so the filter goes.
        await this.setFilter('');
        row = this.rows.get(pid);
      }
      if (row) {
        // A hidden view is opened first: reveal() alone selects the row but leaves it out of sight.
        if (!this.view.visible) await vscode.commands.executeCommand(`${PROCESSES_VIEW_ID}.focus`);
        // Its ancestors are expanded first, from the top: VS Code does not reveal a row inside a
        // collapsed row that it has not fetched yet (a collapsed session's).
        const ancestors: Row[] = [];
        for (let a = this.getParent(row); a; a = this.getParent(a)) ancestors.unshift(a);
        for (const a of ancestors) await this.view.reveal(a, { select: false, focus: false, expand: true });
        await this.view.reveal(row, { select: true, focus: false, expand: 3 }); // its restored children too
        return true;
      }
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async getChildren(element?: Row): Promise<Row[]> {
    // The rows shown last, without waiting for a reading in flight: it redraws when it lands.
    await (this.firstShown ??= this.reload(false));
    if (!element) return this.roots;
    if (element.kind === 'group') return element.children;
    return element.node.children.map((c) => this.rows.get(c.info.pid)!).filter(Boolean);
  }

  getParent(element: Row): Row | undefined {
    if (element.kind === 'group') return undefined;
    const p = element.node.parent;
    return p ? this.rows.get(p.info.pid) : this.groupOf.get(element.info.pid);
  }

  getTreeItem(row: Row): vscode.TreeItem {
    if (row.kind === 'group') {
      const g = row.group;
      const item = new vscode.TreeItem(g.label, g.fromVSCode ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
      item.id = g.id;
      item.description = g.description;
      item.contextValue = 'processGroup';
      item.iconPath = new vscode.ThemeIcon(g.fromVSCode ? 'terminal' : 'window');
      return item;
    }
    const p = row.info;
    const state = !row.node.children.length ? vscode.TreeItemCollapsibleState.None : row.expanded ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(p.comm, state);
    item.id = `${p.pid}:${p.startTime}`;
    item.description = processDescription(p);
    item.tooltip = processTooltip(p);
    item.contextValue = row.hasChildren ? 'processWithChildren' : 'process';
    item.iconPath = new vscode.ThemeIcon(p.state === 'T' || p.state === 't' ? 'debug-pause' : p.state === 'Z' ? 'circle-slash' : 'server-process');
    item.accessibilityInformation = { label: `${p.comm}, PID ${p.pid}, user ${p.user}, ${formatBytes(p.rssBytes)} resident, ${plural(p.threads, 'thread')}` };
    return item;
  }
}

/** The PID, and "stopped" when it is; the rest (user, memory, threads, command line) is in the hover. */
export function processDescription(p: ProcessInfo): string {
  return `${p.pid}${p.state === 'T' || p.state === 't' ? ' · stopped' : ''}`;
}

function processTooltip(p: ProcessInfo): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.supportHtml = false;
  md.appendMarkdown(`**${escapeMd(p.comm)}** (PID ${p.pid}, parent ${p.ppid})\n\n`);
  md.appendText(`${p.cmdline.join(' ') || '[no command line]'}\n`);
  md.appendMarkdown(`\n\nuser ${escapeMd(p.user)} (uid ${p.uid}) · state ${escapeMd(p.state)} · session ${p.sid} · ${formatBytes(p.rssBytes)} resident · ${plural(p.threads, 'thread')}`);
  return md;
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
