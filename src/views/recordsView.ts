// The Image Records view: the record tree of the checkpoint in the active editor (a .ckpt image's
// ptag tree; a CRIU checkpoint's files, their entries and VMAs), children built when a node opens,
// each row labelled as the editor's tree labels it. A node with more than PAGE_ROWS children lists
// the first PAGE_ROWS, then one row per further PAGE_ROWS that opens onto them (a hostile image
// can put millions of records under one parent; VS Code would build a tree item for each). Its
// selection and the editor's stay in sync: a row selected here is selected in the editor, and a
// record selected in the editor is revealed here.

import * as path from 'path';
import * as vscode from 'vscode';
import type { RecordNodeModel } from '../shared/models';
import type { ImageDocument } from '../webviews/imageDocument';
import type { ImageEditorProvider } from '../webviews/imageEditorProvider';

export const RECORDS_VIEW_ID = 'ckptExplorer.records';

/** A row: one record of one image. Rows are cached per image so that reveal() finds the same objects. */
export class RecordRow {
  constructor(
    readonly document: ImageDocument,
    readonly index: number,
  ) {}
}

/** A row that opens onto PAGE_ROWS children of `parent` (or the rest), from `from` on. */
export class MoreRow {
  /** It is no record. */
  readonly index = undefined;
  constructor(
    readonly document: ImageDocument,
    readonly parent: number | undefined,
    readonly from: number,
  ) {}
}

export type Row = RecordRow | MoreRow;

/** Children listed at once under a row; the rest are under MoreRows of as many each. */
export const PAGE_ROWS = 1000;

/** Icons by record title: .ckpt record types, and the kinds of a CRIU checkpoint's files and entries. */
const ICONS: Record<string, string> = {
  HEAD: 'info',
  TAIL: 'pass',
  PAD: 'whitespace',
  PROCESS: 'server-process',
  THREAD: 'pulse',
  MM: 'circuit-board',
  VMA: 'symbol-array',
  PAGEMAP: 'list-ordered',
  PAGEMAP_HEAD: 'list-ordered',
  PAGES: 'file-binary',
  FILES: 'files',
  FILE: 'file',
  FD: 'file',
  FDINFO: 'file',
  SIGACTIONS: 'zap',
  PENDING_SIGNALS: 'bell',
  TIMERS: 'watch',
  POSIX_TIMER: 'watch',
  PROCESS_ATTRS: 'settings-gear',
  SECCOMP_FILTER: 'shield',
  UNSUPPORTED: 'warning',
  FOLDER: 'folder',
  LINK: 'file-symlink-directory',
  INVENTORY: 'info',
  PSTREE: 'type-hierarchy',
  CORE: 'pulse',
  IDS: 'key',
  FS: 'folder-opened',
  PIPE_DATA: 'arrow-both',
  PIPES_DATA: 'arrow-both',
  SK_PACKET: 'plug',
  SK_QUEUES: 'plug',
  STATS: 'graph',
  TASK_KOBJ_IDS: 'key',
};

export class RecordsView implements vscode.TreeDataProvider<Row>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Row | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly view: vscode.TreeView<Row>;
  private document?: ImageDocument;
  private rows = new Map<number, RecordRow>();
  private moreRows = new Map<string, MoreRow>();
  /** Where each child stands among its parent's children, for parents with more than a page. */
  private positions = new Map<number | undefined, Map<number, number>>();
  /** Set while the view's selection is being changed to follow the editor, so that it is not echoed back. */
  private following = false;
  private readonly subs: vscode.Disposable[] = [];
  private docSubs: vscode.Disposable[] = [];

  constructor(private readonly editors: ImageEditorProvider) {
    this.view = vscode.window.createTreeView(RECORDS_VIEW_ID, { treeDataProvider: this, showCollapseAll: true });
    this.subs.push(
      editors.onDidChangeActiveDocument((d) => this.show(d)),
      editors.onDidSelectRecord(({ document, index }) => {
        if (document === this.document && this.view.visible) void this.reveal(index, false);
      }),
      this.view.onDidChangeSelection((e) => {
        if (this.following || !this.document) return;
        const row = e.selection[0];
        if (row instanceof RecordRow) this.editors.selectInEditors(row.document, row.index);
      }),
      this.view.onDidChangeVisibility((e) => {
        if (e.visible && this.document?.selected !== undefined) void this.reveal(this.document.selected, false);
      }),
    );
    this.show(editors.activeDocument);
  }

  get currentDocument(): ImageDocument | undefined {
    return this.document;
  }

  private show(doc: ImageDocument | undefined): void {
    if (doc === this.document) return;
    for (const s of this.docSubs) s.dispose();
    this.docSubs = [];
    this.document = doc;
    this.rows = new Map();
    this.moreRows = new Map();
    this.positions = new Map();
    void vscode.commands.executeCommand('setContext', 'ckptExplorer.records.hasImage', !!doc?.checkpoint);
    this.view.description = doc ? path.basename(doc.uri.fsPath) : undefined;
    this.view.message = doc && !doc.checkpoint ? `Cannot show ${path.basename(doc.uri.fsPath)}: ${doc.openError}` : undefined;
    if (doc) {
      // Damage found by a verification is marked on the rows.
      this.docSubs.push(
        doc.onDidChangeVerification((v) => {
          if (v.status !== 'running') this.changed.fire(undefined);
        }),
      );
    }
    this.changed.fire(undefined);
  }

  private row(index: number): RecordRow {
    let r = this.rows.get(index);
    if (!r) this.rows.set(index, (r = new RecordRow(this.document!, index)));
    return r;
  }

  private more(parent: number | undefined, from: number): MoreRow {
    const key = `${parent}:${from}`;
    let r = this.moreRows.get(key);
    if (!r) this.moreRows.set(key, (r = new MoreRow(this.document!, parent, from)));
    return r;
  }

  getChildren(element?: Row): Row[] {
    const c = this.document?.checkpoint;
    if (!c) return [];
    const parent = element instanceof MoreRow ? element.parent : element?.index;
    const from = element instanceof MoreRow ? element.from : 0;
    const all = c.children(parent);
    const rows: Row[] = all.slice(from, from + PAGE_ROWS).map((i) => this.row(i));
    if (!(element instanceof MoreRow)) for (let k = PAGE_ROWS; k < all.length; k += PAGE_ROWS) rows.push(this.more(parent, k));
    return rows;
  }

  getParent(element: Row): Row | undefined {
    const c = element.document.checkpoint;
    if (!c) return undefined;
    if (element instanceof MoreRow) return element.parent === undefined ? undefined : this.row(element.parent);
    const p = c.parent(element.index);
    const at = this.positionOf(p, element.index);
    if (at >= PAGE_ROWS) return this.more(p, Math.floor(at / PAGE_ROWS) * PAGE_ROWS);
    return p !== undefined ? this.row(p) : undefined;
  }

  /** Where record `index` stands among the children of `parent` (found once per parent). */
  private positionOf(parent: number | undefined, index: number): number {
    const all = this.document!.checkpoint!.children(parent);
    if (all.length <= PAGE_ROWS) return 0;
    let map = this.positions.get(parent);
    if (!map) this.positions.set(parent, (map = new Map(all.map((r, i) => [r, i]))));
    return map.get(index) ?? 0;
  }

  async getTreeItem(row: Row): Promise<vscode.TreeItem> {
    if (row instanceof MoreRow) {
      const total = row.document.checkpoint!.children(row.parent).length;
      const n = (x: number) => x.toLocaleString('en-US');
      const item = new vscode.TreeItem(`records ${n(row.from + 1)} to ${n(Math.min(total, row.from + PAGE_ROWS))}`, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `more:${row.parent ?? 'top'}:${row.from}`;
      item.description = `of ${n(total)} at this level`;
      item.iconPath = new vscode.ThemeIcon('ellipsis');
      return item;
    }
    const doc = row.document;
    const node = await doc.requests!.node(row.index);
    return treeItem(node, doc.checkpoint!.bounds(row.index).offset);
  }

  /** The rows at the top level, labelled as the view shows them (for tests and the reveal command). */
  async topLevel(): Promise<RecordNodeModel[]> {
    const doc = this.document;
    if (!doc?.requests) return [];
    return Promise.all(doc.checkpoint!.children().map((r) => doc.requests!.node(r)));
  }

  /** Shows a record in the view, selected; `focus` moves the keyboard focus to the view. */
  async reveal(index: number, focus: boolean): Promise<void> {
    const c = this.document?.checkpoint;
    if (!c || !Number.isSafeInteger(index) || index < 0 || index >= c.recordCount) return;
    this.following = true;
    try {
      await this.view.reveal(this.row(index), { select: true, focus, expand: false });
    } finally {
      this.following = false;
    }
  }

  dispose(): void {
    for (const s of this.docSubs) s.dispose();
    for (const s of this.subs) s.dispose();
    this.view.dispose();
    this.changed.dispose();
  }
}

function treeItem(n: RecordNodeModel, offset: number): vscode.TreeItem {
  const item = new vscode.TreeItem(n.title, n.childCount ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
  item.id = String(n.index);
  item.description = n.detail;
  const tip = new vscode.MarkdownString();
  tip.appendMarkdown(`**${n.title}** record #${n.index}${n.tag !== undefined ? `, tag ${n.tag}` : ''}, at file offset 0x${offset.toString(16)}\n\n`);
  tip.appendText(n.detail);
  if (n.problem) tip.appendMarkdown('\n\n$(warning) ').appendText(n.problem);
  tip.supportThemeIcons = true;
  item.tooltip = tip;
  item.contextValue = `record.${n.title.toLowerCase()}`;
  item.iconPath = n.problem
    ? new vscode.ThemeIcon(n.problemBelow ? 'warning' : 'error', new vscode.ThemeColor(n.problemBelow ? 'list.warningForeground' : 'list.errorForeground'))
    : new vscode.ThemeIcon(ICONS[n.title] ?? 'question');
  item.accessibilityInformation = { label: `${n.title} record ${n.index}: ${n.detail}${n.problem ? `; problem: ${n.problem}` : ''}` };
  return item;
}
