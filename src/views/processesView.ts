// The Processes view: the machine's processes as a parent/child tree, the user's own by default,
// with a name filter and a refresh. Rows carry the process's identity (PID and start time), so
// that a command on a row that has since exited or been reused fails clearly instead of hitting
// another process.

import * as vscode from 'vscode';
import { formatBytes } from '../image';
import { buildProcessForest, isAlive, matchesFilter, ProcessInfo, ProcessNode, readProcesses } from './procfs';
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
  roots: ProcessRow[];
  description: string;
  message: string | undefined;
}

class ProcessRow implements ProcessItem {
  readonly kind = 'process';
  constructor(
    readonly node: ProcessNode,
    /** It has children, listed or not: a checkpoint takes it as a tree, or, if asked, alone. */
    readonly hasChildren: boolean,
  ) {}
  get info(): ProcessInfo {
    return this.node.info;
  }
}

export class ProcessesView implements vscode.TreeDataProvider<ProcessRow>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ProcessRow | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly view: vscode.TreeView<ProcessRow>;
  private rows = new Map<number, ProcessRow>();
  private roots: ProcessRow[] = [];
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
    const all = await readProcesses();
    // The filter is read after /proc, so that a reading started before a new filter still shows it.
    const listed = all.filter((p) => (this.showAll || p.uid === this.ownUid) && matchesFilter(p, this.filter) && p.pid !== process.pid);
    const forest = buildProcessForest(listed, all);
    const parents = new Set(all.map((p) => p.ppid));
    const rows = new Map([...forest.byPid].map(([pid, n]) => [pid, new ProcessRow(n, parents.has(pid))]));
    const who = this.showAll ? 'all users' : 'your processes';
    return {
      rows,
      roots: forest.roots.map((n) => rows.get(n.info.pid)!),
      description: this.filter ? `${who}, matching "${this.filter}"` : who,
      message: listed.length === 0 ? (this.filter ? `No process matches "${this.filter}".` : 'No processes to show.') : undefined,
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
        await this.view.reveal(row, { select: true, focus: false, expand: 3 }); // its restored children too
        return true;
      }
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async getChildren(element?: ProcessRow): Promise<ProcessRow[]> {
    // The rows shown last, without waiting for a reading in flight: it redraws when it lands.
    await (this.firstShown ??= this.reload(false));
    if (!element) return this.roots;
    return element.node.children.map((c) => this.rows.get(c.info.pid)!).filter(Boolean);
  }

  getParent(element: ProcessRow): ProcessRow | undefined {
    const p = element.node.parent;
    return p ? this.rows.get(p.info.pid) : undefined;
  }

  getTreeItem(row: ProcessRow): vscode.TreeItem {
    const p = row.info;
    const item = new vscode.TreeItem(p.comm, row.node.children.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    item.id = `${p.pid}:${p.startTime}`;
    item.description = processDescription(p);
    item.tooltip = processTooltip(p);
    item.contextValue = row.hasChildren ? 'processWithChildren' : 'process';
    item.iconPath = new vscode.ThemeIcon(p.state === 'T' || p.state === 't' ? 'debug-pause' : p.state === 'Z' ? 'circle-slash' : 'server-process');
    item.accessibilityInformation = { label: `${p.comm}, PID ${p.pid}, user ${p.user}, ${formatBytes(p.rssBytes)} resident, ${plural(p.threads, 'thread')}` };
    return item;
  }
}

export function processDescription(p: ProcessInfo): string {
  return `${p.pid} · ${p.user} · ${formatBytes(p.rssBytes)} · ${p.threads} thread${p.threads === 1 ? '' : 's'}`;
}

function processTooltip(p: ProcessInfo): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.supportHtml = false;
  md.appendMarkdown(`**${escapeMd(p.comm)}** (PID ${p.pid}, parent ${p.ppid})\n\n`);
  md.appendText(`${p.cmdline.join(' ') || '[no command line]'}\n`);
  md.appendMarkdown(`\n\nuser ${escapeMd(p.user)} (uid ${p.uid}) · state ${escapeMd(p.state)} · ${formatBytes(p.rssBytes)} resident · ${p.threads} thread${p.threads === 1 ? '' : 's'}`);
  return md;
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
