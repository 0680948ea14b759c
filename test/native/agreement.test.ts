// One rule for what a sound image is: `ckpt-inspect verify` (the TypeScript decoder) and
// `ckpt restore --dry-run` (the C reader restore uses) must agree on every image. Two real
// images, of a process holding one of each kind of fd and of a tree of four processes sharing
// files and memory, are mutated 1,000 ways (field values, header fields,
// lengths, dropped, doubled and swapped records, page bytes, NULs in strings) and re-sealed, so
// that the mutants get past the checksums. verify calls a mutant sound exactly when restore does
// not refuse it as a bad image (exit 6); restore may still refuse a sound image for what it says
// about the machine or the user (exits 4 and 5). Disagreements are kept under
// build/agreement-failures/ to replay (CKPT_TEST_SEED replays a run).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RecordType, schema } from '../../src/image';
import { runInspect } from '../support/inspect';
import { recordOffsets, resealBytes } from '../support/resealBytes';
import { buildTargets, CKPT, EXIT, identities, Lab, lines, ROOT, target, waitFor } from './helpers';

const MUTANTS = Number(process.env.CKPT_AGREEMENT_MUTANTS ?? 1000);
const HDR = 32;

interface Rec {
  header: Uint8Array;
  payload: Uint8Array;
}

function splitRecords(b: Uint8Array): Rec[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return recordOffsets(b).map((off) => {
    const len = dv.getUint32(off + 8, true);
    return { header: b.slice(off, off + HDR), payload: b.slice(off + HDR, off + HDR + len) };
  });
}

function joinRecords(recs: Rec[]): Uint8Array {
  const size = recs.reduce((n, r) => n + HDR + Math.ceil(r.payload.length / 8) * 8, 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const r of recs) {
    const h = Uint8Array.from(r.header);
    new DataView(h.buffer).setUint32(8, r.payload.length, true);
    out.set(h, at);
    out.set(r.payload, at + HDR);
    at += HDR + Math.ceil(r.payload.length / 8) * 8;
  }
  return out;
}

type Rand = (n: number) => number;

const typeOf = (r: Rec) => new DataView(r.header.buffer, r.header.byteOffset).getUint32(0, true);
const KNOWN_TYPES = Object.keys(schema.enums.record_type).map(Number);

function extreme(width: number, rand: Rand): bigint {
  const max = (1n << BigInt(width * 8)) - 1n;
  const picks = [0n, 1n, max, max >> 1n, (max >> 1n) + 1n, 4096n, 0x7fffffffn, 0x1000n, BigInt(rand(256))];
  if (rand(4) === 0) return BigInt(rand(0x7fffffff)) & max;
  return picks[rand(picks.length)] & max;
}

function setUint(b: Uint8Array, off: number, width: number, v: bigint): void {
  for (let i = 0; i < width; i++) b[off + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

/** One mutant: the bytes, what was done, and whether page hashes must stay as they were. */
function mutate(base: Uint8Array, rand: Rand): { bytes: Uint8Array; what: string; keepPageHashes: boolean } {
  const recs = splitRecords(base);
  const meta = recs.map((r, i) => ({ r, i })).filter(({ r }) => typeOf(r) !== RecordType.PAGES && typeOf(r) !== RecordType.TAIL && r.payload.length > 0);
  const pick = <T>(xs: T[]) => xs[rand(xs.length)];
  const op = rand(100);
  if (op < 40) {
    const { r, i } = pick(meta);
    const width = pick([1, 2, 4, 8]);
    if (r.payload.length < width) return { bytes: joinRecords(recs), what: 'nothing', keepPageHashes: false };
    const off = Math.floor(rand(r.payload.length - width + 1) / width) * width;
    const v = rand(3) === 0 ? BigInt(r.payload[off]) + BigInt(rand(3)) - 1n : extreme(width, rand);
    setUint(r.payload, off, width, v < 0n ? 0n : v);
    return { bytes: joinRecords(recs), what: `record #${i} payload+${off} u${width * 8} = ${v}`, keepPageHashes: false };
  }
  if (op < 55) {
    const i = rand(recs.length - 1);
    const field = pick(['type', 'flags', 'ptag', 'tag']);
    const at = { type: 0, flags: 4, tag: 12, ptag: 16 }[field]!;
    const tags = recs.map((r) => new DataView(r.header.buffer, r.header.byteOffset).getUint32(12, true));
    const v = field === 'type' ? (rand(2) ? pick(KNOWN_TYPES) : rand(0x10000)) : field === 'flags' ? pick([0, 1, 2, 3, rand(0x100)]) : pick([0, pick(tags), rand(0x10000)]);
    new DataView(recs[i].header.buffer, recs[i].header.byteOffset).setUint32(at, v, true);
    return { bytes: joinRecords(recs), what: `record #${i} header ${field} = ${v}`, keepPageHashes: false };
  }
  if (op < 65) {
    const { r, i } = pick(meta);
    const k = 1 + rand(16);
    const grow = rand(2) === 0;
    const p = grow ? Uint8Array.from([...r.payload, ...new Uint8Array(k).map(() => rand(256))]) : r.payload.slice(0, Math.max(0, r.payload.length - k));
    r.payload = p;
    return { bytes: joinRecords(recs), what: `record #${i} payload ${grow ? '+' : '-'}${k} bytes`, keepPageHashes: false };
  }
  if (op < 80) {
    const i = 1 + rand(recs.length - 2);
    const kind = rand(3);
    if (kind === 0) recs.splice(i, 1);
    else if (kind === 1) recs.splice(i, 0, { header: Uint8Array.from(recs[i].header), payload: Uint8Array.from(recs[i].payload) });
    else if (i + 1 < recs.length - 1) [recs[i], recs[i + 1]] = [recs[i + 1], recs[i]];
    return { bytes: joinRecords(recs), what: `record #${i} ${['dropped', 'doubled', 'swapped with the next'][kind]}`, keepPageHashes: false };
  }
  if (op < 90) {
    const pagesRecs = recs.map((r, i) => ({ r, i })).filter(({ r }) => typeOf(r) === RecordType.PAGES && r.payload.length > 0);
    const { r, i } = pick(pagesRecs);
    const off = rand(r.payload.length);
    r.payload[off] ^= 1 + rand(255);
    const keep = rand(2) === 0;
    return { bytes: joinRecords(recs), what: `pages #${i} byte ${off} flipped, hashes ${keep ? 'kept' : 'resealed'}`, keepPageHashes: keep };
  }
  // A NUL inside a string: a printable run of 3+ bytes in a metadata payload, one byte of it 0.
  const { r, i } = pick(meta);
  const runs: number[] = [];
  for (let k = 0; k + 3 <= r.payload.length; k++) if ([0, 1, 2].every((d) => r.payload[k + d] >= 0x20 && r.payload[k + d] < 0x7f)) runs.push(k + 1);
  if (runs.length) r.payload[pick(runs)] = 0;
  return { bytes: joinRecords(recs), what: `record #${i} a NUL in a string`, keepPageHashes: false };
}

describe('native: verify and restore --dry-run agree on what a sound image is', function () {
  this.timeout(600000);
  const lab = new Lab();
  const root = identities()[0];
  let base = new Uint8Array(0);
  let dir = '';

  let tree = new Uint8Array(0);

  before(async () => {
    buildTargets();
    dir = lab.dir(root);
    const out = path.join(dir, 'fds.txt');
    const image = path.join(dir, 'fds.ckpt');
    const t = lab.startTarget(root, [target('fds'), out, dir]);
    await waitFor('the fds target', () => lines(out).includes('ready'));
    const r = await lab.dump(root, t.pid, image, ['--kill']);
    assert.equal(r.code, 0, r.stderr);
    base = new Uint8Array(fs.readFileSync(image)); // not a Buffer: its slice() would share the bytes
    // and a tree: four processes sharing pipes, sockets, memory and an offset, with a zombie
    const fout = path.join(dir, 'family.txt');
    lab.start(root, [target('reaper'), target('reaper'), '--exec', target('family'), fout, path.join(dir, 'family.log')]);
    const ready = await waitFor('the family', () => lines(fout).find((l) => l.startsWith('ready ')));
    const timage = path.join(dir, 'family.ckpt');
    const rt = await lab.dump(root, Number(ready.split(' ')[1]), timage, ['--tree']);
    assert.equal(rt.code, 0, rt.stderr);
    tree = new Uint8Array(fs.readFileSync(timage));
  });
  after(() => lab.cleanup());

  it(`on the real image and on ${MUTANTS} re-sealed mutants of it`, async () => {
    let seed = Number(process.env.CKPT_TEST_SEED ?? 20261204);
    const rand: Rand = (n) => ((seed = (Math.imul(seed ^ (seed >>> 15), 2246822519) + 3266489917) >>> 0), seed % Math.max(1, n));
    const file = path.join(dir, 'mutant.ckpt');
    const judge = async (bytes: Uint8Array) => {
      fs.writeFileSync(file, bytes, { mode: 0o600 });
      const v = await runInspect('verify', file);
      const d = await lab.run(root, [CKPT, 'restore', '--dry-run', '--stdio=null', file], 30000);
      return { verifyOk: v.code === 0, restoreBad: d.code === EXIT.badImage, v, d };
    };
    const first = await judge(base);
    assert.ok(first.verifyOk && first.d.code === EXIT.ok, `the real image: verify ${first.v.code} ${first.v.out}, dry run ${first.d.code} ${first.d.stderr}`);

    const failures: string[] = [];
    let sound = 0;
    const started = Date.now();
    const second = await judge(tree);
    assert.ok(second.verifyOk && second.d.code === EXIT.ok, `the tree's image: verify ${second.v.code} ${second.v.out}, dry run ${second.d.code} ${second.d.stderr}`);
    for (let k = 0; k < MUTANTS; k++) {
      const m = mutate(k % 2 ? tree : base, rand);
      const bytes = resealBytes(m.bytes, { keepPageHashes: m.keepPageHashes });
      const j = await judge(bytes);
      if (j.verifyOk) sound++;
      if (j.verifyOk === j.restoreBad || (j.d.code !== EXIT.badImage && ![EXIT.ok, EXIT.permission, EXIT.unsupported].includes(j.d.code ?? -1))) {
        const keep = path.join(ROOT, 'build', 'agreement-failures');
        fs.mkdirSync(keep, { recursive: true });
        const saved = path.join(keep, `mutant-${k}.ckpt`);
        fs.writeFileSync(saved, bytes);
        failures.push(
          `mutant ${k} (${m.what}), saved as ${saved}:\n  verify exit ${j.v.code}: ${j.v.out.trim().split('\n').slice(0, 3).join(' | ')}\n  dry run exit ${j.d.code}: ${j.d.stderr.trim()}`,
        );
        if (failures.length >= 10) break;
      }
    }
    console.log(`      ${MUTANTS} mutants in ${((Date.now() - started) / 1000).toFixed(1)} s: ${sound} sound, ${MUTANTS - sound} refused by both; disagreements: ${failures.length}`);
    assert.deepEqual(failures, [], failures.join('\n'));
    // Not a vacuous test: the mutants fall on both sides of the line.
    assert.ok(sound >= MUTANTS * 0.05 && sound <= MUTANTS * 0.9, `${sound} of ${MUTANTS} mutants sound`);
  });
});
