// The host side of an image editor's memory search: one search at a time per editor (a new one
// ends the one before). Each search runs the image library's searchMemory in a worker thread
// (src/checkpoint/searchWorker.ts), which opens the checkpoint itself: a regular expression that
// backtracks for minutes inside one read holds up only that thread, never the extension host, and
// Cancel terminates the worker at once. The worker posts hits in batches (at most every FLUSH_MS,
// or every FLUSH_HITS hits) and progress at most every FLUSH_MS; they go on to the webview as
// they come, then one end event. Like ImageRequests it has no vscode import, so the unit tests run
// it on real images, with the worker's TypeScript source.

import * as path from 'path';
import type { Worker } from 'worker_threads';
import type { Checkpoint } from '../checkpoint';
import { BufferByteSource, compileQuery, SearchPatternError, SearchQuery } from '../image';
import { PageDataSource } from '../image/compressedPages';
import { SearchJob, searchWorkerAt, SearchWorkerFactory, SearchWorkerMessage } from '../image/search/searchWorkerProtocol';
import type { SearchEndModel, SearchHitModel, SearchProgressModel } from '../shared/models';
import { HostEvent, intParam, MAX_SEARCH_CONTEXT, MAX_SEARCH_HITS, MAX_SEARCH_PATTERN, RequestMessage, RequestParams, RequestResult, SearchMethod } from '../shared/protocol';

const FLUSH_MS = 100;
const FLUSH_HITS = 250;
/** Hits kept on the host for the Search Memory command's answer; the webview gets them all. */
const KEEP_HITS = 10_000;
/**
 * A regular expression whose worker reports nothing for this long is stuck backtracking: the
 * search ends as failed. The worker reports at least every few MiB it gets through, so a slow
 * but sound expression over a large image is never cut short.
 */
const REGEX_STALL_MS = 30_000;

/** The worker beside the extension's bundle: dist/searchWorker.js next to dist/extension.js. */
const bundledWorker = searchWorkerAt(path.join(__dirname, 'searchWorker.js'));

export type SearchEvent = Extract<HostEvent, { type: 'searchHits' | 'searchProgress' | 'searchEnd' }>;

type StopStatus = 'cancelled' | 'failed';

interface Running {
  id: number;
  hits: SearchHitModel[];
  /** Ends the search now, with this status, terminating its worker (or before it starts one). */
  stop(status: StopStatus, error?: string): void;
  /** Ended before its worker started. */
  stopped?: { status: StopStatus; error?: string };
  /** Resolves once the end event is sent and the worker has exited. */
  done: Promise<SearchEndModel>;
}

export interface ImageSearchOptions {
  /** Starts the worker for a search (default: dist/searchWorker.js beside the bundle). */
  startWorker?: SearchWorkerFactory;
  /** Regular expressions: end a search whose worker reports nothing for this long (default 30 s; 0: never). */
  regexStallMs?: number;
  /** Where compressed archives are decompressed (the editor's cache, so the worker finds them there). */
  cacheDir?: string;
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
  private readonly startWorker: SearchWorkerFactory;
  private readonly regexStallMs: number;

  private readonly cacheDir?: string;

  constructor(
    readonly checkpoint: Checkpoint,
    private readonly emit: (e: SearchEvent) => void,
    opts: ImageSearchOptions = {},
  ) {
    this.startWorker = opts.startWorker ?? bundledWorker;
    this.regexStallMs = opts.regexStallMs ?? REGEX_STALL_MS;
    this.cacheDir = opts.cacheDir;
  }

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
    const pids = await this.processIndexes();
    if (processIndex !== undefined) {
      pid = [...pids].find(([, index]) => index === processIndex)?.[0];
      if (pid === undefined) throw new RangeError(`record #${processIndex} is not a process`);
    }
    compileQuery(query); // a bad pattern is an answer to this request, not an end event
    const job: SearchJob = { image: await this.imageForWorker(), query, pid, context, maxHits, flushMs: FLUSH_MS, flushHits: FLUSH_HITS };
    this.cancelRunning();
    const id = this.nextId++;
    const running: Running = {
      id,
      hits: [],
      stop: (status, error) => void (running.stopped ??= { status, error }),
      done: Promise.resolve(undefined as never),
    };
    // Started after this request's answer is on its way, so that every event of a search follows it.
    const stallMs = query.mode === 'regex' ? this.regexStallMs : 0;
    running.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.run(running, job, pids, stallMs));
    this.running = running;
    return { search: id };
  }

  async cancelSearch(params: RequestParams<'cancelSearch'>): Promise<RequestResult<'cancelSearch'>> {
    const id = intParam(params, 'search')!;
    const r = this.running;
    if (r?.id !== id) return { cancelled: false };
    r.stop('cancelled');
    await r.done;
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
    this.running?.stop('cancelled');
    this.running = undefined;
  }

  /** Process record index by pid, for the hits' `process`. */
  private async processIndexes(): Promise<Map<number, number>> {
    if (!this.pids) {
      const pids = new Map<number, number>();
      for (const p of (await this.checkpoint.searchTarget()).processes) pids.set(p.pid, p.record);
      this.pids = pids;
    }
    return this.pids;
  }

  /** A checkpoint by its path; a .ckpt image held in memory (the unit tests') as a copy of its bytes. */
  private async imageForWorker(): Promise<SearchJob['image']> {
    const outer = this.checkpoint.source;
    const src = outer instanceof PageDataSource ? outer.file : outer; // compressed pages: the file's bytes
    if (src instanceof BufferByteSource) return { bytes: new Uint8Array(await src.read(0, src.size)) };
    return { path: this.checkpoint.name, size: this.checkpoint.size, ...(this.cacheDir ? { cacheDir: this.cacheDir } : {}) };
  }

  private run(r: Running, job: SearchJob, pids: Map<number, number>, stallMs: number): Promise<SearchEndModel> {
    const t0 = performance.now();
    let progress: SearchProgressModel = { scannedBytes: 0, totalBytes: 0, hits: 0 };
    let count = 0;
    let ended: SearchEndModel | undefined;
    const end = (status: SearchEndModel['status'], error?: string): SearchEndModel => {
      if (ended) return ended;
      const e: SearchEndModel = { status, ...progress, hits: count, ms: Math.round(performance.now() - t0) };
      if (error) e.error = error;
      ended = e;
      this.finished.set(r.id, { hits: r.hits.slice(0, KEEP_HITS), end: e });
      if (this.finished.size > 4) this.finished.delete(this.finished.keys().next().value as number);
      if (this.running === r) this.running = undefined;
      this.emit({ type: 'searchEnd', search: r.id, end: e });
      return e;
    };
    if (r.stopped) return Promise.resolve(end(r.stopped.status, r.stopped.error));
    let worker: Worker;
    try {
      worker = this.startWorker(job);
    } catch (e) {
      return Promise.resolve(end('failed', e instanceof Error ? e.message : String(e)));
    }
    let stall: NodeJS.Timeout | undefined;
    const watch = () => {
      if (stallMs <= 0) return;
      clearTimeout(stall);
      stall = setTimeout(
        () => r.stop('failed', `the regular expression made no progress in ${stallMs / 1000} s: it backtracks too much (nested repeats such as (a+)+ do); try a simpler one`),
        stallMs,
      );
    };
    r.stop = (status, error) => {
      end(status, error);
      clearTimeout(stall);
      void worker.terminate();
    };
    watch();
    worker.on('message', (m: SearchWorkerMessage) => {
      if (ended) return;
      watch();
      switch (m.type) {
        case 'hits': {
          const hits = m.hits.map((h): SearchHitModel => ({ ...h, process: pids.get(h.pid) ?? -1 }));
          count += hits.length;
          for (const h of hits) if (r.hits.length < KEEP_HITS) r.hits.push(h);
          progress = { ...progress, hits: count };
          this.emit({ type: 'searchHits', search: r.id, hits });
          break;
        }
        case 'progress':
          progress = { scannedBytes: m.progress.scannedBytes, totalBytes: m.progress.totalBytes, hits: count };
          this.emit({ type: 'searchProgress', search: r.id, progress });
          break;
        case 'end':
          progress = { scannedBytes: m.progress.scannedBytes, totalBytes: m.progress.totalBytes, hits: count };
          end(m.truncated ? 'truncated' : 'done');
          break;
        case 'failed':
          end('failed', m.error);
          break;
      }
    });
    worker.on('error', (e) => end('failed', e.message));
    return new Promise((resolve) => {
      worker.on('exit', (code) => {
        clearTimeout(stall);
        resolve(end('failed', `the search stopped unexpectedly (its worker exited with code ${code})`));
      });
    });
  }
}
