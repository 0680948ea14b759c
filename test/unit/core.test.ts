// ckpt-inspect core (issue 15) on images made by the test writer: the ELF core's layout (notes,
// segments, holes, mode 0600), and damaged or hostile images, which must give one clean error
// line, no FILE and no temp file, and never write anywhere but FILE's folder.

import * as assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { buildSample, HEAP, PAGE } from '../support/sampleImage';
import { fuzzBase, sampleMutants } from '../support/mutate';
import { runInspect } from '../support/inspect';
import { ImageWriter } from '../../src/image/write/imageWriter';
import type { ProgramHeader } from '../../src/image/core/elf';
import { gdbCommandLine } from '../../src/image/core/writeCore';

/** A program header as the test reads it back (the writer's, less the alignment). */
type Phdr = Omit<ProgramHeader, 'align'>;

/** The program headers and the notes (owner, type, size) of a core file, read as a debugger does. */
function readCore(file: string): { phdrs: Phdr[]; notes: { name: string; type: number; desc: Buffer }[] } {
  // the headers and notes only: a core is sparse, and may be far larger than its bytes
  const fd = fs.openSync(file, 'r');
  const b = Buffer.alloc(Math.min(fs.fstatSync(fd).size, 4 * 1024 * 1024));
  fs.readSync(fd, b, 0, b.length, 0);
  fs.closeSync(fd);
  assert.strictEqual(b.subarray(0, 4).toString('latin1'), '\x7fELF');
  assert.strictEqual(b.readUInt16LE(16), 4, 'ET_CORE');
  assert.strictEqual(b.readUInt16LE(18), 62, 'EM_X86_64');
  const phoff = Number(b.readBigUInt64LE(32));
  const phnum = b.readUInt16LE(56);
  const phdrs: Phdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * 56;
    phdrs.push({
      type: b.readUInt32LE(o),
      flags: b.readUInt32LE(o + 4),
      offset: b.readBigUInt64LE(o + 8),
      vaddr: b.readBigUInt64LE(o + 16),
      filesz: b.readBigUInt64LE(o + 32),
      memsz: b.readBigUInt64LE(o + 40),
    });
  }
  const note = phdrs.find((p) => p.type === 4)!;
  const notes = [];
  for (let o = Number(note.offset), end = o + Number(note.filesz); o < end;) {
    const namesz = b.readUInt32LE(o),
      descsz = b.readUInt32LE(o + 4),
      type = b.readUInt32LE(o + 8);
    const name = b.subarray(o + 12, o + 12 + namesz - 1).toString('latin1');
    const descAt = o + 12 + ((namesz + 3) & ~3);
    notes.push({ name, type, desc: b.subarray(descAt, descAt + descsz) });
    o = descAt + ((descsz + 3) & ~3);
  }
  return { phdrs, notes };
}

describe('ckpt-inspect core (issue 15)', function () {
  this.timeout(120000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-core-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the notes a kernel core has, a PT_LOAD per area and the dumped bytes at their addresses, mode 0600', async () => {
    const image = path.join(dir, 'sample.ckpt');
    fs.writeFileSync(image, buildSample().bytes);
    const core = path.join(dir, 'sample.core');
    const r = await runInspect('core', image, '-o', core);
    assert.strictEqual(r.code, 0, r.err);
    assert.strictEqual(fs.statSync(core).mode & 0o777, 0o600);
    const { phdrs, notes } = readCore(core);
    const kinds = notes.map((n) => `${n.name}:${n.type}`);
    // the main thread first, with the process-wide notes after it, then the worker
    assert.deepStrictEqual(kinds.filter((k) => k === 'CORE:1').length, 2, 'one NT_PRSTATUS per thread');
    for (const k of ['CORE:3', 'CORE:6', `CORE:${0x53494749}`, `CORE:${0x46494c45}`]) assert.ok(kinds.includes(k), `note ${k} in ${kinds}`);
    assert.strictEqual(kinds[0], 'CORE:1');
    const heap = phdrs.find((p) => p.type === 1 && p.vaddr === HEAP)!;
    assert.ok(heap, 'a PT_LOAD at the heap');
    assert.strictEqual(heap.filesz, heap.memsz, 'anonymous memory with dumped pages is in the core whole');
    const bytes = fs.readFileSync(core);
    const at = Number(heap.offset);
    for (let i = 0; i < 3 * PAGE; i += 997) assert.strictEqual(bytes[at + i], (i * 7) & 0xff, `heap byte ${i}`);
    // the existing FILE is not replaced without --force
    const again = await runInspect('core', image, '-o', core);
    assert.strictEqual(again.code, 2);
    assert.match(again.err, /exists \(--force replaces it\)/);
    assert.strictEqual((await runInspect('core', image, '-o', core, '--force')).code, 0);
  });

  it("gives gdb the image's program only as an absolute path, each word quoted for the shell", () => {
    assert.strictEqual(gdbCommandLine('/usr/bin/python3.11', '/tmp/a b/c.core'), "gdb /usr/bin/python3.11 '/tmp/a b/c.core'");
    // a hostile image's exe would be an option of gdb's (--eval-command=shell ...): left out
    assert.strictEqual(gdbCommandLine('--eval-command=shell touch /tmp/owned', '/tmp/c.core'), 'gdb -c /tmp/c.core');
    assert.strictEqual(gdbCommandLine("/x/it's; rm -rf ~", '/tmp/c.core'), `gdb '/x/it'\\''s; rm -rf ~' /tmp/c.core`);
  });

  it('skips record types of a later minor version, as verify does', async () => {
    const image = path.join(dir, 'later.ckpt');
    fs.writeFileSync(image, buildSample({ unknownRecord: true }).bytes);
    const r = await runInspect('core', image, '-o', path.join(dir, 'later.core'));
    assert.strictEqual(r.code, 0, r.err);
  });

  it('leaves pages that were never dumped as holes: a 1 GiB area with one page takes one page of disk', async () => {
    const w = ImageWriter.inMemory(PAGE);
    w.head();
    const proc = w.record('process', { pid: 7, comm: 'sparse', nthreads: 1 });
    w.mainThread(proc, 7);
    const mm = w.record('mm', { nvmas: 1 }, { ptag: proc });
    const base = 0x7f0000000000n,
      size = 1n << 30n;
    w.record('vma', { start: base, end: base + size, prot: 3, kind: 1, path: '' }, { ptag: mm });
    w.pages(mm, [{ vaddr: base + size - BigInt(PAGE), data: new Uint8Array(PAGE).fill(0x5a) }]);
    w.tail();
    const image = path.join(dir, 'sparse.ckpt');
    fs.writeFileSync(image, w.bytes());
    const core = path.join(dir, 'sparse.core');
    const r = await runInspect('core', image, '-o', core);
    assert.strictEqual(r.code, 0, r.err);
    const st = fs.statSync(core);
    assert.ok(st.size > Number(size), `the core's size counts the area (${st.size})`);
    assert.ok(st.blocks * 512 < 1024 * 1024, `but its holes take no disk (${st.blocks * 512} bytes allocated)`);
    const load = readCore(core).phdrs.find((p) => p.vaddr === base)!;
    const fd = fs.openSync(core, 'r');
    const last = Buffer.alloc(PAGE);
    fs.readSync(fd, last, 0, PAGE, Number(load.offset + size) - PAGE);
    fs.closeSync(fd);
    assert.ok(
      last.every((c) => c === 0x5a),
      'the dumped page is at its place',
    );
  });

  it('refuses damaged and hostile images with one line naming the record and offset, and leaves nothing behind', async () => {
    const sample = buildSample().bytes;
    const cases: [string, Uint8Array][] = [
      ['truncated', sample.subarray(0, Math.floor(sample.length / 2))],
      ['no tail', buildSample({ noTail: true }).bytes],
      [
        'bit flip in a header',
        (() => {
          const b = Uint8Array.from(sample);
          b[40] ^= 0x10;
          return b;
        })(),
      ],
    ];
    for (const [what, bytes] of cases) {
      const image = path.join(dir, `${what}.ckpt`);
      fs.writeFileSync(image, bytes);
      const core = path.join(dir, 'out', 'x.core');
      fs.mkdirSync(path.dirname(core), { recursive: true });
      const r = await runInspect('core', image, '-o', core);
      assert.strictEqual(r.code, 2, `${what}: ${r.out}`);
      assert.strictEqual(r.err.trim().split('\n').length, 1, `${what}: one line: ${r.err}`);
      assert.match(r.err, /record #\d+|file offset 0x/, `${what}: names where: ${r.err}`);
      assert.doesNotMatch(r.err, /internal error/);
      assert.deepStrictEqual(fs.readdirSync(path.dirname(core)), [], `${what}: no FILE, no temp file`);
    }
  });

  it('refuses an area too large for a file (2^55 bytes) or for the filesystem, quickly and leaving nothing', async () => {
    for (const bits of [55n, 46n]) {
      const w = ImageWriter.inMemory(PAGE);
      w.head();
      const proc = w.record('process', { pid: 7, comm: 'huge', nthreads: 1 });
      w.mainThread(proc, 7);
      const mm = w.record('mm', { nvmas: 1 }, { ptag: proc });
      const base = 0x1000n,
        size = 1n << bits;
      w.record('vma', { start: base, end: base + size, prot: 3, kind: 1, path: '' }, { ptag: mm });
      w.pages(mm, [{ vaddr: base + size - BigInt(PAGE), data: new Uint8Array(PAGE).fill(1) }]);
      w.tail();
      const image = path.join(dir, 'huge.ckpt');
      fs.writeFileSync(image, w.bytes());
      const out = path.join(dir, 'out');
      fs.mkdirSync(out, { recursive: true });
      const t0 = Date.now();
      const r = await runInspect('core', image, '-o', path.join(out, 'huge.core'));
      if (r.code === 0) {
        // a filesystem that holds a 64 TiB sparse file (XFS, btrfs): then it is a core
        assert.strictEqual(bits, 46n, r.out);
        continue;
      }
      assert.strictEqual(r.code, 2);
      assert.match(r.err, /the core would be \d+ bytes/, r.err);
      assert.ok(Date.now() - t0 < 5000, 'at once, without walking the area');
      assert.deepStrictEqual(fs.readdirSync(out), []);
    }
  });

  it('writes the process --pid names in a tree image, and refuses a pid it does not hold', async () => {
    const w = ImageWriter.inMemory(PAGE);
    w.head();
    const root = w.record('process', { pid: 100, comm: 'parent', nthreads: 1 });
    w.mainThread(root, 100);
    w.record('mm', { nvmas: 0 }, { ptag: root });
    const child = w.record('process', { pid: 101, ppid: 100, comm: 'child', nthreads: 2 }, { ptag: root });
    w.mainThread(child, 101);
    w.record('thread', { tid: 102, comm: 'child-worker' }, { ptag: child });
    w.record('mm', { nvmas: 0 }, { ptag: child });
    w.tail();
    const image = path.join(dir, 'tree.ckpt');
    fs.writeFileSync(image, w.bytes());
    const core = path.join(dir, 'child.core');
    const r = await runInspect('core', image, '-o', core, '--pid', '101');
    assert.strictEqual(r.code, 0, r.err);
    assert.match(r.out, /core of process 101 .*2 threads/);
    const status = readCore(core)
      .notes.filter((n) => n.name === 'CORE' && n.type === 1)
      .map((n) => n.desc.readInt32LE(32));
    assert.deepStrictEqual(status, [101, 102], 'the main thread first');
    const missing = await runInspect('core', image, '-o', path.join(dir, 'x.core'), '--pid', '999');
    assert.strictEqual(missing.code, 2);
    assert.match(missing.err, /holds no process with pid 999/);
    assert.ok(!fs.existsSync(path.join(dir, 'x.core')));
  });

  it('survives 300 resealed mutants of an image: a core or a clean error, never a crash, nothing outside FILE', async () => {
    const base = await fuzzBase('sample', buildSample().bytes);
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    let written = 0,
      refused = 0;
    for (const [i, { mutant, bytes }] of sampleMutants(base, { seed: 15, count: 300 }).entries()) {
      const image = path.join(dir, 'm.ckpt');
      fs.writeFileSync(image, bytes);
      const core = path.join(out, 'm.core');
      const r = await runInspect('core', image, '-o', core, '--force');
      const ctx = `mutant ${i} ${JSON.stringify(mutant, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}: ${r.err}`;
      assert.doesNotMatch(r.err, /internal error/, ctx);
      const left = fs.readdirSync(out);
      if (r.code === 0) {
        written++;
        assert.deepStrictEqual(left, ['m.core'], ctx);
        assert.strictEqual(fs.statSync(core).mode & 0o777, 0o600);
        readCore(core);
        fs.rmSync(core);
      } else {
        refused++;
        assert.strictEqual(r.code, 2, ctx);
        assert.deepStrictEqual(left, [], ctx);
      }
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['m.ckpt', 'out'], `nothing else written: ${ctx}`);
    }
    assert.ok(written > 0 && refused > 0, `both outcomes seen (${written} written, ${refused} refused)`);
  });
});
