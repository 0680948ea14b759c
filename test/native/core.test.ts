// Issue 15: a checkpoint opened in gdb. Real processes are checkpointed, `ckpt-inspect core`
// exports the core, and Debian's gdb reads it: the debuggee's two stacks (main -> outer -> inner
// in nanosleep; the waiter in pthread_cond_wait) and its global struct, a multi-threaded node
// with all its threads, python3 with libc's frames named by symbol. And the build-ids the dump
// recorded are the files' own, also for a program whose file was deleted (read through
// map_files as root, from the process's memory as a user).

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointImage, RecordType } from '../../src/image';
import { runInspect } from '../support/inspect';
import { alive, buildTargets, identities, Identity, Lab, target, waitFor } from './helpers';

function gdb(program: string, core: string, ...commands: string[]): string {
  const args = ['-nx', '-batch', ...commands.flatMap((c) => ['-ex', c]), program, core];
  const r = spawnSync('gdb', args, { encoding: 'utf8', timeout: 120000 });
  if (r.error) throw r.error;
  return `${r.stdout}\n${r.stderr}`;
}

/** Each thread's backtrace in `thread apply all bt` output: its function names, innermost first. */
function stacks(out: string): string[][] {
  return out
    .split(/\nThread \d+ /)
    .slice(1)
    .map((t) => [...t.matchAll(/^#\d+\s+(?:0x[0-9a-f]+ in )?([\w.@]+) \(/gm)].map((m) => m[1]));
}

/** The GNU build-id of an ELF file, as readelf prints it. */
function readelfBuildId(file: string): string {
  const m = /Build ID: ([0-9a-f]+)/.exec(spawnSync('readelf', ['-n', file], { encoding: 'utf8' }).stdout);
  assert.ok(m, `${file} has a build-id`);
  return m[1];
}

/** The build-ids an image recorded, by the path of the VMA they are under. */
async function imageBuildIds(image: string): Promise<Map<string, { id: string; source: number }>> {
  const img = await CheckpointImage.open(image);
  try {
    const out = new Map<string, { id: string; source: number }>();
    for (const r of img.ofType(RecordType.BUILD_ID)) {
      const vma = await img.decodeAs(img.parent(r)!, 'vma');
      const b = await img.decodeAs(r, 'build_id');
      out.set(vma.path.value.replace(/ \(deleted\)$/, ''), { id: Buffer.from(b.id).toString('hex'), source: b.source });
    }
    return out;
  } finally {
    await img.close();
  }
}

/** The executable the image's root process ran, as the Debug Checkpoint command gives it to the debugger. */
async function imageExe(image: string): Promise<string> {
  const img = await CheckpointImage.open(image);
  try {
    return (await img.decodeAs(img.processes()[0], 'process')).exe.value;
  } finally {
    await img.close();
  }
}

async function exportCore(image: string, core: string, ...extra: string[]): Promise<void> {
  const r = await runInspect('core', image, '-o', core, ...extra);
  assert.strictEqual(r.code, 0, r.err);
  assert.strictEqual(fs.statSync(core).mode & 0o777, 0o600, 'the core is mode 0600');
}

/**
 * An ELF64 file whose one PT_NOTE holds a GNU build-id (20 bytes of 0x11), with one value made
 * hostile: the program header count or offset, the note segment's offset or size, the note's
 * name or descriptor size.
 */
function craftedElf(o: { phnum?: number; phoff?: bigint; noteOffset?: bigint; noteSize?: bigint; namesz?: number; descsz?: number }): Buffer {
  const b = Buffer.alloc(4096);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  b.writeUInt16LE(3, 16); // ET_DYN
  b.writeUInt16LE(62, 18);
  b.writeBigUInt64LE(o.phoff ?? 64n, 32);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(o.phnum ?? 1, 56);
  const note = Buffer.alloc(36);
  note.writeUInt32LE(o.namesz ?? 4, 0);
  note.writeUInt32LE(o.descsz ?? 20, 4);
  note.writeUInt32LE(3, 8); // NT_GNU_BUILD_ID
  note.write('GNU\0', 12, 'latin1');
  note.fill(0x11, 16);
  b.set(note, 0x200);
  b.writeUInt32LE(4, 64); // PT_NOTE
  b.writeBigUInt64LE(o.noteOffset ?? 0x200n, 64 + 8);
  b.writeBigUInt64LE(o.noteSize ?? 36n, 64 + 32);
  b.writeBigUInt64LE(4n, 64 + 48);
  return b;
}

const hasGdb = spawnSync('gdb', ['--version']).status === 0;

describe('native: ckpt-inspect core opens in gdb (issue 15)', function () {
  this.timeout(180000);
  before(function () {
    if (!hasGdb) throw new Error('gdb is not installed: apt-get install gdb (it is in .ci/apt-packages)');
    buildTargets();
  });
  const lab = new Lab();
  afterEach(() => lab.cleanup());
  const root = identities()[0];

  for (const mode of ['--leave-running', '--kill']) {
    it(`debuggee (${mode}): both stacks by name and the global struct's values`, async () => {
      const dir = lab.dir(root);
      const t = lab.startTarget(root, [target('debuggee')]);
      await waitFor('the debuggee to be ready', () => /ready \d+/.test(t.out()));
      const image = path.join(dir, 'debuggee.ckpt');
      const dump = await lab.dump(root, t.pid, image, [mode]);
      assert.strictEqual(dump.code, 0, dump.stderr);
      assert.strictEqual(alive(t.pid), mode === '--leave-running');
      const core = path.join(dir, 'debuggee.core');
      await exportCore(image, core);
      const out = gdb(target('debuggee'), core, 'thread apply all bt', 'print the_global', 'print/x the_global.bytes');
      const all = stacks(out);
      assert.strictEqual(all.length, 2, `two threads:\n${out}`);
      const main = all.find((s) => s.includes('main'));
      assert.ok(main, `a stack with main:\n${out}`);
      const names = main.join(' ');
      assert.match(names, /nanosleep.*\binner outer main\b/, `main -> outer -> inner -> nanosleep:\n${out}`);
      const waiter = all.find((s) => s.includes('waiter'));
      assert.ok(waiter && waiter.some((f) => /pthread_cond_wait/.test(f)), `the waiter in pthread_cond_wait:\n${out}`);
      assert.match(out, /\$1 = \{id = 42, big = 81985529216486895, ratio = 2\.5, name = "debuggee/, `the_global:\n${out}`);
      assert.match(out, /\$2 = \{0xde, 0xad, 0xbe, 0xef\}/, out);
      // the build-ids recorded at dump are the files' own
      const ids = await imageBuildIds(image);
      assert.strictEqual(ids.get(target('debuggee'))?.id, readelfBuildId(target('debuggee')));
      const libc = [...ids.keys()].find((p) => /\/libc\.so\.6$/.test(p));
      assert.ok(libc, `libc has a build-id record: ${[...ids.keys()]}`);
      assert.strictEqual(ids.get(libc)!.id, readelfBuildId(libc));
    });
  }

  for (const id of identities()) {
    it(`as ${id.name}: the build-id of a program whose file was deleted (${id.uid === 0 ? 'map_files' : 'memory'})`, async () => {
      const dir = lab.dir(id);
      const copy = path.join(dir, 'gone');
      fs.copyFileSync(target('debuggee'), copy);
      fs.chmodSync(copy, 0o755);
      const expected = readelfBuildId(copy);
      const t = lab.startTarget(id, [copy]);
      await waitFor('the copy to be ready', () => /ready \d+/.test(t.out()));
      fs.rmSync(copy);
      const image = path.join(dir, 'gone.ckpt');
      const dump = await lab.dump(id as Identity, t.pid, image, ['--kill']);
      assert.strictEqual(dump.code, 0, dump.stderr);
      const b = (await imageBuildIds(image)).get(copy);
      assert.ok(b, 'a build-id for the deleted file');
      assert.strictEqual(b.id, expected);
      assert.strictEqual(b.source, id.uid === 0 ? 2 : 3, 'read from map_files (root) or the memory (a user)');
      const shown = await runInspect('show', '-v', image);
      assert.match(shown.out, new RegExp(`GNU build-id ${expected}`));
    });
  }

  it('reads build-ids from hostile ELF files the target maps without crashing, and only the sound one', async () => {
    const dir = lab.dir(root);
    const files: Record<string, Buffer> = {
      sound: craftedElf({}),
      'phnum-65535': craftedElf({ phnum: 0xffff }),
      'phoff-past-2^64': craftedElf({ phoff: 0xffffffffffffff00n }),
      'note-offset-wraps': craftedElf({ noteOffset: 0xfffffffffffffff8n, noteSize: 16n }),
      'note-1-TiB': craftedElf({ noteSize: 1n << 40n }),
      'namesz-4-GiB': craftedElf({ namesz: 0xfffffff0 }),
      'descsz-4-GiB': craftedElf({ descsz: 0xffffffff }),
      'id-65-bytes': craftedElf({ descsz: 65 }),
      'headers-only': craftedElf({}).subarray(0, 64),
    };
    const paths = Object.keys(files).map((name) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, files[name]);
      return f;
    });
    const script = 'import mmap, os, sys, time\nmaps = [mmap.mmap(os.open(p, os.O_RDONLY), 0, prot=mmap.PROT_READ) for p in sys.argv[1:]]\nprint("ready", os.getpid(), flush=True)\ntime.sleep(3600)\n';
    const t = lab.startTarget(root, ['python3', '-c', script, ...paths]);
    await waitFor('the target to map the files', () => /ready \d+/.test(t.out()));
    const image = path.join(dir, 'elves.ckpt');
    const dump = await lab.dump(root, t.pid, image, ['--kill']);
    assert.strictEqual(dump.code, 0, dump.stderr);
    assert.doesNotMatch(dump.stderr, /Sanitizer|runtime error/);
    const ids = await imageBuildIds(image);
    const crafted = [...ids.keys()].filter((p) => p.startsWith(dir));
    assert.deepStrictEqual(crafted, [path.join(dir, 'sound')], 'only the sound file has a build-id');
    assert.strictEqual(ids.get(path.join(dir, 'sound'))!.id, '11'.repeat(20));
  });

  it('a multi-threaded node process: gdb lists every thread of the image', async () => {
    const dir = lab.dir(root);
    const t = lab.startTarget(root, [process.execPath, '-e', 'require("crypto").randomBytes(1); console.log("ready " + process.pid); setInterval(() => {}, 1000)']);
    await waitFor('node to be ready', () => /ready \d+/.test(t.out()));
    const image = path.join(dir, 'node.ckpt');
    const dump = await lab.dump(root, t.pid, image, ['--leave-running']);
    assert.strictEqual(dump.code, 0, dump.stderr);
    const img = await CheckpointImage.open(image);
    const nthreads = (await img.decodeAs(img.processes()[0], 'process')).nthreads;
    await img.close();
    assert.ok(nthreads >= 5, `node runs several threads (${nthreads})`);
    const core = path.join(dir, 'node.core');
    await exportCore(image, core);
    const out = gdb(process.execPath, core, 'info threads', 'bt 3');
    const rows = out.split('\n').filter((l) => /^\*?\s+\d+\s+(Thread|LWP)/.test(l));
    assert.strictEqual(rows.length, nthreads, `gdb lists ${nthreads} threads:\n${out}`);
    assert.doesNotMatch(out, /Cannot access memory|not in executable format/, out);
  });

  it("python3: gdb names libc's frames by symbol", async () => {
    const dir = lab.dir(root);
    // Debian's python3 (a pyenv or venv python3 on PATH may be a script that runs another)
    const t = lab.startTarget(root, [fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', '-c', 'import os, time; print("ready", os.getpid(), flush=True); time.sleep(3600)']);
    await waitFor('python3 to be ready', () => /ready \d+/.test(t.out()));
    const image = path.join(dir, 'python.ckpt');
    const dump = await lab.dump(root, t.pid, image, ['--kill']);
    assert.strictEqual(dump.code, 0, dump.stderr);
    const core = path.join(dir, 'python.core');
    await exportCore(image, core);
    const out = gdb(await imageExe(image), core, 'bt', 'info sharedlibrary');
    const frames = stacks(`\nThread 1 ${out}`)[0];
    assert.ok(
      frames.some((f) => /clock_nanosleep/.test(f)),
      `python3's sleep in libc's clock_nanosleep:\n${out}`,
    );
    assert.ok(
      frames.some((f) => /^(pysleep|time_sleep|_PyEval_EvalFrameDefault|main|Py_\w+)$/.test(f)),
      `python3's own frames:\n${out}`,
    );
    assert.match(out, /libc\.so\.6/);
  });
});
