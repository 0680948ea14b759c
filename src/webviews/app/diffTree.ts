// The compare editor's tree of differences: processes, and in them threads, VMAs, fds, signals...,
// each marked added, removed or changed. Children are asked for when a node opens (in pages, for a
// process with thousands of changed VMAs). Keyboard as in VS Code's trees: arrows, Home/End,
// Enter, with one tab stop; selection follows focus after a short pause.

import { handleTreeKey } from './treeKeyboard';
import type { CompareConnection } from './compareConnection';
import { MAX_DIFF_ROWS_PER_REQUEST } from '../../shared/compareProtocol';
import type { DiffRowModel } from '../../shared/compareProtocol';
import { KIND_BADGES, rowSummary } from '../../shared/compareText';
import { clear, h } from './dom';

interface Node {
  row: DiffRowModel;
  depth: number;
  parent?: Node;
  expanded: boolean;
  children?: Node[];
  total?: number;
}

type Line = { node: Node } | { more: Node | undefined };

export const CHANGE_MARK: Record<string, string> = { added: '+', removed: '−', changed: '~' };

export class DiffTree {
  readonly element: HTMLDivElement;
  private roots: Node[] = [];
  private rootsTotal = 0;
  private readonly byId = new Map<number, Node>();
  private lines: Line[] = [];
  private focused?: number;
  private selected?: number;
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly conn: CompareConnection,
    private readonly onSelect: (id: number) => void,
  ) {
    this.element = h('div', { class: 'tree diff-tree', role: 'tree', 'aria-label': 'Differences between the images' });
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    this.element.addEventListener('click', (e) => this.onClick(e));
  }

  get selectedId(): number | undefined {
    return this.selected;
  }

  clear(): void {
    this.roots = [];
    this.rootsTotal = 0;
    this.byId.clear();
    this.selected = this.focused = undefined;
    this.render();
  }

  /** Loads the top level, and opens the first nodes that have children (a process and what it holds). */
  async load(openFirst: number): Promise<void> {
    const { items, total } = await this.conn.request('children', { limit: MAX_DIFF_ROWS_PER_REQUEST });
    this.byId.clear();
    this.roots = items.map((r) => this.make(r, 0));
    this.rootsTotal = total;
    for (const n of this.roots.slice(0, openFirst)) if (n.row.childCount > 0) await this.expand(n, false);
    this.render();
  }

  get first(): number | undefined {
    return this.roots[0]?.row.id;
  }

  /** The first node (in tree order, among those loaded) that satisfies a test. */
  find(test: (r: DiffRowModel) => boolean): number | undefined {
    for (const l of this.flatten()) if ('node' in l && test(l.node.row)) return l.node.row.id;
    return undefined;
  }

  select(id: number, notify: boolean, focus = false): void {
    this.selected = this.focused = id;
    this.render();
    const el = this.rowEl(id);
    el?.scrollIntoView({ block: 'nearest' });
    if (focus) el?.focus();
    if (notify) this.onSelect(id);
  }

  private make(r: DiffRowModel, depth: number, parent?: Node): Node {
    const n: Node = { row: r, depth, parent, expanded: false };
    this.byId.set(r.id, n);
    return n;
  }

  private rowEl(id: number | undefined): HTMLElement | null {
    return id === undefined ? null : this.element.querySelector<HTMLElement>(`[data-id="${id}"]`);
  }

  private async expand(n: Node, render = true): Promise<void> {
    if (n.row.childCount === 0) return;
    if (!n.children) {
      const { items, total } = await this.conn.request('children', { parent: n.row.id, limit: MAX_DIFF_ROWS_PER_REQUEST });
      n.children = items.map((r) => this.make(r, n.depth + 1, n));
      n.total = total;
    }
    n.expanded = true;
    if (render) this.render();
  }

  private async more(n: Node | undefined): Promise<void> {
    const have = n ? n.children?.length ?? 0 : this.roots.length;
    const { items, total } = await this.conn.request('children', { ...(n ? { parent: n.row.id } : {}), offset: have, limit: MAX_DIFF_ROWS_PER_REQUEST });
    if (n) {
      n.children = [...(n.children ?? []), ...items.map((r) => this.make(r, n.depth + 1, n))];
      n.total = total;
    } else {
      this.roots.push(...items.map((r) => this.make(r, 0)));
      this.rootsTotal = total;
    }
    this.render();
  }

  private flatten(): Line[] {
    const out: Line[] = [];
    const walk = (list: Node[]) => {
      for (const n of list) {
        out.push({ node: n });
        if (n.expanded && n.children) {
          walk(n.children);
          if (n.total !== undefined && n.children.length < n.total) out.push({ more: n });
        }
      }
    };
    walk(this.roots);
    if (this.roots.length < this.rootsTotal) out.push({ more: undefined });
    return out;
  }

  private render(): void {
    this.lines = this.flatten();
    const scroll = this.element.scrollTop;
    clear(this.element);
    const nodes = this.nodeLines();
    if (this.focused === undefined || !this.byId.has(this.focused) || !nodes.some((n) => n.row.id === this.focused)) {
      this.focused = this.selected !== undefined && nodes.some((n) => n.row.id === this.selected) ? this.selected : nodes[0]?.row.id;
    }
    for (const line of this.lines) {
      if ('more' in line) {
        const n = line.more;
        const left = n ? (n.total ?? 0) - (n.children?.length ?? 0) : this.rootsTotal - this.roots.length;
        const b = h('button', { class: 'tree-more', type: 'button' }, `Show ${Math.min(left, MAX_DIFF_ROWS_PER_REQUEST)} more of ${left}`);
        b.style.paddingLeft = `${((n?.depth ?? -1) + 1) * 14 + 22}px`;
        b.addEventListener('click', () => void this.more(n));
        this.element.appendChild(b);
        continue;
      }
      const n = line.node;
      const r = n.row;
      const kids = r.childCount > 0;
      const summary = rowSummary(r);
      const el = h(
        'div',
        {
          class: `tree-row diff-row ${r.change}${r.id === this.selected ? ' selected' : ''}`,
          role: 'treeitem',
          'aria-level': n.depth + 1,
          'aria-selected': r.id === this.selected ? 'true' : 'false',
          'aria-expanded': kids ? String(n.expanded) : undefined,
          'aria-label': `${r.label}, ${r.change}${summary ? `, ${summary}` : ''}`,
          tabindex: r.id === this.focused ? 0 : -1,
          title: `${r.label} (${r.change})`,
        },
        h('span', { class: `twistie${kids ? (n.expanded ? ' open' : ' closed') : ''}`, 'aria-hidden': 'true' }),
        h('span', { class: `chg ${r.change}`, 'aria-hidden': 'true' }, CHANGE_MARK[r.change] ?? '?'),
        h('span', { class: `badge t-${r.kind.replace(/[^a-z]/g, '')}`, 'aria-hidden': 'true' }, KIND_BADGES[r.kind] ?? r.kind.toUpperCase()),
        h('span', { class: 'tree-label' }, r.label),
        summary ? h('span', { class: 'tree-detail' }, summary) : undefined,
      );
      el.dataset.id = String(r.id);
      el.style.paddingLeft = `${n.depth * 14 + 4}px`;
      this.element.appendChild(el);
    }
    this.element.scrollTop = scroll;
  }

  private nodeLines(): Node[] {
    return this.lines.flatMap((l) => ('node' in l ? [l.node] : []));
  }

  private focusNode(n: Node): void {
    if (this.timer) clearTimeout(this.timer);
    this.focused = this.selected = n.row.id;
    this.render();
    const el = this.rowEl(n.row.id);
    el?.focus();
    el?.scrollIntoView({ block: 'nearest' });
    this.timer = setTimeout(() => this.onSelect(n.row.id), 120);
  }

  private refocus(): void {
    this.rowEl(this.focused)?.focus();
  }

  private onKey(e: KeyboardEvent): void {
    const list = this.nodeLines();
    const cur = list.find((n) => n.row.id === this.focused);
    if (!cur) return;
    const handled = handleTreeKey(e.key, list, cur, {
      hasChildren: (n) => n.row.childCount > 0,
      focus: (n) => this.focusNode(n),
      expand: (n) => void this.expand(n).then(() => this.refocus()),
      collapse: (n) => {
        n.expanded = false;
        this.render();
        this.refocus();
      },
      activate: (n) => {
        if (this.timer) clearTimeout(this.timer);
        this.select(n.row.id, true, true);
      },
    });
    if (handled) e.preventDefault();
  }

  private onClick(e: MouseEvent): void {
    const el = (e.target as HTMLElement).closest('.tree-row') as HTMLElement | null;
    const n = el ? this.byId.get(Number(el.dataset.id)) : undefined;
    if (!n) return;
    if ((e.target as HTMLElement).classList.contains('twistie') && n.row.childCount > 0) {
      if (n.expanded) {
        n.expanded = false;
        this.render();
      } else void this.expand(n);
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.select(n.row.id, true, true);
    if (!n.expanded && n.row.childCount > 0 && e.detail === 2) void this.expand(n);
  }
}
