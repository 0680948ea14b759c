// The readonly custom editor for checkpoints: .ckpt files, CRIU checkpoint folders (by their
// inventory.img) and checkpoint archives. It opens the checkpoint (headers only, so a 4 GiB image
// opens as fast as a small one), answers its webview's requests through ImageRequests, relays the
// selection to and from the Image Records view, and pushes verification state to every editor of
// the image.

import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { SearchEndModel, SearchHitModel, SearchQueryModel } from '../shared/models';
import type { HostEvent, SearchShownModel } from '../shared/protocol';
import { isSearchMethod, parseFromWebview, parseSearchShown, unhandled } from '../shared/protocol';
import { editorPage } from './editorHtml';
import { ImageDocument } from './imageDocument';
import { compileQuery } from '../image';
import { ImageSearch, searchQueryParam } from './imageSearch';
import { replyTo, WebviewRequests } from './requestReply';

export const IMAGE_EDITOR_VIEW_TYPE = 'ckptExplorer.image';
/** The same editor for .tar, .tar.gz and .tar.zst files, offered in Open With. */
export const ARCHIVE_EDITOR_VIEW_TYPE = 'ckptExplorer.archive';
/** Images up to this size are verified in full as soon as they open; larger ones on request. */
const AUTO_VERIFY_BYTES = 64 * 1024 * 1024;

export interface RecordSelection {
  document: ImageDocument;
  index: number;
}

/** A search run by the Search Memory command in an editor's search pane, as it ended. */
export interface EditorSearchResult {
  hits: SearchHitModel[];
  end: SearchEndModel;
  /** What the webview did: how many results it lists, and where its memory view went. */
  shown: SearchShownModel;
}

/**
 * Opens a frame's source file at its line, beside the editor. The path comes from a mapped file's
 * debug info: only an absolute path to a regular file opens (never one relative to wherever the
 * extension host runs, nor a device); otherwise a message says why not.
 */
async function openSourceLine(file: string, line: number): Promise<void> {
  const why = !path.isAbsolute(file) ? 'the debug info gives it relative to a build directory that is not known' : !isRegularFile(file) ? 'it is not on this machine' : undefined;
  if (why) {
    void vscode.window.showWarningMessage(`Cannot open ${file}, line ${line}: ${why}.`);
    return;
  }
  const at = new vscode.Position(Math.max(0, line - 1), 0);
  await vscode.window.showTextDocument(vscode.Uri.file(file), { selection: new vscode.Range(at, at), preview: true, viewColumn: vscode.ViewColumn.Beside });
}

function isRegularFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** What the provider keeps per webview: its search, and whether its script is listening. */
interface PanelState {
  search?: ImageSearch;
  ready: Promise<void>;
  setReady(): void;
}

export class ImageEditorProvider implements vscode.CustomReadonlyEditorProvider<ImageDocument>, vscode.Disposable {
  private readonly panels = new Map<ImageDocument, Set<vscode.WebviewPanel>>();
  private active?: ImageDocument;
  private readonly activeChanged = new vscode.EventEmitter<ImageDocument | undefined>();
  /** The image of the editor in front (or the last one that was, while it stays open). */
  readonly onDidChangeActiveDocument = this.activeChanged.event;
  private readonly selected = new vscode.EventEmitter<RecordSelection>();
  /** A record selected in an editor. */
  readonly onDidSelectRecord = this.selected.event;
  private readonly states = new Map<vscode.WebviewPanel, PanelState>();
  private readonly resolved = new vscode.EventEmitter<ImageDocument>();
  /** What the host asked the webviews (runSearch), waiting for their answers. */
  private readonly asked = new WebviewRequests();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    /** Where compressed checkpoint archives are decompressed to (the extension's storage). */
    private readonly archiveCache?: string,
  ) {}

  static register(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): ImageEditorProvider {
    const provider = new ImageEditorProvider(context.extensionUri, log, vscode.Uri.joinPath(context.globalStorageUri, 'archives').fsPath);
    const options = {
      // The webview keeps its scroll positions and open nodes when its tab is in the background.
      webviewOptions: { retainContextWhenHidden: true, enableFindWidget: true },
      supportsMultipleEditorsPerDocument: true,
    };
    context.subscriptions.push(
      provider,
      vscode.window.registerCustomEditorProvider(IMAGE_EDITOR_VIEW_TYPE, provider, options),
      // Tar archives open here only when asked (Open With), as they are not all checkpoints.
      vscode.window.registerCustomEditorProvider(ARCHIVE_EDITOR_VIEW_TYPE, provider, options),
    );
    return provider;
  }

  /** Where the editor's search workers decompress archives to: the same cache as the editor's. */
  get cacheDir(): string | undefined {
    return this.archiveCache;
  }

  get activeDocument(): ImageDocument | undefined {
    return this.active;
  }

  /** Open documents, for commands that act on an image that may already be open. */
  documentFor(uri: vscode.Uri): ImageDocument | undefined {
    for (const d of this.panels.keys()) if (d.uri.toString() === uri.toString()) return d;
    return undefined;
  }

  async openCustomDocument(uri: vscode.Uri): Promise<ImageDocument> {
    const t0 = Date.now();
    const doc = await ImageDocument.open(uri, { cache: this.archiveCache ? { dir: this.archiveCache } : undefined });
    if (doc.checkpoint) this.log.info(`Opened ${uri.fsPath}: ${doc.checkpoint.recordCount} records, ${doc.checkpoint.size} bytes, in ${Date.now() - t0} ms`);
    else this.log.warn(`Cannot open ${uri.fsPath} as an image: ${doc.openError}`);
    doc.onDidChangeVerification((v) => this.postToDocument(doc, { type: 'verification', verification: v }));
    return doc;
  }

  async resolveCustomEditor(doc: ImageDocument, panel: vscode.WebviewPanel): Promise<void> {
    let set = this.panels.get(doc);
    if (!set) this.panels.set(doc, (set = new Set()));
    set.add(panel);
    const webview = panel.webview;
    webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(this.extensionUri, 'media')],
    };
    webview.html = editorPage(webview, this.extensionUri, { title: path.basename(doc.uri.fsPath), error: doc.openError }).html;
    let setReady = () => {};
    const ready = new Promise<void>((resolve) => (setReady = resolve));
    const state: PanelState = { ready, setReady, search: doc.checkpoint ? new ImageSearch(doc.checkpoint, (e) => void webview.postMessage(e), { cacheDir: this.archiveCache }) : undefined };
    this.states.set(panel, state);
    this.resolved.fire(doc);

    const subs: vscode.Disposable[] = [];
    subs.push(webview.onDidReceiveMessage((m) => void this.onMessage(doc, panel, m)));
    subs.push(
      panel.onDidChangeViewState(() => {
        if (panel.active) this.setActive(doc);
      }),
    );
    panel.onDidDispose(() => {
      for (const s of subs) s.dispose();
      state.search?.dispose();
      this.states.delete(panel);
      set!.delete(panel);
      if (set!.size === 0) {
        this.panels.delete(doc);
        if (this.active === doc) this.setActive(this.firstActive());
      }
    });
    if (panel.active) this.setActive(doc);
  }

  private firstActive(): ImageDocument | undefined {
    for (const [doc, set] of this.panels) for (const p of set) if (p.active) return doc;
    return undefined;
  }

  private setActive(doc: ImageDocument | undefined): void {
    if (this.active === doc) return;
    this.active = doc;
    this.activeChanged.fire(doc);
  }

  private async onMessage(doc: ImageDocument, panel: vscode.WebviewPanel, raw: unknown): Promise<void> {
    const m = parseFromWebview(raw);
    if (!m) {
      this.log.warn(`Ignored a malformed message from the image editor: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    switch (m.type) {
      case 'request': {
        const answer = async () => {
          if (!doc.requests) throw new Error(doc.openError ?? 'the image is not open');
          const search = this.states.get(panel)?.search;
          return isSearchMethod(m.method) ? search!.handle(m as Parameters<ImageSearch['handle']>[0]) : doc.requests.handle(m as Parameters<typeof doc.requests.handle>[0]);
        };
        void panel.webview.postMessage(await replyTo(m, answer, this.log, 'Request'));
        break;
      }
      case 'ready':
        this.states.get(panel)?.setReady();
        if (panel.active) this.setActive(doc);
        if (doc.checkpoint && doc.verification.status === 'unverified' && doc.checkpoint.size <= AUTO_VERIFY_BYTES) void doc.verify();
        break;
      case 'selected':
        doc.selected = m.index;
        this.selected.fire({ document: doc, index: m.index });
        break;
      case 'run':
        await vscode.commands.executeCommand(`ckptExplorer.${m.command}`, doc.uri);
        break;
      case 'openFile':
        await vscode.commands.executeCommand('ckptExplorer.openCheckpointFile', doc.uri, m.index, m.path);
        break;
      case 'openFrame': {
        const src = await doc.requests?.frameSource(m.process, m.tid, m.frame).catch((e: Error) => {
          this.log.warn(`No source for frame ${m.frame} of thread ${m.tid}: ${e.message}`);
          return undefined;
        });
        if (src) await openSourceLine(src.file, src.line);
        break;
      }
      case 'response':
        if (!this.asked.settle(m)) this.log.warn(`Ignored a response to no request from the image editor: ${m.id}`);
        break;
      default:
        unhandled(m);
    }
  }

  /** The editor of an image to act on: the active one, else a visible one, else any; once its script listens. */
  private async panelOf(doc: ImageDocument): Promise<vscode.WebviewPanel | undefined> {
    const set = [...(this.panels.get(doc) ?? [])];
    const panel = set.find((p) => p.active) ?? set.find((p) => p.visible) ?? set[0];
    if (!panel) return undefined;
    if (!panel.visible) panel.reveal(undefined, false);
    await this.states.get(panel)?.ready;
    return panel;
  }

  /** Waits until an editor of the image has opened (it resolves asynchronously after openWith). */
  private documentOpened(uri: vscode.Uri, timeoutMs = 15_000): Promise<ImageDocument | undefined> {
    const now = this.documentFor(uri);
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        sub.dispose();
        resolve(this.documentFor(uri));
      }, timeoutMs);
      const sub = this.resolved.event((d) => {
        if (d.uri.toString() !== uri.toString()) return;
        clearTimeout(timer);
        sub.dispose();
        resolve(d);
      });
    });
  }

  /**
   * Opens an image in its editor (beside the active one when asked) and, when given, selects a
   * record there, once the editor's page listens.
   */
  async showRecord(uri: vscode.Uri, index: number | undefined, column: vscode.ViewColumn = vscode.ViewColumn.Active): Promise<ImageDocument | undefined> {
    await vscode.commands.executeCommand('vscode.openWith', uri, IMAGE_EDITOR_VIEW_TYPE, { viewColumn: column, preserveFocus: false });
    const doc = await this.documentOpened(uri);
    if (!doc) return undefined;
    if (index !== undefined && doc.requests && index < doc.checkpoint!.recordCount) {
      await this.panelOf(doc);
      this.selectInEditors(doc, index);
    }
    return doc;
  }

  /** The search running in an editor of the image, if any (for the integration tests). */
  runningSearch(uri: vscode.Uri): number | undefined {
    const doc = this.documentFor(uri);
    for (const p of (doc && this.panels.get(doc)) ?? []) {
      const id = this.states.get(p)?.search?.runningSearch;
      if (id !== undefined) return id;
    }
    return undefined;
  }

  /** Opens the search pane of an image's editor, and focuses its search box. */
  async showSearch(doc: ImageDocument): Promise<boolean> {
    const panel = await this.panelOf(doc);
    if (!panel) return false;
    await panel.webview.postMessage({ type: 'showSearch' } satisfies HostEvent);
    return true;
  }

  /**
   * Searches an image's memory in its editor, as if the query had been typed into its search pane:
   * the webview runs the search through the protocol, lists the hits, and (with goToFirst) shows the
   * first one in its memory view. Resolves once the webview says so, with the hits as the host sent them.
   */
  async searchInEditor(doc: ImageDocument, query: SearchQueryModel, opts: { maxHits?: number; goToFirst?: boolean; token?: vscode.CancellationToken } = {}): Promise<EditorSearchResult> {
    const panel = await this.panelOf(doc);
    const state = panel && this.states.get(panel);
    if (!panel || !state?.search) throw new Error(doc.openError ?? `${path.basename(doc.uri.fsPath)} is not open in an editor`);
    compileQuery(searchQueryParam({ query })); // a bad pattern fails here, with its message
    let closed: vscode.Disposable | undefined;
    const disposed = new Promise<never>((_, reject) => (closed = panel.onDidDispose(() => reject(new Error('the editor was closed during the search')))));
    const cancel = opts.token?.onCancellationRequested(() => {
      const id = state.search?.runningSearch;
      if (id !== undefined) void state.search?.cancelSearch({ search: id });
    });
    try {
      const answer = await Promise.race([this.asked.ask(panel.webview, 'runSearch', { query, maxHits: opts.maxHits ?? 1000, goToFirst: opts.goToFirst ?? false }), disposed]);
      const shown = parseSearchShown(answer);
      if (!shown) throw new Error(`the image editor answered the search with ${JSON.stringify(answer)?.slice(0, 200)}`);
      const r = await state.search.result(shown.search);
      if (!r) throw new Error(`search ${shown.search} did not run`);
      return { ...r, shown };
    } finally {
      closed?.dispose();
      cancel?.dispose();
    }
  }

  /** Selects a record in every editor of the image (from the Image Records view). */
  selectInEditors(doc: ImageDocument, index: number): void {
    if (!doc.requests) return;
    doc.requests.entry(index);
    doc.selected = index;
    this.postToDocument(doc, { type: 'select', index, path: doc.requests.pathTo(index) });
  }

  private postToDocument(doc: ImageDocument, e: HostEvent): void {
    for (const p of this.panels.get(doc) ?? []) void p.webview.postMessage(e);
  }

  dispose(): void {
    this.resolved.dispose();
    this.activeChanged.dispose();
    this.selected.dispose();
  }
}
