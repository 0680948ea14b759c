// The host side of an image editor's memory search: one search at a time per editor (a new one
// ends the one before), run by the image library's searchMemory on the extension host. The engine
// yields to the event loop every few MiB, so the editor's other requests are answered while it
// runs. Hits go to the webview in batches (at most every FLUSH_MS, or every FLUSH_HITS hits),
// progress at most every FLUSH_MS, and one end event. Like ImageRequests it has no vscode import,
// so the unit tests run it on real images.

import { CheckpointImage, compileQuery, searchMemory, SearchHit, SearchPatternError, SearchQuery } from '../image';
import type { SearchEndModel, SearchHitModel, SearchProgressModel } from '../shared/models';
import {
  HostEvent,
  intParam,
  MAX_SEARCH_CONTEXT,
  MAX_SEARCH_HITS,
  MAX_SEARCH_PATTERN,
  RequestMessage,
  RequestParams,
  RequestResult,
  SearchMethod,
} from '../shared/protocol';

const FLUSH_MS = 100;
const FLUSH_HITS = 250;
/** Hits kept on the host for the Search Memory command's answer; the webview gets them all. */
const KEEP_HITS = 10_000;

export type SearchEvent = Extract<HostEvent, { type: 'searchHits' | 'searchProgress' | 'searchEnd' }>;

interface Running {
  id: number;
  abort: AbortController;
  hits: SearchHitModel[];
  done: Promise<SearchEndModel>;
}

/** A checked query, or a RangeError / SearchPatternError naming what is wrong with it. */
export function searchQueryParam(params: object): SearchQuery {
  const q = (params as Record<string, unknown>).query as Record<string, unknown> | undefined;
  if (typeof q !== 'object' || q === null) throw new RangeError("parameter 'query' must be an object");
  if (q.mode !== 'text' && q.mode !== 'hex' && q.mode !== 'regex') throw new RangeError("the query's mode must be text, hex or regex");
  if (typeof q.pattern !== 'string' || q.pattern.length === 0) throw new SearchPatternError('Type something to search for.');
  if (q.pattern.length > MAX_SEARCH_PATTERN) throw new SearchPatternError(`The pattern is longer than ${MAX_SEARCH_PATTERN} characters.`);
  if (q.encoding !== undefined && q.encoding !== 'utf8' && q.encoding !== 'utf16le') throw new RangeError("the query's encoding must be utf8 or utf16le");
  if (q.ignoreCase !== undefined && typeof q.ignoreCase !== 'boolean') throw new RangeError("the query's ignoreCase must be true or false");
  const query: SearchQuery = { mode: q.mode, pattern: q.pattern };
  if (q.mode === 'text' && q.encoding) query.encoding = q.encoding;
  if (q.mode !== 'hex' && q.ignoreCase) query.ignoreCase = true;
  return query;
}

export class ImageSearch {
  private nextId = 1;
  private running?: Running;
  /** The hits (the first KEEP_HITS) and end of finished searches, by id, for the command's answer. */
  private readonly finished = new Map<number, { hits: SearchHitModel[]; end: SearchEndModel }>();
  private pids?: Map<number, number>;

  constructor(
    readonly image: CheckpointImage,
    private readonly emit: (e: SearchEvent) => void,
  ) {}

  /** Answers a search request; throws (RangeError, SearchPatternError) with a message for the webview. */
  handle(m: Extract<RequestMessage, { method: SearchMethod }>): Promise<unknown> {
    return m.method === 'search' ? this.search(m.params) : this.cancelSearch(m.params);
  }

  async search(params: RequestParams<'search'>): Promise<RequestResult<'search'>> {
    const query = searchQueryParam(params);
    const maxHits = intParam(params, 'maxHits', { min: 1, max: MAX_SEARCH_HITS })!;
    const context = intParam(params, 'context', { optional: true, max: MAX_SEARCH_CONTEXT }) ?? 16;
    const processIndex = intParam(params, 'process', { optional: true });
    let pid: number | undefined;
    if (processIndex !== undefined) {
      const r = this.image.records[processIndex];
      if (!r || !this.image.processes().includes(r)) throw new RangeError(`record #${processIndex} is not a process`);
      pid = (await this.image.decodeAs(r, 'process')).pid;
    }
    compileQuery(query); // a bad pattern is an answer to this request, not an end event
    this.cancelRunning();
    const id = this.nextId++;
    const abort = new AbortController();
    const running: Running = { id, abort, hits: [], done: Promise.resolve(undefined as never) };
    // Started after this request's answer is on its way, so that every event of a search follows it.
    running.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.run(running, query, { pid, context, maxHits }));
    this.running = running;
    return { search: id };
  }

  async cancelSearch(params: RequestParams<'cancelSearch'>): Promise<RequestResult<'cancelSearch'>> {
    const id = intParam(params, 'search')!;
    if (this.running?.id !== id) return { cancelled: false };
    this.running.abort.abort();
    await this.running.done;
    return { cancelled: true };
  }

  /** How a search ended, with its first hits, once it has (undefined for an unknown id). */
  async result(id: number): Promise<{ hits: SearchHitModel[]; end: SearchEndModel } | undefined> {
    if (this.running?.id === id) await this.running.done;
    return this.finished.get(id);
  }

  get runningSearch(): number | undefined {
    return this.running?.id;
  }

  dispose(): void {
    this.cancelRunning();
  }

  private cancelRunning(): void {
    this.running?.abort.abort();
    this.running = undefined;
  }

  private async processIndexOf(pid: number): Promise<number> {
    if (!this.pids) {
      this.pids = new Map();
      for (const r of this.image.processes()) this.pids.set((await this.image.decodeAs(r, 'process')).pid, r.index);
    }
    return this.pids.get(pid) ?? -1;
  }

  private async run(r: Running, query: SearchQuery, opts: { pid?: number; context: number; maxHits: number }): Promise<SearchEndModel> {
    const t0 = performance.now();
    let batch: SearchHitModel[] = [];
    let progress: SearchProgressModel = { scannedBytes: 0, totalBytes: 0, hits: 0 };
    let lastFlush = t0;
    let lastProgress = 0;
    let count = 0;
    const flush = () => {
      if (batch.length) this.emit({ type: 'searchHits', search: r.id, hits: batch });
      batch = [];
      lastFlush = performance.now();
    };
    const end = (status: SearchEndModel['status'], error?: string): SearchEndModel => {
      flush();
      const e: SearchEndModel = { status, ...progress, hits: count, ms: Math.round(performance.now() - t0) };
      if (error) e.error = error;
      this.finished.set(r.id, { hits: r.hits.slice(0, KEEP_HITS), end: e });
      if (this.finished.size > 4) this.finished.delete(this.finished.keys().next().value as number);
      if (this.running === r) this.running = undefined;
      this.emit({ type: 'searchEnd', search: r.id, end: e });
      return e;
    };
    try {
      const it = searchMemory(this.image, query, {
        pid: opts.pid,
        context: opts.context,
        maxHits: opts.maxHits,
        signal: r.abort.signal,
        onProgress: (p) => {
          progress = { scannedBytes: p.scannedBytes, totalBytes: p.totalBytes, hits: p.hits };
          const now = performance.now();
          if (now - lastProgress >= FLUSH_MS) {
            lastProgress = now;
            flush();
            this.emit({ type: 'searchProgress', search: r.id, progress });
          }
        },
      });
      for (;;) {
        const next = await it.next();
        if (next.done) {
          progress = { scannedBytes: next.value.scannedBytes, totalBytes: next.value.totalBytes, hits: next.value.hits };
          return end(next.value.truncated ? 'truncated' : 'done');
        }
        const hit = await this.hitModel(next.value);
        count++;
        if (r.hits.length < KEEP_HITS) r.hits.push(hit);
        batch.push(hit);
        progress = { ...progress, hits: count };
        if (batch.length >= FLUSH_HITS || performance.now() - lastFlush >= FLUSH_MS) flush();
      }
    } catch (e) {
      if (r.abort.signal.aborted) return end('cancelled');
      return end('failed', e instanceof Error ? e.message : String(e));
    }
  }

  private async hitModel(h: SearchHit): Promise<SearchHitModel> {
    return { ...h, process: await this.processIndexOf(h.pid) };
  }
}
