// The readonly custom editor for .ckpt files. It opens the image (headers only, so a 4 GiB image
// opens as fast as a small one), answers its webview's requests through ImageRequests, relays the
// selection to and from the Image Records view, and pushes verification state to every editor of
// the image.

import * as path from 'path';
import * as vscode from 'vscode';
import type { HostEvent, ToWebview } from '../shared/protocol';
import { parseFromWebview } from '../shared/protocol';
import { editorPage } from './editorHtml';
import { ImageDocument } from './imageDocument';

export const IMAGE_EDITOR_VIEW_TYPE = 'ckptExplorer.image';
/** Images up to this size are verified in full as soon as they open; larger ones on request. */
const AUTO_VERIFY_BYTES = 64 * 1024 * 1024;

export interface RecordSelection {
  document: ImageDocument;
  index: number;
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
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  static register(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): ImageEditorProvider {
    const provider = new ImageEditorProvider(context.extensionUri, log);
    context.subscriptions.push(
      provider,
      vscode.window.registerCustomEditorProvider(IMAGE_EDITOR_VIEW_TYPE, provider, {
        // The webview keeps its scroll positions and open nodes when its tab is in the background.
        webviewOptions: { retainContextWhenHidden: true, enableFindWidget: true },
        supportsMultipleEditorsPerDocument: true,
      }),
    );
    return provider;
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
    const doc = await ImageDocument.open(uri);
    if (doc.image) this.log.info(`Opened ${uri.fsPath}: ${doc.image.records.length} records, ${doc.image.source.size} bytes, in ${Date.now() - t0} ms`);
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

    const subs: vscode.Disposable[] = [];
    subs.push(webview.onDidReceiveMessage((m) => void this.onMessage(doc, panel, m)));
    subs.push(
      panel.onDidChangeViewState(() => {
        if (panel.active) this.setActive(doc);
      }),
    );
    panel.onDidDispose(() => {
      subs.forEach((s) => s.dispose());
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
        let reply: ToWebview;
        try {
          if (!doc.requests) throw new Error(doc.openError ?? 'the image is not open');
          reply = { type: 'response', id: m.id, ok: true, result: await doc.requests.handle(m) };
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          this.log.warn(`Request ${m.method} failed: ${message}`);
          reply = { type: 'response', id: m.id, ok: false, error: message };
        }
        void panel.webview.postMessage(reply);
        break;
      }
      case 'ready':
        if (panel.active) this.setActive(doc);
        if (doc.image && doc.verification.status === 'unverified' && doc.image.source.size <= AUTO_VERIFY_BYTES) void doc.verify();
        break;
      case 'selected':
        doc.selected = m.index;
        this.selected.fire({ document: doc, index: m.index });
        break;
      case 'run':
        await vscode.commands.executeCommand(`ckptExplorer.${m.command}`, doc.uri);
        break;
    }
  }

  /** Selects a record in every editor of the image (from the Image Records view). */
  selectInEditors(doc: ImageDocument, index: number): void {
    if (!doc.requests) return;
    const r = doc.requests.entry(index);
    doc.selected = index;
    this.postToDocument(doc, { type: 'select', index, path: doc.requests.pathTo(r) });
  }

  private postToDocument(doc: ImageDocument, e: HostEvent): void {
    for (const p of this.panels.get(doc) ?? []) void p.webview.postMessage(e);
  }

  dispose(): void {
    this.activeChanged.dispose();
    this.selected.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
