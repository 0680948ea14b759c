// A record's decoded fields as a tree of name/value rows, with each field's documentation from the
// format. Selecting a field reports its bytes, which the hex view below highlights.

import type { FieldModel, RecordDetailModel } from '../../shared/models';
import { clear, h } from './dom';

interface Row {
  field: FieldModel;
  depth: number;
  key: string;
  parentKey?: string;
}

export class FieldsView {
  readonly element: HTMLDivElement;
  private readonly list: HTMLDivElement;
  private readonly doc: HTMLDivElement;
  private groups: { label: string; fields: FieldModel[]; key: string }[] = [];
  private readonly open = new Set<string>();
  private rows: Row[] = [];
  private selectedKey?: string;
  private focusedKey?: string;

  constructor(private readonly onSelectField: (f: FieldModel | undefined) => void) {
    this.list = h('div', { class: 'fields', role: 'tree', 'aria-label': 'Decoded fields' });
    this.doc = h('div', { class: 'field-doc', 'aria-live': 'polite' });
    this.element = h('div', { class: 'fields-pane' }, this.list, this.doc);
    this.list.addEventListener('click', (e) => this.onClick(e));
    this.list.addEventListener('keydown', (e) => this.onKey(e));
  }

  show(d: RecordDetailModel): void {
    this.groups = [];
    this.open.clear();
    this.selectedKey = this.focusedKey = undefined;
    if (d.fields) this.groups.push({ label: 'payload', fields: d.fields, key: 'p' });
    this.groups.push({ label: 'record header', fields: d.header, key: 'h' });
    // Open the payload, and small structures (not arrays) inside it, so that values are in sight at once.
    this.open.add('p');
    d.fields?.forEach((f, i) => {
      if (f.children && f.children.length <= 8 && !f.display) this.open.add(`p/${i}`);
    });
    clear(this.doc);
    if (d.decodeError) this.doc.appendChild(h('span', { class: 'error' }, `This payload cannot be decoded: ${d.decodeError}`));
    else if (!d.fields) this.doc.textContent = d.node.title === 'PAGES' ? 'Page data: see the Memory tab.' : 'No decoded fields for this record type.';
    this.render();
  }

  private flatten(): Row[] {
    const out: Row[] = [];
    const walk = (fields: FieldModel[], depth: number, prefix: string) => {
      fields.forEach((f, i) => {
        const key = `${prefix}/${i}`;
        out.push({ field: f, depth, key, parentKey: prefix });
        if (f.children && this.open.has(key)) walk(f.children, depth + 1, key);
      });
    };
    for (const g of this.groups) {
      const size = g.fields.reduce((n, f) => n + f.size, 0);
      const first = g.fields[0]?.fileOffset ?? 0;
      out.push({ field: { name: g.label, display: '', fileOffset: first, size, children: g.fields }, depth: 0, key: g.key });
      if (this.open.has(g.key)) walk(g.fields, 1, g.key);
    }
    return out;
  }

  private render(): void {
    this.rows = this.flatten();
    if (!this.focusedKey || !this.rows.some((r) => r.key === this.focusedKey)) this.focusedKey = this.rows[0]?.key;
    clear(this.list);
    for (const r of this.rows) {
      const f = r.field;
      const kids = !!f.children?.length;
      const el = h(
        'div',
        {
          class: `field-row${r.key === this.selectedKey ? ' selected' : ''}${r.depth === 0 ? ' group' : ''}`,
          role: 'treeitem',
          'aria-level': r.depth + 1,
          'aria-expanded': kids ? String(this.open.has(r.key)) : undefined,
          'aria-selected': r.key === this.selectedKey ? 'true' : 'false',
          tabindex: r.key === this.focusedKey ? 0 : -1,
          title: f.doc,
        },
        h('span', { class: `twistie${kids ? (this.open.has(r.key) ? ' open' : ' closed') : ''}`, 'aria-hidden': 'true' }),
        h('span', { class: 'field-name' }, f.name),
        h('span', { class: 'field-value' }, f.display || (kids && !this.open.has(r.key) ? `{${f.children!.length}${f.moreChildren ? '+' : ''} fields}` : '')),
      );
      el.dataset.key = r.key;
      el.style.paddingLeft = `${r.depth * 14 + 2}px`;
      this.list.appendChild(el);
      if (kids && this.open.has(r.key) && f.moreChildren) {
        const more = h('div', { class: 'field-row more' }, `… ${f.moreChildren} more, not shown`);
        more.style.paddingLeft = `${(r.depth + 1) * 14 + 20}px`;
        this.list.appendChild(more);
      }
    }
  }

  private selectRow(r: Row, focus: boolean): void {
    this.selectedKey = this.focusedKey = r.key;
    this.render();
    const el = this.list.querySelector<HTMLElement>(`[data-key="${CSS.escape(r.key)}"]`);
    el?.scrollIntoView({ block: 'nearest' });
    if (focus) el?.focus();
    const f = r.field;
    clear(this.doc);
    this.doc.appendChild(h('strong', {}, f.name));
    this.doc.appendChild(document.createTextNode(` · ${f.size} byte${f.size === 1 ? '' : 's'} at file offset 0x${f.fileOffset.toString(16)}`));
    if (f.doc) this.doc.appendChild(h('div', {}, f.doc));
    this.onSelectField(f.size > 0 ? f : undefined);
  }

  private toggle(r: Row): void {
    if (!r.field.children?.length) return;
    if (this.open.has(r.key)) this.open.delete(r.key);
    else this.open.add(r.key);
    this.render();
    this.list.querySelector<HTMLElement>(`[data-key="${CSS.escape(r.key)}"]`)?.focus();
  }

  private onClick(e: MouseEvent): void {
    const el = (e.target as HTMLElement).closest('.field-row') as HTMLElement | null;
    const r = this.rows.find((x) => x.key === el?.dataset.key);
    if (!r) return;
    if ((e.target as HTMLElement).classList.contains('twistie')) this.toggle(r);
    else this.selectRow(r, true);
  }

  private onKey(e: KeyboardEvent): void {
    const i = this.rows.findIndex((r) => r.key === this.focusedKey);
    const r = this.rows[i];
    if (!r) return;
    switch (e.key) {
      case 'ArrowDown':
        if (this.rows[i + 1]) this.selectRow(this.rows[i + 1], true);
        break;
      case 'ArrowUp':
        if (i > 0) this.selectRow(this.rows[i - 1], true);
        break;
      case 'ArrowRight':
        if (r.field.children?.length && !this.open.has(r.key)) this.toggle(r);
        else if (this.rows[i + 1]?.parentKey === r.key) this.selectRow(this.rows[i + 1], true);
        break;
      case 'ArrowLeft': {
        if (this.open.has(r.key)) this.toggle(r);
        else {
          const p = this.rows.find((x) => x.key === r.parentKey);
          if (p) this.selectRow(p, true);
        }
        break;
      }
      case 'Enter':
      case ' ':
        this.selectRow(r, true);
        break;
      default:
        return;
    }
    e.preventDefault();
  }
}
