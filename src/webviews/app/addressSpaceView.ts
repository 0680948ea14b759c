// A picture of a process's address space: its VMAs side by side, each as wide as it is large
// (with a least width so that a one-page VMA can still be seen and pointed at), holes between them
// drawn as short breaks, colour by kind and pattern by protection. Below, the same VMAs as a table.

import type { AddressSpaceModel, VmaModel } from '../../shared/models';
import type { HostConnection } from './connection';
import { clear, formatBytes, h } from './dom';
import { plural } from '../../shared/plural';

const MIN_VMA_PX = 3;
const BREAK_PX = 8;

export interface VmaPick {
  index: number;
  openMemory: boolean;
}

/** Widths in pixels for items of the given sizes, proportional but at least `min`, summing to about `total`. */
export function scaleWidths(sizes: number[], total: number, min: number): number[] {
  if (sizes.length === 0) return [];
  let fixed = new Set<number>();
  let widths: number[] = [];
  for (let pass = 0; pass < 4; pass++) {
    const freeSize = sizes.reduce((n, s, i) => (fixed.has(i) ? n : n + s), 0);
    const freePx = Math.max(0, total - fixed.size * min);
    widths = sizes.map((s, i) => (fixed.has(i) ? min : freeSize > 0 ? (s / freeSize) * freePx : min));
    const next = new Set(fixed);
    widths.forEach((w, i) => {
      if (w < min) next.add(i);
    });
    if (next.size === fixed.size) break;
    fixed = next;
  }
  return widths.map((w) => Math.max(min, w));
}

export class AddressSpaceView {
  readonly element: HTMLDivElement;
  private readonly bar: HTMLDivElement;
  private readonly hover: HTMLDivElement;
  private readonly table: HTMLTableSectionElement;
  private readonly legend: HTMLDivElement;
  private readonly heading: HTMLDivElement;
  private model?: AddressSpaceModel;
  private highlighted?: number;
  private focused = 0;

  constructor(
    private readonly conn: HostConnection,
    private readonly onPick: (p: VmaPick) => void,
  ) {
    this.heading = h('div', { class: 'as-heading' });
    this.bar = h('div', { class: 'as-bar', role: 'listbox', 'aria-label': 'Address space: VMAs to scale; arrow keys move, Enter shows memory' });
    this.hover = h('div', { class: 'as-hover', 'aria-live': 'polite' });
    this.legend = h('div', { class: 'as-legend' });
    this.table = h('tbody');
    const head = h('thead', {}, h('tr', {}, ...['start', 'end', 'size', 'prot', 'kind', 'path', 'dumped'].map((c) => h('th', { scope: 'col' }, c))));
    this.element = h('div', { class: 'addr-space' }, this.heading, this.bar, this.hover, this.legend, h('div', { class: 'as-table-box' }, h('table', { class: 'as-table' }, head, this.table)));
    this.bar.addEventListener('keydown', (e) => this.onKey(e));
    new ResizeObserver(() => this.drawBar()).observe(this.bar);
  }

  async show(process: number, highlight?: number): Promise<void> {
    const fresh = !this.model || this.model.process !== process;
    if (fresh) {
      this.model = await this.conn.request('addressSpace', { process });
      this.drawTable();
      this.drawLegend();
    }
    const m = this.model!;
    this.highlighted = highlight;
    const i = m.vmas.findIndex((v) => v.index === highlight);
    this.focused = i >= 0 ? i : 0;
    const mapped = m.vmas.reduce((n, v) => n + v.size, 0);
    this.heading.textContent = `${plural(m.vmas.length, 'VMA')}, ${formatBytes(mapped)} mapped, ${formatBytes(m.dumpedBytes)} dumped`;
    // The same picture only changes its marks: its elements stay, so a double-click lands on the
    // element its first click selected.
    if (fresh) this.drawBar();
    else this.markBar();
    this.markTable();
    if (i >= 0) this.describe(m.vmas[i]);
  }

  private markBar(): void {
    for (const el of Array.from(this.bar.querySelectorAll<HTMLElement>('.as-vma'))) {
      const i = Number(el.dataset.i);
      const on = this.model?.vmas[i]?.index === this.highlighted;
      el.classList.toggle('highlighted', on);
      el.setAttribute('aria-selected', on ? 'true' : 'false');
      el.tabIndex = i === this.focused ? 0 : -1;
    }
  }

  private drawBar(): void {
    const m = this.model;
    clear(this.bar);
    if (!m || m.vmas.length === 0) return;
    const width = this.bar.clientWidth || 600;
    const breaks: boolean[] = m.vmas.map((v, i) => i > 0 && BigInt(v.start) > BigInt(m.vmas[i - 1].end));
    const nBreaks = breaks.filter(Boolean).length;
    const widths = scaleWidths(
      m.vmas.map((v) => v.size),
      Math.max(m.vmas.length * MIN_VMA_PX, width - nBreaks * BREAK_PX - 2),
      MIN_VMA_PX,
    );
    m.vmas.forEach((v, i) => {
      if (breaks[i]) {
        const gap = BigInt(v.start) - BigInt(m.vmas[i - 1].end);
        const b = h('div', { class: 'as-break', title: `${formatBytes(Number(gap))} not mapped`, 'aria-hidden': 'true' });
        b.style.width = `${BREAK_PX}px`;
        this.bar.appendChild(b);
      }
      const el = h('div', {
        class: `as-vma k-${v.kind} ${protClass(v.prot)}${v.index === this.highlighted ? ' highlighted' : ''}`,
        role: 'option',
        tabindex: i === this.focused ? 0 : -1,
        'aria-selected': v.index === this.highlighted ? 'true' : 'false',
        'aria-label': vmaText(v),
        title: vmaText(v),
      });
      el.style.width = `${widths[i]}px`;
      el.dataset.i = String(i);
      el.addEventListener('mouseenter', () => this.describe(v));
      el.addEventListener('focus', () => this.describe(v));
      el.addEventListener('click', () => this.onPick({ index: v.index, openMemory: false }));
      el.addEventListener('dblclick', () => this.onPick({ index: v.index, openMemory: true }));
      this.bar.appendChild(el);
    });
  }

  private describe(v: VmaModel): void {
    this.hover.textContent = vmaText(v);
  }

  private drawLegend(): void {
    clear(this.legend);
    const kinds = [...new Set(this.model?.vmas.map((v) => v.kind))];
    for (const k of kinds) this.legend.appendChild(h('span', { class: 'as-key' }, h('span', { class: `swatch k-${k}` }), k.replace(/_/g, ' ')));
    this.legend.appendChild(h('span', { class: 'as-key' }, h('span', { class: 'swatch p-x' }), 'executable'));
    this.legend.appendChild(h('span', { class: 'as-key' }, h('span', { class: 'swatch p-none' }), 'no access'));
  }

  private drawTable(): void {
    clear(this.table);
    for (const v of this.model?.vmas ?? []) {
      const tr = h(
        'tr',
        { tabindex: -1 },
        h('td', { class: 'mono' }, v.start),
        h('td', { class: 'mono' }, v.end),
        h('td', {}, formatBytes(v.size)),
        h('td', { class: 'mono' }, v.prot),
        h('td', {}, h('span', { class: `swatch k-${v.kind}` }), v.kind.replace(/_/g, ' ')),
        h('td', { class: 'path' }, v.path),
        h('td', {}, v.dumpedBytes ? formatBytes(v.dumpedBytes) : '—'),
      );
      tr.dataset.index = String(v.index);
      tr.addEventListener('click', () => this.onPick({ index: v.index, openMemory: false }));
      tr.addEventListener('dblclick', () => this.onPick({ index: v.index, openMemory: true }));
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') this.onPick({ index: v.index, openMemory: true });
      });
      this.table.appendChild(tr);
    }
  }

  private markTable(): void {
    for (const tr of Array.from(this.table.rows)) {
      const on = Number(tr.dataset.index) === this.highlighted;
      tr.classList.toggle('highlighted', on);
      if (on) tr.scrollIntoView({ block: 'nearest' });
    }
  }

  private onKey(e: KeyboardEvent): void {
    const m = this.model;
    if (!m) return;
    let i = this.focused;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') i = Math.min(m.vmas.length - 1, i + 1);
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') i = Math.max(0, i - 1);
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = m.vmas.length - 1;
    else if (e.key === 'Enter' || e.key === ' ') {
      this.onPick({ index: m.vmas[i].index, openMemory: e.key === 'Enter' });
      e.preventDefault();
      return;
    } else return;
    e.preventDefault();
    this.focused = i;
    for (const el of Array.from(this.bar.querySelectorAll<HTMLElement>('.as-vma'))) el.tabIndex = Number(el.dataset.i) === i ? 0 : -1;
    this.bar.querySelector<HTMLElement>(`.as-vma[data-i="${i}"]`)?.focus();
  }
}

function protClass(prot: string): string {
  if (prot.startsWith('---')) return 'p-none';
  return `${prot[2] === 'x' ? 'p-x' : ''} ${prot[1] === 'w' ? 'p-w' : 'p-ro'}`;
}

export function vmaText(v: VmaModel): string {
  return `${v.start}–${v.end} · ${formatBytes(v.size)} · ${v.prot} · ${v.kind.replace(/_/g, ' ')}${v.path ? ` · ${v.path}` : ''} · ${v.dumpedBytes ? `${formatBytes(v.dumpedBytes)} dumped` : 'nothing dumped'}`;
}
