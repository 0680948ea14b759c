// The typed messages between the extension host and a search worker (src/checkpoint/searchWorker.ts): the job it
// is started with, and what it posts back. Plain data only (structured clone): addresses are hex
// strings, never BigInt, bytes are Uint8Arrays, and no class instances cross.

import { Worker } from 'worker_threads';
import type { SearchQuery } from './pattern';
import type { SearchHit, SearchProgress } from './searchMemory';

/** One search, as a worker's workerData. */
export interface SearchJob {
  /**
   * The checkpoint: a path the worker opens itself (a .ckpt file, a CRIU folder or archive; its
   * size as the host saw it, so that one changed on disk since is refused rather than searched;
   * where compressed archives are decompressed), or the bytes of a .ckpt image held in memory.
   */
  image: { path: string; size: number; cacheDir?: string } | { bytes: Uint8Array };
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
  { type: 'hits'; hits: SearchHit[] } | { type: 'progress'; progress: SearchProgress } | { type: 'end'; truncated: boolean; progress: SearchProgress } | { type: 'failed'; error: string };

/** Starts a worker for a job. The host's only dependency on where the worker's code is. */
export type SearchWorkerFactory = (job: SearchJob) => Worker;

/**
 * A factory for the worker script at `file`: the bundle's dist/searchWorker.js, or, under tsx,
 * src/checkpoint/searchWorker.ts with `execArgv: ['--require', require.resolve('tsx/cjs')]`.
 */
export function searchWorkerAt(file: string, opts: { execArgv?: string[] } = {}): SearchWorkerFactory {
  return (job) => new Worker(file, { workerData: job, execArgv: opts.execArgv });
}
