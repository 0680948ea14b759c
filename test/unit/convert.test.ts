// Issue 13, must-hold 6, on the real CRIU fixtures: `ckpt-inspect convert` of each makes an image
// that `verify` calls sound, whose threads (every register, the signal mask, the name), VMAs and
// page hashes equal what the CRIU reader reads from the CRIU images directly (through
// src/checkpoint's model); what it leaves out is listed and recorded. `export-criu` of a converted
// image reads back, through the CRIU reader, as the same checkpoint. Damaged input is refused
// with the file and the offset.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Checkpoint, CkptCheckpoint, compareModels, openCheckpoint, REGISTER_NAMES } from '../../src/checkpoint';
import { CheckpointImage, DiffNode, RecordType, xxh64 } from '../../src/image';
import { messageType } from '../../src/criu/messages';
import { writeBigCriu } from '../support/bigCriu';
import { copyFixture, criuFixture, readImage, writeImage } from '../support/criuFixtures';
import { runInspect } from '../support/inspect';

const FIXTURES = ['single', 'threads', 'tree', 'leave-running-twice/a', 'leave-running-twice/b', 'podman/podman.tar', 'podman/podman.tar.gz', 'podman/podman-gzip.tar.gz'];
const PAGE = 4096;

function flatten(nodes: DiffNode[]): DiffNode[] {
  return nodes.flatMap((n) => [n, ...flatten(n.children)]);
}

/** VMAs with a [vvar_vclock] merged into the [vvar] before it, as CRIU 4.2 saves them. */
function mergeVvar<T extends { start: bigint; end: bigint; kind: string }>(list: T[]): T[] {
  const out: T[] = [];
  for (const v of list) {
    const last = out[out.length - 1];
    if (v.kind === 'vvar_vclock' && last?.kind === 'vvar' && last.end === v.start) out[out.length - 1] = { ...last, end: v.end };
    else out.push(v);
  }
  return out;
}

/** Every page hash of a .ckpt image's process, by address. */
async function pageHashes(image: CheckpointImage, proc: number): Promise<Map<bigint, bigint>> {
  const out = new Map<bigint, bigint>();
  const mem = await image.memory(image.records[proc]);
  for (const s of mem.segments) {
    const pm = await image.decodeAs(s.pagemap, 'pagemap');
    const dv = new DataView(pm.pageHashes.buffer, pm.pageHashes.byteOffset, pm.pageHashes.length);
    for (let a = s.start, i = s.firstPage; a < s.end; a += BigInt(PAGE), i++) out.set(a, dv.getBigUint64(i * 8, true));
  }
  return out;
}

describe('ckpt-inspect convert: CRIU checkpoints as .ckpt images (issue 13, must-hold 6)', function () {
  this.timeout(60000);
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const name of FIXTURES) {
    it(`${name}: a sound image with the same threads, VMAs and page hashes`, async () => {
      const out = path.join(tmp, `${name.replace(/\//g, '_')}.ckpt`);
      const r = await runInspect('convert', criuFixture(name), '-o', out);
      assert.strictEqual(r.code, 0, r.err);
      assert.strictEqual(fs.statSync(out).mode & 0o777, 0o600);
      assert.deepStrictEqual(
        fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')),
        [],
        'no temp file is left',
      );
      const v = await runInspect('verify', out);
      assert.strictEqual(v.code, 0, v.out);

      const criu = await openCheckpoint(criuFixture(name)),
        ckpt = await openCheckpoint(out);
      try {
        assert.ok(ckpt instanceof CkptCheckpoint);
        const A = await criu.processes(),
          B = await ckpt.processes();
        assert.deepStrictEqual(
          B.map((p) => p.pid),
          A.map((p) => p.pid),
        );
        for (const [i, a] of A.entries()) {
          const b = B[i];
          assert.deepStrictEqual(
            b.threads.map((t) => t.tid),
            a.threads.map((t) => t.tid),
            `threads of ${a.pid}`,
          );
          for (const [k, ta] of a.threads.entries()) {
            const tb = b.threads[k];
            for (const reg of REGISTER_NAMES) assert.strictEqual(tb.regs[reg], ta.regs[reg], `thread ${ta.tid} ${reg}`);
            assert.strictEqual(tb.sigmask, ta.sigmask, `thread ${ta.tid} sigmask`);
            assert.strictEqual(tb.comm, ta.comm);
          }
          assert.deepStrictEqual(b.sigactions, a.sigactions, `signal handlers of ${a.pid}`);
          assert.deepStrictEqual(b.cmdline, a.cmdline);
          assert.deepStrictEqual(b.rlimits, a.rlimits);
          const memA = await criu.memory(a.record),
            memB = await ckpt.memory(b.record);
          const vma = (x: { start: bigint; end: bigint; prot: number; flags: number; kind: string; path: string; offset: bigint }) => ({
            start: x.start,
            end: x.end,
            prot: x.prot,
            flags: x.flags,
            kind: x.kind,
            path: x.path,
            offset: x.offset,
          });
          // CRIU 4.2 saves Linux 6.x's [vvar] and [vvar_vclock] as one area; the image has them as this kernel lays them out.
          const split = memA.vmas.some((x) => x.kind === 'vvar') && !memA.vmas.some((x) => x.kind === 'vvar_vclock') && memB.vmas.some((x) => x.kind === 'vvar_vclock');
          if (split) assert.match(r.out, new RegExp(`note: process ${a.pid}: CRIU's one VVAR area at 0x[0-9a-f]+ is split into \\[vvar\\] and \\[vvar_vclock\\]`));
          assert.deepStrictEqual(mergeVvar(memB.vmas.map(vma)), memA.vmas.map(vma), `VMAs of ${a.pid}`);
          // Every page CRIU dumped inside a VMA restore maps has its XXH64 in the image, and no other page is there.
          const hashes = await pageHashes(ckpt.image, b.record);
          const mapped = memA.vmas.filter((x) => !['vdso', 'vvar', 'vvar_vclock', 'vsyscall'].includes(x.kind));
          let n = 0;
          for (const s of memA.segments) {
            const bytes = await criu.source.read(s.fileOffset, Number(s.end - s.start));
            for (let at = 0; at < bytes.length; at += PAGE) {
              const addr = s.start + BigInt(at);
              if (!mapped.some((x) => addr >= x.start && addr < x.end)) continue;
              assert.strictEqual(hashes.get(addr), xxh64(bytes.subarray(at, at + PAGE)), `page ${addr.toString(16)} of ${a.pid}`);
              n++;
            }
          }
          assert.ok(n > 0);
          assert.strictEqual(hashes.size, n, `the image holds exactly the ${n} pages CRIU dumped`);
        }
        // And through the comparison by meaning: no thread, VMA or page differs, but the pages
        // CRIU saved of the vdso, which restore takes from the kernel that restores (and says so).
        const diff = await compareModels(criu, ckpt);
        const vdsoPagesOnly = (x: DiffNode) => x.kind === 'vma' && x.vma?.a?.kind === 'vdso' && x.aspects?.join() === 'pages';
        const vvarSplit = (x: DiffNode) => x.kind === 'vma' && ((x.vma?.a?.kind === 'vvar' && x.aspects?.join() === 'resized') || (x.change === 'added' && x.vma?.b?.kind === 'vvar_vclock'));
        const differing = flatten(diff.nodes).filter((x) => (x.kind === 'thread' || x.kind === 'vma') && !vdsoPagesOnly(x) && !vvarSplit(x));
        assert.deepStrictEqual(
          differing.map((x) => x.label),
          [],
        );
        if (flatten(diff.nodes).some(vdsoPagesOnly)) assert.match(r.out, /note: the \d+ pages of the vdso \(and vvar\) that CRIU saved are not kept/);
        assert.deepStrictEqual(diff.problems, []);
      } finally {
        await criu.close();
        await ckpt.close();
      }
    });
  }

  it('says what it leaves out, and records each as an unsupported record', async () => {
    const out = path.join(tmp, 'podman-left-out.ckpt');
    const r = await runInspect('convert', criuFixture('podman/podman.tar'), '-o', out);
    assert.strictEqual(r.code, 0, r.err);
    assert.match(r.out, /left out \(\d+, each an unsupported record in the image\):/);
    assert.match(r.out, /process 1: seccomp mode 2/);
    assert.match(r.out, /CRIU image mountpoints-13\.img/);
    const n = Number(/left out \((\d+)/.exec(r.out)![1]);
    const img = await CheckpointImage.open(out);
    try {
      assert.strictEqual(img.ofType(RecordType.UNSUPPORTED).length, n);
      assert.ok(img.head.flags & 8, 'the head says has_unsupported');
    } finally {
      await img.close();
    }
  });

  it('lists the pages of shared anonymous memory (pagemap-shmem) as left out, not as converted', async () => {
    const fx = copyFixture('single');
    try {
      fs.copyFileSync(path.join(fx.dir, 'pagemap-28660.img'), path.join(fx.dir, 'pagemap-shmem-5.img'));
      const r = await runInspect('convert', fx.dir, '-o', path.join(tmp, 'shmem.ckpt'));
      assert.strictEqual(r.code, 0, r.err);
      assert.match(r.out, /checkpoint: CRIU image pagemap-shmem-5\.img: the pages of shared anonymous memory are not converted/);
    } finally {
      fx.remove();
    }
  });

  it('a zombie child becomes a zombie record of its parent, with its exit status', async () => {
    const fx = copyFixture('tree');
    try {
      const entry = (type: string, v: Record<string, unknown>) => Buffer.from(messageType(type).encode(v).finish());
      const pstree = readImage(path.join(fx.dir, 'pstree.img'));
      pstree.entries.push({ message: entry('pstree_entry', { pid: 28790, ppid: 28777, pgid: 28777, sid: 28777, threads: [28790] }), extra: Buffer.alloc(0) });
      writeImage(path.join(fx.dir, 'pstree.img'), pstree);
      const core = readImage(path.join(fx.dir, 'core-28781.img'));
      writeImage(path.join(fx.dir, 'core-28790.img'), {
        head: core.head,
        entries: [{ message: entry('core_entry', { mtype: 1, tc: { task_state: 6, exit_code: 0x300, comm: 'fx-zombie' } }), extra: Buffer.alloc(0) }],
      });
      const out = path.join(tmp, 'zombie.ckpt');
      const r = await runInspect('convert', fx.dir, '-o', out);
      assert.strictEqual(r.code, 0, r.err);
      assert.match(r.out, /: 3 processes, 3 threads/);
      assert.strictEqual((await runInspect('verify', out)).code, 0);
      const img = await CheckpointImage.open(out);
      try {
        const [z] = img.ofType(RecordType.ZOMBIE);
        const v = await img.decodeAs(z, 'zombie');
        assert.deepStrictEqual([v.pid, v.pgid, v.sid, v.exitStatus, v.comm.value], [28790, 28777, 28777, 0x300, 'fx-zombie']);
        assert.strictEqual((await img.decodeAs(img.parent(z)!, 'process')).pid, 28777);
      } finally {
        await img.close();
      }
      // And back: export-criu writes it as CRIU does, a pstree entry whose core says ZOMBIE.
      const dir = path.join(tmp, 'zombie-criu');
      assert.strictEqual((await runInspect('export-criu', out, '-o', dir)).code, 0);
      const back = await openCheckpoint(dir);
      try {
        const z = (await back.processes()).find((p) => p.pid === 28790);
        assert.deepStrictEqual([z?.ppid, z?.state, z?.comm], [28777, 'zombie', 'fx-zombie']);
      } finally {
        await back.close();
      }
    } finally {
      fx.remove();
    }
  });

  it('streams: 512 MiB of pages convert with memory that does not grow with them', async function () {
    this.timeout(180000);
    const big = writeBigCriu(0.5);
    try {
      const out = path.join(tmp, 'big.ckpt');
      // In a process of its own, whose peak RSS is the converter's (page data never held whole).
      const code = `const { convertCriuToCkpt } = require(${JSON.stringify(path.resolve(__dirname, '../../src/convert/criuToCkpt'))});
        convertCriuToCkpt(${JSON.stringify(big.dir)}, ${JSON.stringify(out)}).then((r) => console.log(JSON.stringify({ pages: r.pages, maxRssKiB: process.resourceUsage().maxRSS })));`;
      const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', code], { encoding: 'utf8', cwd: path.resolve(__dirname, '../..'), timeout: 170000 });
      assert.strictEqual(r.status, 0, r.stderr);
      const { pages, maxRssKiB } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { pages: number; maxRssKiB: number };
      assert.ok(pages >= (512 * 1024 * 1024) / PAGE, `${pages} pages`);
      assert.ok(fs.statSync(out).size > 512 * 1024 * 1024);
      assert.ok(maxRssKiB < 300 * 1024, `peak RSS ${Math.round(maxRssKiB / 1024)} MiB for 512 MiB of pages`);
      assert.strictEqual((await runInspect('verify', out)).code, 0);
    } finally {
      big.remove();
    }
  });

  it('refuses a damaged checkpoint, naming the file and the offset, and writes nothing', async () => {
    const fx = copyFixture('single');
    try {
      fs.truncateSync(path.join(fx.dir, 'pages-1.img'), 40 * PAGE);
      const out = path.join(tmp, 'damaged.ckpt');
      const r = await runInspect('convert', fx.dir, '-o', out);
      assert.strictEqual(r.code, 2);
      assert.match(r.err, /^ckpt-inspect: .*pagemap-28660\.img, entry #\d+ at offset 0x[0-9a-f]+: .*runs past the pages file\n$/);
      assert.ok(!fs.existsSync(out));
      fs.writeFileSync(path.join(fx.dir, 'core-28660.img'), fs.readFileSync(path.join(fx.dir, 'core-28660.img')).subarray(0, 100));
      const r2 = await runInspect('convert', fx.dir, '-o', out);
      assert.strictEqual(r2.code, 2);
      assert.match(r2.err, /core-28660\.img, entry #0 at offset 0x8: .*truncated/);
      assert.deepStrictEqual(
        fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')),
        [],
      );
    } finally {
      fx.remove();
    }
  });

  it('usage: a .ckpt image is no CRIU checkpoint, and -o is needed', async () => {
    const out = path.join(tmp, 'single-for-usage.ckpt');
    assert.strictEqual((await runInspect('convert', criuFixture('single'), '-o', out)).code, 0);
    const r = await runInspect('convert', out, '-o', path.join(tmp, 'x.ckpt'));
    assert.strictEqual(r.code, 2);
    assert.match(r.err, /not a CRIU checkpoint/);
    assert.strictEqual((await runInspect('convert', criuFixture('single'))).code, 2);
  });
});

describe('ckpt-inspect export-criu: .ckpt images as CRIU image folders (issue 13)', function () {
  this.timeout(60000);
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'export-criu-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function same(a: Checkpoint, b: Checkpoint): Promise<DiffNode[]> {
    const diff = await compareModels(a, b);
    assert.deepStrictEqual(diff.problems, []);
    return flatten(diff.nodes);
  }

  // A tree with pipes (28 bytes buffered), a socketpair (26 bytes queued) and three processes:
  // CRIU -> .ckpt -> CRIU comes back equal by meaning, down to the page bytes.
  for (const name of ['tree', 'threads']) {
    it(`${name}: converted, then exported, reads back through the CRIU reader as the same checkpoint`, async () => {
      const image = path.join(tmp, `${name}.ckpt`),
        dir = path.join(tmp, `${name}-criu`);
      assert.strictEqual((await runInspect('convert', criuFixture(name), '-o', image)).code, 0);
      const r = await runInspect('export-criu', image, '-o', dir);
      assert.strictEqual(r.code, 0, r.err);
      assert.strictEqual(fs.statSync(dir).mode & 0o777, 0o700);
      const orig = await openCheckpoint(criuFixture(name)),
        img = await openCheckpoint(image),
        back = await openCheckpoint(dir);
      try {
        assert.strictEqual(back.format, 'criu');
        assert.ok((await back.verify()).ok);
        assert.deepStrictEqual(
          (await same(img, back)).map((n) => n.label),
          [],
          'the export equals the image it was made from',
        );
        // Against the CRIU original: the same, but what the .ckpt format has no place for.
        const nodes = await same(orig, back);
        const expected = (n: DiffNode) =>
          (n.vma?.a?.kind === 'vdso' && n.aspects?.join() === 'pages') || (n.vma?.a?.kind === 'vvar' && n.aspects?.join() === 'resized') || (n.change === 'added' && n.vma?.b?.kind === 'vvar_vclock');
        assert.deepStrictEqual(
          nodes.filter((n) => n.kind === 'thread' || (n.kind === 'vma' && !expected(n))).map((n) => n.label),
          [],
        );
        const fdsA = (await orig.processes()).flatMap((p) => p.fds.map((f) => `${p.pid}:${f.fd}:${f.file.kind}:${f.file.pipe?.buffered ?? ''}:${f.file.socket?.queued ?? ''}`));
        const fdsB = (await back.processes()).flatMap((p) => p.fds.map((f) => `${p.pid}:${f.fd}:${f.file.kind}:${f.file.pipe?.buffered ?? ''}:${f.file.socket?.queued ?? ''}`));
        assert.deepStrictEqual(fdsB, fdsA, 'descriptors, pipe contents and socket queues');
      } finally {
        await orig.close();
        await img.close();
        await back.close();
      }
    });
  }

  it('refuses a folder that exists and is not empty, and a damaged image with its record and offset', async () => {
    const image = path.join(tmp, 'single.ckpt');
    assert.strictEqual((await runInspect('convert', criuFixture('single'), '-o', image)).code, 0);
    const full = fs.mkdtempSync(path.join(tmp, 'full-'));
    fs.writeFileSync(path.join(full, 'x'), 'x');
    const r = await runInspect('export-criu', image, '-o', full);
    assert.strictEqual(r.code, 2);
    assert.match(r.err, /exists and is not an empty folder/);
    const bytes = fs.readFileSync(image);
    bytes[200] ^= 0xff; // inside the first records' payloads
    const bad = path.join(tmp, 'bad.ckpt');
    fs.writeFileSync(bad, bytes);
    const r2 = await runInspect('export-criu', bad, '-o', path.join(tmp, 'bad-criu'));
    assert.strictEqual(r2.code, 2);
    assert.match(r2.err, /^ckpt-inspect: .*bad\.ckpt: .*record #\d+ .*offset 0x[0-9a-f]+/);
    assert.ok(!fs.existsSync(path.join(tmp, 'bad-criu')));
    // A damaged page (no checksum covers page data but its hash in the pagemap) is found as it is copied.
    const img = await CheckpointImage.open(image);
    const pages = img.ofType(RecordType.PAGES)[0];
    await img.close();
    const paged = fs.readFileSync(image);
    paged[pages.payloadOffset + 5] ^= 0xff;
    const badPage = path.join(tmp, 'bad-page.ckpt');
    fs.writeFileSync(badPage, paged);
    const r3 = await runInspect('export-criu', badPage, '-o', path.join(tmp, 'bad-page-criu'));
    assert.strictEqual(r3.code, 2);
    assert.match(
      r3.err,
      new RegExp(
        `record #${pages.index} PAGES \\(tag ${pages.tag}\\), file offset 0x${pages.payloadOffset.toString(16)}: cannot export a damaged image: the page at 0x[0-9a-f]+ does not match its hash`,
      ),
    );
    assert.ok(!fs.existsSync(path.join(tmp, 'bad-page-criu')));
    assert.deepStrictEqual(
      fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')),
      [],
      'no temp folder is left',
    );
  });
});
