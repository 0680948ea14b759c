// One page of two images side by side, in hex and ASCII: A on the left, B on the right, the bytes
// that differ marked on both sides (as removed and inserted text in VS Code's diff editor), rows with
// a difference marked in the gutter. 16 bytes a row when that fits, else 8. Previous/Next change
// (or p / n, F7 / Shift+F7) move between the runs of differing bytes, and a live line says what the
// current run is, for screen readers.

import type { PageBytesModel } from '../../shared/compareProtocol';
import { bytesPerRowFor, HexDiffCell, hexDiffRows, stepChange } from '../../shared/hexDiff';
import { clear, h } from './dom';

export class HexDiffView {
  readonly element: HTMLElement;
  private readonly title: HTMLDivElement;
  private readonly live: HTMLDivElement;
  private readonly prev: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private readonly grid: HTMLDivElement;
  private page?: PageBytesModel;
  private names: { a: string; b: string } = { a: 'A', b: 'B' };
  private perRow: 8 | 16 = 16;
  private current?: number;
  private charWidth = 0;

  constructor() {
    this.title = h('div', { class: 'hd-title' });
    this.prev = h('button', { type: 'button', title: 'Previous change (p, Shift+F7)' }, '↑ Previous change');
    this.next = h('button', { type: 'button', title: 'Next change (n, F7)' }, '↓ Next change');
    this.live = h('div', { class: 'hd-live', 'aria-live': 'polite' });
    this.grid = h('div', {
      class: 'hd-grid mono',
      tabindex: 0,
      role: 'region',
      'aria-label': 'The page side by side: image A on the left, image B on the right; n and p move between the changes',
    });
    this.element = h(
      'section',
      { class: 'hexdiff', 'aria-label': 'Page bytes side by side' },
      h('div', { class: 'hd-head' }, this.title, h('div', { class: 'hd-nav' }, this.prev, this.next)),
      this.live,
      this.grid,
    );
    this.prev.addEventListener('click', () => this.step(-1));
    this.next.addEventListener('click', () => this.step(1));
    this.grid.addEventListener('keydown', (e) => {
      if (e.key === 'n' || (e.key === 'F7' && !e.shiftKey)) this.step(1);
      else if (e.key === 'p' || (e.key === 'F7' && e.shiftKey)) this.step(-1);
      else return;
      e.preventDefault();
    });
    new ResizeObserver(() => this.fit()).observe(this.grid);
  }

  get shown(): PageBytesModel | undefined {
    return this.page;
  }

  show(page: PageBytesModel, names: { a: string; b: string }): void {
    this.page = page;
    this.names = names;
    this.current = undefined;
    const differ = page.changed.reduce((n, r) => n + r.length, 0);
    const runs = page.changed.length;
    this.title.textContent = `Page ${page.address} · ${page.pageSize} bytes · ${
      page.a === null
        ? `not dumped in A (${names.a})`
        : page.b === null
          ? `not dumped in B (${names.b})`
          : differ === 0
            ? 'no byte differs'
            : `${differ} byte${differ === 1 ? '' : 's'} differ${differ === 1 ? 's' : ''}, in ${runs} run${runs === 1 ? '' : 's'}`
    }`;
    this.prev.disabled = this.next.disabled = runs === 0;
    this.live.textContent = '';
    this.perRow = this.widthPerRow();
    this.render();
    if (runs > 0) this.step(1, false);
    else this.grid.scrollTop = 0;
  }

  clear(): void {
    this.page = undefined;
    clear(this.grid);
    this.title.textContent = '';
    this.live.textContent = '';
  }

  focus(): void {
    this.grid.focus();
  }

  private widthPerRow(): 8 | 16 {
    if (!this.charWidth) {
      const probe = h('span', { class: 'mono hd-probe' }, '0'.repeat(32));
      this.grid.appendChild(probe);
      this.charWidth = probe.getBoundingClientRect().width / 32 || 8;
      probe.remove();
    }
    const width = this.grid.clientWidth || this.element.clientWidth;
    return width ? bytesPerRowFor(Math.floor(width / this.charWidth)) : 16;
  }

  private fit(): void {
    if (!this.page) return;
    const n = this.widthPerRow();
    if (n !== this.perRow) {
      this.perRow = n;
      this.render();
      this.mark();
    }
  }

  private render(): void {
    const p = this.page;
    clear(this.grid);
    if (!p) return;
    const rows = hexDiffRows(p.a, p.b, p.changed, p.pageSize, this.perRow);
    const head = h(
      'div',
      { class: 'hd-row hd-colhead', 'aria-hidden': 'true' },
      h('span', { class: 'hd-off' }, 'offset'),
      h('span', { class: 'hd-side' }, this.sideHead('A', this.names.a)),
      h('span', { class: 'hd-sep' }),
      h('span', { class: 'hd-side' }, this.sideHead('B', this.names.b)),
    );
    const frag = document.createDocumentFragment();
    frag.appendChild(head);
    for (const r of rows) {
      const el = h(
        'div',
        { class: `hd-row${r.differs ? ' differs' : ''}` },
        h('span', { class: 'hd-off' }, r.offset.toString(16).padStart(3, '0')),
        this.side(r.a, 'a'),
        h('span', { class: 'hd-sep', 'aria-hidden': 'true' }),
        this.side(r.b, 'b'),
      );
      el.dataset.off = String(r.offset);
      frag.appendChild(el);
    }
    this.grid.appendChild(frag);
  }

  /** The column heading of a side, cut to the width of its bytes. */
  private sideHead(tag: string, name: string): string {
    const width = this.perRow * 4 + 1;
    const text = `${tag}: ${name}`;
    return text.length > width ? `${text.slice(0, width - 1)}…` : text;
  }

  private side(cells: HexDiffCell[], which: 'a' | 'b'): HTMLSpanElement {
    const hex = h('span', { class: `hd-hex ${which}` });
    const ascii = h('span', { class: `hd-ascii ${which}` });
    cells.forEach((c, i) => {
      const cls = c.hex === '' ? 'none' : c.differs ? 'd' : c.hex === '00' ? 'zero' : '';
      hex.appendChild(h('span', { class: `x ${cls}` }, c.hex || '  '));
      if (i < cells.length - 1) hex.appendChild(document.createTextNode(i === 7 ? '  ' : ' '));
      ascii.appendChild(h('span', { class: `c ${cls}` }, c.char || ' '));
    });
    return h('span', { class: 'hd-side' }, hex, ascii);
  }

  /** Moves to the next or previous run of differing bytes and says what it is. */
  private step(dir: 1 | -1, focus = true): void {
    const p = this.page;
    if (!p) return;
    const i = stepChange(p.changed.length, this.current, dir);
    if (i === undefined) return;
    this.current = i;
    this.mark();
    const run = p.changed[i];
    const bytes = (side: Uint8Array | null) =>
      side === null
        ? 'not dumped'
        : [...side.subarray(run.offset, Math.min(run.offset + run.length, run.offset + 8))].map((b) => b.toString(16).padStart(2, '0')).join(' ') + (run.length > 8 ? ' …' : '');
    this.live.textContent = `Change ${i + 1} of ${p.changed.length}: ${run.length} byte${run.length === 1 ? '' : 's'} at offset 0x${run.offset.toString(16)} (${addrPlus(p.address, run.offset)}): A ${bytes(p.a)} · B ${bytes(p.b)}`;
    if (focus) this.grid.focus();
  }

  /** Outlines the rows of the current run and scrolls the first into view. */
  private mark(): void {
    for (const el of Array.from(this.grid.querySelectorAll('.hd-row.current'))) el.classList.remove('current');
    const p = this.page;
    if (!p || this.current === undefined) return;
    const run = p.changed[this.current];
    const first = Math.floor(run.offset / this.perRow) * this.perRow;
    let target: HTMLElement | undefined;
    for (let off = first; off < run.offset + run.length; off += this.perRow) {
      const el = this.grid.querySelector<HTMLElement>(`.hd-row[data-off="${off}"]`);
      if (!el) continue;
      el.classList.add('current');
      target ??= el;
    }
    if (target) {
      const top = target.offsetTop - this.grid.clientHeight / 3;
      this.grid.scrollTop = Math.max(0, top);
    }
  }
}

function addrPlus(address: string, offset: number): string {
  return `0x${(BigInt(address) + BigInt(offset)).toString(16)}`;
}
