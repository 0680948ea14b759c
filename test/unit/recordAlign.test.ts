// The record alignment is stated once, in formats/ckpt.ksy (record.padding); the C header's
// CKPT_RECORD_ALIGN and the TypeScript readers' RECORD_ALIGN (the generated schema's layout) are
// read from that expression, and a padding of another shape fails the build instead of letting
// a writer or reader pad otherwise than the .ksy.

import * as assert from 'assert';
import * as path from 'path';
import { alignRecord, HEADER_SIZE, RECORD_ALIGN } from '../../src/image/format';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS build script without types
const { loadKsy, recordAlign } = require('../../scripts/formats/ksy-model') as {
  loadKsy: (file: string) => { types: Record<string, unknown> };
  recordAlign: (types: Record<string, unknown>) => number;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { genCHeader } = require('../../scripts/formats/gen-c-header') as { genCHeader: (ksy: unknown) => string };

const ksyFile = path.resolve(__dirname, '..', '..', 'formats', 'ckpt.ksy');
const withPadding = (size: unknown) => ({ record: { seq: [{ id: 'header' }, { id: 'payload' }, { id: 'padding', size }] } });

describe('record alignment from the .ksy', () => {
  it('is 8 in formats/ckpt.ksy, and the C header defines CKPT_RECORD_ALIGN from it', () => {
    const ksy = loadKsy(ksyFile);
    assert.strictEqual(recordAlign(ksy.types), 8);
    assert.match(genCHeader(ksy), /^#define CKPT_RECORD_ALIGN 8$/m);
  });

  it('is what the TypeScript readers and writer align records to', () => {
    assert.strictEqual(RECORD_ALIGN, recordAlign(loadKsy(ksyFile).types));
    assert.strictEqual(alignRecord(0), 0);
    assert.strictEqual(alignRecord(HEADER_SIZE + 1), HEADER_SIZE + RECORD_ALIGN);
    assert.strictEqual(HEADER_SIZE % RECORD_ALIGN, 0, 'a header keeps the payload after it aligned');
  });

  it('follows the expression: another power of two is taken as stated', () => {
    assert.strictEqual(recordAlign(withPadding('(16 - header.len % 16) % 16')), 16);
  });

  it('refuses a padding it cannot read as one alignment', () => {
    for (const size of ['(8 - header.len % 4) % 8', '(6 - header.len % 6) % 6', 'header.len % 8', undefined]) {
      assert.throws(() => recordAlign(withPadding(size)), /record\.padding must be sized/, String(size));
    }
  });
});
