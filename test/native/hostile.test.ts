// Hostile values behind sound checksums: take a real image, change one numeric field of one
// metadata record to an extreme value, re-seal every checksum with the test writer, and restore
// it. The restorer may refuse (one clear line) or even succeed, but must never crash, hang, trip
// a sanitizer or leave a half-made process. This found an integer overflow once (fd numbers).

import assert from 'node:assert/strict';
import path from 'node:path';
import { CheckpointImage, payloadTypeName, RecordType, schema } from '../../src/image';
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
        const payload = encodePayload(typeName, { ...decoded, [f.prop]: value });
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
