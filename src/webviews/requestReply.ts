// Both editors answer their webview the same way: the handler's result, or its failure as an error
// reply and a log line. A request never goes unanswered, and a failure never escapes the host.

import type * as vscode from 'vscode';
import type { ResponseMessage, WebviewRequestMap, WebviewRequestMessage } from '../shared/protocol';

export async function replyTo(request: { id: number; method: string }, handle: () => Promise<unknown>, log: vscode.LogOutputChannel, what: string): Promise<ResponseMessage> {
  try {
    return { type: 'response', id: request.id, ok: true, result: await handle() };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    log.warn(`${what} ${request.method} failed: ${message}`);
    return { type: 'response', id: request.id, ok: false, error: message };
  }
}

/**
 * The host's end of the requests it sends a webview (WebviewRequestMap in the protocol): each gets
 * an id, and the webview's response with that id settles it. The result is unchecked: the caller
 * parses it (it comes from the webview).
 */
export class WebviewRequests {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  async ask<M extends keyof WebviewRequestMap>(webview: vscode.Webview, method: M, params: WebviewRequestMap[M]['params']): Promise<unknown> {
    const id = this.nextId++;
    const answered = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    try {
      if (!(await webview.postMessage({ type: 'request', id, method, params } satisfies WebviewRequestMessage))) throw new Error('the editor is gone');
      return await answered;
    } finally {
      this.pending.delete(id);
    }
  }

  /** Settles the request a response answers; false when none waits for it. */
  settle(r: ResponseMessage): boolean {
    const p = this.pending.get(r.id);
    if (!p) return false;
    if (r.ok) p.resolve(r.result);
    else p.reject(new Error(r.error));
    return true;
  }

  /** Fails every request still waiting (the webview closed). */
  rejectAll(reason: Error): void {
    for (const p of this.pending.values()) p.reject(reason);
  }
}
