// Row arithmetic of the hex views: a list of address spans becomes a list of rows, data spans at 16
// bytes a row and gaps at one row each, so that a view can show row N of millions without ever
// making the millions. Addresses are BigInt (virtual addresses exceed 2^53); row numbers are Numbers
// (even 2^64 bytes at 16 a row would exceed 2^53, but no image holds that much data).

export const BYTES_PER_ROW = 16;
const ROW = BigInt(BYTES_PER_ROW);

export interface SpanInput {
  start: bigint;
  end: bigint;
  kind: 'data' | 'gap';
  /** For gaps: what the gap is ("not dumped", "unmapped", ...). */
  label?: string;
  gapKind?: string;
}

export interface LayoutSpan extends SpanInput {
  firstRow: number;
  rows: number;
  /** Address of the first row: start rounded down to a multiple of 16. */
  rowBase: bigint;
}

export type RowInfo = { kind: 'data'; span: LayoutSpan; addr: bigint } | { kind: 'gap'; span: LayoutSpan; addr: bigint };

export class HexLayout {
  readonly spans: LayoutSpan[] = [];
  readonly rowCount: number;

  constructor(spans: SpanInput[]) {
    let row = 0;
    for (const s of spans) {
      if (s.end <= s.start) continue;
      if (s.kind === 'data') {
        const rowBase = s.start - (s.start % ROW);
        const rows = Number((s.end - rowBase + ROW - 1n) / ROW);
        this.spans.push({ ...s, firstRow: row, rows, rowBase });
        row += rows;
      } else {
        this.spans.push({ ...s, firstRow: row, rows: 1, rowBase: s.start });
        row += 1;
      }
    }
    this.rowCount = row;
  }

  /** The span and address of a row; undefined past the end. */
  rowAt(row: number): RowInfo | undefined {
    if (row < 0 || row >= this.rowCount) return undefined;
    let lo = 0,
      hi = this.spans.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.spans[mid].firstRow <= row) lo = mid;
      else hi = mid - 1;
    }
    const span = this.spans[lo];
    if (span.kind === 'gap') return { kind: 'gap', span, addr: span.start };
    return { kind: 'data', span, addr: span.rowBase + BigInt(row - span.firstRow) * ROW };
  }

  /**
   * The row that shows an address: its data row, the gap row it falls in, or (outside every span)
   * the nearest row after it, or the last row.
   */
  rowOf(addr: bigint): number {
    let lo = 0,
      hi = this.spans.length - 1,
      found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.spans[mid].start <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return 0;
    const s = this.spans[found];
    if (addr >= s.end) return Math.min(s.firstRow + s.rows, this.rowCount - 1);
    if (s.kind === 'gap') return s.firstRow;
    return s.firstRow + Number((addr - s.rowBase) / ROW);
  }

  /** True when the address has bytes in some data span. */
  isData(addr: bigint): boolean {
    const r = this.rowAt(this.rowOf(addr));
    return r?.kind === 'data' && addr >= r.span.start && addr < r.span.end;
  }
}

/** Printable ASCII as itself, anything else as a dot. */
export function asciiChar(b: number): string {
  return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
}

export function hexByte(b: number): string {
  return b.toString(16).padStart(2, '0');
}

/** An address padded for an address column: 12 hex digits for user-space addresses, 16 above. */
export function formatAddress(a: bigint, minDigits = 12): string {
  return a.toString(16).padStart(minDigits, '0');
}

/** The chunk-aligned start of the chunk holding an address. */
export function chunkStart(addr: bigint, chunkSize: number): bigint {
  const c = BigInt(chunkSize);
  return addr - (addr % c);
}
