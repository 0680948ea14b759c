// The search worker: one memory search (searchMemory) on a thread of its own, so that a regular
// expression that backtracks for minutes inside one read blocks only this thread, and Cancel is the
// host terminating it. It opens the checkpoint itself (by path, in any format, or from an in-memory
// image's bytes) and posts hits and progress in batches, as plain data (searchWorkerProtocol.ts).
// No vscode import.

import { parentPort, workerData } from 'worker_threads';
import { CheckpointImage } from '../image/checkpointImage';
import { imageSearchTarget, searchMemory, SearchHit, SearchProgress } from '../image/search/searchMemory';
import type { SearchJob, SearchWorkerMessage } from '../image/search/searchWorkerProtocol';
import type { Checkpoint } from './checkpoint';
import { openCheckpoint } from './openCheckpoint';

function post(m: SearchWorkerMessage): void {
  parentPort!.postMessage(m);
}

async function run(job: SearchJob): Promise<void> {
  let img: CheckpointImage | Checkpoint | undefined;
  try {
    let target;
    if ('path' in job.image) {
      const c = (img = await openCheckpoint(job.image.path, { cache: job.image.cacheDir ? { dir: job.image.cacheDir } : undefined }));
      if (c.size !== job.image.size) throw new Error(`${job.image.path} changed on disk since it was opened (${job.image.size} bytes then, ${c.size} now): reopen it`);
      target = await c.searchTarget();
    } else {
      img = await CheckpointImage.open(job.image.bytes);
      target = await imageSearchTarget(img);
    }
    let batch: SearchHit[] = [];
    let lastFlush = performance.now();
    let lastProgress = -Infinity;
    const flush = () => {
      if (batch.length) post({ type: 'hits', hits: batch });
      batch = [];
      lastFlush = performance.now();
    };
    const it = searchMemory(target, job.query, {
      pid: job.pid,
      context: job.context,
      maxHits: job.maxHits,
      onProgress: (p: SearchProgress) => {
        const now = performance.now();
        if (now - lastProgress < job.flushMs) return;
        lastProgress = now;
        flush();
        post({ type: 'progress', progress: p });
      },
    });
    for (;;) {
      const next = await it.next();
      if (next.done) {
        flush();
        const { scannedBytes, totalBytes, hits, truncated } = next.value;
        post({ type: 'end', truncated, progress: { scannedBytes, totalBytes, hits } });
        return;
      }
      batch.push(next.value);
      if (batch.length >= job.flushHits || performance.now() - lastFlush >= job.flushMs) flush();
    }
  } catch (e) {
    post({ type: 'failed', error: e instanceof Error ? e.message : String(e) });
  } finally {
    await img?.close();
  }
}

if (parentPort) void run(workerData as SearchJob);
