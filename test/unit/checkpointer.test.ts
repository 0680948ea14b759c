// The TypeScript side of the native checkpointer against the real binary (dist/bin/ckpt) and a real
// process: dump, restore, the exit codes as typed errors, and Cancel.

import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Checkpointer, CheckpointerError, CheckpointerEvent, resolveCheckpointerBinary } from '../../src/checkpointer';
import { CheckpointImage } from '../../src/image';
import { isAlive } from '../../src/processes/procfs';
import { killQuietly, startTicker, Ticker, unusedPid } from '../support/ticker';
import { until } from '../support/until';

const repo = path.resolve(__dirname, '..', '..');

describe('checkpointer: the real binary on a real process', function () {
  this.timeout(20_000);
  let binary: string;
  let dir: string;
  let ticker: Ticker | undefined;
  const log: string[] = [];

  before(function () {
    try {
      binary = resolveCheckpointerBinary(repo);
    } catch (e) {
      console.log(`    (skipped: ${(e as Error).message})`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-unit-'));
  });
  afterEach(() => {
    ticker?.stop();
    ticker = undefined;
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('dumps a running process with progress, leaves it running, and restores it', async () => {
    ticker = await startTicker();
    const cp = new Checkpointer(binary, (l) => log.push(l));
    const events: CheckpointerEvent[] = [];
    const image = path.join(dir, 'ticker.ckpt');
    const r = await cp.dump({ pid: ticker.pid, image, mode: 'leaveRunning', onEvent: (e) => events.push(e) });
    assert.equal(r.image, image);
    assert.ok(r.bytes! > 0);
    assert.ok(events.some((e) => e.event === 'step'));
    assert.ok(events.some((e) => e.event === 'progress' && e.phase === 'pages' && e.done === e.total));
    assert.ok(log[0].startsWith(`$ ${binary} dump ${ticker.pid} -o ${image} --leave-running --progress=json`), log[0]);
    assert.ok(isAlive(ticker.pid), 'the process keeps running');

    const img = await CheckpointImage.open(image);
    const proc = await img.decodeAs(img.processes()[0], 'process');
    assert.equal(proc.pid, ticker.pid);
    assert.equal(proc.comm.value, 'perl');
    await img.close();

    const output = path.join(dir, 'restored.out');
    const pidFile = path.join(dir, 'pid');
    const restored = await cp.restore({ image, stdio: output, pidFile });
    try {
      assert.notEqual(restored.pid, ticker.pid);
      assert.equal(fs.readFileSync(pidFile, 'utf8').trim(), String(restored.pid));
      assert.ok(isAlive(restored.pid));
      // It goes on counting from where the image left it, into the file it was given.
      await until('the restored process to print', () => /tick \d+\n.*tick \d+\n/s.test(fs.existsSync(output) ? fs.readFileSync(output, 'utf8') : ''), 5000);
      const first = Number(/tick (\d+)/.exec(fs.readFileSync(output, 'utf8'))![1]);
      assert.ok(first > 0, `the count continues (first restored line: tick ${first})`);
    } finally {
      killQuietly(restored.pid);
    }
  });

  it('reports a process that does not exist as such', async () => {
    const cp = new Checkpointer(binary);
    const pid = unusedPid();
    await assert.rejects(cp.dump({ pid, image: path.join(dir, 'none.ckpt'), mode: 'leaveRunning' }), (e: CheckpointerError) => {
      assert.equal(e.kind, 'no-such-process');
      assert.equal(e.exitCode, 3);
      assert.match(e.message, new RegExp(`^Process ${pid} does not exist`));
      return true;
    });
    assert.ok(!fs.existsSync(path.join(dir, 'none.ckpt')));
  });

  it('reports an image that is not one', async () => {
    const bad = path.join(dir, 'bad.ckpt');
    fs.writeFileSync(bad, 'not an image at all, but long enough to have a header or two in it........');
    await assert.rejects(new Checkpointer(binary).restore({ image: bad, stdio: 'null' }), (e: CheckpointerError) => {
      assert.equal(e.kind, 'bad-image');
      assert.match(e.message, /is not a valid checkpoint image/);
      return true;
    });
  });

  it('cancels a dump with SIGTERM and leaves the process as it was', async () => {
    ticker = await startTicker();
    const abort = new AbortController();
    const image = path.join(dir, 'cancelled.ckpt');
    const p = new Checkpointer(binary).dump({
      pid: ticker.pid,
      image,
      mode: 'stop',
      signal: abort.signal,
      onEvent: (e) => {
        if (e.event === 'step') abort.abort();
      },
    });
    await assert.rejects(p, (e: CheckpointerError) => e.kind === 'cancelled' && /left as it was/.test(e.message));
    assert.ok(!fs.existsSync(image), 'no image is left behind');
    const before = ticker.output().length;
    await until('the process to go on printing', () => ticker!.output().length > before, 5000);
    assert.ok(isAlive(ticker.pid));
  });

  it('reports a binary that cannot run', async () => {
    await assert.rejects(new Checkpointer(path.join(dir, 'missing')).dump({ pid: 1, image: path.join(dir, 'x'), mode: 'leaveRunning' }), (e: CheckpointerError) => e.kind === 'binary-missing');
  });
});
