import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CheckpointerError,
  explainPtracePermission,
  failure,
  freshImagePath,
  imageFileName,
  LineSplitter,
  parseEventLine,
  ProgressTracker,
  checkpointingUnavailable,
  resolveCheckpointerBinary,
  shellQuote,
} from '../../src/checkpointer';
import { resolveImageFolder } from '../../src/commands/imageFolder';

describe('checkpointer: the --progress=json stream', () => {
  it('parses each kind of event the native checkpointer prints', () => {
    assert.deepEqual(parseEventLine('{"event":"step","step":"freeze","message":"stopping every thread of process 1"}'), {
      event: 'step',
      step: 'freeze',
      message: 'stopping every thread of process 1',
    });
    assert.deepEqual(parseEventLine('{"event":"progress","phase":"pages","done":4096,"total":8192}'), { event: 'progress', phase: 'pages', done: 4096, total: 8192 });
    assert.deepEqual(parseEventLine('{"event":"done","image":"/tmp/a.ckpt","bytes":2185680,"ms":90}'), { event: 'done', image: '/tmp/a.ckpt', bytes: 2185680, ms: 90 });
    assert.deepEqual(parseEventLine('{"event":"restored","pid":27625}'), { event: 'restored', pid: 27625 });
    assert.deepEqual(parseEventLine('{"event":"frozen","ms":4.125,"mode":"snapshot","fork_ms":1.5}'), { event: 'frozen', ms: 4.125, mode: 'snapshot' });
    assert.deepEqual(parseEventLine('{"event":"error","exit":5,"message":"fd 3: a pipe"}'), { event: 'error', exit: 5, message: 'fd 3: a pipe' });
    assert.deepEqual(parseEventLine('{"event":"warning","message":"w"}'), { event: 'warning', message: 'w' });
  });

  it('hands back lines that are not well-formed events', () => {
    assert.equal(parseEventLine('27625'), undefined);
    assert.equal(parseEventLine('{"event":"progress","phase":"pages"}'), undefined);
    assert.equal(parseEventLine('{"event":"teleport"}'), undefined);
    assert.equal(parseEventLine('{not json'), undefined);
    assert.equal(parseEventLine(''), undefined);
  });

  it('splits a stream into lines across chunk boundaries', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push('{"event":"st'), []);
    assert.deepEqual(s.push('ep","step":"a"}\r\n123\n4'), ['{"event":"step","step":"a"}', '123']);
    assert.deepEqual(s.push(Buffer.from('56\n')), ['456']);
    assert.deepEqual(s.end(), []);
    s.push('tail');
    assert.deepEqual(s.end(), ['tail']);
  });

  it('turns events into increments that sum to 100 and never go back', () => {
    const t = new ProgressTracker();
    const incs = [
      t.increment({ event: 'step', step: 'freeze', message: '' }),
      t.increment({ event: 'progress', phase: 'pages', done: 0, total: 100 }),
      t.increment({ event: 'progress', phase: 'pages', done: 50, total: 100 }),
      t.increment({ event: 'progress', phase: 'pages', done: 40, total: 100 }),
      t.increment({ event: 'progress', phase: 'pages', done: 100, total: 100 }),
      t.increment({ event: 'done' }),
    ];
    assert.ok(incs.every((i) => i >= 0));
    assert.equal(incs[3], 0);
    assert.equal(Math.round(incs.reduce((a, b) => a + b, 0)), 100);
    assert.equal(t.percent, 100);
  });
});

describe('checkpointer: errors for people', () => {
  it('explains a ptrace refusal by its likely cause, not by errno', () => {
    const e = failure(4, 'cannot seize 42: Operation not permitted', { operation: 'checkpoint', pid: 42 }, { ourUid: 1000, targetUids: [0], ptraceScope: 1 });
    assert.ok(e instanceof CheckpointerError);
    assert.equal(e.kind, 'permission-denied');
    assert.match(e.message, /ptrace/);
    assert.match(e.message, /another user \(uid 0\)/);
    assert.match(e.message, /ptrace_scope is 1/);
    assert.doesNotMatch(e.message, /Operation not permitted/);
    assert.equal(e.detail, 'cannot seize 42: Operation not permitted');
    assert.match(explainPtracePermission(7, { ourUid: 1000, targetUids: [1000], tracerPid: 99 }), /already being traced by PID 99/);
    assert.match(explainPtracePermission(7, { ourUid: 1000, targetUids: [1000] }), /setuid|non-dumpable/);
  });

  it('names the process, the image and the next step for each exit code', () => {
    assert.match(failure(3, 'no such process', { operation: 'checkpoint', pid: 999 }).message, /^Process 999 does not exist/);
    assert.equal(failure(3, '', { operation: 'checkpoint', pid: 999 }).kind, 'no-such-process');
    assert.match(failure(5, 'fd 3: a socket', { operation: 'checkpoint', pid: 1 }).message, /cannot save: fd 3: a socket/);
    assert.match(failure(6, 'bad magic', { operation: 'restore', image: '/x.ckpt' }).message, /\/x\.ckpt is not a valid checkpoint image: bad magic/);
    assert.match(failure(7, 'No space left on device', { operation: 'checkpoint', pid: 1 }).message, /free space/);
    assert.equal(failure(8, '', { operation: 'checkpoint', pid: 12 }).message, 'Checkpoint cancelled; process 12 was left as it was.');
    assert.equal(failure(42, 'odd', { operation: 'restore', image: 'i' }).kind, 'failed');
  });

  it('reports a missing binary with what to do', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-bin-'));
    try {
      assert.throws(
        () => resolveCheckpointerBinary(dir),
        (e: CheckpointerError) => e.kind === 'binary-missing' && /npm run build:native/.test(e.message),
      );
      assert.throws(() => resolveCheckpointerBinary(dir, path.join(dir, 'nope')), /ckptExplorer\.nativeBinaryPath/);
      const fake = path.join(dir, 'ckpt');
      fs.writeFileSync(fake, '#!/bin/sh\n', { mode: 0o755 });
      assert.equal(resolveCheckpointerBinary('/nowhere', fake), fake);
      fs.mkdirSync(path.join(dir, 'dist', 'bin'), { recursive: true });
      fs.copyFileSync(fake, path.join(dir, 'dist', 'bin', 'ckpt'));
      fs.chmodSync(path.join(dir, 'dist', 'bin', 'ckpt'), 0o755);
      assert.equal(resolveCheckpointerBinary(dir), path.join(dir, 'dist', 'bin', 'ckpt'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says that checkpointing needs Linux x86-64 on any other machine, even with a binary there, and that images still open', () => {
    assert.equal(checkpointingUnavailable('linux', 'x64'), undefined);
    for (const [platform, arch, here] of [
      ['darwin', 'arm64', 'darwin on arm64'],
      ['win32', 'x64', 'win32 on x64'],
      ['linux', 'arm64', 'Linux on arm64'],
    ]) {
      const why = checkpointingUnavailable(platform, arch)!;
      assert.match(why, new RegExp(`need Linux on x86-64 .*this is ${here}\\. Opening, exploring and comparing images works`));
      assert.throws(
        () => resolveCheckpointerBinary('/nowhere', '/bin/sh', platform, arch),
        (e: CheckpointerError) => e.kind === 'binary-missing' && e.message === why,
      );
    }
  });

  it('quotes command lines for the log the way a shell would read them', () => {
    assert.equal(shellQuote('/tmp/a.ckpt'), '/tmp/a.ckpt');
    assert.equal(shellQuote("it's here"), `'it'\\''s here'`);
  });
});

describe('image names and the image folder', () => {
  it('names an image after the process and the time', () => {
    const when = new Date(2025, 0, 14, 9, 30, 12);
    assert.equal(imageFileName('redis-server', 4242, when), 'redis-server-4242-20250114-093012.ckpt');
    assert.equal(imageFileName('a/b c', 1, when), 'a_b_c-1-20250114-093012.ckpt');
    assert.equal(imageFileName('..', 1, when), '_-1-20250114-093012.ckpt');
    assert.equal(imageFileName('', 7, when), 'process-7-20250114-093012.ckpt');
  });

  it('never names an image that exists: a second one in the same second gets -2, then -3', () => {
    const when = new Date(2025, 0, 14, 9, 30, 12);
    const taken = new Set(['/w/redis-4242-20250114-093012.ckpt', '/w/redis-4242-20250114-093012-2.ckpt']);
    assert.equal(
      freshImagePath('/w', 'redis', 4242, when, () => false),
      '/w/redis-4242-20250114-093012.ckpt',
    );
    assert.equal(
      freshImagePath('/w', 'redis', 4242, when, (p) => taken.has(p)),
      '/w/redis-4242-20250114-093012-3.ckpt',
    );
  });

  it('puts images in checkpoints/ of the workspace, or the home directory without one', () => {
    assert.equal(resolveImageFolder(undefined, '/w', '/home/u'), '/w/checkpoints');
    assert.equal(resolveImageFolder('snaps', '/w', '/home/u'), '/w/snaps');
    assert.equal(resolveImageFolder('checkpoints', undefined, '/home/u'), '/home/u');
    assert.equal(resolveImageFolder('/var/tmp/x/', '/w', '/home/u'), '/var/tmp/x/');
    assert.equal(resolveImageFolder('~/imgs', '/w', '/home/u'), '/home/u/imgs');
    assert.equal(resolveImageFolder('  ', '/w', '/home/u'), '/w/checkpoints');
  });
});
