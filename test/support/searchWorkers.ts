// Search workers for the tests, started from the TypeScript source under tsx (the extension starts
// dist/searchWorker.js), and watched: every worker a search started, and whether it has exited.

import fs from 'fs';
import path from 'path';
import type { Worker } from 'worker_threads';
import { searchWorkerAt, SearchWorkerFactory } from '../../src/image/search/searchWorkerProtocol';

export const WORKER_SOURCE = path.resolve(__dirname, '../../src/checkpoint/searchWorker.ts');

/** The worker's source, run by tsx in the worker thread as mocha's `--require tsx/cjs` does here. */
export const sourceSearchWorker: SearchWorkerFactory = searchWorkerAt(WORKER_SOURCE, { execArgv: ['--require', require.resolve('tsx/cjs')] });

export interface WatchedWorkers {
  start: SearchWorkerFactory;
  /** Every worker started, in order. */
  readonly workers: Worker[];
  /** Workers started but not exited yet. */
  live(): number;
  /** Resolves when the n-th worker (from 0) is up and running its script. */
  online(n: number): Promise<Worker>;
}

export function watchWorkers(factory: SearchWorkerFactory = sourceSearchWorker): WatchedWorkers {
  const workers: Worker[] = [];
  const onlines: Promise<Worker>[] = [];
  const exited = new Set<Worker>();
  return {
    workers,
    start: (job) => {
      const w = factory(job);
      workers.push(w);
      onlines.push(new Promise((resolve) => w.once('online', () => resolve(w))));
      w.once('exit', () => exited.add(w));
      return w;
    },
    live: () => workers.filter((w) => !exited.has(w)).length,
    online: async (n) => {
      while (onlines[n] === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
      return onlines[n];
    },
  };
}

/** The OS threads of this process: a worker is one more while it lives. */
export function threadCount(): number {
  return fs.readdirSync('/proc/self/task').length;
}

/** The file descriptors this process has open. */
export function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}
