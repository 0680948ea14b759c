// The Image Records view: the record tree of the checkpoint in the active editor (a .ckpt image's
// ptag tree; a CRIU checkpoint's files, their entries and VMAs), children built when a node opens,
// each row labelled as the editor's tree labels it. Its selection and the editor's stay in sync:
// a row selected here is selected in the editor, and a record selected in the editor is revealed
// here.

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

export class RecordsView implements vscode.TreeDataProvider<RecordRow>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RecordRow | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly view: vscode.TreeView<RecordRow>;
  private document?: ImageDocument;
  private rows = new Map<number, RecordRow>();
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
        if (row) this.editors.selectInEditors(row.document, row.index);
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
    this.docSubs.forEach((s) => s.dispose());
    this.docSubs = [];
    this.document = doc;
    this.rows = new Map();
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

  getChildren(element?: RecordRow): RecordRow[] {
    const doc = this.document;
    if (!doc?.checkpoint) return [];
    return doc.checkpoint.children(element?.index).map((r) => this.row(r));
  }

  getParent(element: RecordRow): RecordRow | undefined {
    const p = element.document.checkpoint?.parent(element.index);
    return p !== undefined ? this.row(p) : undefined;
  }

  async getTreeItem(row: RecordRow): Promise<vscode.TreeItem> {
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
    this.docSubs.forEach((s) => s.dispose());
    this.subs.forEach((s) => s.dispose());
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
