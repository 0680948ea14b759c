import assert from 'node:assert/strict';
import { MAX_REVEALED_BYTES, parseFromWebview, parseSearchShown } from '../../src/shared/protocol';
import { hitPlace, hitPreview, MAX_MATCH_CHARS, previewStyle } from '../../src/shared/searchPreview';

const bytesOf = (s: string, enc: BufferEncoding = 'utf8') => Buffer.from(s, enc);
const hexBytes = (h: string) => Buffer.from(h, 'hex');
const none = new Uint8Array(0);

describe('search results: how a hit reads on one line', () => {
  it('picks the style from the query', () => {
    assert.equal(previewStyle({ mode: 'hex' }), 'hex');
    assert.equal(previewStyle({ mode: 'text' }), 'utf8');
    assert.equal(previewStyle({ mode: 'text', encoding: 'utf16le' }), 'utf16');
    assert.equal(previewStyle({ mode: 'regex' }), 'text');
  });

  it('shows text context byte by byte, non-printables as dots, and a UTF-8 match decoded', () => {
    const p = hitPreview({ before: Buffer.from([0, 0x41, 0x0a, 0xff]), match: bytesOf('Grüße'), after: bytesOf('!\u0001') }, 'utf8');
    assert.deepEqual(p, { before: '.A..', match: 'Grüße', after: '!.' });
    // A match that is not valid UTF-8 (a case-insensitive Latin-1 hit) falls back to bytes.
    assert.equal(hitPreview({ before: none, match: hexBytes('ff41'), after: none }, 'utf8').match, '.A');
  });

  it('shows UTF-16 context in code units, aligned with the match', () => {
    const p = hitPreview(
      { before: Buffer.concat([hexBytes('00'), bytesOf('ab', 'utf16le')]), match: bytesOf('Grüße', 'utf16le'), after: Buffer.concat([bytesOf('!', 'utf16le'), hexBytes('0000ff')]) },
      'utf16',
    );
    assert.deepEqual(p, { before: 'ab', match: 'Grüße', after: '!.' });
  });

  it('shows hex bytes for a hex search, and cuts a long match', () => {
    assert.deepEqual(hitPreview({ before: hexBytes('0001'), match: hexBytes('deadbeef'), after: hexBytes('ff') }, 'hex'), { before: '00 01', match: 'de ad be ef', after: 'ff' });
    const long = hitPreview({ before: none, match: bytesOf('x'.repeat(500)), after: none }, 'text').match;
    assert.equal(long.length, MAX_MATCH_CHARS);
    assert.ok(long.endsWith('…'));
  });

  it('says where a hit is: protection, path or kind, offset', () => {
    assert.equal(hitPlace({ vma: { prot: 'rw-p', kind: 'heap', path: '[heap]' }, vmaOffset: '0x1a2' }), 'rw-p [heap]+0x1a2');
    assert.equal(hitPlace({ vma: { prot: 'rw-p', kind: 'anon_private', path: '' }, vmaOffset: '0x10' }), 'rw-p anon_private+0x10');
    assert.equal(hitPlace({ vma: null, vmaOffset: null }), 'outside every VMA');
  });
});

describe("protocol: what the webview answers to the host's search", () => {
  const revealed = { process: 1, cursor: '0x1000', highlight: { start: '0x1000', end: '0x1004' }, bytes: Uint8Array.from([0xde, 0xad, 0xbe, 0xef]) };

  it('takes a response by its id, its result unchecked until the request it answers checks it', () => {
    assert.deepEqual(parseFromWebview({ type: 'response', id: 7, ok: true, result: { search: 2, listed: 3 } }), { type: 'response', id: 7, ok: true, result: { search: 2, listed: 3 } });
    assert.deepEqual(parseFromWebview({ type: 'response', id: 7, ok: false, error: 'no' }), { type: 'response', id: 7, ok: false, error: 'no' });
    for (const bad of [
      { type: 'response', id: -1.5, ok: true },
      { type: 'response', id: 1, ok: false },
      { type: 'response', ok: true },
      { type: 'searchShown', ticket: 1, search: 2, listed: 3 },
    ]) {
      assert.equal(parseFromWebview(bad), undefined, JSON.stringify(bad));
    }
  });

  it('accepts what runSearch shows, with or without where the memory view went, its bytes binary', () => {
    assert.deepEqual(parseSearchShown({ search: 2, listed: 3 }), { search: 2, listed: 3 });
    assert.deepEqual(parseSearchShown({ search: 2, listed: 3, revealed, extra: 'x' }), { search: 2, listed: 3, revealed });
    assert.deepEqual(parseSearchShown({ search: 2, listed: 0, revealed: { ...revealed, cursor: null, highlight: null, bytes: new Uint8Array(0) } })?.revealed?.bytes, new Uint8Array(0));
  });

  it('refuses a malformed one', () => {
    for (const bad of [
      { search: -1, listed: 3 },
      { search: '2', listed: 3 },
      { search: 2 },
      { search: 2, listed: 3, revealed: 'x' },
      { search: 2, listed: 3, revealed: { ...revealed, cursor: 'nowhere' } },
      { search: 2, listed: 3, revealed: { ...revealed, bytes: 'deadbeef' } },
      { search: 2, listed: 3, revealed: { ...revealed, bytes: new Uint8Array(MAX_REVEALED_BYTES + 1) } },
      { search: 2, listed: 3, revealed: { ...revealed, highlight: { start: '0x1' } } },
    ]) {
      assert.equal(parseSearchShown(bad), undefined, JSON.stringify(bad));
    }
    assert.equal(parseFromWebview({ type: 'request', id: 1, method: 'search' }), undefined);
    assert.deepEqual(parseFromWebview({ type: 'request', id: 1, method: 'cancelSearch', params: { search: 1 } }), { type: 'request', id: 1, method: 'cancelSearch', params: { search: 1 } });
  });
});
