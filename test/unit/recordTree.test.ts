// The record tree is linear in the number of records, and tells cycles from forward ptags
// exactly as the straightforward walk does: checked against that walk (kept here as the
// reference) on random tag graphs with duplicates, dangling and forward ptags.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildRecordTree, RecordEntry, RecordIndex } from '../../src/image';
import { forwardChain, ptagCycle } from '../support/adversarialImages';
import { CheckpointImage } from '../../src/image';

/** The quadratic walk the tree used before: the ptag chain from `r` back to itself, if any. */
function referenceCycle(index: RecordIndex, r: RecordEntry): number[] | undefined {
  const chain = [r.tag];
  const seen = new Set<number>([r.tag]);
  let cur: RecordEntry | undefined = r;
  while (cur && cur.ptag !== 0) {
    chain.push(cur.ptag);
    if (cur.ptag === r.tag) return chain;
    if (seen.has(cur.ptag)) return undefined;
    seen.add(cur.ptag);
    cur = index.byTag.get(cur.ptag);
  }
  return undefined;
}

function indexOf(tags: Array<[number, number]>): RecordIndex {
  const records: RecordEntry[] = [];
  const byTag = new Map<number, RecordEntry>();
  tags.forEach(([tag, ptag], index) => {
    const r: RecordEntry = { index, offset: index * 32, payloadOffset: index * 32 + 32, len: 0, type: 3, flags: 0, tag, ptag, payloadSum: 0 };
    records.push(r);
    if (tag !== 0 && !byTag.has(tag)) byTag.set(tag, r);
  });
  return { records, byTag, problems: [] };
}

describe('record tree', () => {
  it('finds the same cycles as the reference walk, with duplicate, zero and dangling tags', function () {
    this.timeout(30000);
    const graph = fc.integer({ min: 1, max: 40 }).chain((n) => fc.array(fc.tuple(fc.integer({ min: 0, max: n }), fc.integer({ min: 0, max: n + 2 })), { minLength: 1, maxLength: n }));
    fc.assert(
      fc.property(graph, (tags) => {
        const index = indexOf(tags);
        const tree = buildRecordTree(index);
        const cyclic = new Set(tree.problems.filter((p) => p.code === 'cyclic-ptag').map((p) => p.record));
        for (const r of index.records) {
          const p = r.ptag === 0 ? undefined : index.byTag.get(r.ptag);
          const expected = p !== undefined && p.index >= r.index && referenceCycle(index, r) !== undefined;
          assert.equal(cyclic.has(r.index), expected, `record #${r.index} (tag ${r.tag}, ptag ${r.ptag}) in ${JSON.stringify(tags)}`);
          if (expected && referenceCycle(index, r)!.length <= 17) {
            const message = tree.problems.find((q) => q.record === r.index && q.code === 'cyclic-ptag')!.message;
            assert.ok(message.endsWith(`ptag chain ${referenceCycle(index, r)!.join(' -> ')} is a cycle`), message);
          }
        }
      }),
      { numRuns: 3000, seed: 9 },
    );
  });

  it('opens 120,000 records of forward ptags, or of one cycle, in linear time', async function () {
    this.timeout(60000);
    for (const [name, bytes] of [
      ['forward chain', forwardChain(120000)],
      ['cycle', ptagCycle(120000)],
    ] as const) {
      const t0 = performance.now();
      const img = await CheckpointImage.open(bytes);
      const ms = performance.now() - t0;
      const problems = img.problems;
      assert.equal(problems.length >= 120000, true, name);
      // The quadratic walk took minutes here; a linear one takes well under a second.
      assert.ok(ms < 10000, `${name}: ${ms} ms`);
      if (name === 'cycle') assert.match(problems.find((p) => p.code === 'cyclic-ptag')!.message, /ptag chain 2 -> 3 -> 4 -> 5 -> 6 -> 7 -> 8 -> 9 -> \.\.\. -> 2 is a cycle$/);
      await img.close();
    }
  });
});
