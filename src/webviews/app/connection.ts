// The webview's end of a protocol: typed requests that resolve with the host's answer, and the
// host's events. The VS Code API object can be acquired only once, so it lives here. Each webview
// (the image editor, the compare editor) has its own protocol module in src/shared; Connection is
// typed by it, and HostConnection is the image editor's.

import type { HostEvent, RequestMap, WebviewEvent, WebviewRequestMap } from '../../shared/protocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

let vscodeApi: VsCodeApi | undefined;

type Response = { type: 'response'; id: number; ok: true; result: unknown } | { type: 'response'; id: number; ok: false; error: string };
type Protocol<Q> = { [M in keyof Q]: { params: unknown; result: unknown } };
/** A handler for every request the host may send (Q): the webview's answer, or its failure. */
export type RequestHandlers<Q extends Protocol<Q>> = { [M in keyof Q]: (params: Q[M]['params']) => Promise<Q[M]['result']> };

/**
 * R: what the webview asks the host; H: the host's events; W: the webview's events; Q: what the host
 * asks the webview. Requests go both ways the same way: an id, and a response with that id.
 */
export class Connection<R extends { [M in keyof R]: { params: unknown; result: unknown } }, H extends { type: string }, W extends { type: string }, Q extends Protocol<Q> = Record<never, never>> {
  private readonly api: VsCodeApi = (vscodeApi ??= acquireVsCodeApi());
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners: ((e: H) => void)[] = [];
  private handlers?: RequestHandlers<Q>;

  constructor() {
    window.addEventListener('message', (ev: MessageEvent<Response | H | { type: 'request'; id: number; method: string; params: unknown }>) => {
      const m = ev.data;
      if (!m || typeof m !== 'object') return;
      if (m.type === 'response') {
        const r = m as Response;
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        if (r.ok) p.resolve(r.result);
        else p.reject(new Error(r.error));
      } else if (m.type === 'request') {
        void this.answer(m as { id: number; method: string; params: unknown });
      } else {
        for (const l of this.listeners) l(m as H);
      }
    });
  }

  /** Answers the host's requests; every one gets a response, a failure as an error. */
  onRequest(handlers: RequestHandlers<Q>): void {
    this.handlers = handlers;
  }

  private async answer(q: { id: number; method: string; params: unknown }): Promise<void> {
    const handler = this.handlers && Object.prototype.hasOwnProperty.call(this.handlers, q.method) ? (this.handlers[q.method as keyof Q] as (p: unknown) => Promise<unknown>) : undefined;
    try {
      if (!handler) throw new Error(`no handler for ${q.method}`);
      this.api.postMessage({ type: 'response', id: q.id, ok: true, result: await handler(q.params) } satisfies Response);
    } catch (e) {
      this.api.postMessage({ type: 'response', id: q.id, ok: false, error: e instanceof Error ? e.message : String(e) } satisfies Response);
    }
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
export class HostConnection extends Connection<RequestMap, HostEvent, WebviewEvent, WebviewRequestMap> {}
