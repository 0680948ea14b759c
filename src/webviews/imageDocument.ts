// One opened checkpoint (a .ckpt file, a CRIU checkpoint folder's inventory.img, or a checkpoint
// archive), shared by every editor showing it and by the Image Records view: the checkpoint
// (headers indexed, no page data read), its verification state, and the record last selected.

import * as vscode from 'vscode';
import { Checkpoint, openCheckpoint, OpenCheckpointOptions } from '../checkpoint';
import type { VerificationModel } from '../shared/models';
import { ImageRequests, problemModel } from './imageRequests';

export class ImageDocument implements vscode.CustomDocument {
  private readonly verificationChanged = new vscode.EventEmitter<VerificationModel>();
  readonly onDidChangeVerification = this.verificationChanged.event;
  private readonly disposed = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposed.event;
  private _verification: VerificationModel;
  private running?: Promise<VerificationModel>;
  /** The record selected last, in an editor or the Image Records view. */
  selected?: number;
  readonly requests?: ImageRequests;

  private constructor(
    readonly uri: vscode.Uri,
    readonly checkpoint: Checkpoint | undefined,
    /** Why the file could not be opened as a checkpoint. */
    readonly openError?: string,
  ) {
    this._verification = { status: 'unverified', problems: checkpoint ? checkpoint.problems.map(problemModel) : [] };
    if (checkpoint) this.requests = new ImageRequests(checkpoint, () => this._verification);
  }

  static async open(uri: vscode.Uri, opts: OpenCheckpointOptions = {}): Promise<ImageDocument> {
    if (uri.scheme !== 'file') {
      return new ImageDocument(uri, undefined, `Only files on the machine the extension runs on can be opened (this one is ${uri.scheme}:).`);
    }
    try {
      return new ImageDocument(uri, await openCheckpoint(uri.fsPath, opts));
    } catch (e) {
      return new ImageDocument(uri, undefined, e instanceof Error ? e.message : String(e));
    }
  }

  get verification(): VerificationModel {
    return this._verification;
  }

  get verifying(): boolean {
    return this.running !== undefined;
  }

  private setVerification(v: VerificationModel): void {
    this._verification = v;
    this.verificationChanged.fire(v);
  }

  /**
   * Checks every checksum and page hash, reporting progress; one run at a time (a second call joins
   * the first). Cancelling leaves the state as "cancelled", with the problems found on opening.
   */
  verify(onProgress?: (done: number, total: number) => void, token?: vscode.CancellationToken): Promise<VerificationModel> {
    if (this.running) return this.running;
    const img = this.checkpoint;
    if (!img) return Promise.resolve(this._verification);
    const opened = img.problems.map(problemModel);
    const abort = new AbortController();
    const sub = token?.onCancellationRequested(() => abort.abort());
    let last = 0;
    this.setVerification({ status: 'running', problems: opened, done: 0, total: 0 });
    this.running = img
      .verify({
        signal: abort.signal,
        onProgress: ({ done, total }) => {
          onProgress?.(done, total);
          // Tell the editors at most every 100 ms.
          const now = Date.now();
          if (now - last >= 100) {
            last = now;
            this.setVerification({ status: 'running', problems: opened, done, total });
          }
        },
      })
      .then(
        (r): VerificationModel => {
          const problems = r.problems.map(problemModel);
          return { status: r.ok ? 'ok' : 'damaged', problems, pagesChecked: r.pagesChecked, bytesChecked: r.bytesChecked, ms: r.ms };
        },
        (e: Error): VerificationModel => (abort.signal.aborted ? { status: 'cancelled', problems: opened } : { status: 'failed', problems: opened, error: e.message }),
      )
      .then((v) => {
        this.running = undefined;
        sub?.dispose();
        this.setVerification(v);
        return v;
      });
    return this.running;
  }

  dispose(): void {
    this.disposed.fire();
    this.verificationChanged.dispose();
    this.disposed.dispose();
    void this.checkpoint?.close();
  }
}
