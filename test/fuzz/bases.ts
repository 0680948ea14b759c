// The images the fuzzer mutates: the test writer's sample (and with a record of an unknown
// type), a small image of nested processes, and a real image that dist/bin/ckpt takes of a real
// process, when the native checkpointer can run here.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FuzzBase, fuzzBase } from '../support/mutate';
import { buildSample } from '../support/sampleImage';
import { compressPages } from '../support/compressImage';
import { ImageWriter } from '../../src/image/write/imageWriter';
import { buildTarget, realTargetUnavailable, startTarget } from '../unit/diffRealTarget';

/**
 * Two processes, the second a child of the first, with threads, signals, an exited child not yet
 * reaped, an unknown record, and open file descriptions shared across the tree: a pipe both hold,
 * a socket, and an epoll set that watches the pipe.
 */
function nestedImage(): Uint8Array {
  const w = ImageWriter.inMemory();
  w.head();
  const parent = w.record('process', { pid: 10, comm: 'parent', nthreads: 1, cmdline: ['parent', '-x'], environ: ['A=1', 'B=2'] });
  const thread = w.mainThread(parent, 10, { comm: 'parent' });
  w.record('pending_signals', { signals: [{ siSigno: 10 }, { siSigno: 12 }] }, { ptag: thread });
  w.record('mm', { nvmas: 0 }, { ptag: parent });
  const parentFiles = w.record('files', { nfds: 1, maxFds: 64 }, { ptag: parent });
  const pipe = w.fd(parentFiles, { fd: 0 }, { kind: 6, path: 'pipe:[1]', extra: { pipeIno: 1n, data: Buffer.from('queued') } });
  w.record('zombie', { pid: 12, pgid: 10, sid: 10, exitStatus: 3, comm: 'gone' }, { ptag: parent });
  const child = w.record('process', { pid: 11, ppid: 10, comm: 'child', nthreads: 1 }, { ptag: parent });
  w.mainThread(child, 11, { comm: 'child' });
  w.record('mm', { nvmas: 0 }, { ptag: child });
  const files = w.record('files', { nfds: 3, maxFds: 64 }, { ptag: child });
  w.fd(files, { fd: 0 }, pipe);
  w.fd(files, { fd: 1 }, { kind: 10, path: 'socket:[2]', extra: { family: 1, type: 1, state: 1, peerIno: 3n, shutdown: 0, queued: Buffer.from('x') } });
  w.fd(files, { fd: 2, fdFlags: 1 }, { kind: 9, path: 'anon_inode:[eventpoll]', extra: { count: 1, targets: [{ tfd: 0, file: pipe, events: 1, data: 7n }] } });
  w.record('unsupported', { what: 3, fd: -1, reason: 'seccomp filter', detail: 'mode 2' }, { ptag: child });
  w.raw(999, Buffer.from('from the future'), { ptag: child });
  w.tail();
  return w.bytes();
}

/** The bases; the real one only where a real process can be checkpointed (CI always can). */
export async function fuzzBases(): Promise<FuzzBase[]> {
  const bases = [
    await fuzzBase('sample', buildSample().bytes),
    await fuzzBase('sample-unknown', buildSample({ unknownRecord: true }).bytes),
    await fuzzBase('nested', nestedImage()),
    await fuzzBase('sample-compressed', compressPages(buildSample().bytes, 2)),
  ];
  const real = await realImage();
  if (real) bases.push(await fuzzBase('real', real));
  return bases;
}

/** An image of a real process taken by dist/bin/ckpt, or undefined where it cannot run. */
async function realImage(): Promise<Uint8Array | undefined> {
  if (realTargetUnavailable()) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-fuzz-real-'));
  try {
    const target = await startTarget(buildTarget(dir));
    try {
      target.dump(path.join(dir, 'real.ckpt'));
      return new Uint8Array(fs.readFileSync(path.join(dir, 'real.ckpt')));
    } finally {
      target.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
