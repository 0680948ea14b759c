// The streaming JSON writer writes what JSON.stringify(v, null, 1) writes, piece by piece; only
// its indentation stops growing at MAX_INDENT, so that deep values stay linear in size.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JsonWriter, MAX_INDENT } from '../../src/cli/jsonWriter';
import { BufferedOutput } from '../../src/cli/output';

async function written(v: unknown): Promise<string> {
  const out = new BufferedOutput();
  await new JsonWriter(out).value(v);
  out.flush();
  return out.out;
}

/** A value nested `depth` deep: arrays of one object of one array ... */
function nested(depth: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

describe('JSON writer', () => {
  it('writes what JSON.stringify(v, null, 1) writes', async function () {
    this.timeout(30000);
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 8 }), async (v) => {
        assert.equal(await written(v), JSON.stringify(v, null, 1));
      }),
      { numRuns: 500, seed: 4 },
    );
    const odd = { a: undefined, f: () => 1, n: NaN, d: new Date(0), arr: [undefined, () => 1, Infinity], nested: { toJSON: () => ['x'] } };
    assert.equal(await written(odd), JSON.stringify(odd, null, 1));
  });

  it('writes iterators as arrays, item by item', async () => {
    function* strings() {
      yield 'a';
      yield '\u001b]0;x\u0007';
    }
    assert.equal(await written({ list: strings(), empty: [][Symbol.iterator]() }), JSON.stringify({ list: ['a', '\u001b]0;x\u0007'], empty: [] }, null, 1));
  });

  it('stops indenting at MAX_INDENT, so a deep value stays linear and valid', async function () {
    this.timeout(30000);
    const v = nested(2000);
    const s = await written(v);
    assert.equal(JSON.stringify(JSON.parse(s)), JSON.stringify(v));
    const widest = Math.max(...s.split('\n').map((l) => l.length - l.trimStart().length));
    assert.equal(widest, MAX_INDENT);
    // JSON.stringify itself overflows the stack on a deep value; the writer keeps its own stack.
    const deep = nested(100_000);
    assert.throws(() => JSON.stringify(deep), RangeError);
    const d = await written(deep);
    assert.ok(d.length < 100_000 * (2 * MAX_INDENT + 16), `${d.length} bytes`); // two lines a level
    assert.equal(d.split('{').length - 1, 50_000);
    assert.ok(d.endsWith('\n]'));
  });

  it('writes keys, values and containers by hand as value() would', async () => {
    const out = new BufferedOutput();
    const json = new JsonWriter(out);
    json.begin(false);
    await json.member('a', 1);
    json.key('list');
    json.begin(true);
    await json.value({ b: [] });
    json.begin(false);
    json.end();
    json.end();
    json.end();
    out.flush();
    assert.equal(out.out, JSON.stringify({ a: 1, list: [{ b: [] }, {}] }, null, 1));
  });
});
