// Image strings are decoded without losing a byte, and shown without a control character.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeUtf8, printable, printableLines, quote } from '../../src/image';

/** The inverse of decodeUtf8: U+DC80..U+DCFF back to the byte, everything else as UTF-8. */
function encodeEscaped(s: string): Uint8Array {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xdc80 && c <= 0xdcff) out.push(c - 0xdc00);
    else out.push(...Buffer.from(ch, 'utf8'));
  }
  return Uint8Array.from(out);
}

/** What must never reach a terminal: C0 but newline, DEL, C1, and lone surrogates. */
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe('image strings', () => {
  it('decode every byte string exactly: valid UTF-8 as usual, each other byte as U+DC00 + byte', function () {
    this.timeout(30000);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.string({ unit: 'binary' }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
        ),
        (b) => {
          const s = decodeUtf8(b);
          assert.deepEqual(encodeEscaped(s), b);
          if (Buffer.from(b).toString('utf8') === new TextDecoder('utf-8', { ignoreBOM: true }).decode(b) && !Buffer.from(b).toString('utf8').includes('\ufffd')) {
            assert.equal(s, Buffer.from(b).toString('utf8'));
          }
        },
      ),
      { numRuns: 3000, seed: 11 },
    );
    assert.equal(decodeUtf8(Buffer.from([0x61, 0xff, 0xc3, 0x28])), 'a\udcff\udcc3(');
    assert.equal(decodeUtf8(Buffer.from([0xef, 0xbb, 0xbf])), '\ufeff', 'a byte order mark is kept');
  });

  it('show no control character, and are unchanged when shown twice', function () {
    this.timeout(30000);
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.uint8Array({ maxLength: 32 }), (s, bytes) => {
        for (const x of [s, decodeUtf8(bytes), s + decodeUtf8(bytes)]) {
          assert.doesNotMatch(printable(x), UNSAFE);
          assert.doesNotMatch(quote(x), UNSAFE);
          assert.equal(printable(printable(x)), printable(x));
          assert.equal(printableLines(x).split('\n').length, x.split('\n').length);
        }
      }),
      { numRuns: 3000, seed: 12 },
    );
    assert.equal(printable('\x1b]0;pwned\x07\x1b[2J'), '\\x1b]0;pwned\\x07\\x1b[2J');
    assert.equal(printable(decodeUtf8(Buffer.from([0xc2, 0x9b, 0x9b, 0x7f, 0x0a]))), '\\u009b\\x9b\\x7f\\n');
    assert.equal(quote('say "hi"\\'), '"say \\"hi\\"\\\\"');
    assert.equal(printable('grüße 😀'), 'grüße 😀');
  });
});
