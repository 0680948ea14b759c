// The typed messages between the extension host and a search worker (searchWorker.ts): the job it
// is started with, and what it posts back. Plain data only (structured clone): addresses are hex
// strings, never BigInt, and no class instances cross.

import { Worker } from 'worker_threads';
import type { SearchQuery } from './pattern';
import type { SearchHit, SearchProgress } from './searchMemory';

/** One search, as a worker's workerData. */
export interface SearchJob {
  /**
   * The image: a file the worker opens itself (its size as the host saw it, so that a file changed
   * on disk since is refused rather than searched), or the bytes of an image held in memory.
   */
  image: { path: string; size: number } | { bytes: Uint8Array };
  query: SearchQuery;
  pid?: number;
  context: number;
  maxHits: number;
  /** Hits are posted in batches: at most every flushMs, or every flushHits hits; progress at most every flushMs. */
  flushMs: number;
  flushHits: number;
}

/** What a worker posts: hits in address order, progress, then exactly one `end` or `failed`. */
export type SearchWorkerMessage =
  | { type: 'hits'; hits: SearchHit[] }
  | { type: 'progress'; progress: SearchProgress }
  | { type: 'end'; truncated: boolean; progress: SearchProgress }
  | { type: 'failed'; error: string };

/** Starts a worker for a job. The host's only dependency on where the worker's code is. */
export type SearchWorkerFactory = (job: SearchJob) => Worker;

/**
 * A factory for the worker script at `file`: the bundle's dist/searchWorker.js, or, under tsx,
 * src/image/search/searchWorker.ts with `execArgv: ['--require', require.resolve('tsx/cjs')]`.
 */
export function searchWorkerAt(file: string, opts: { execArgv?: string[] } = {}): SearchWorkerFactory {
  return (job) => new Worker(file, { workerData: job, execArgv: opts.execArgv });
}
