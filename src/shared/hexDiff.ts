// The rows of a side-by-side hex diff of one page: the bytes of A on the left and of B on the right,
// the bytes that differ marked on both sides, and the runs of differing bytes to move between.
// Pure, for the compare editor's page and the unit tests.

import { asciiChar, hexByte } from './hexLayout';

export interface HexDiffCell {
  /** Two hex digits, or '' where that side has no byte. */
  hex: string;
  char: string;
  differs: boolean;
}

export interface HexDiffRow {
  /** Offset of the row's first byte in the page. */
  offset: number;
  a: HexDiffCell[];
  b: HexDiffCell[];
  /** True when a byte of the row differs. */
  differs: boolean;
}

/** One flag per byte of the page: 1 where the two sides differ. */
export function diffMask(pageSize: number, changed: { offset: number; length: number }[]): Uint8Array {
  const m = new Uint8Array(pageSize);
  for (const r of changed) m.fill(1, Math.max(0, r.offset), Math.min(pageSize, r.offset + r.length));
  return m;
}

/** Rows of `bytesPerRow` bytes for the whole page; a side that is null (not dumped there) has empty cells. */
export function hexDiffRows(a: Uint8Array | null, b: Uint8Array | null, changed: { offset: number; length: number }[], pageSize: number, bytesPerRow: number): HexDiffRow[] {
  const mask = diffMask(pageSize, changed);
  const cell = (side: Uint8Array | null, i: number): HexDiffCell => {
    const v = side && i < side.length ? side[i] : undefined;
    return v === undefined ? { hex: '', char: '', differs: mask[i] === 1 } : { hex: hexByte(v), char: asciiChar(v), differs: mask[i] === 1 };
  };
  const rows: HexDiffRow[] = [];
  for (let off = 0; off < pageSize; off += bytesPerRow) {
    const row: HexDiffRow = { offset: off, a: [], b: [], differs: false };
    for (let i = off; i < Math.min(pageSize, off + bytesPerRow); i++) {
      row.a.push(cell(a, i));
      row.b.push(cell(b, i));
      if (mask[i]) row.differs = true;
    }
    rows.push(row);
  }
  return rows;
}

/** The index of the run after (dir 1) or before (dir -1) the current one, wrapping around; undefined when there are none. */
export function stepChange(runs: number, current: number | undefined, dir: 1 | -1): number | undefined {
  if (runs === 0) return undefined;
  if (current === undefined) return dir === 1 ? 0 : runs - 1;
  return (current + dir + runs) % runs;
}

/** 16 bytes a row when a row of 16 fits the width (in characters), else 8. */
export function bytesPerRowFor(widthChars: number): 8 | 16 {
  // offset (4) + gap, then per side: hex (3 a byte) + gap + ASCII (1 a byte) + gap, and a separator.
  const need = (n: number) => 6 + 2 * (n * 3 + 1 + n + 2) + 2;
  return widthChars >= need(16) ? 16 : 8;
}
