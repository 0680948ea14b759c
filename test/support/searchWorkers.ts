// Search workers for the tests, started from the TypeScript source under tsx (the extension starts
// dist/searchWorker.js).

import path from 'path';
import { searchWorkerAt, SearchWorkerFactory } from '../../src/image/search/searchWorkerProtocol';

export const WORKER_SOURCE = path.resolve(__dirname, '../../src/image/search/searchWorker.ts');

/** The worker's source, run by tsx in the worker thread as mocha's `--require tsx/cjs` does here. */
export const sourceSearchWorker: SearchWorkerFactory = searchWorkerAt(WORKER_SOURCE, { execArgv: ['--require', require.resolve('tsx/cjs')] });
