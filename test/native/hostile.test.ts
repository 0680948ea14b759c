// Hostile values behind sound checksums: take a real image, change one numeric field of one
// metadata record to an extreme value, re-seal every checksum with the test writer, and restore
// it. The restorer may refuse (one clear line) or even succeed, but must never crash, hang, trip
// a sanitizer or leave a half-made process. This found an integer overflow once (fd numbers).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointImage, payloadTypeName, RecordType, schema, verifyImage } from '../../src/image';
import { reseal } from '../support/imageReseal';
import { encodePayload } from '../../src/image/write/imageWriter';
import { buildTargets, EXIT, identities, Lab, lines, target, waitFor } from './helpers';

const EXTREME_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 4096];
const EXTREME_64 = [0n, 1n, 0x1000n, 0x800000000000n, 0x7fffffffffffffffn, 0xfffffffffffff000n, 0xffffffffffffffffn];

describe('native: restore of hostile values behind sound checksums', function () {
  this.timeout(180000);
  const lab = new Lab();
  const root = identities()[0];
  let image = '';
  let dir = '';

  before(async () => {
    buildTargets();
    dir = lab.dir(root);
    const out = path.join(dir, 'counter.txt');
    const t = lab.startTarget(root, [target('counter'), out]);
    await waitFor('the counter to run', () => lines(out).length > 5);
    image = path.join(dir, 'counter.ckpt');
    const r = await lab.dump(root, t.pid, image, ['--kill']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => lab.cleanup());

  it('never crashes, hangs or trips a sanitizer (60 seeded mutations)', async () => {
    const img = await CheckpointImage.open(image);
    let seed = Number(process.env.CKPT_TEST_SEED ?? 20261127);
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed % n);
    const victims = img.records.filter((r) => payloadTypeName(r.type) && ![RecordType.HEAD, RecordType.TAIL, RecordType.PAD].includes(r.type));
    const outcomes: Record<string, number> = {};
    try {
      for (let i = 0; i < 60; i++) {
        const victim = victims[rand(victims.length)];
        const typeName = payloadTypeName(victim.type)!;
        const fields = schema.types[typeName].fields.filter((f) => /^[us][124]$|^[us]8$/.test(f.kind) && !f.repeat);
        const f = fields[rand(fields.length)];
        const value = f.kind.endsWith('8') ? EXTREME_64[rand(EXTREME_64.length)] : EXTREME_32[rand(EXTREME_32.length)] % 2 ** (8 * Number(f.kind[1]));
        const decoded = (await img.decode(victim)) as unknown as Record<string, unknown>;
        // A switched field (a file's `extra`) goes as its raw bytes: the mutation may give its selector a value without a case.
        const raw = Object.fromEntries(schema.types[typeName].fields.filter((g) => g.kind === 'switch' && decoded[`_raw_${g.id}`]).map((g) => [g.prop, decoded[`_raw_${g.id}`]]));
        const payload = encodePayload(typeName, { ...decoded, ...raw, [f.prop]: value });
        const mutated = path.join(dir, 'mutated.ckpt');
        await reseal(img, mutated, (r) => (r === victim ? payload : undefined));
        const what = `${typeName}.${f.id} = ${value} (seed ${seed})`;
        const r = await lab.restore(root, mutated);
        if (r.pid) {
          // It may run, or have died already of its own hostile registers: not ours to judge.
          try {
            process.kill(r.pid, 'SIGKILL');
          } catch {
            // already gone
          }
          await r.reaperDone;
        }
        outcomes[r.code] = (outcomes[r.code] ?? 0) + 1;
        assert.doesNotMatch(r.stderr, /Sanitizer|runtime error|LeakSanitizer/, what);
        assert.ok([EXIT.ok, EXIT.fail, EXIT.permission, EXIT.unsupported, EXIT.badImage, EXIT.io].includes(r.code), `${what}: exit ${r.code}\n${r.stderr}`);
        if (r.code !== EXIT.ok) assert.match(r.stderr.trim(), /^ckpt: [^\n]+$/m, `${what}: one clear line`);
      }
    } finally {
      await img.close();
    }
    console.log(`      outcomes by exit code: ${JSON.stringify(outcomes)}`);
    assert.ok((outcomes[EXIT.badImage] ?? 0) > 0, 'some mutations are refused as a bad image');
  });
});

// The contents of a file without a path (file_content, file_extent, file_data) whose lengths and
// sizes lie: each is refused before anything is made, naming the record and the byte, and nothing
// is allocated by what the record claims (the bytes are streamed from the image in 1 MiB pieces).
describe('native: restore of a file_content that lies about its lengths', function () {
  this.timeout(120000);
  const lab = new Lab();
  const root = identities()[0];
  let image = '';
  let dir = '';

  before(async () => {
    buildTargets();
    dir = lab.dir(root);
    const out = path.join(dir, 'nopath.out');
    const t = lab.startTarget(root, [target('nopath'), out, dir]);
    await waitFor('the target to be ready', () => lines(out).find((l) => l.startsWith('ready ')));
    image = path.join(dir, 'nopath.ckpt');
    const r = await lab.dump(root, t.pid, image, ['--kill']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => lab.cleanup());

  const LIES: Array<[string, string, (v: Record<string, unknown>) => Record<string, unknown>, RegExp]> = [
    [
      'file_content',
      'states 16 TiB of data',
      (v) => ({ ...v, dataBytes: 1n << 44n }),
      /record #\d+ \(file_content, type 36, tag \d+\) at byte \d+: file_content of \d+ bytes with 17592186044416 bytes of data/,
    ],
    ['file_content', 'is smaller than its data', (v) => ({ ...v, size: 1n }), /record #\d+ \(file_content, type 36, tag \d+\) at byte \d+: .*more than a file holds/],
    [
      'file_content',
      'states more bytes of data than its extents hold',
      (v) => ({ ...v, dataBytes: (v.dataBytes as bigint) + 1n }),
      /record #\d+ \(file, type 32, tag \d+\) at byte \d+: its file_content states \d+ bytes of data, its extents hold \d+/,
    ],
    [
      'file_extent',
      'is 2^64-1 bytes long',
      (v) => ({ ...v, len: 0xffffffffffffffffn }),
      /record #\d+ \(file_extent, type 37, tag \d+\) at byte \d+: extent length 18446744073709551615 is not 1 to 64 MiB/,
    ],
    ['file_extent', 'claims 2^32-1 pages', (v) => ({ ...v, npages: 0xffffffff }), /record #\d+ \(file_extent, type 37, tag \d+\) at byte \d+: /],
    ['file_extent', 'lies past the end of its file', (v) => ({ ...v, offset: 1n << 40n }), /record #\d+ \(file_extent, type 37, tag \d+\) at byte \d+: .*ends past the file's size/],
    ['file_extent', 'starts inside a page', (v) => ({ ...v, offset: 100n }), /record #\d+ \(file_extent, type 37, tag \d+\) at byte \d+: .*not page-aligned/],
  ];
  it('refuses file_data whose bytes do not match the hashes of its extent', async () => {
    const img = await CheckpointImage.open(image);
    const data = img.records.find((r) => r.type === RecordType.FILE_DATA)!;
    await img.close();
    const bytes = fs.readFileSync(image);
    bytes[data.offset + 32 + 5000] ^= 0xff; // bulk data has no payload sum: only the page hashes see this
    const mutated = path.join(dir, 'flipped.ckpt');
    fs.writeFileSync(mutated, bytes, { mode: 0o600 });
    const r = await lab.restore(root, mutated);
    assert.equal(r.code, EXIT.badImage, r.stderr);
    assert.match(r.stderr, /^ckpt: bad image .*: record #\d+ \(file_extent\) page 1 of .* at byte \d+ does not match its hash$/m);
    const m = await CheckpointImage.open(mutated);
    try {
      const v = await verifyImage(m);
      assert.ok(
        v.problems.some((p) => p.code === 'bad-page-hash' && /page 1 of its file_data/.test(p.message)),
        JSON.stringify(v.problems),
      );
    } finally {
      await m.close();
    }
  });

  for (const [type, what, lie, message] of LIES) {
    it(`refuses a ${type} that ${what}`, async () => {
      const img = await CheckpointImage.open(image);
      try {
        const rt = type === 'file_content' ? RecordType.FILE_CONTENT : RecordType.FILE_EXTENT;
        const victim = img.records.find((r) => r.type === rt)!;
        assert.ok(victim, `the image has a ${type} record`);
        const decoded = (await img.decode(victim)) as unknown as Record<string, unknown>;
        const payload = encodePayload(type, lie({ ...decoded }));
        const mutated = path.join(dir, `lie-${type}.ckpt`);
        await reseal(img, mutated, (r) => (r === victim ? payload : undefined));
        const r = await lab.restore(root, mutated);
        assert.equal(r.code, EXIT.badImage, r.stderr);
        const errs = r.stderr.split('\n').filter((l) => l.startsWith('ckpt: ') && !l.startsWith('ckpt: warning:'));
        assert.equal(errs.length, 1, r.stderr);
        assert.match(errs[0], message);
        // and the TypeScript reader agrees: `ckpt-inspect verify` calls it unsound
        const m = await CheckpointImage.open(mutated);
        try {
          assert.equal((await verifyImage(m)).ok, false, `verify of ${type} that ${what}`);
        } finally {
          await m.close();
        }
      } finally {
        await img.close();
      }
    });
  }
});
