// The self-checking target of the fault suite (targets/selfcheck.c): starting it, reading its
// ticks as they come, and waiting until it proves that it is intact: alive, not traced, not
// stopped, every thread through one whole pass over its memory since a given moment, its
// signals still arriving, its vector registers unchanged, its ticks counting without a gap.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { alive, Identity, Lab, procStatus, Started, target, tracerPid, waitFor } from './helpers';

export const SELFCHECK_THREADS = 4;

export interface Tick {
  seq: number;
  /** pages each thread verified and rewrote so far */
  verified: number[];
  /** SIGUSR2s thread 2 took inside ppoll */
  sig2: number;
  /** rounds of vector-register checks that passed */
  vec: number;
  /** SIGUSR1s the main thread took */
  usr1: number;
}

/** Reads the ticks and error lines a selfcheck process appends to its file, from an offset on. */
export class TickReader {
  readonly ticks: Tick[] = [];
  readonly errors: string[] = [];
  /** where its verified memory is ("m" line) */
  memory?: { address: number; length: number };
  private offset: number;
  private partial = '';

  constructor(
    readonly file: string,
    from = 0,
  ) {
    this.offset = from;
  }

  /** Reads what was appended since the last call; returns the newest tick. */
  poll(): Tick | undefined {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return this.last();
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const text = this.partial + buf.subarray(0, n).toString('latin1');
        const lines = text.split('\n');
        this.partial = lines.pop()!;
        for (const l of lines) {
          if (l.startsWith('e ')) this.errors.push(l);
          else if (l.startsWith('m ')) this.memory = { address: parseInt(l.split(' ')[1], 16), length: Number(l.split(' ')[2]) };
          else if (l.startsWith('t ')) {
            const f = l.split(' ').slice(1).map(Number);
            this.ticks.push({ seq: f[0], verified: f.slice(1, 1 + SELFCHECK_THREADS), sig2: f[5], vec: f[6], usr1: f[7] });
          }
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    return this.last();
  }

  last(): Tick | undefined {
    return this.ticks[this.ticks.length - 1];
  }

  /** Ticks count 0, 1, 2, ... (or on from where a restored process took over): none lost, none twice. */
  assertCounting(what: string): void {
    for (let i = 1; i < this.ticks.length; i++) {
      if (this.ticks[i].seq !== this.ticks[i - 1].seq + 1) {
        assert.fail(`${what}: tick ${this.ticks[i - 1].seq} is followed by ${this.ticks[i].seq}`);
      }
    }
  }
}

export interface SelfCheck {
  t: Started;
  pid: number;
  out: string;
  reader: TickReader;
  pagesPerThread: number;
}

/** Starts selfcheck with `mib` MiB as `id`, once it ticks. */
export async function startSelfCheck(lab: Lab, id: Identity, dir: string, mib = 64): Promise<SelfCheck> {
  const out = path.join(dir, 'selfcheck.txt');
  const t = lab.startTarget(id, [target('selfcheck'), out, String(mib)]);
  const reader = new TickReader(out);
  await waitFor('selfcheck to tick', () => (reader.poll()?.seq ?? 0) >= 3, 30000);
  return { t, pid: t.pid, out, reader, pagesPerThread: (mib << 20) / 4096 / SELFCHECK_THREADS };
}

/**
 * Waits until the process shows that it is intact: not traced, running, and, after the newest
 * tick seen now, every thread verified a whole pass over its pages, thread 2 took SIGUSR2s in
 * ppoll, thread 3 passed vector checks; no error line at all.
 */
export async function assertIntact(pid: number, reader: TickReader, pagesPerThread: number, what: string, timeoutMs = 20000): Promise<void> {
  await waitFor(`${what}: ckpt to let go of process ${pid}`, () => tracerPid(pid) === 0 || !alive(pid), timeoutMs);
  const state = procStatus(pid)?.get('State') ?? 'gone';
  assert.match(state, /^[RSD]/, `${what}: process ${pid} runs (state ${state})`);
  const base = await waitFor(`${what}: a tick of process ${pid}`, () => reader.poll(), timeoutMs);
  await waitFor(
    `${what}: process ${pid} to verify all of its memory again`,
    () => {
      const now = reader.poll();
      if (reader.errors.length) return true;
      if (!alive(pid)) return true;
      return now && now.verified.every((v, i) => v >= base.verified[i] + pagesPerThread) && now.sig2 > base.sig2 && now.vec > base.vec;
    },
    timeoutMs,
  );
  assert.deepStrictEqual(reader.errors, [], `${what}: the target found itself harmed`);
  assert.ok(alive(pid), `${what}: process ${pid} is alive`);
  const st = procStatus(pid)?.get('State') ?? 'gone';
  assert.match(st, /^[RSD]/, `${what}: process ${pid} runs (state ${st})`);
}
