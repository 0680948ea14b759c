import assert from 'node:assert/strict';
import { parseFromCompareWebview } from '../../src/shared/compareProtocol';
import { kindTitle, methodLine, pagesText, rowSummary, summaryLine } from '../../src/shared/compareText';
import { bytesPerRowFor, diffMask, hexDiffRows, stepChange } from '../../src/shared/hexDiff';

describe('compare editor: the words for a comparison', () => {
  it('says what changed as ckpt-inspect diff does', () => {
    const counts = [
      { kind: 'thread', added: 0, removed: 0, changed: 1 },
      { kind: 'vma', added: 1, removed: 0, changed: 2 },
    ];
    assert.equal(summaryLine({ same: false, counts, pages: { modified: 3, added: 1, removed: 0 } }), '1 thread changed, 1 VMA added, 2 VMAs changed, 3 pages modified, 1 page only in B');
    assert.equal(summaryLine({ same: true, counts: [], pages: { modified: 0, added: 0, removed: 0 } }), 'The images are the same.');
    assert.equal(summaryLine({ same: false, counts: [], pages: { modified: 0, added: 0, removed: 0 } }), 'The images differ only in what their processes hold.');
    assert.equal(pagesText({ modified: 0, added: 0, removed: 2 }), '2 pages only in A');
    assert.equal(kindTitle('fd'), 'File descriptors');
    assert.equal(kindTitle('vma'), 'VMAs');
  });

  it('says how the pages were compared', () => {
    const fmt = (n: number) => `${n} B`;
    assert.equal(methodLine({ pageMethod: 'hashes', stats: { ms: 3.4, pagesCompared: 1234, bytesRead: 0 } }, fmt), 'Pages compared by page hash: 1,234 pages in both, no page data read; 3 ms');
    assert.equal(
      methodLine({ pageMethod: 'bytes', stats: { ms: 2500, pagesCompared: 1, bytesRead: 8192 } }, fmt),
      'Pages compared by reading their bytes (no page hashes): 1 page in both, 8192 B of page data read; 2.5 s',
    );
  });

  it('sums up a tree row', () => {
    const row = { id: 0, kind: 'vma', key: 'k', label: 'l', change: 'changed' as const, childCount: 0, fields: 2, pages: { modified: 1, added: 0, removed: 0 } };
    assert.equal(rowSummary(row), '2 fields · 1 page modified');
    assert.equal(rowSummary({ ...row, fields: 0, pages: undefined }), '');
  });
});

describe('compare editor: a page side by side', () => {
  const a = new Uint8Array(32).fill(0x41);
  const b = new Uint8Array(a);
  b[3] = 0;
  b[20] = b[21] = 0x7f;
  const changed = [
    { offset: 3, length: 1 },
    { offset: 20, length: 2 },
  ];

  it('marks the bytes that differ, on both sides, and the rows that hold them', () => {
    assert.deepEqual(Array.from(diffMask(8, [{ offset: 6, length: 5 }])), [0, 0, 0, 0, 0, 0, 1, 1]);
    const rows = hexDiffRows(a, b, changed, 32, 16);
    assert.equal(rows.length, 2);
    assert.deepEqual(
      rows.map((r) => r.differs),
      [true, true],
    );
    assert.deepEqual(rows[0].a[3], { hex: '41', char: 'A', differs: true });
    assert.deepEqual(rows[0].b[3], { hex: '00', char: '.', differs: true });
    assert.deepEqual(rows[0].b[2], { hex: '41', char: 'A', differs: false });
    assert.deepEqual(
      rows[1].b.slice(4, 6).map((c) => c.differs),
      [true, true],
    );
    const eight = hexDiffRows(a, b, changed, 32, 8);
    assert.deepEqual(
      eight.map((r) => [r.offset, r.differs]),
      [
        [0, true],
        [8, false],
        [16, true],
        [24, false],
      ],
    );
  });

  it('leaves a side without the page empty', () => {
    const rows = hexDiffRows(null, b, [{ offset: 0, length: 32 }], 32, 16);
    assert.deepEqual(rows[0].a[0], { hex: '', char: '', differs: true });
    assert.equal(rows[0].b[0].hex, '41');
  });

  it('steps between changes, wrapping around', () => {
    assert.equal(stepChange(0, undefined, 1), undefined);
    assert.equal(stepChange(3, undefined, 1), 0);
    assert.equal(stepChange(3, undefined, -1), 2);
    assert.equal(stepChange(3, 2, 1), 0);
    assert.equal(stepChange(3, 0, -1), 2);
  });

  it('puts 16 bytes in a row only where they fit', () => {
    assert.equal(bytesPerRowFor(200), 16);
    assert.equal(bytesPerRowFor(100), 8);
  });
});

describe('compare protocol: messages from the webview', () => {
  it('accepts what it knows and nothing else', () => {
    assert.deepEqual(parseFromCompareWebview({ type: 'request', id: 1, method: 'pages', params: { id: 3 } }), { type: 'request', id: 1, method: 'pages', params: { id: 3 } });
    assert.deepEqual(parseFromCompareWebview({ type: 'cancel', extra: 1 }), { type: 'cancel' });
    assert.deepEqual(parseFromCompareWebview({ type: 'open', side: 'b', node: 4 }), { type: 'open', side: 'b', node: 4 });
    assert.deepEqual(parseFromCompareWebview({ type: 'open', side: 'a' }), { type: 'open', side: 'a' });
    for (const bad of [
      null,
      { type: 'request', id: 1, method: 'summary', params: {} },
      { type: 'request', id: 1, method: 'toString', params: {} },
      { type: 'request', id: 1, method: 'node' },
      { type: 'open', side: 'c' },
      { type: 'open', side: 'a', node: -1 },
      { type: 'open', side: 'a', node: '1' },
      { type: 'selected' },
    ]) {
      assert.equal(parseFromCompareWebview(bad), undefined, JSON.stringify(bad));
    }
  });
});
