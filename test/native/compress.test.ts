// Issue 12: `ckpt dump --compress` (format 2.2, pages_zstd records). Real processes dumped with
// --compress come back and prove their memory themselves (heaplike: a checksum of every block;
// selfcheck: four threads verifying and rewriting theirs); ckpt-inspect reads the compressed
// image as it reads the uncompressed one (verify, pages, search, diff by hashes); heap-like
// memory takes at least 3 times less room; and hostile compressed data (a chunk index that
// lies, a frame that states or makes another size, garbage) is refused by verify and by
// restore --dry-run alike, naming rule zstd_chunks, without a crash or an allocation it asks for.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointImage, RecordType } from '../../src/image';
import { runInspect } from '../support/inspect';
import { buildTargets, CKPT, EXIT, identities, Lab, lines, target, waitFor } from './helpers';
import { assertIntact, startSelfCheck, TickReader } from './selfcheck';

const HDR = 32;

/** The heaplike target (targets/heaplike.c) with `mib` MiB, once it said its checksum. */
async function startHeap(lab: Lab, id: ReturnType<typeof identities>[0], dir: string, mib: number) {
  const out = path.join(dir, `heap-${mib}.txt`);
  const t = lab.startTarget(id, [target('heaplike'), out, String(mib)]);
  const first = await waitFor('heaplike to fill its heap', () => lines(out).find((l) => l.startsWith('s ')), 60000);
  return { pid: t.pid, out, sum: first.split(' ')[1] };
}

/** Asks a heaplike process to walk its memory again; resolves with the checksum it found. */
async function heapSum(pid: number, out: string): Promise<string> {
  const before = lines(out).filter((l) => l.startsWith('v ')).length;
  process.kill(pid, 'SIGUSR1');
  const v = await waitFor(`process ${pid} to check its memory`, () => lines(out).filter((l) => l.startsWith('v '))[before], 30000);
  return v.split(' ')[1];
}

/** The pages_zstd records of an image file: header offset, payload offset and length. */
function zstdRecords(buf: Buffer): { off: number; payload: number; len: number }[] {
  const out = [];
  for (let off = 0; off < buf.length;) {
    const type = buf.readUInt32LE(off),
      len = buf.readUInt32LE(off + 8);
    if (type === RecordType.PAGES_ZSTD) out.push({ off, payload: off + HDR, len });
    off += HDR + Math.ceil(len / 8) * 8;
  }
  return out;
}

/**
 * Pages of two images of one process (one compressed) read through the decoder: every page whose
 * hash is the same in both must hold the same bytes; returns how many do not, and how many pages
 * have different hashes (the process may have changed between the dumps: the first dump's
 * injected calls touch its memory).
 */
async function comparePages(a: string, b: string): Promise<{ wrong: number; changed: number; compared: number }> {
  const [ia, ib] = [await CheckpointImage.open(a), await CheckpointImage.open(b)];
  try {
    const [ma, mb] = [await ia.memory(), await ib.memory()];
    const hashes = async (img: CheckpointImage, seg: (typeof ma.segments)[0], k: number) =>
      Buffer.from((await img.decodeAs(seg.pagemap, 'pagemap')).pageHashes.subarray((seg.firstPage + k) * 8, (seg.firstPage + k + 1) * 8)).toString('hex');
    let wrong = 0,
      changed = 0,
      compared = 0;
    for (const sa of ma.segments) {
      const sb = mb.segmentAt(sa.start);
      assert.ok(sb && sb.start === sa.start && sb.end === sa.end, `the same runs at 0x${sa.start.toString(16)}`);
      const n = Number(sa.end - sa.start);
      for (let off = 0; off < n; off += 1 << 22) {
        const len = Math.min(1 << 22, n - off);
        const at = sa.start + BigInt(off);
        const [xa, xb] = [Buffer.from((await ma.read(at, len))[0].bytes!), Buffer.from((await mb.read(at, len))[0].bytes!)];
        for (let p = 0; p < len; p += 4096) {
          const k = (off + p) / 4096;
          if ((await hashes(ia, sa, k)) !== (await hashes(ib, sb!, k))) {
            changed++;
            continue;
          }
          if (!xa.subarray(p, p + 4096).equals(xb.subarray(p, p + 4096))) wrong++;
          compared++;
        }
      }
    }
    return { wrong, changed, compared };
  } finally {
    await ia.close();
    await ib.close();
  }
}

describe('native: dump --compress', function () {
  this.timeout(300000);
  const lab = new Lab();
  before(() => buildTargets());
  after(() => lab.cleanup());

  for (const id of identities()) {
    it(`as ${id.name}: a heap-like process compressed at least 3x comes back with the same memory, and ckpt-inspect reads both images alike`, async () => {
      const dir = lab.dir(id);
      const heap = await startHeap(lab, id, dir, 64);
      const plain = path.join(dir, 'plain.ckpt'),
        packed = path.join(dir, 'packed.ckpt');
      // stopped, so that both images hold the very same memory (a stopped process is recorded so)
      process.kill(heap.pid, 'SIGSTOP');
      const t0 = Date.now();
      const rp = await lab.dump(id, heap.pid, plain, ['--no-fsync']);
      const plainMs = Date.now() - t0;
      assert.equal(rp.code, 0, rp.stderr);
      const t1 = Date.now();
      const rz = await lab.dump(id, heap.pid, packed, ['--no-fsync', '--compress']);
      const packedMs = Date.now() - t1;
      assert.equal(rz.code, 0, rz.stderr);
      process.kill(heap.pid, 'SIGCONT');
      const a = fs.statSync(plain).size,
        b = fs.statSync(packed).size;
      console.log(`      64 MiB heap-like: ${(a / 2 ** 20).toFixed(1)} MiB -> ${(b / 2 ** 20).toFixed(1)} MiB (${(a / b).toFixed(1)}x); dump ${plainMs} ms, with --compress ${packedMs} ms`);
      assert.ok(a / b >= 3, `compressed ${a} -> ${b} bytes: less than 3x`);

      // the format: 2.2, image flag compressed, pages_zstd records flagged page_hashed|compressed, no pages records
      const img = await CheckpointImage.open(packed);
      try {
        assert.equal(img.head.versionMinor, 2);
        assert.ok(img.head.flags & 32, 'image flag compressed');
        assert.equal(img.ofType(RecordType.PAGES).length, 0);
        assert.ok(img.ofType(RecordType.PAGES_ZSTD).length >= 1);
        for (const r of img.ofType(RecordType.PAGES_ZSTD)) assert.equal(r.flags, 1 | 2);
      } finally {
        await img.close();
      }

      // ckpt-inspect: verify, diff (by hashes: only the image flag differs), search and pages alike
      const vz = await runInspect('verify', packed);
      assert.equal(vz.code, 0, vz.out + vz.err);
      const d = await runInspect('diff', plain, packed, '--format=json');
      const counts = JSON.parse(d.out).counts;
      // the first dump's injected calls may have touched a stack page below the stack pointer
      assert.ok(counts.pages.modified <= 1 && !counts.pages.added && !counts.pages.removed, d.out.slice(0, 3000));
      const cmp = await comparePages(plain, packed);
      assert.equal(cmp.wrong, 0, 'pages with the same hash in both images hold the same bytes');
      assert.ok(cmp.changed <= 1 && cmp.compared > 8000, JSON.stringify(cmp));
      assert.match((await runInspect('diff', plain, packed)).out, /flags: .*-> .*compressed/);
      for (const pattern of ['api/v1/orders/10', '"user":"frank"']) {
        const sp = await runInspect('search', plain, pattern, '--max', '50', '--format=json');
        const sz = await runInspect('search', packed, pattern, '--max', '50', '--format=json');
        assert.equal(sp.code, 0, sp.err);
        assert.equal(sz.code, 0, sz.err);
        const hp = JSON.parse(sp.out).hits,
          hz = JSON.parse(sz.out).hits;
        assert.ok(hp.length > 0, `${pattern} is found`);
        assert.deepEqual(hz, hp, `search ${pattern}`);
      }
      // 600 KiB from a heap address: across chunks (256 KiB each) and runs
      const hit = JSON.parse((await runInspect('search', plain, 'api/v1/users', '--max', '1', '--format=json')).out).hits[0];
      const addr = hit.vma.start as string;
      const pp = await runInspect('pages', plain, '--addr', addr, '--len', String(600 * 1024));
      const pz = await runInspect('pages', packed, '--addr', addr, '--len', String(600 * 1024));
      assert.equal(pp.code, 0, pp.err);
      assert.equal(pz.out, pp.out);

      // restore --dry-run checks every compressed page; the restored process finds its memory intact
      const dry = await lab.run(id, [CKPT, 'restore', '--dry-run', packed]);
      assert.equal(dry.code, 0, dry.stderr);
      process.kill(heap.pid, 'SIGKILL');
      const r = await lab.restore(id, packed);
      assert.equal(r.code, EXIT.ok, r.stderr);
      process.kill(r.pid!, 'SIGCONT'); // it was stopped when it was dumped, and comes back stopped
      assert.equal(await heapSum(r.pid!, heap.out), heap.sum);
    });
  }

  it('a multi-threaded process that keeps rewriting its memory, dumped --kill --compress, restores intact', async () => {
    const id = identities()[identities().length - 1];
    const dir = lab.dir(id);
    const sc = await startSelfCheck(lab, id, dir, 32);
    const image = path.join(dir, 'sc.ckpt');
    const r = await lab.dump(id, sc.pid, image, ['--kill', '--compress']);
    assert.equal(r.code, 0, r.stderr);
    const from = fs.statSync(sc.out).size;
    const rs = await lab.restore(id, image);
    assert.equal(rs.code, EXIT.ok, rs.stderr);
    await assertIntact(rs.pid!, new TickReader(sc.out, from), sc.pagesPerThread, 'restored from a compressed image');
  });

  it('refuses a bad level, with a usage error before anything is frozen', async () => {
    const id = identities()[0];
    const r = await lab.run(id, [CKPT, 'dump', String(process.pid), '-o', path.join(lab.dir(id), 'x.ckpt'), '--compress=99']);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.stderr, /--compress=99: give a zstd level/);
  });

  describe('hostile compressed data', () => {
    const id = identities()[0];
    let good = Buffer.alloc(0);
    let dir = '';
    before(async () => {
      dir = lab.dir(id);
      const heap = await startHeap(lab, id, dir, 4);
      const image = path.join(dir, 'small.ckpt');
      const r = await lab.dump(id, heap.pid, image, ['--kill', '--compress']);
      assert.equal(r.code, 0, r.stderr);
      good = fs.readFileSync(image);
    });

    // Page bytes are covered by the page hashes only (no payload_sum): a patch needs no re-sealing.
    const cases: [string, (b: Buffer, z: { payload: number; len: number }) => void][] = [
      ['chunk_pages of 2^31', (b, z) => b.writeUInt32LE(0x80000000, z.payload)],
      ['nchunks that does not match the pagemap', (b, z) => b.writeUInt32LE(b.readUInt32LE(z.payload + 4) + 1, z.payload + 4)],
      ['a chunk end past the payload', (b, z) => b.writeUInt32LE(0xfffffff0, z.payload + 8)],
      [
        'a frame that states a larger size',
        (b, z) => {
          const frame = z.payload + 8 + 4 * b.readUInt32LE(z.payload + 4);
          // the frame header: magic, descriptor, then (single segment) the content size
          const fhd = b[frame + 4],
            fcsBytes = [1, 2, 4, 8][fhd >> 6],
            at = frame + 5 + ((fhd >> 5) & 1 ? 0 : 1);
          if (fcsBytes === 2) b.writeUInt16LE(b.readUInt16LE(at) + 4096, at);
          else if (fcsBytes === 4) b.writeUInt32LE(b.readUInt32LE(at) + 4096, at);
          else b[at] = b[at] + 16;
        },
      ],
      [
        'garbage inside a frame',
        (b, z) => {
          const frame = z.payload + 8 + 4 * b.readUInt32LE(z.payload + 4);
          for (let i = 12; i < 200 && frame + i < z.payload + z.len; i++) b[frame + i] ^= 0x5a;
        },
      ],
      ['a frame replaced by another magic', (b, z) => b.writeUInt32LE(0x12345678, z.payload + 8 + 4 * b.readUInt32LE(z.payload + 4))],
    ];
    for (const [what, patch] of cases) {
      it(`${what}: verify and restore --dry-run both refuse it, naming a rule; ckpt-inspect pages fails cleanly`, async () => {
        const b = Buffer.from(good);
        const z = zstdRecords(b)[0];
        assert.ok(z, 'a pages_zstd record');
        patch(b, z);
        const file = path.join(dir, 'hostile.ckpt');
        fs.writeFileSync(file, b, { mode: 0o600 });
        const v = await runInspect('verify', file);
        assert.equal(v.code, 1, `verify: ${v.out}`);
        assert.match(v.out, /rule (zstd_chunks|page_hash)/, v.out);
        const d = await lab.run(id, [CKPT, 'restore', '--dry-run', file]);
        assert.equal(d.code, EXIT.badImage, d.stderr);
        assert.match(d.stderr, /rule (zstd_chunks|page_hash)/);
        assert.match(d.stderr, /byte \d+|offset \d+/);
        const r = await lab.restore(id, file);
        assert.equal(r.code, EXIT.badImage, r.stderr);
        assert.equal(r.pid, undefined);
        const img = await CheckpointImage.open(file);
        try {
          const mem = await img.memory();
          // reading every dumped byte either succeeds or throws an ImageError, never anything else
          for (const seg of mem.segments) {
            try {
              await mem.read(seg.start, Number(seg.end - seg.start));
            } catch (e) {
              assert.equal((e as Error).name, 'ImageError', String(e));
            }
          }
        } finally {
          await img.close();
        }
      });
    }

    it('random damage to the compressed payload: verify and restore --dry-run agree (40 seeded patches)', async () => {
      let seed = Number(process.env.CKPT_TEST_SEED ?? 20261205);
      const rand = (n: number) => ((seed = (Math.imul(seed ^ (seed >>> 15), 2246822519) + 3266489917) >>> 0), seed % n);
      const file = path.join(dir, 'agree.ckpt');
      let refused = 0;
      for (let k = 0; k < 40; k++) {
        const b = Buffer.from(good);
        const zs = zstdRecords(b);
        const z = zs[rand(zs.length)];
        const n = 1 + rand(4);
        for (let i = 0; i < n; i++) b[z.payload + rand(Math.min(z.len, k % 2 ? 64 : z.len))] ^= 1 + rand(255);
        fs.writeFileSync(file, b, { mode: 0o600 });
        const v = await runInspect('verify', file);
        const d = await lab.run(id, [CKPT, 'restore', '--dry-run', file]);
        assert.ok([EXIT.ok, EXIT.badImage].includes(d.code ?? -1), `patch ${k}: dry run exit ${d.code}: ${d.stderr}`);
        assert.equal(v.code === 0, d.code === EXIT.ok, `patch ${k}: verify ${v.code} (${v.out.trim().split('\n').slice(0, 3).join(' | ')}), dry run ${d.code} (${d.stderr.trim()})`);
        if (d.code !== EXIT.ok) refused++;
      }
      assert.ok(refused >= 20, `${refused} of 40 damaged images refused`);
    });
  });
});
