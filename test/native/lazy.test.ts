// Issue 12: `ckpt restore --lazy` maps the dumped pages of private areas from the image instead
// of copying them. The restored process must run at once with its pages not yet in memory (its
// RSS far below its data), prove its memory itself once it touches it, never write the image
// (which stays byte for byte as it was while a process that rewrites all of its memory runs from
// it), and an image truncated before the restore is refused before anything runs (exit 6, no
// process), not killed by SIGBUS later. The time to running is printed beside a copying restore.
// The mmaps run in the new process as one table (inject_batch, a few ptrace stops for all of
// them): a table of several batches restores intact, a failing entry is named by its run, and a
// failure or a SIGKILL of ckpt while the table runs leaves no process behind.
// CKPT_TEST_LAZY_MIB sets the size of the heap-like process (default 256; 1024 for the figure).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointImage, Ckpt, RecordType } from '../../src/image';
import { buildTargets, EXIT, identities, Lab, lines, sleep, target, waitFor } from './helpers';
import { assertIntact, startSelfCheck, TickReader } from './selfcheck';

const MIB = Number(process.env.CKPT_TEST_LAZY_MIB ?? 256);

function rssKiB(pid: number): number {
  const m = /^Rss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return m ? Number(m[1]) : -1;
}

/** The runs restore --lazy maps (src/native/lazy.c, mappable()), in the order of its table:
 * private areas that are not executable, grow down, wipe on fork or take huge pages. */
async function mappableRuns(image: string): Promise<{ pagemap: number; run: number; vaddr: bigint; npages: number }[]> {
  const img = await CheckpointImage.open(image);
  try {
    const vmas = await Promise.all(img.ofType(RecordType.VMA).map((r) => img.decodeAs(r, 'vma')));
    const out: { pagemap: number; run: number; vaddr: bigint; npages: number }[] = [];
    const kinds: number[] = [Ckpt.VmaKind.ANON_PRIVATE, Ckpt.VmaKind.HEAP, Ckpt.VmaKind.FILE_PRIVATE];
    const notMapped = 1 | 2 | 32 | 256; // shared, grows_down, wipe_on_fork, huge_page
    const pagemaps = img.ofType(RecordType.PAGEMAP);
    for (let c = 0; c < pagemaps.length; c++) {
      const pm = await img.decodeAs(pagemaps[c], 'pagemap');
      pm.runs.forEach((run, i) => {
        const v = vmas.find((x) => x.start <= run.vaddr && run.vaddr < x.end);
        if (v && kinds.includes(v.kind) && !(v.flags & notMapped) && !(v.prot & 4)) out.push({ pagemap: c, run: i, vaddr: run.vaddr, npages: run.npages });
      });
    }
    return out;
  } finally {
    await img.close();
  }
}

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('native: restore --lazy', function () {
  this.timeout(300000);
  const lab = new Lab();
  before(() => buildTargets());
  after(() => lab.cleanup());

  for (const id of identities()) {
    it(`as ${id.name}: a ${MIB} MiB heap-like process runs at once from the image and finds its memory intact`, async () => {
      const dir = lab.dir(id);
      const out = path.join(dir, 'heap.txt');
      const t = lab.startTarget(id, [target('heaplike'), out, String(MIB)]);
      const first = await waitFor('heaplike to fill its heap', () => lines(out).find((l) => l.startsWith('s ')), 120000);
      const image = path.join(dir, 'heap.ckpt');
      const r = await lab.dump(id, t.pid, image, ['--kill', '--no-fsync']);
      assert.equal(r.code, 0, r.stderr);
      const before = sha(image);
      // each restored process writes at the offset its fd had at the dump: over the last one's line
      const dumped = fs.readFileSync(out);

      const verified = async (pid: number) => {
        const n = lines(out).filter((l) => l.startsWith('v ')).length;
        process.kill(pid, 'SIGUSR1');
        return (await waitFor(`process ${pid} to check its memory`, () => lines(out).filter((l) => l.startsWith('v '))[n], 60000)).split(' ')[1];
      };

      const t0 = performance.now();
      const copy = await lab.restore(id, image);
      const copyMs = performance.now() - t0;
      assert.equal(copy.code, EXIT.ok, copy.stderr);
      assert.equal(await verified(copy.pid!), first.split(' ')[1]);
      process.kill(copy.pid!, 'SIGKILL');
      await waitFor('the copy to go', () => !fs.existsSync(`/proc/${copy.pid}`) || /State:\s+Z/.test(fs.readFileSync(`/proc/${copy.pid}/status`, 'utf8')));

      fs.writeFileSync(out, dumped);
      const t1 = performance.now();
      const lazy = await lab.restore(id, image, ['--stdio=null', '--lazy']);
      const lazyMs = performance.now() - t1;
      assert.equal(lazy.code, EXIT.ok, lazy.stderr);
      const pid = lazy.pid!;
      const rss = rssKiB(pid);
      const maps = fs
        .readFileSync(`/proc/${pid}/maps`, 'utf8')
        .split('\n')
        .filter((l) => l.endsWith(image));
      console.log(`      ${MIB} MiB: restore ${copyMs.toFixed(0)} ms, --lazy ${lazyMs.toFixed(0)} ms (RSS then ${(rss / 1024).toFixed(1)} MiB, ${maps.length} areas mapped from the image)`);
      assert.ok(maps.length > 0, 'areas mapped from the image');
      assert.ok(rss < (MIB * 1024) / 4, `RSS ${rss} KiB right after a lazy restore of ${MIB} MiB: the pages were read`);
      assert.ok(
        maps.every((l) => / r[w-][x-]p /.test(l)),
        `private mappings only:\n${maps.join('\n')}`,
      );
      assert.equal(await verified(pid), first.split(' ')[1]);
      assert.ok(rssKiB(pid) > (MIB * 1024) / 2, 'the pages came in once it read them');
      assert.equal(sha(image), before, 'the image is unchanged');
    });
  }

  it('a process that rewrites all of its memory over four threads runs from the image intact, and the image stays as it was', async () => {
    const id = identities()[identities().length - 1];
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir, 32);
    const image = path.join(dir, 'sc.ckpt');
    const r = await lab.dump(id, sc.pid, image, ['--kill']);
    assert.equal(r.code, 0, r.stderr);
    const before = sha(image);
    const from = fs.statSync(sc.out).size;
    const rs = await lab.restore(id, image, ['--stdio=null', '--lazy']);
    assert.equal(rs.code, EXIT.ok, rs.stderr);
    await assertIntact(rs.pid!, new TickReader(sc.out, from), sc.pagesPerThread, 'restored --lazy');
    await assertIntact(rs.pid!, new TickReader(sc.out, fs.statSync(sc.out).size), sc.pagesPerThread, 'restored --lazy, a second pass');
    assert.equal(sha(image), before, 'its writes went to its own pages, not to the image');
  });

  it('a compressed image restores with --lazy too (its pages copied)', async () => {
    const id = identities()[0];
    const dir = lab.dir(id);
    const out = path.join(dir, 'heap.txt');
    const t = lab.startTarget(id, [target('heaplike'), out, '16']);
    const first = await waitFor('heaplike to fill its heap', () => lines(out).find((l) => l.startsWith('s ')), 60000);
    const image = path.join(dir, 'z.ckpt');
    const r = await lab.dump(id, t.pid, image, ['--kill', '--compress']);
    assert.equal(r.code, 0, r.stderr);
    const rs = await lab.restore(id, image, ['--stdio=null', '--lazy']);
    assert.equal(rs.code, EXIT.ok, rs.stderr);
    process.kill(rs.pid!, 'SIGUSR1');
    const v = await waitFor('its check', () => lines(out).find((l) => l.startsWith('v ')), 30000);
    assert.equal(v.split(' ')[1], first.split(' ')[1]);
  });

  describe('its table of mmaps, run by the new process', () => {
    // 8 MiB of heap and an area of 600 one-page runs: more entries than one batch holds (256)
    const SPARSE = 600;
    let image = '';
    let first = '';
    let out = '';
    const id = identities()[0];
    before(async () => {
      const dir = lab.dir(id);
      out = path.join(dir, 'sparse.txt');
      const t = lab.startTarget(id, [target('heaplike'), out, '8', String(SPARSE)]);
      first = (await waitFor('heaplike to fill its memory', () => lines(out).find((l) => l.startsWith('s ')), 60000)).split(' ')[1];
      image = path.join(dir, 'sparse.ckpt');
      const r = await lab.dump(id, t.pid, image, ['--kill', '--no-fsync']);
      assert.equal(r.code, 0, r.stderr);
    });

    /** Ends once no process of the restore is left (the reaper reaped them all), or fails. */
    const nothingLeft = async (reaperDone: Promise<unknown>, what: string) => {
      const left = await Promise.race([reaperDone.then(() => false), sleep(10000).then(() => true)]);
      assert.ok(!left, `${what}: a process of the restore was left behind`);
    };

    it('several batches of runs map, and the process finds its memory intact', async () => {
      assert.ok((await mappableRuns(image)).length > 2 * 256, 'the table fills more than two batches');
      const dumped = fs.readFileSync(out);
      const rs = await lab.restore(id, image, ['--stdio=null', '--lazy']);
      assert.equal(rs.code, EXIT.ok, rs.stderr);
      const mapped = fs
        .readFileSync(`/proc/${rs.pid}/maps`, 'utf8')
        .split('\n')
        .filter((l) => l.endsWith(image)).length;
      assert.ok(mapped >= SPARSE, `${mapped} areas mapped from the image`);
      process.kill(rs.pid!, 'SIGUSR1');
      const v = await waitFor('its check', () => lines(out).find((l) => l.startsWith('v ')), 30000);
      assert.equal(v.split(' ')[1], first);
      process.kill(rs.pid!, 'SIGKILL');
      await nothingLeft(rs.reaperDone, 'after the kill');
      fs.writeFileSync(out, dumped);
    });

    it('an mmap that fails in the second batch is named by its run, and nothing is left', async () => {
      const runs = await mappableRuns(image);
      const n = 300; // the 300th mmap of the table: in its second batch
      const want = runs[n - 1];
      const rs = await lab.restore(id, image, ['--stdio=null', '--lazy'], ['env', `CKPT_TEST_FAULT=fail:@lazy-map#${n}`]);
      assert.equal(rs.code, EXIT.fail, rs.stderr);
      assert.equal(rs.pid, undefined);
      const m = /restore --lazy: cannot map run (\d+) of pagemap #(\d+) \((\d+) KiB at 0x([0-9a-f]+), from byte \d+ of the image\): Bad file descriptor/.exec(rs.stderr);
      assert.ok(m, rs.stderr);
      assert.deepEqual(
        { run: Number(m[1]), pagemap: Number(m[2]), kib: Number(m[3]), vaddr: BigInt(`0x${m[4]}`) },
        { run: want.run, pagemap: want.pagemap, kib: want.npages * 4, vaddr: want.vaddr },
        'the run of the failing entry',
      );
      await nothingLeft(rs.reaperDone, 'after the failure');
    });

    it('SIGKILL of ckpt while the new process runs the table leaves nothing behind', async () => {
      const rs = await lab.restore(id, image, ['--stdio=null', '--lazy'], ['env', 'CKPT_TEST_FAULT=kill:@batch']);
      assert.equal(rs.code, 128 + 9, `ckpt killed at its fault point: ${rs.stderr}`);
      assert.equal(rs.pid, undefined);
      await nothingLeft(rs.reaperDone, 'after the kill of ckpt');
    });
  });

  it('a truncated image is refused before anything runs, whatever was cut (exit 6, no process)', async () => {
    const id = identities()[0];
    const dir = lab.dir(id);
    const out = path.join(dir, 'heap.txt');
    const t = lab.startTarget(id, [target('heaplike'), out, '8']);
    await waitFor('heaplike to fill its heap', () => lines(out).find((l) => l.startsWith('s ')), 60000);
    const image = path.join(dir, 'full.ckpt');
    const r = await lab.dump(id, t.pid, image, ['--kill']);
    assert.equal(r.code, 0, r.stderr);
    const size = fs.statSync(image).size;
    for (const keep of [size - 8, size - 4096 * 3, Math.floor(size / 2), 1 << 16]) {
      const cut = path.join(dir, `cut-${keep}.ckpt`);
      fs.copyFileSync(image, cut);
      fs.truncateSync(cut, keep);
      const rs = await lab.restore(id, cut, ['--stdio=null', '--lazy']);
      assert.equal(rs.code, EXIT.badImage, `${keep} of ${size} bytes: exit ${rs.code} ${rs.stderr}`);
      assert.equal(rs.pid, undefined);
      assert.match(rs.stderr, /truncated|past the end/);
      assert.equal(rs.stdout, '');
    }
  });
});
