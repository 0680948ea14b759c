// The webview's end of a protocol: typed requests that resolve with the host's answer, and the
// host's events. The VS Code API object can be acquired only once, so it lives here. Each webview
// (the image editor, the compare editor) has its own protocol module in src/shared; Connection is
// typed by it, and HostConnection is the image editor's.

import type { HostEvent, RequestMap, WebviewEvent } from '../../shared/protocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

let vscodeApi: VsCodeApi | undefined;

type Response = { type: 'response'; id: number; ok: true; result: unknown } | { type: 'response'; id: number; ok: false; error: string };

export class Connection<R extends { [M in keyof R]: { params: unknown; result: unknown } }, H extends { type: string }, W extends { type: string }> {
  private readonly api: VsCodeApi = (vscodeApi ??= acquireVsCodeApi());
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners: ((e: H) => void)[] = [];

  constructor() {
    window.addEventListener('message', (ev: MessageEvent<Response | H>) => {
      const m = ev.data;
      if (!m || typeof m !== 'object') return;
      if (m.type === 'response') {
        const r = m as Response;
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        if (r.ok) p.resolve(r.result);
        else p.reject(new Error(r.error));
      } else {
        for (const l of this.listeners) l(m as H);
      }
    });
  }

  request<M extends keyof R & string>(method: M, params: R[M]['params']): Promise<R[M]['result']> {
    const id = this.nextId++;
    return new Promise<R[M]['result']>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.api.postMessage({ type: 'request', id, method, params });
    });
  }

  send(e: W): void {
    this.api.postMessage(e);
  }

  onEvent(l: (e: H) => void): void {
    this.listeners.push(l);
  }

  get state(): Record<string, unknown> {
    return (this.api.getState() as Record<string, unknown>) ?? {};
  }

  saveState(patch: Record<string, unknown>): void {
    this.api.setState({ ...this.state, ...patch });
  }
}

/** The image editor's connection. */
export class HostConnection extends Connection<RequestMap, HostEvent, WebviewEvent> {}
