// A virtualized hex/ASCII view over any address space (file offsets of a record, or a process's
// virtual addresses): it draws only the rows in sight, fetches their bytes in bounded chunks as
// they scroll in, and keeps a small cache. Its scrollbar is its own, so that a view of gigabytes
// (more rows than a browser can lay out) scrolls row by row with the wheel and keys, and in
// proportion when the thumb is dragged.

import { asciiChar, BYTES_PER_ROW, chunkStart, formatAddress, HexLayout, hexByte } from '../../shared/hexLayout';
import { clear, formatBytes, h, perFrame } from './dom';

export interface FetchedPiece {
  addr: bigint;
  length: number;
  /** Absent when the range has no bytes (not dumped, unmapped). */
  bytes?: Uint8Array;
}

export interface HexSource {
  layout: HexLayout;
  /** Bytes of [addr, addr + length); length is at most CHUNK. */
  fetch(addr: bigint, length: number): Promise<FetchedPiece[]>;
  /** Digits in the address column. */
  addressDigits: number;
  /** What the address column holds, for the status line ("offset" or "address"). */
  addressName: string;
}

const CHUNK = 4096;
const MAX_CHUNKS = 256;
const ROW_HEIGHT = 20;

interface Chunk {
  bytes: Uint8Array;
  /** 1 where bytes[i] is known. */
  known: Uint8Array;
}

interface RowEls {
  el: HTMLDivElement;
  addr: HTMLSpanElement;
  bytes: HTMLSpanElement[];
  chars: HTMLSpanElement[];
  hexBox: HTMLSpanElement;
  asciiBox: HTMLSpanElement;
  gap: HTMLSpanElement;
}

export class HexView {
  readonly element: HTMLDivElement;
  private readonly rowsBox: HTMLDivElement;
  private readonly track: HTMLDivElement;
  private readonly thumb: HTMLDivElement;
  private readonly status: HTMLDivElement;
  private source?: HexSource;
  private generation = 0;
  private topRow = 0;
  private visibleRows = 0;
  private rows: RowEls[] = [];
  private readonly chunks = new Map<bigint, Chunk>();
  private readonly inflight = new Set<bigint>();
  private wheelRemainder = 0;
  private hlStart?: bigint;
  private hlEnd?: bigint;
  private cursor?: bigint;
  private readonly schedule = perFrame(() => this.render());

  constructor(label: string) {
    this.rowsBox = h('div', { class: 'hex-rows', role: 'presentation' });
    this.thumb = h('div', { class: 'hex-thumb' });
    this.track = h('div', { class: 'hex-track', 'aria-hidden': 'true' }, this.thumb);
    this.status = h('div', { class: 'hex-status', 'aria-live': 'polite' });
    this.element = h(
      'div',
      { class: 'hexview', tabindex: 0, role: 'region', 'aria-label': `${label}: hex and ASCII; arrow keys move, Page Up and Page Down scroll` },
      h('div', { class: 'hex-body' }, this.rowsBox, this.track),
      this.status,
    );
    this.element.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    this.rowsBox.addEventListener('click', (e) => this.onClick(e));
    this.track.addEventListener('pointerdown', (e) => this.onTrackDown(e));
    new ResizeObserver(() => this.onResize()).observe(this.rowsBox);
  }

  setSource(source: HexSource | undefined, reveal?: bigint): void {
    this.source = source;
    this.generation++;
    this.chunks.clear();
    this.inflight.clear();
    this.topRow = 0;
    this.cursor = undefined;
    this.hlStart = this.hlEnd = undefined;
    this.buildRows();
    if (reveal !== undefined) this.revealAddress(reveal, false);
    this.schedule();
  }

  /** Marks the bytes of a field; scrolls them into view when asked. */
  setHighlight(start: bigint | undefined, end: bigint | undefined, reveal = true): void {
    this.hlStart = start;
    this.hlEnd = end;
    if (reveal && start !== undefined) this.revealAddress(start, true);
    this.schedule();
  }

  /** Scrolls so that an address is in sight (a third of the way down when it has to move), and puts the cursor on it. */
  revealAddress(addr: bigint, keepIfVisible = true): void {
    if (!this.source) return;
    const row = this.source.layout.rowOf(addr);
    if (!keepIfVisible || row < this.topRow || row >= this.topRow + Math.max(1, this.visibleRows - 1)) {
      this.scrollTo(row - Math.floor(this.visibleRows / 3));
    }
    this.cursor = this.source.layout.isData(addr) ? addr : undefined;
    this.schedule();
  }

  get cursorAddress(): bigint | undefined {
    return this.cursor;
  }

  /** The highlighted range, [start, end). */
  get highlight(): { start: bigint; end: bigint } | undefined {
    return this.hlStart !== undefined && this.hlEnd !== undefined ? { start: this.hlStart, end: this.hlEnd } : undefined;
  }

  private get maxTop(): number {
    return Math.max(0, (this.source?.layout.rowCount ?? 0) - this.visibleRows + 1);
  }

  private scrollTo(row: number): void {
    const t = Math.max(0, Math.min(this.maxTop, Math.round(row)));
    if (t !== this.topRow) {
      this.topRow = t;
      this.schedule();
    }
  }

  private onResize(): void {
    const n = Math.max(1, Math.floor(this.rowsBox.clientHeight / ROW_HEIGHT));
    if (n !== this.visibleRows) {
      this.visibleRows = n;
      this.buildRows();
      this.scrollTo(this.topRow);
      this.schedule();
    }
  }

  private buildRows(): void {
    clear(this.rowsBox);
    this.rows = [];
    for (let i = 0; i < this.visibleRows; i++) {
      const bytes: HTMLSpanElement[] = [];
      const chars: HTMLSpanElement[] = [];
      const hexBox = h('span', { class: 'hex-bytes' });
      const asciiBox = h('span', { class: 'hex-ascii' });
      for (let b = 0; b < BYTES_PER_ROW; b++) {
        // Real spaces between the bytes, so that copied (and spoken) rows read as hex dumps do.
        const s = h('span', { class: 'b' });
        s.dataset.i = String(b);
        bytes.push(s);
        hexBox.appendChild(s);
        hexBox.appendChild(document.createTextNode(b === 7 ? '  ' : ' '));
        const c = h('span', { class: 'c' });
        c.dataset.i = String(b);
        chars.push(c);
        asciiBox.appendChild(c);
      }
      const addr = h('span', { class: 'hex-addr' });
      const gap = h('span', { class: 'hex-gap' });
      const el = h('div', { class: 'hex-row' }, addr, '  ', hexBox, asciiBox, gap);
      el.style.height = `${ROW_HEIGHT}px`;
      this.rowsBox.appendChild(el);
      this.rows.push({ el, addr, bytes, chars, hexBox, asciiBox, gap });
    }
  }

  private render(): void {
    const src = this.source;
    const missing = new Set<bigint>();
    for (let i = 0; i < this.rows.length; i++) {
      const r = this.rows[i];
      const info = src?.layout.rowAt(this.topRow + i);
      r.el.dataset.row = String(this.topRow + i);
      if (!src || !info) {
        r.el.className = 'hex-row empty';
        r.addr.textContent = '';
        r.gap.textContent = '';
        for (const b of r.bytes) b.textContent = '';
        for (const c of r.chars) c.textContent = '';
        continue;
      }
      if (info.kind === 'gap') {
        r.el.className = `hex-row gap ${info.span.gapKind ?? ''}`;
        r.addr.textContent = formatAddress(info.span.start, src.addressDigits);
        r.gap.textContent = `${info.span.label ?? 'no data'} · ${formatBytes(Number(info.span.end - info.span.start))} to ${formatAddress(info.span.end, src.addressDigits)}`;
        continue;
      }
      r.el.className = 'hex-row';
      r.gap.textContent = '';
      r.addr.textContent = formatAddress(info.addr, src.addressDigits);
      r.el.dataset.addr = info.addr.toString(16);
      for (let b = 0; b < BYTES_PER_ROW; b++) {
        const a = info.addr + BigInt(b);
        const inSpan = a >= info.span.start && a < info.span.end;
        let hexText = '  ';
        let ch = ' ';
        let cls = '';
        if (inSpan) {
          const c = this.chunks.get(chunkStart(a, CHUNK));
          const off = Number(a % BigInt(CHUNK));
          if (c && c.known[off]) {
            const v = c.bytes[off];
            hexText = hexByte(v);
            ch = asciiChar(v);
            if (v === 0) cls = ' zero';
          } else if (c) {
            hexText = '--';
            ch = ' ';
            cls = ' none';
          } else {
            hexText = '··';
            cls = ' loading';
            missing.add(chunkStart(a, CHUNK));
          }
          if (this.hlStart !== undefined && this.hlEnd !== undefined && a >= this.hlStart && a < this.hlEnd) cls += ' hl';
          if (this.cursor === a) cls += ' cur';
        } else cls = ' out';
        const bs = r.bytes[b];
        bs.textContent = hexText;
        bs.className = `b${cls}`;
        const cs = r.chars[b];
        cs.textContent = ch;
        cs.className = `c${cls}`;
      }
    }
    this.updateScrollbar();
    this.updateStatus();
    for (const c of missing) this.load(c);
  }

  private load(chunk: bigint): void {
    const src = this.source;
    if (!src || this.inflight.has(chunk) || this.chunks.has(chunk)) return;
    this.inflight.add(chunk);
    const gen = this.generation;
    src.fetch(chunk, CHUNK).then(
      (pieces) => {
        if (gen !== this.generation) return;
        this.inflight.delete(chunk);
        const c: Chunk = { bytes: new Uint8Array(CHUNK), known: new Uint8Array(CHUNK) };
        for (const p of pieces) {
          if (!p.bytes) continue;
          const at = Number(p.addr - chunk);
          c.bytes.set(p.bytes.subarray(0, CHUNK - at), at);
          c.known.fill(1, at, Math.min(CHUNK, at + p.bytes.length));
        }
        this.chunks.set(chunk, c);
        while (this.chunks.size > MAX_CHUNKS) this.chunks.delete(this.chunks.keys().next().value as bigint);
        this.schedule();
      },
      (e: Error) => {
        if (gen !== this.generation) return;
        this.inflight.delete(chunk);
        // Remember the failure as a chunk without bytes, so that it is not asked for in a loop.
        this.chunks.set(chunk, { bytes: new Uint8Array(CHUNK), known: new Uint8Array(CHUNK) });
        this.status.textContent = `Cannot read bytes: ${e.message}`;
        this.schedule();
      },
    );
  }

  private updateScrollbar(): void {
    const total = this.source?.layout.rowCount ?? 0;
    const trackH = this.track.clientHeight;
    if (total <= this.visibleRows || trackH === 0) {
      this.thumb.style.display = 'none';
      return;
    }
    this.thumb.style.display = '';
    const thumbH = Math.max(24, Math.round((this.visibleRows / total) * trackH));
    const top = this.maxTop === 0 ? 0 : Math.round((this.topRow / this.maxTop) * (trackH - thumbH));
    this.thumb.style.height = `${thumbH}px`;
    this.thumb.style.transform = `translateY(${top}px)`;
  }

  private updateStatus(): void {
    const src = this.source;
    if (!src) {
      this.status.textContent = '';
      return;
    }
    const first = src.layout.rowAt(this.topRow);
    const parts: string[] = [];
    if (this.cursor !== undefined) {
      const c = this.chunks.get(chunkStart(this.cursor, CHUNK));
      const off = Number(this.cursor % BigInt(CHUNK));
      const v = c?.known[off] ? c.bytes[off] : undefined;
      parts.push(`${src.addressName} 0x${this.cursor.toString(16)}${v !== undefined ? `: 0x${hexByte(v)} (${v})` : ''}`);
    } else if (first) {
      parts.push(`${src.addressName} 0x${first.addr.toString(16)}`);
    }
    parts.push(`row ${this.topRow + 1} of ${src.layout.rowCount}`);
    this.status.textContent = parts.join(' · ');
  }

  private onWheel(e: WheelEvent): void {
    if (!this.source) return;
    e.preventDefault();
    const px = e.deltaMode === 1 ? e.deltaY * ROW_HEIGHT : e.deltaMode === 2 ? e.deltaY * this.visibleRows * ROW_HEIGHT : e.deltaY;
    this.wheelRemainder += px;
    const rows = Math.trunc(this.wheelRemainder / ROW_HEIGHT);
    if (rows !== 0) {
      this.wheelRemainder -= rows * ROW_HEIGHT;
      this.scrollTo(this.topRow + rows);
    }
  }

  private onKey(e: KeyboardEvent): void {
    const src = this.source;
    if (!src) return;
    const page = Math.max(1, this.visibleRows - 1);
    const move = (delta: number) => {
      const layout = src.layout;
      if (this.cursor === undefined) {
        const first = layout.rowAt(this.topRow);
        if (first?.kind !== 'data') {
          this.scrollTo(this.topRow + Math.sign(delta));
          return;
        }
        this.cursor = first.span.start > first.addr ? first.span.start : first.addr;
        return;
      }
      let next = this.cursor + BigInt(delta);
      if (!layout.isData(next)) {
        // Step over gap rows to the nearest row with data in that direction.
        const dir = delta > 0 ? 1 : -1;
        let row = layout.rowOf(this.cursor);
        for (let k = 0; k < 4 && !layout.isData(next); k++) {
          row += dir;
          const info = layout.rowAt(row);
          if (!info) return;
          if (info.kind !== 'data') continue;
          const lo = info.span.start > info.addr ? info.span.start : info.addr;
          const last = info.addr + BigInt(BYTES_PER_ROW - 1);
          const hi = info.span.end - 1n < last ? info.span.end - 1n : last;
          next = dir > 0 ? lo : hi;
        }
        if (!layout.isData(next)) return;
      }
      this.revealAddress(next, true);
    };
    switch (e.key) {
      case 'ArrowDown':
        move(BYTES_PER_ROW);
        break;
      case 'ArrowUp':
        move(-BYTES_PER_ROW);
        break;
      case 'ArrowRight':
        move(1);
        break;
      case 'ArrowLeft':
        move(-1);
        break;
      case 'PageDown':
        this.cursor = undefined;
        this.scrollTo(this.topRow + page);
        break;
      case 'PageUp':
        this.cursor = undefined;
        this.scrollTo(this.topRow - page);
        break;
      case 'Home':
        this.cursor = undefined;
        this.scrollTo(0);
        break;
      case 'End':
        this.cursor = undefined;
        this.scrollTo(this.maxTop);
        break;
      default:
        return;
    }
    e.preventDefault();
    this.schedule();
  }

  private onClick(e: MouseEvent): void {
    const t = e.target as HTMLElement;
    const row = t.closest('.hex-row') as HTMLElement | null;
    if (!row || !t.dataset.i || !row.dataset.addr) return;
    const a = BigInt(`0x${row.dataset.addr}`) + BigInt(Number(t.dataset.i));
    if (this.source?.layout.isData(a)) {
      this.cursor = a;
      this.schedule();
    }
  }

  private onTrackDown(e: PointerEvent): void {
    if (!this.source) return;
    e.preventDefault();
    const trackRect = this.track.getBoundingClientRect();
    const thumbH = this.thumb.getBoundingClientRect().height;
    const onThumb = e.target === this.thumb;
    const thumbTop = this.thumb.getBoundingClientRect().top - trackRect.top;
    const grab = onThumb ? e.clientY - trackRect.top - thumbTop : thumbH / 2;
    const toRow = (clientY: number) => {
      const span = trackRect.height - thumbH;
      const frac = span <= 0 ? 0 : Math.max(0, Math.min(1, (clientY - trackRect.top - grab) / span));
      this.scrollTo(frac * this.maxTop);
    };
    toRow(e.clientY);
    this.track.setPointerCapture(e.pointerId);
    const move = (ev: PointerEvent) => toRow(ev.clientY);
    const up = () => {
      this.track.removeEventListener('pointermove', move);
      this.track.removeEventListener('pointerup', up);
    };
    this.track.addEventListener('pointermove', move);
    this.track.addEventListener('pointerup', up);
  }
}
