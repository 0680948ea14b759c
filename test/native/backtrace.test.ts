// Issue 15: the editor's backtraces, computed from real checkpoints. The -g -O0 debuggee's main
// thread shows inner, outer and main at their source lines (found in the source text, not
// written here), its waiter thread pthread_cond_wait then waiter; python3, which has no debug
// info, shows libc's frames by their symbols, with and without libc's separate debug file; and a
// multi-threaded node process unwinds every thread to its outermost frame.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { openCheckpoint, type Checkpoint, type ProcessState } from '../../src/checkpoint';
import { ThreadStacks } from '../../src/checkpoint/threadStacks';
import { ElfModules, type Backtrace } from '../../src/image/stacks';
import { CompareSession } from '../../src/webviews/compareSession';
import { buildTargets, identities, Lab, target, targetSource, waitFor } from './helpers';

/** The 1-based line of the only line of `source` that contains `text`. */
function lineOf(source: string, text: string): number {
  const all = source.split('\n');
  const hits = all.map((l, i) => (l.includes(text) ? i + 1 : 0)).filter(Boolean);
  assert.strictEqual(hits.length, 1, `"${text}" is on one line of the source`);
  return hits[0];
}

function show(b: Backtrace): string {
  return (
    b.frames.map((f) => `#${f.index} 0x${f.pc.toString(16)} ${f.function ?? '?'}${f.source ? ` ${path.basename(f.source.file)}:${f.source.line}` : ''} ${f.module ?? ''}`).join('\n') +
    `\n(${b.stop.reason}: ${b.stop.message})`
  );
}

async function allTraces(cp: Checkpoint, modules: ElfModules): Promise<{ p: ProcessState; traces: Map<number, Backtrace> }> {
  const [p] = await cp.processes();
  const stacks = new ThreadStacks(cp, modules);
  const traces = new Map<number, Backtrace>();
  for (const t of p.threads) traces.set(t.tid, await stacks.backtrace(p.record, t.tid));
  return { p, traces };
}

describe('native: backtraces of checkpointed threads (issue 15)', function () {
  this.timeout(60000);
  const root = identities()[0];
  const lab = new Lab();
  let dir: string;
  before(() => {
    buildTargets();
    dir = lab.dir(root);
  });
  after(() => lab.cleanup());

  async function checkpoint(cmd: string[], ready: (out: string) => boolean, name: string): Promise<Checkpoint> {
    const t = lab.startTarget(root, cmd);
    await waitFor(`${name} to be ready`, () => ready(t.out()));
    const image = path.join(dir, `${name}.ckpt`);
    const r = await lab.dump(root, t.pid, image, ['--leave-running']);
    assert.strictEqual(r.code, 0, r.stderr);
    return openCheckpoint(image);
  }

  it('names inner, outer and main at their source lines, and pthread_cond_wait then waiter', async () => {
    const cp = await checkpoint([target('debuggee')], (out) => /^ready \d+/m.test(out), 'debuggee');
    const modules = new ElfModules();
    try {
      const { p, traces } = await allTraces(cp, modules);
      assert.strictEqual(p.threads.length, 2);
      const source = fs.readFileSync(targetSource('debuggee.c'), 'utf8');
      const main = traces.get(p.pid)!;
      const names = main.frames.map((f) => f.function);
      const at = (fn: string) => {
        const f = main.frames.find((x) => x.function === fn);
        assert.ok(f, `${fn} is on the main thread's stack:\n${show(main)}`);
        return f!;
      };
      const expected: [string, string][] = [
        ['inner', 'nanosleep(&ts, NULL);'],
        ['outer', 'return inner(depth + 1) + 1;'],
        ['main', 'return outer(1);'],
      ];
      for (const [fn, text] of expected) {
        const f = at(fn);
        assert.ok(f.source, `${fn} has a source line:\n${show(main)}`);
        assert.strictEqual(path.basename(f.source!.file), 'debuggee.c');
        assert.strictEqual(f.source!.file, targetSource('debuggee.c'), 'the path is the compiled file, absolute');
        assert.strictEqual(f.source!.line, lineOf(source, text), `${fn}'s line:\n${show(main)}`);
        assert.strictEqual(f.module, target('debuggee'));
      }
      // In call order, callee first, each once.
      const order = ['inner', 'outer', 'main'].map((n) => names.indexOf(n));
      assert.deepStrictEqual(
        [...order].sort((a, b) => a - b),
        order,
        show(main),
      );
      // Above inner: libc's nanosleep wrappers, named by symbol; the walk ends at _start, cleanly.
      assert.ok(
        names.slice(0, order[0]).some((n) => /nanosleep/.test(n ?? '')),
        show(main),
      );
      assert.strictEqual(main.stop.reason, 'outermost', show(main));
      assert.strictEqual(names[names.length - 1], '_start', show(main));

      const waiterTid = p.threads.find((t) => t.tid !== p.pid)!.tid;
      const waiter = traces.get(waiterTid)!;
      const wnames = waiter.frames.map((f) => f.function ?? '');
      const cond = wnames.findIndex((n) => /pthread_cond_wait/.test(n));
      const w = wnames.indexOf('waiter');
      assert.ok(cond >= 0 && w > cond, `pthread_cond_wait, then waiter:\n${show(waiter)}`);
      assert.strictEqual(waiter.frames[w].source?.line, lineOf(source, 'pthread_cond_wait(&never, &lock);'), show(waiter));
      assert.strictEqual(waiter.stop.reason, 'outermost', show(waiter));
      assert.ok(wnames.includes('start_thread'), show(waiter));
    } finally {
      modules.close();
      await cp.close();
    }
  });

  it('pairs the threads of two debuggees in the compare session and gives both backtraces of a pair', async () => {
    const a = await checkpoint([target('debuggee')], (out) => /^ready \d+/m.test(out), 'debuggee-a');
    const b = await checkpoint([target('debuggee')], (out) => /^ready \d+/m.test(out), 'debuggee-b');
    const paths = [a.name, b.name];
    await Promise.all([a.close(), b.close()]);
    const session = await CompareSession.open(paths[0], paths[1]);
    try {
      assert.strictEqual((await session.run()).state, 'done');
      const { items } = await session.children({});
      const proc = items.find((r) => r.kind === 'process');
      assert.ok(proc, `a process node: ${JSON.stringify(items)}`);
      const { pairs } = await session.threads({ id: proc!.id });
      assert.strictEqual(pairs.length, 2, JSON.stringify(pairs));
      assert.ok(
        pairs.every((p) => p.a !== undefined && p.b !== undefined),
        'both threads on both sides',
      );
      const main = pairs.find((p) => p.key === 'main')!;
      const both = await session.backtraces({ id: proc!.id, key: main.key });
      for (const side of [both.a!, both.b!]) {
        const names = side.frames.map((f) => f.function);
        for (const fn of ['inner', 'outer', 'main']) assert.ok(names.includes(fn), `${fn} in ${JSON.stringify(names)}`);
        assert.strictEqual(side.stop.reason, 'outermost');
        assert.match(side.frames[0].pc, /^0x[0-9a-f]+$/);
      }
      assert.strictEqual(both.a!.tid, main.a);
      assert.strictEqual(both.b!.tid, main.b);
      await assert.rejects(session.backtraces({ id: proc!.id, key: 'nope' }), /no thread nope/);
    } finally {
      await session.close();
    }
  });

  it('names libc frames by symbol in python3, which has no debug info, with and without a libc debug file', async () => {
    const cp = await checkpoint(['/usr/bin/python3', '-c', 'import sys,time; print("ready", flush=True); time.sleep(3600)'], (out) => out.includes('ready'), 'python3');
    // A debug root with nothing in it: symbols from the files' own .dynsym and .symtab alone.
    for (const modules of [new ElfModules(), new ElfModules({ debugRoot: path.join(dir, 'no-debug') })]) {
      try {
        const { p, traces } = await allTraces(cp, modules);
        const b = traces.get(p.pid)!;
        const libc = b.frames.filter((f) => /\/libc\.so\.6$/.test(f.module ?? ''));
        assert.ok(libc.length >= 2, `libc frames:\n${show(b)}`);
        for (const f of libc) assert.ok(f.function && f.offset !== undefined, `every libc frame is named:\n${show(b)}`);
        assert.ok(
          libc.some((f) => /sleep/.test(f.function!)),
          `the sleep is named:\n${show(b)}`,
        );
        assert.ok(
          libc.some((f) => /libc_start/.test(f.function!)),
          `the start is named:\n${show(b)}`,
        );
        const py = b.frames.filter((f) => /python3/.test(f.module ?? ''));
        assert.ok(
          py.some((f) => f.function === 'Py_BytesMain' || f.function === 'Py_RunMain'),
          `python's exported functions:\n${show(b)}`,
        );
        assert.ok(
          py.every((f) => !f.source),
          'python3 has no line info',
        );
        assert.strictEqual(b.stop.reason, 'outermost', show(b));
      } finally {
        modules.close();
      }
    }
    await cp.close();
  });

  it('unwinds every thread of a multi-threaded node process to its outermost frame, quickly', async () => {
    const cp = await checkpoint([process.execPath, '-e', 'console.log("ready"); setInterval(() => {}, 1000)'], (out) => out.includes('ready'), 'node');
    const modules = new ElfModules();
    try {
      const t0 = performance.now();
      const { p, traces } = await allTraces(cp, modules);
      const ms = performance.now() - t0;
      assert.ok(p.threads.length >= 5, `node has its worker threads (${p.threads.length})`);
      for (const [tid, b] of traces) {
        assert.strictEqual(b.stop.reason, 'outermost', `thread ${tid}:\n${show(b)}`);
        assert.ok(
          b.frames.some((f) => /^(_start|start_thread)$/.test(f.function ?? '')),
          `thread ${tid}:\n${show(b)}`,
        );
      }
      assert.ok(
        traces.get(p.pid)!.frames.some((f) => f.function === 'uv_run'),
        show(traces.get(p.pid)!),
      );
      // Again with the files' tables made: what opening a second image of the same program costs.
      const t1 = performance.now();
      await allTraces(cp, modules);
      const warm = performance.now() - t1;
      console.log(`      node: ${p.threads.length} threads unwound in ${ms.toFixed(0)} ms with the files opened cold, ${warm.toFixed(0)} ms warm`);
      assert.ok(ms < 20000, `unwinding took ${ms} ms`);
    } finally {
      modules.close();
      await cp.close();
    }
  });
});
