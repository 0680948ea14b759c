// One difference in the compare editor: what it is and how it changed; its fields A beside B; for a
// VMA its area on each side and its changed pages (a list, paged, each page opening the side-by-side
// hex diff below); for a thread its registers side by side, the changed ones marked, and its
// backtrace in each image side by side (for a process, each of its threads'). Buttons open the
// node's record in image A or B.

import type { CompareConnection } from './compareConnection';
import { MAX_PAGES_PER_REQUEST } from '../../shared/compareProtocol';
import type { DiffDetailModel, PageRowModel, VmaSideModel } from '../../shared/compareProtocol';
import { KIND_BADGES, pagesText, plural } from '../../shared/compareText';
import { backtracePairSection } from './backtraceView';
import { CHANGE_MARK } from './diffTree';
import { clear, h } from './dom';
import { HexDiffView } from './hexDiffView';

const PAGE_WORDS: Record<string, string> = { modified: 'modified', added: 'only in B', removed: 'only in A' };

export class DiffDetail {
  readonly element: HTMLDivElement;
  private readonly title: HTMLDivElement;
  private readonly body: HTMLDivElement;
  readonly hexDiff = new HexDiffView();
  private detail?: DiffDetailModel;
  private pageList?: HTMLDivElement;
  private pageRows: PageRowModel[] = [];
  private focusedPage = 0;
  private openPage?: string;
  private ticket = 0;
  names = { a: 'A', b: 'B' };

  constructor(
    private readonly conn: CompareConnection,
    private readonly onOpen: (side: 'a' | 'b', node: number) => void,
  ) {
    this.title = h('div', { class: 'detail-title' });
    this.body = h('div', { class: 'diff-body' });
    this.element = h('div', { class: 'detail diff-detail' }, this.title, this.body, this.hexDiff.element);
    this.hexDiff.element.hidden = true;
    this.showEmpty('Select a difference');
  }

  get current(): DiffDetailModel | undefined {
    return this.detail;
  }

  showEmpty(text: string): void {
    this.detail = undefined;
    this.title.textContent = text;
    clear(this.body);
    this.closePage();
  }

  async show(id: number): Promise<void> {
    const ticket = ++this.ticket;
    const d = await this.conn.request('node', { id });
    if (ticket !== this.ticket) return;
    this.detail = d;
    this.closePage();
    const r = d.row;
    clear(this.title);
    this.title.appendChild(
      h(
        'div',
        { class: 'diff-heading' },
        h('span', { class: `chg ${r.change}`, 'aria-hidden': 'true' }, CHANGE_MARK[r.change] ?? '?'),
        h('span', { class: `badge t-${r.kind.replace(/[^a-z]/g, '')}` }, KIND_BADGES[r.kind] ?? r.kind),
        h('span', { class: 'detail-name' }, r.label),
        h('span', { class: `chg-word ${r.change}` }, r.change === 'added' ? 'only in B' : r.change === 'removed' ? 'only in A' : 'changed'),
      ),
    );
    const actions = h('div', { class: 'actions' });
    const openIn = (side: 'a' | 'b') => {
      const b = h('button', { type: 'button', class: 'secondary', title: `Open image ${side.toUpperCase()} (${this.names[side]}) at this record` }, `Show in ${side.toUpperCase()}`);
      b.dataset.side = side;
      b.addEventListener('click', () => this.onOpen(side, r.id));
      return b;
    };
    if (r.change !== 'added') actions.appendChild(openIn('a'));
    if (r.change !== 'removed') actions.appendChild(openIn('b'));
    this.title.appendChild(actions);

    clear(this.body);
    if (d.vma) this.body.appendChild(this.vmaSection(d.vma, d.aspects ?? []));
    if (d.fields.length) this.body.appendChild(this.fieldsSection(d));
    if (d.registers) this.body.appendChild(this.registersSection(d));
    if (d.pages) await this.pagesSection(d);
    if (d.process && (r.kind === 'process' || r.kind === 'thread')) this.body.appendChild(this.backtracesSection(d));
    if (!this.body.firstChild) {
      this.body.appendChild(h('p', { class: 'dim' }, r.childCount ? `Changed in what it holds: ${plural(r.childCount, 'difference')} below it in the tree.` : 'Nothing more to show.'));
    }
  }

  /** The thread pairs of the node's process (a thread node: its own pair), each with both backtraces when opened. */
  private backtracesSection(d: DiffDetailModel): HTMLElement {
    const list = h('div', { class: 'bt-pairs' }, h('div', { class: 'dim' }, 'finding the threads…'));
    const id = d.row.id;
    this.conn.request('threads', { id }).then(
      ({ pairs }) => {
        // (A list replaced meanwhile by another node's detail is no longer in the page: filling it is harmless.)
        clear(list);
        const shown = d.row.kind === 'thread' ? pairs.filter((p) => p.key === d.row.key) : pairs;
        shown.forEach((p, i) => list.appendChild(backtracePairSection(p.label, i < 4, this.names, () => this.conn.request('backtraces', { id, key: p.key }))));
        if (!shown.length) list.appendChild(h('div', { class: 'dim' }, 'no threads'));
      },
      (e: Error) => {
        clear(list);
        list.appendChild(h('div', { class: 'error' }, `No backtraces: ${e.message}`));
      },
    );
    return this.section(d.row.kind === 'thread' ? 'Backtraces' : 'Backtraces of its threads', list);
  }

  private section(title: string, ...content: (Node | string)[]): HTMLElement {
    return h('section', { class: 'diff-section' }, h('h2', { class: 'pane-title' }, title), ...content);
  }

  private sideTable(caption: string, rows: { name: string; a: string; b: string; differs: boolean }[], cls = ''): HTMLTableElement {
    const t = h('table', { class: `side-table ${cls}` }, h('caption', { class: 'visually-hidden' }, caption));
    t.appendChild(h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), h('th', { scope: 'col' }, `A: ${this.names.a}`), h('th', { scope: 'col' }, `B: ${this.names.b}`))));
    const body = h('tbody');
    for (const r of rows) {
      body.appendChild(
        h(
          'tr',
          { class: r.differs ? 'differs' : '' },
          h('th', { scope: 'row' }, r.differs ? h('span', { class: 'neq', 'aria-label': 'differs' }, '≠') : '', r.name),
          h('td', { class: 'a' }, r.a),
          h('td', { class: 'b' }, r.b),
        ),
      );
    }
    t.appendChild(body);
    return t;
  }

  private vmaSection(v: { a?: VmaSideModel; b?: VmaSideModel }, aspects: string[]): HTMLElement {
    const text = (s: VmaSideModel | undefined, f: (s: VmaSideModel) => string) => (s ? f(s) : '—');
    const rows = [
      { name: 'range', f: (s: VmaSideModel) => `${s.start}–${s.end}` },
      { name: 'protection', f: (s: VmaSideModel) => s.prot },
      { name: 'kind', f: (s: VmaSideModel) => s.kind.replace(/_/g, ' ') },
      { name: 'file', f: (s: VmaSideModel) => s.path || '(none)' },
    ].map(({ name, f }) => {
      const a = text(v.a, f),
        b = text(v.b, f);
      return { name, a, b, differs: a !== b };
    });
    const content: (Node | string)[] = [this.sideTable('The area on each side', rows, 'mono')];
    if (aspects.length) content.unshift(h('div', { class: 'aspects' }, ...aspects.map((a) => h('span', { class: 'aspect' }, a.replace(/-/g, ' ')))));
    return this.section('Area', ...content);
  }

  private fieldsSection(d: DiffDetailModel): HTMLElement {
    const rows = d.fields.map((f) => {
      if (f.bytes) {
        const { aLength, bLength, differ, first } = f.bytes;
        const note = `${differ} byte${differ === 1 ? '' : 's'} differ${differ ? ` from offset 0x${first.toString(16)}` : ''}`;
        return { name: f.path, a: `${aLength} bytes`, b: `${bLength} bytes; ${note}`, differs: true };
      }
      return { name: f.path, a: f.a || '(absent)', b: f.b || '(absent)', differs: true };
    });
    const s = this.section(`Fields (${d.fields.length + (d.moreFields ?? 0)})`, this.sideTable('Changed fields', rows, 'mono fields-table'));
    if (d.moreFields) s.appendChild(h('p', { class: 'dim' }, `… ${d.moreFields} more, not shown`));
    return s;
  }

  private registersSection(d: DiffDetailModel): HTMLElement {
    const regs = d.registers ?? [];
    const changed = regs.filter((r) => r.changed).length;
    const rows = regs.map((r) => ({ name: r.name, a: r.a ?? '—', b: r.b ?? '—', differs: r.changed }));
    const title = d.row.change === 'changed' ? `Registers (${changed} changed)` : 'Registers';
    return this.section(title, this.sideTable('General-purpose registers on each side', rows, 'mono registers'));
  }

  private async pagesSection(d: DiffDetailModel): Promise<void> {
    const p = d.pages!;
    this.pageRows = [];
    this.focusedPage = 0;
    const list = h('div', { class: 'page-list', role: 'listbox', 'aria-label': `Changed pages: ${pagesText(p)}` });
    this.pageList = list;
    list.addEventListener('click', (e) => {
      const el = (e.target as HTMLElement).closest('.page-row') as HTMLElement | null;
      if (el) void this.openAt(Number(el.dataset.i), true);
    });
    list.addEventListener('keydown', (e) => this.onPageKey(e));
    this.body.appendChild(this.section(`Changed pages: ${pagesText(p)}`, h('p', { class: 'dim hint' }, 'Choose a page to see its bytes side by side.'), list));
    await this.morePages();
  }

  private async morePages(): Promise<void> {
    const d = this.detail;
    const list = this.pageList;
    if (!d || !list) return;
    const { items, total } = await this.conn.request('pages', { id: d.row.id, offset: this.pageRows.length, limit: MAX_PAGES_PER_REQUEST });
    if (this.detail !== d) return;
    list.querySelector('.tree-more')?.remove();
    for (const pg of items) {
      const i = this.pageRows.length;
      this.pageRows.push(pg);
      const el = h(
        'div',
        {
          class: `page-row ${pg.change}`,
          role: 'option',
          id: `page-${i}`,
          tabindex: i === this.focusedPage ? 0 : -1,
          'aria-selected': 'false',
          'aria-label': `page ${pg.addr}, ${PAGE_WORDS[pg.change]}`,
        },
        h('span', { class: `chg ${pg.change === 'modified' ? 'changed' : pg.change}`, 'aria-hidden': 'true' }, pg.change === 'modified' ? '~' : pg.change === 'added' ? '+' : '−'),
        h('span', { class: 'mono page-addr' }, pg.addr),
        h('span', { class: 'dim' }, PAGE_WORDS[pg.change]),
      );
      el.dataset.i = String(i);
      el.dataset.addr = pg.addr;
      list.appendChild(el);
    }
    if (this.pageRows.length < total) {
      const left = total - this.pageRows.length;
      const b = h('button', { type: 'button', class: 'tree-more' }, `Show ${Math.min(left, MAX_PAGES_PER_REQUEST)} more of ${left}`);
      b.addEventListener('click', () => void this.morePages());
      list.appendChild(b);
    }
  }

  private pageEl(i: number): HTMLElement | null | undefined {
    return this.pageList?.querySelector<HTMLElement>(`#page-${i}`);
  }

  private focusPage(i: number): void {
    if (this.pageRows.length === 0) return;
    const next = Math.max(0, Math.min(this.pageRows.length - 1, i));
    this.pageEl(this.focusedPage)?.setAttribute('tabindex', '-1');
    this.focusedPage = next;
    const el = this.pageEl(next);
    el?.setAttribute('tabindex', '0');
    el?.focus();
    el?.scrollIntoView({ block: 'nearest' });
  }

  private onPageKey(e: KeyboardEvent): void {
    switch (e.key) {
      case 'ArrowDown':
        this.focusPage(this.focusedPage + 1);
        break;
      case 'ArrowUp':
        this.focusPage(this.focusedPage - 1);
        break;
      case 'Home':
        this.focusPage(0);
        break;
      case 'End':
        this.focusPage(this.pageRows.length - 1);
        break;
      case 'Enter':
      case ' ':
        void this.openAt(this.focusedPage, false);
        break;
      default:
        return;
    }
    e.preventDefault();
  }

  /** Opens the side-by-side hex diff of the i-th changed page. */
  async openAt(i: number, byPointer: boolean): Promise<void> {
    const d = this.detail;
    const pg = this.pageRows[i];
    if (!d || !pg) return;
    if (byPointer) this.focusPage(i);
    for (const el of Array.from(this.pageList?.querySelectorAll('.page-row[aria-selected="true"]') ?? [])) el.setAttribute('aria-selected', 'false');
    this.pageEl(i)?.setAttribute('aria-selected', 'true');
    this.openPage = pg.addr;
    const ticket = this.ticket;
    const bytes = await this.conn.request('pageBytes', { id: d.row.id, addr: pg.addr });
    if (ticket !== this.ticket || this.openPage !== pg.addr) return;
    this.element.classList.add('has-page');
    this.hexDiff.element.hidden = false;
    this.hexDiff.show(bytes, this.names);
  }

  private closePage(): void {
    this.openPage = undefined;
    this.pageList = undefined;
    this.element.classList.remove('has-page');
    this.hexDiff.element.hidden = true;
    this.hexDiff.clear();
  }
}
