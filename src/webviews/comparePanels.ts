// The compare editor: a webview panel per pair of images (one tab per pair; comparing the same pair
// again shows its tab), titled "a.ckpt ↔ b.ckpt". A panel rather than a custom editor: a comparison
// is not a document of its own (it has two inputs and nothing to save), and a custom editor would
// need a URI that VS Code can resolve, i.e. a virtual file system just to carry two paths, and would
// offer "Reopen With" choices that mean nothing here. A panel serializer restores open comparisons
// after a reload, from the two paths the webview keeps in its state.
//
// The comparison runs on the extension host with a cancellable progress notification. With page
// hashes it takes milliseconds; without, the engine streams both images' pages, reports progress
// and yields to the event loop, so the host keeps answering. The webview gets its data by request
// (src/shared/compareProtocol.ts), answered by CompareSession.

import * as path from 'path';
import * as vscode from 'vscode';
import { formatBytes } from '../image';
import type { CompareHostEvent, CompareStatusModel, ToCompareWebview } from '../shared/compareProtocol';
import { parseFromCompareWebview } from '../shared/compareProtocol';
import { unhandled } from '../shared/protocol';
import { editorPage } from './editorHtml';
import { ImageEditorProvider } from './imageEditorProvider';
import { CompareSession } from './compareSession';
import { replyTo } from './requestReply';

export const COMPARE_VIEW_TYPE = 'ckptExplorer.compare';
export const COMPARE_SELECTED_CONTEXT = 'ckptExplorer.compareSelected';

/** One open comparison. */
export interface CompareEntry {
  panel: vscode.WebviewPanel;
  session: CompareSession;
  /** The end of the latest run: done, cancelled or failed. */
  finished: Promise<CompareStatusModel>;
}

interface Entry extends CompareEntry {
  abort?: AbortController;
}

const keyOf = (a: string, b: string) => `${a}\n${b}`;

export class ComparePanels implements vscode.Disposable {
  private readonly entries = new Map<vscode.WebviewPanel, Entry>();
  private selectedUri?: vscode.Uri;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly editors: ImageEditorProvider,
  ) {}

  /** Compressed archives are decompressed into the editors' cache. */
  private get openOptions() {
    return { cache: this.editors.cacheDir ? { dir: this.editors.cacheDir } : undefined };
  }

  static register(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, editors: ImageEditorProvider): ComparePanels {
    const panels = new ComparePanels(context.extensionUri, log, editors);
    context.subscriptions.push(
      panels,
      vscode.window.registerWebviewPanelSerializer(COMPARE_VIEW_TYPE, {
        deserializeWebviewPanel: (panel, state) => panels.restore(panel, state),
      }),
    );
    return panels;
  }

  /** The image chosen with Select for Compare. */
  get selected(): vscode.Uri | undefined {
    return this.selectedUri;
  }

  select(uri: vscode.Uri): void {
    this.selectedUri = uri;
    void vscode.commands.executeCommand('setContext', COMPARE_SELECTED_CONTEXT, true);
  }

  /** The open comparisons, in the order they were opened. */
  get open(): CompareEntry[] {
    return [...this.entries.values()];
  }

  /**
   * Compares two images in a compare editor (an open one for the same pair is shown instead of a
   * new one). `order: 'time'` puts the earlier checkpoint on the left. Throws when either file is
   * not an image; the comparison itself ends in `finished`.
   */
  async compare(a: vscode.Uri, b: vscode.Uri, order: 'given' | 'time' = 'given'): Promise<CompareEntry> {
    for (const u of [a, b]) if (u.scheme !== 'file') throw new Error(`Only files on the machine the extension runs on can be compared (${u.toString()} is not one).`);
    const session = await CompareSession.open(a.fsPath, b.fsPath, order, this.openOptions);
    const existing = [...this.entries.values()].find((e) => keyOf(e.session.pathA, e.session.pathB) === keyOf(session.pathA, session.pathB));
    if (existing) {
      await session.close();
      existing.panel.reveal(undefined, false);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(COMPARE_VIEW_TYPE, titleOf(session), vscode.ViewColumn.Active, {
      enableScripts: true,
      enableFindWidget: true,
      retainContextWhenHidden: true,
      localResourceRoots: this.resourceRoots(),
    });
    return this.adopt(panel, session);
  }

  private resourceRoots(): vscode.Uri[] {
    return [vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(this.extensionUri, 'media')];
  }

  /** A panel VS Code restores after a reload: compare its two images again. */
  private async restore(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const s = (state ?? {}) as { a?: unknown; b?: unknown };
    panel.webview.options = { enableScripts: true, localResourceRoots: this.resourceRoots() };
    if (typeof s.a !== 'string' || typeof s.b !== 'string') {
      panel.dispose();
      return;
    }
    try {
      this.adopt(panel, await CompareSession.open(s.a, s.b, 'given', this.openOptions));
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.log.warn(`Cannot restore the comparison of ${s.a} with ${s.b}: ${error}`);
      panel.webview.html = editorPage(panel.webview, this.extensionUri, { title: panel.title, script: 'compare.js', error }).html;
    }
  }

  private adopt(panel: vscode.WebviewPanel, session: CompareSession): Entry {
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: this.resourceRoots() };
    panel.title = titleOf(session);
    webview.html = editorPage(webview, this.extensionUri, { title: panel.title, script: 'compare.js' }).html;
    const entry: Entry = { panel, session, finished: Promise.resolve({ state: 'running', done: 0, total: 0 }) };
    this.entries.set(panel, entry);
    const sub = webview.onDidReceiveMessage((m) => void this.onMessage(entry, m));
    panel.onDidDispose(() => {
      sub.dispose();
      entry.abort?.abort();
      this.entries.delete(panel);
      void entry.session.close();
    });
    this.run(entry);
    return entry;
  }

  private post(entry: Entry, e: CompareHostEvent): void {
    void entry.panel.webview.postMessage(e satisfies ToCompareWebview);
  }

  /** Runs (or runs again) the comparison of an entry, with a cancellable progress notification. */
  private run(entry: Entry): void {
    const session = entry.session;
    const abort = new AbortController();
    entry.abort = abort;
    const names = `${path.basename(session.pathA)} with ${path.basename(session.pathB)}`;
    const t0 = Date.now();
    let lastPost = 0;
    this.post(entry, { type: 'status', status: { state: 'running', done: 0, total: 0 } });
    entry.finished = Promise.resolve(
      vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Comparing ${names}`, cancellable: true }, async (progress, token) => {
        const sub = token.onCancellationRequested(() => abort.abort());
        let reported = 0;
        try {
          return await session.run({
            signal: abort.signal,
            onProgress: (s) => {
              if (s.state !== 'running' || s.total === 0) return;
              const pct = (s.done / s.total) * 100;
              if (pct - reported >= 1 || s.done === s.total) {
                progress.report({ increment: pct - reported, message: `${formatBytes(s.done)} of ${formatBytes(s.total)} of page data read (no page hashes)` });
                reported = pct;
              }
              const now = Date.now();
              if (now - lastPost >= 100) {
                lastPost = now;
                this.post(entry, { type: 'status', status: s });
              }
            },
          });
        } finally {
          sub.dispose();
        }
      }),
    ).then((s) => {
      if (entry.abort === abort) entry.abort = undefined;
      this.post(entry, { type: 'status', status: s });
      const d = session.result;
      if (s.state === 'done' && d) {
        this.log.info(`Compared ${names}: ${d.same ? 'the same' : `${d.counts.total} difference${d.counts.total === 1 ? '' : 's'}`}, pages by ${d.pageMethod}, in ${Date.now() - t0} ms`);
      } else if (s.state === 'failed') {
        this.log.error(`Comparing ${names} failed: ${s.error}`);
        void vscode.window.showErrorMessage(`Comparing ${names} failed: ${s.error}`);
      } else {
        this.log.info(`Comparing ${names}: ${s.state}`);
      }
      return s;
    });
  }

  private async onMessage(entry: Entry, raw: unknown): Promise<void> {
    const m = parseFromCompareWebview(raw);
    if (!m) {
      this.log.warn(`Ignored a malformed message from the compare editor: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    switch (m.type) {
      case 'request':
        void entry.panel.webview.postMessage(await replyTo(m, () => entry.session.handle(m), this.log, 'Compare request'));
        break;
      case 'ready':
        this.post(entry, { type: 'status', status: entry.session.status });
        break;
      case 'cancel':
        entry.abort?.abort();
        break;
      case 'rerun':
        if (!entry.abort) this.run(entry);
        break;
      case 'swap': {
        entry.abort?.abort();
        await entry.finished;
        const old = entry.session;
        try {
          entry.session = await CompareSession.open(old.pathB, old.pathA, 'given', this.openOptions);
        } catch (e) {
          void vscode.window.showErrorMessage(e instanceof Error ? e.message : String(e));
          return;
        }
        await old.close();
        entry.panel.title = titleOf(entry.session);
        entry.panel.webview.html = editorPage(entry.panel.webview, this.extensionUri, { title: entry.panel.title, script: 'compare.js' }).html;
        this.run(entry);
        break;
      }
      case 'open': {
        const uri = vscode.Uri.file(m.side === 'a' ? entry.session.pathA : entry.session.pathB);
        const index = m.node === undefined ? undefined : entry.session.recordIndex(m.node, m.side);
        await this.editors.showRecord(uri, index, vscode.ViewColumn.Beside);
        break;
      }
      default:
        unhandled(m);
    }
  }

  dispose(): void {
    for (const e of this.entries.values()) e.abort?.abort();
  }
}

function titleOf(s: CompareSession): string {
  return `${path.basename(s.pathA)} ↔ ${path.basename(s.pathB)}`;
}
