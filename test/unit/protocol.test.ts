import assert from 'node:assert/strict';
import { asciiChar, formatAddress, HexLayout } from '../../src/shared/hexLayout';
import { addrParam, intParam, parseAddress, parseFromWebview } from '../../src/shared/protocol';

describe('protocol: messages from the webview', () => {
  it('accepts the messages it knows and nothing else', () => {
    assert.deepEqual(parseFromWebview({ type: 'request', id: 1, method: 'summary', params: {} }), { type: 'request', id: 1, method: 'summary', params: {} });
    assert.deepEqual(parseFromWebview({ type: 'selected', index: 3 }), { type: 'selected', index: 3 });
    assert.deepEqual(parseFromWebview({ type: 'run', command: 'verify' }), { type: 'run', command: 'verify' });
    assert.deepEqual(parseFromWebview({ type: 'ready', extra: 1 }), { type: 'ready' });
    // A frame to open is named by its place in a backtrace the host made, never by a path.
    assert.deepEqual(parseFromWebview({ type: 'openFrame', process: 5, tid: 100, frame: 2, path: '/etc/shadow' }), { type: 'openFrame', process: 5, tid: 100, frame: 2 });
    assert.deepEqual(parseFromWebview({ type: 'request', id: 2, method: 'backtrace', params: { process: 5, tid: 100 } }), {
      type: 'request',
      id: 2,
      method: 'backtrace',
      params: { process: 5, tid: 100 },
    });
    for (const bad of [
      { type: 'openFrame', process: 5, tid: 100 },
      { type: 'openFrame', process: 5, tid: -1, frame: 0 },
      { type: 'openFrame', process: '5', tid: 1, frame: 0 },
      null,
      'x',
      { type: 'request', id: 1, method: 'constructor', params: {} },
      { type: 'request', id: 1, method: '__proto__', params: {} },
      { type: 'request', id: '1', method: 'summary', params: {} },
      { type: 'request', id: 1, method: 'summary' },
      { type: 'selected', index: -1 },
      { type: 'selected', index: 1.5 },
      { type: 'run', command: 'rm -rf' },
      { type: 'other' },
    ]) {
      assert.equal(parseFromWebview(bad), undefined, JSON.stringify(bad));
    }
  });

  it('checks parameters: integers in range, addresses as hex strings', () => {
    assert.equal(intParam({ n: 5 }, 'n'), 5);
    assert.equal(intParam({}, 'n', { optional: true }), undefined);
    assert.throws(() => intParam({ n: 70000 }, 'n', { max: 65536 }), /from 0 to 65536/);
    assert.throws(() => intParam({ n: '5' }, 'n'), RangeError);
    assert.throws(() => intParam({ n: -1 }, 'n'), RangeError);
    assert.equal(addrParam({ a: '0xffffffffffffffff' }, 'a'), 0xffffffffffffffffn);
    assert.throws(() => addrParam({ a: 12 }, 'a'), /hex string/);
    assert.equal(parseAddress('  7ffd_1000 '), 0x7ffd1000n);
    assert.equal(parseAddress('0X10'), 16n);
    assert.equal(parseAddress('0x1_0000_0000_0000_0000'), undefined);
    assert.equal(parseAddress('xyz'), undefined);
    assert.equal(parseAddress(''), undefined);
  });
});

describe('hex layout: rows over spans of an address space', () => {
  const layout = new HexLayout([
    { start: 0x1000n, end: 0x1020n, kind: 'data' },
    { start: 0x1020n, end: 0x5000n, kind: 'gap', label: 'not dumped' },
    { start: 0x5008n, end: 0x5019n, kind: 'data' },
    { start: 0x6000n, end: 0x6000n, kind: 'data' },
  ]);

  it('gives data 16 bytes a row (aligned) and a gap one row', () => {
    assert.equal(layout.rowCount, 2 + 1 + 2);
    assert.deepEqual(layout.rowAt(0), { kind: 'data', span: layout.spans[0], addr: 0x1000n });
    assert.equal(layout.rowAt(1)!.addr, 0x1010n);
    assert.equal(layout.rowAt(2)!.kind, 'gap');
    assert.equal(layout.rowAt(3)!.addr, 0x5000n);
    assert.equal(layout.rowAt(4)!.addr, 0x5010n);
    assert.equal(layout.rowAt(5), undefined);
    assert.equal(layout.rowAt(-1), undefined);
  });

  it('finds the row of an address, in data, in a gap, or outside', () => {
    assert.equal(layout.rowOf(0x101fn), 1);
    assert.equal(layout.rowOf(0x3000n), 2);
    assert.equal(layout.rowOf(0x5018n), 4);
    assert.equal(layout.rowOf(0x10n), 0);
    assert.equal(layout.rowOf(0xffffn), 4);
    assert.ok(layout.isData(0x5008n));
    assert.ok(!layout.isData(0x5007n));
    assert.ok(!layout.isData(0x3000n));
  });

  it('handles gigabytes of rows without making them', () => {
    const big = new HexLayout([{ start: 0x7f0000000000n, end: 0x7f0000000000n + (64n << 30n), kind: 'data' }]);
    assert.equal(big.rowCount, (64 * 2 ** 30) / 16);
    const last = big.rowAt(big.rowCount - 1)!;
    assert.equal(last.addr, 0x7f0000000000n + (64n << 30n) - 16n);
    assert.equal(big.rowOf(0x7f0000000000n + (32n << 30n)), big.rowCount / 2);
  });

  it('renders bytes for the ASCII and address columns', () => {
    assert.equal(asciiChar(0x41) + asciiChar(0) + asciiChar(0x7f), 'A..');
    assert.equal(formatAddress(0x1000n), '000000001000');
    assert.equal(formatAddress(0xffffffffffffffffn), 'ffffffffffffffff');
  });
});
