// The ELF, CFI and DWARF line readers behind the editor's backtraces (src/image/stacks), checked
// against binutils on real files of this machine (libc, python3, node, a -g -O0 program built
// here), and against hostile input: corrupted and random ELF files, garbage stack memory, frame
// pointer loops, endless stacks and looping expressions all end, quickly, without a crash.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { openCheckpoint } from '../../src/checkpoint';
import { ThreadStacks } from '../../src/checkpoint/threadStacks';
import { BufferByteSource } from '../../src/image/byteSource';
import { MemoryMap, type PageSegment, type RecordRef, type VmaInfo } from '../../src/image/memoryMap';
import { ElfModules, MAX_FRAMES, ProcessSpace, unwind } from '../../src/image/stacks';
import { CallFrameInfo, DW_REG } from '../../src/image/stacks/callFrameInfo';
import { evaluate } from '../../src/image/stacks/dwarfExpression';
import { PT_LOAD } from '../../src/image/elfFormat';
import { ElfFile } from '../../src/image/stacks/elfFile';
import { LineTable } from '../../src/image/stacks/lineTable';
import { SymbolTable } from '../../src/image/stacks/symbols';

const LIBC = fs.realpathSync('/lib/x86_64-linux-gnu/libc.so.6');
const PYTHON = fs.realpathSync('/usr/bin/python3');
const NODE = fs.realpathSync(process.execPath);
const SOURCE = path.resolve(__dirname, '../native/targets/debuggee.c');

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Function symbols as readelf lists them (.symtab, or .dynsym): address and name. */
function elfFunctions(file: string, dynamic = false): { addr: number; name: string }[] {
  return run('readelf', ['-sW', ...(dynamic ? ['--dyn-syms'] : []), file])
    .split('\n')
    .map((l) => /^\s*\d+: ([0-9a-f]+)\s+\d+\s+(?:FUNC|IFUNC)\s+\S+\s+\S+\s+(\d+)\s+(\S+)/.exec(l))
    .filter((m): m is RegExpExecArray => !!m && parseInt(m[1], 16) > 0)
    .map((m) => ({ addr: parseInt(m[1], 16), name: m[3].replace(/@.*$/, '') }));
}

const PAGE = 4096;

/** A MemoryMap over bytes in memory: each area given is one VMA, with its bytes dumped when it has any. */
function memoryOf(areas: { start: bigint; size: number; bytes?: Uint8Array; path?: string; offset?: bigint; kind?: string }[]): MemoryMap<RecordRef> {
  const chunks: Uint8Array[] = [];
  const vmas: VmaInfo<RecordRef>[] = [];
  const segs: PageSegment<RecordRef>[] = [];
  let at = 0;
  areas.forEach((a, i) => {
    const entry = { index: i };
    vmas.push({
      entry,
      start: a.start,
      end: a.start + BigInt(a.size),
      prot: a.path ? 5 : 3,
      flags: 0,
      kind: a.kind ?? (a.path ? 'file_private' : 'anon_private'),
      path: a.path ?? '',
      offset: a.offset ?? 0n,
    });
    if (a.bytes) {
      segs.push({ start: a.start, end: a.start + BigInt(a.size), fileOffset: at, pagemap: entry, pages: entry, firstPage: 0 });
      const b = new Uint8Array(a.size);
      b.set(a.bytes.subarray(0, a.size));
      chunks.push(b);
      at += a.size;
    }
  });
  return new MemoryMap(new BufferByteSource(Buffer.concat(chunks)), PAGE, vmas, segs);
}

describe('backtraces: ELF, CFI and DWARF line readers', function () {
  this.timeout(60000);
  let tmp: string;
  let debuggee: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-stacks-'));
    debuggee = path.join(tmp, 'debuggee');
    run('gcc', ['-g', '-O0', '-fno-omit-frame-pointer', '-pthread', '-o', debuggee, SOURCE]);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reads the build-id that readelf reads, of libc, python3, node and a program built here', () => {
    for (const file of [LIBC, PYTHON, NODE, debuggee]) {
      const m = /Build ID: ([0-9a-f]+)/.exec(run('readelf', ['-n', file]));
      const elf = ElfFile.open(file);
      try {
        assert.equal(elf.buildId(), m?.[1], file);
      } finally {
        elf.close();
      }
    }
  });

  it('names every function readelf lists, in the program built here and in node (.symtab) and libc (.dynsym)', () => {
    for (const [file, dynamic] of [
      [debuggee, false],
      [NODE, false],
      [LIBC, true],
    ] as const) {
      const elf = ElfFile.open(file);
      try {
        const syms = SymbolTable.of(elf);
        const listed = elfFunctions(file, dynamic);
        assert.ok(listed.length > 3, file);
        const namesAt = new Map<number, string[]>();
        for (const x of listed) namesAt.set(x.addr, [...(namesAt.get(x.addr) ?? []), x.name]);
        // node has ~100k: a spread of them
        const step = Math.max(1, Math.floor(listed.length / 2000));
        for (let i = 0; i < listed.length; i += step) {
          const { addr, name } = listed[i];
          const hit = syms.lookup(addr + 1);
          assert.ok(hit, `${file}: ${name}`);
          // Aliases share an address: the name found is one of the names at that address.
          const names = namesAt.get(addr)!;
          assert.ok(names.includes(hit!.name), `${file}: 0x${addr.toString(16)} is ${names.join('/')}, found ${hit!.name}`);
          assert.equal(hit!.offset, 1);
        }
      } finally {
        elf.close();
      }
    }
  });

  it('gives the file:line addr2line gives, in the functions of the program built here and of the libuv in node', () => {
    for (const file of [debuggee, NODE]) {
      const elf = ElfFile.open(file);
      try {
        const lines = new LineTable(elf.trySection('.debug_line')!.bytes, elf.trySection('.debug_line_str')?.bytes, elf.trySection('.debug_str')?.bytes);
        assert.deepEqual(lines.problems, []);
        // node's own code has no line info; its bundled libuv has.
        const fns = elfFunctions(file).filter((f) => f.addr > 0 && (file === debuggee || f.name.startsWith('uv_')));
        const step = Math.max(1, Math.floor(fns.length / 300));
        const addrs: number[] = [];
        for (let i = 0; i < fns.length; i += step) addrs.push(fns[i].addr, fns[i].addr + 5);
        const out = run('addr2line', ['-e', file, ...addrs.map((a) => `0x${a.toString(16)}`)])
          .trim()
          .split('\n');
        let compared = 0;
        addrs.forEach((a, i) => {
          const m = /^(.*):(\d+)(?: \(discriminator \d+\))?$/.exec(out[i]);
          if (!m || m[1] === '??' || m[2] === '0') return;
          const got = lines.lookup(a);
          assert.ok(got, `${file} 0x${a.toString(16)}: addr2line says ${out[i]}`);
          assert.equal(`${path.basename(got!.file)}:${got!.line}`, `${path.basename(m[1])}:${m[2]}`, `${file} 0x${a.toString(16)}`);
          compared++;
        });
        assert.ok(compared >= (file === debuggee ? 8 : 50), `${file}: ${compared} addresses compared`);
      } finally {
        elf.close();
      }
    }
  });

  it('finds, at the entry of each function, the CFA 8 above rsp and the return address just below it', () => {
    for (const file of [LIBC, PYTHON, debuggee]) {
      const elf = ElfFile.open(file);
      try {
        const cfi = CallFrameInfo.of(elf)!;
        const fns = elfFunctions(file, file === LIBC || file === PYTHON);
        let checked = 0;
        for (const f of fns.slice(0, 400)) {
          const row = cfi.rowAt(BigInt(f.addr));
          // No FDE starts here (an alias inside another), or the outermost frame (_start marks no return address).
          if (!row || row.pcBegin !== BigInt(f.addr) || f.name === '_start') continue;
          assert.deepEqual(row.cfa, { kind: 'reg', reg: DW_REG.rsp, offset: 8n }, `${file} ${f.name}`);
          assert.deepEqual(row.regs.get(DW_REG.ra), { kind: 'offset', offset: -8n }, `${file} ${f.name}`);
          checked++;
        }
        assert.ok(checked >= 3, `${file}: ${checked} functions`);
        assert.deepEqual(cfi.problems, []);
      } finally {
        elf.close();
      }
    }
  });

  it("unwinds a CRIU checkpoint's threads, saying that its program is gone and that libc is taken unchecked", async () => {
    const cp = await openCheckpoint(path.resolve(__dirname, '../fixtures/criu/threads/inventory.img'));
    const modules = new ElfModules();
    try {
      const [p] = await cp.processes();
      const stacks = new ThreadStacks(cp, modules);
      for (const t of p.threads) {
        const b = await stacks.backtrace(p.record, t.tid);
        assert.equal(b.frames[0].method, 'registers');
        assert.equal(b.frames[0].pc, t.regs.rip);
        const gone = b.frames.filter((f) => f.module === '/tmp/criufix/bin/threads');
        assert.ok(gone.length >= 1 && gone.every((f) => f.note === 'the file is gone' && !f.function), gone.map((f) => `${f.module}: ${f.note}`).join('\n'));
        assert.ok(b.frames.filter((f) => /libc\.so/.test(f.module ?? '')).every((f) => /not checked/.test(f.note ?? '')));
        assert.ok(b.stop.message.length > 0 && b.stop.reason !== 'outermost');
      }
    } finally {
      modules.close();
      await cp.close();
    }
  });

  describe('hostile input', () => {
    it('survives corrupted copies of real ELF files: opening, symbols, lines and CFI end without a crash', () => {
      const original = fs.readFileSync(debuggee);
      let n = 0;
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(original.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 40 }), fc.option(fc.nat(original.length)), (flips, cut) => {
          const bytes = Buffer.from(original);
          for (const [at, v] of flips) bytes[at] = v;
          const file = path.join(tmp, `corrupt-${n++}`);
          fs.writeFileSync(file, cut === null ? bytes : bytes.subarray(0, cut));
          const modules = new ElfModules({ debugRoot: tmp });
          try {
            const m = modules.get(file);
            if ('problem' in m) return;
            for (const addr of [0x1000, 0x1129, 0x11c0, 0x1200, 0x1250, 0xffffffff]) {
              m.symbols().lookup(addr);
              m.lines()?.lookup(addr);
              m.cfi()?.rowAt(BigInt(addr));
            }
          } finally {
            modules.close();
            fs.rmSync(file, { force: true });
          }
        }),
        { numRuns: 150, seed: 15 },
      );
    });

    it('survives random bytes after an ELF header, and random line programs and CFA expressions', async () => {
      const head = fs.readFileSync(debuggee).subarray(0, 64);
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), (tail) => {
          const file = path.join(tmp, 'random.elf');
          fs.writeFileSync(file, Buffer.concat([head, tail]));
          try {
            const elf = ElfFile.open(file);
            try {
              SymbolTable.of(elf).lookup(0x1139);
              CallFrameInfo.of(elf)?.rowAt(0x1139n);
              elf.buildId();
            } finally {
              elf.close();
            }
          } catch (e) {
            assert.ok((e as Error).name === 'ElfError', `an ElfError, not ${(e as Error).stack}`);
          }
        }),
        { numRuns: 200, seed: 15 },
      );
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
          const t = new LineTable(bytes);
          t.lookup(0x1139);
        }),
        { numRuns: 300, seed: 15 },
      );
      // A line program whose header says 2^32-1 entries, one whose length says 2^64 bytes.
      new LineTable(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 5, 0]));
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), async (expr) => {
          try {
            await evaluate(expr, { reg: () => 0x1000n, read: async (a) => a });
          } catch (e) {
            assert.ok(['DecodeError', 'UnknownValue'].includes((e as Error).name), (e as Error).stack);
          }
        }),
        { numRuns: 500, seed: 15 },
      );
      // A branch back to itself ends after its step limit.
      await assert.rejects(evaluate(Uint8Array.from([0x2f, 0xfd, 0xff]), { reg: () => 0n, read: async () => 0n }), /too long/);
    });

    let libcFns: { addr: number; name: string }[] | undefined;
    /** libc's text mapped at a made-up base, and a stack of `stack` bytes. */
    function libcSpace(stack: Uint8Array, stackAt: bigint, modules: ElfModules) {
      const elf = ElfFile.open(LIBC);
      const text = elf.segments.find((p) => p.type === PT_LOAD && p.flags & 1)!;
      elf.close();
      const base = 0x7f0000000000n;
      const start = base + text.vaddr - BigInt(text.offset % PAGE);
      const mem = memoryOf([
        { start, size: Math.ceil((text.filesz + (text.offset % PAGE)) / PAGE) * PAGE, path: LIBC, offset: BigInt(text.offset - (text.offset % PAGE)) },
        { start: stackAt, size: stack.length, bytes: stack, kind: 'stack', path: '[stack]' },
      ]);
      libcFns ??= elfFunctions(LIBC, true).filter((f) => BigInt(f.addr) >= text.vaddr && BigInt(f.addr) < text.vaddr + BigInt(text.filesz));
      return { space: new ProcessSpace(mem, modules), base, libcFns };
    }

    it('ends on garbage stack memory, within the frame limit, from any libc function', async () => {
      const stackAt = 0x7ffd00000000n;
      const modules = new ElfModules(); // libc opened once for all runs, as the editor does
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 8 * PAGE, maxLength: 8 * PAGE }), fc.nat(), fc.nat(8 * PAGE - 8), fc.nat(8 * PAGE - 8), async (stack, fn, sp, bp) => {
          const { space, base, libcFns } = libcSpace(stack, stackAt, modules);
          const f = libcFns[fn % libcFns.length];
          const t0 = performance.now();
          const r = await unwind(space, { rip: base + BigInt(f.addr) + 4n, rsp: stackAt + BigInt(sp & ~7), rbp: stackAt + BigInt(bp & ~7) });
          assert.ok(r.frames.length >= 1 && r.frames.length <= MAX_FRAMES);
          assert.ok(r.stop.message.length > 0);
          assert.ok(performance.now() - t0 < 5000);
        }),
        { numRuns: 60, seed: 15 },
      );
      modules.close();
    });

    it('stops at a frame-pointer loop, and at the frame limit on an endless chain', async () => {
      const stackAt = 0x7ffd00000000n;
      const words = new BigUint64Array((64 * PAGE) / 8);
      // An endless climbing chain: each frame's saved rbp is the next frame, its return address a pc in no file.
      for (let i = 0; i + 3 < words.length; i += 2) {
        words[i] = stackAt + BigInt((i + 2) * 8);
        words[i + 1] = 0x100010n + BigInt(i);
      }
      const code = { start: 0x100000n, size: 16 * PAGE, kind: 'anon_private' }; // JIT-like code: no file, no CFI
      let mem = memoryOf([code, { start: stackAt, size: words.byteLength, bytes: new Uint8Array(words.buffer), kind: 'stack' }]);
      const modules = new ElfModules();
      let r = await unwind(new ProcessSpace(mem, modules), { rip: 0x100010n, rsp: stackAt, rbp: stackAt });
      assert.equal(r.stop.reason, 'depth');
      assert.equal(r.frames.length, MAX_FRAMES);
      assert.ok(r.frames.slice(1).every((f) => f.method === 'frame-pointer'));

      // A frame whose saved rbp points at itself.
      words.fill(0n);
      words[0] = stackAt;
      words[1] = 0x100020n;
      mem = memoryOf([code, { start: stackAt, size: words.byteLength, bytes: new Uint8Array(words.buffer), kind: 'stack' }]);
      r = await unwind(new ProcessSpace(mem, modules), { rip: 0x100010n, rsp: stackAt, rbp: stackAt });
      assert.ok(r.stop.reason === 'loop' || r.stop.reason === 'no-unwind-info', `${r.stop.reason}: ${r.stop.message}`);
      assert.ok(r.frames.length <= 3);

      // A stack whose pages were not dumped: says so.
      mem = memoryOf([code, { start: stackAt, size: PAGE, kind: 'stack', path: '[stack]' }]);
      r = await unwind(new ProcessSpace(mem, modules), { rip: 0x100010n, rsp: stackAt, rbp: stackAt + 64n });
      assert.equal(r.stop.reason, 'memory');
      assert.match(r.stop.message, /not dumped/);
      modules.close();
    });

    it('does not use a mapped file that changed since the checkpoint, and says why', async () => {
      const copy = path.join(tmp, 'changed-debuggee');
      fs.copyFileSync(debuggee, copy);
      const st = fs.statSync(copy, { bigint: true });
      const entry = { index: 0 };
      const vma: VmaInfo<RecordRef> = {
        entry,
        start: 0x555555554000n,
        end: 0x555555556000n,
        prot: 5,
        flags: 0,
        kind: 'file_private',
        path: copy,
        offset: 0n,
        file: { inode: st.ino, size: st.size, mtimeNs: st.mtimeNs - 1n },
      };
      const mem = new MemoryMap<RecordRef>(new BufferByteSource(new Uint8Array(0)), PAGE, [vma], []);
      const modules = new ElfModules();
      const space = new ProcessSpace(mem, modules);
      const m = space.moduleAt(0x555555555139n)!;
      assert.equal(m.module, undefined);
      assert.match(m.problem!, /changed since the checkpoint \(its mtime differs\)/);
      // The same file, as recorded: used.
      vma.file!.mtimeNs = st.mtimeNs;
      const again = new ProcessSpace(mem, modules).moduleAt(0x555555555139n)!;
      assert.equal(again.identity, 'checked');
      assert.ok(again.module);
      // A build-id recorded by the image vouches for (or against) the file.
      const byId = new ProcessSpace(mem, modules, { buildIdOf: () => 'ffff' }).moduleAt(0x555555555139n)!;
      assert.match(byId.problem!, /another build-id/);
      vma.file!.mtimeNs = st.mtimeNs - 1n; // touched, but the same build: trusted by its build-id
      const same = ElfFile.open(copy);
      const id = same.buildId()!;
      same.close();
      const vouched = new ProcessSpace(mem, modules, { buildIdOf: () => id }).moduleAt(0x555555555139n)!;
      assert.equal(vouched.identity, 'build-id');
      assert.ok(vouched.module);
      // A cache that keeps one file closes the other; the space opens it again when asked.
      vma.file!.mtimeNs = st.mtimeNs;
      const one = new ElfModules({ maxFiles: 1 });
      const space1 = new ProcessSpace(mem, one);
      const first = space1.moduleAt(0x555555555139n)!.module!;
      one.get(LIBC);
      assert.ok(first.closed);
      const reopened = space1.moduleAt(0x555555555139n)!.module!;
      assert.ok(!reopened.closed && reopened.symbols().lookup(0x1139));
      one.close();
      fs.rmSync(copy);
      const gone = new ProcessSpace(mem, new ElfModules()).moduleAt(0x555555555139n)!;
      assert.equal(gone.problem, 'the file is gone');
      modules.close();
    });
  });
});
