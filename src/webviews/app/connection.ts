// The webview's end of the protocol: typed requests that resolve with the host's answer, and the
// host's events. The VS Code API object can be acquired only once, so it lives here.

import type { FromWebview, HostEvent, RequestMethod, RequestParams, RequestResult, ToWebview, WebviewEvent } from '../../shared/protocol';

interface VsCodeApi {
  postMessage(message: FromWebview): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export class HostConnection {
  private readonly api: VsCodeApi = acquireVsCodeApi();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners: ((e: HostEvent) => void)[] = [];

  constructor() {
    window.addEventListener('message', (ev: MessageEvent<ToWebview>) => {
      const m = ev.data;
      if (!m || typeof m !== 'object') return;
      if (m.type === 'response') {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(m.error));
      } else {
        for (const l of this.listeners) l(m);
      }
    });
  }

  request<M extends RequestMethod>(method: M, params: RequestParams<M>): Promise<RequestResult<M>> {
    const id = this.nextId++;
    return new Promise<RequestResult<M>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.api.postMessage({ type: 'request', id, method, params } as FromWebview);
    });
  }

  send(e: WebviewEvent): void {
    this.api.postMessage(e);
  }

  onEvent(l: (e: HostEvent) => void): void {
    this.listeners.push(l);
  }

  get state(): Record<string, unknown> {
    return (this.api.getState() as Record<string, unknown>) ?? {};
  }

  saveState(patch: Record<string, unknown>): void {
    this.api.setState({ ...this.state, ...patch });
  }
}
