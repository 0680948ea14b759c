// The editor's record tree: the image's records by ptag, children loaded when a node opens (in
// pages, for a node with thousands), with the keyboard behaviour of a tree (arrows, Home/End,
// Enter) and a roving tab stop, so that Tab moves past it in one step.

import { handleTreeKey } from './treeKeyboard';
import type { RecordNodeModel } from '../../shared/models';
import { MAX_CHILDREN_PER_REQUEST } from '../../shared/protocol';
import type { HostConnection } from './connection';
import { clear, h } from './dom';

interface TreeNode {
  model: RecordNodeModel;
  depth: number;
  parent?: TreeNode;
  expanded: boolean;
  children?: TreeNode[];
  total?: number;
}

/** A row of the flattened tree: a record, or the "more" row of a node whose children are paged. */
type Row = { node: TreeNode } | { more: TreeNode };

export class RecordTree {
  readonly element: HTMLDivElement;
  private roots: TreeNode[] = [];
  private rootsTotal = 0;
  private readonly byIndex = new Map<number, TreeNode>();
  private rows: Row[] = [];
  private focused?: number;
  private selected?: number;
  private selectTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly conn: HostConnection,
    private readonly onSelect: (index: number) => void,
  ) {
    this.element = h('div', { class: 'tree', role: 'tree', 'aria-label': 'Records of the image' });
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    this.element.addEventListener('click', (e) => this.onClick(e));
  }

  async load(): Promise<void> {
    const { items, total } = await this.conn.request('children', {});
    this.byIndex.clear();
    this.roots = items.map((m) => this.make(m, 0));
    this.rootsTotal = total;
    this.render();
  }

  /** Re-reads the labels and problem marks of the loaded nodes (after a verification). */
  async refreshMarks(): Promise<void> {
    const open = [...this.byIndex.values()].filter((n) => n.expanded).map((n) => n.model.index);
    const selected = this.selected;
    await this.load();
    for (const i of open) {
      const n = this.byIndex.get(i);
      if (n) await this.expand(n, false);
    }
    this.selected = selected;
    this.render();
  }

  get selectedIndex(): number | undefined {
    return this.selected;
  }

  get firstIndex(): number | undefined {
    return this.roots[0]?.model.index;
  }

  /** Opens the ancestors of a record (indices top-down), selects it and scrolls it into view. */
  async reveal(index: number, path: number[], notify: boolean): Promise<void> {
    for (const a of path) {
      const n = this.byIndex.get(a) ?? (await this.loadUntil(a));
      if (!n) break;
      await this.expand(n, false);
    }
    const node = this.byIndex.get(index) ?? (await this.loadUntil(index));
    if (!node) return;
    this.select(node.model.index, notify, false);
  }

  /** Loads more children of the loaded nodes until a record appears (for paged nodes). */
  private async loadUntil(index: number): Promise<TreeNode | undefined> {
    for (let guard = 0; guard < 100 && !this.byIndex.has(index); guard++) {
      const paged = [...this.byIndex.values()].find((n) => n.expanded && n.children && n.total !== undefined && n.children.length < n.total);
      if (paged) await this.more(paged);
      else if (this.roots.length < this.rootsTotal) await this.moreRoots();
      else break;
    }
    return this.byIndex.get(index);
  }

  select(index: number, notify: boolean, focus = true): void {
    this.selected = index;
    this.focused = index;
    this.render();
    const el = this.element.querySelector<HTMLElement>(`[data-index="${index}"]`);
    if (el) {
      el.scrollIntoView({ block: 'nearest' });
      if (focus) el.focus();
    }
    if (notify) this.onSelect(index);
  }

  private make(m: RecordNodeModel, depth: number, parent?: TreeNode): TreeNode {
    const n: TreeNode = { model: m, depth, parent, expanded: false };
    this.byIndex.set(m.index, n);
    return n;
  }

  private async expand(n: TreeNode, render = true): Promise<void> {
    if (n.model.childCount === 0) return;
    if (!n.children) {
      const { items, total } = await this.conn.request('children', { parent: n.model.index, offset: 0, limit: MAX_CHILDREN_PER_REQUEST });
      n.children = items.map((m) => this.make(m, n.depth + 1, n));
      n.total = total;
    }
    n.expanded = true;
    if (render) this.render();
  }

  private async more(n: TreeNode): Promise<void> {
    const have = n.children?.length ?? 0;
    const { items, total } = await this.conn.request('children', { parent: n.model.index, offset: have, limit: MAX_CHILDREN_PER_REQUEST });
    n.children = [...(n.children ?? []), ...items.map((m) => this.make(m, n.depth + 1, n))];
    n.total = total;
    this.render();
  }

  private async moreRoots(): Promise<void> {
    const { items, total } = await this.conn.request('children', { offset: this.roots.length, limit: MAX_CHILDREN_PER_REQUEST });
    this.roots.push(...items.map((m) => this.make(m, 0)));
    this.rootsTotal = total;
    this.render();
  }

  private flatten(): Row[] {
    const out: Row[] = [];
    const walk = (list: TreeNode[]) => {
      for (const n of list) {
        out.push({ node: n });
        if (n.expanded && n.children) {
          walk(n.children);
          if (n.total !== undefined && n.children.length < n.total) out.push({ more: n });
        }
      }
    };
    walk(this.roots);
    return out;
  }

  private render(): void {
    this.rows = this.flatten();
    const scroll = this.element.scrollTop;
    clear(this.element);
    if (this.focused === undefined || !this.rows.some((r) => 'node' in r && r.node.model.index === this.focused)) {
      const first = this.rows.find((r): r is { node: TreeNode } => 'node' in r);
      this.focused = this.selected !== undefined && this.byIndex.has(this.selected) ? this.selected : first?.node.model.index;
    }
    for (const row of this.rows) {
      if ('more' in row) {
        const n = row.more;
        const left = (n.total ?? 0) - (n.children?.length ?? 0);
        const b = h('button', { class: 'tree-more', type: 'button' }, `Show ${Math.min(left, MAX_CHILDREN_PER_REQUEST)} more of ${left}`);
        b.style.paddingLeft = `${(n.depth + 1) * 14 + 22}px`;
        b.addEventListener('click', () => void this.more(n));
        this.element.appendChild(b);
        continue;
      }
      const n = row.node;
      const m = n.model;
      const hasKids = m.childCount > 0;
      const el = h(
        'div',
        {
          class: `tree-row${m.index === this.selected ? ' selected' : ''}${m.problem && !m.problemBelow ? ' damaged' : ''}`,
          role: 'treeitem',
          'aria-level': n.depth + 1,
          'aria-selected': m.index === this.selected ? 'true' : 'false',
          'aria-expanded': hasKids ? String(n.expanded) : undefined,
          tabindex: m.index === this.focused ? 0 : -1,
          title: m.problem ? `${m.title} #${m.index}, tag ${m.tag}: ${m.problem}` : `${m.title} #${m.index}, tag ${m.tag}`,
        },
        h('span', { class: `twistie${hasKids ? (n.expanded ? ' open' : ' closed') : ''}`, 'aria-hidden': 'true' }),
        h('span', { class: `badge t-${m.title.toLowerCase().replace(/[^a-z_]/g, '')}`, 'aria-hidden': 'true' }, m.title),
        h('span', { class: 'tree-detail' }, m.detail),
        m.problem ? h('span', { class: m.problemBelow ? 'mark below' : 'mark', 'aria-label': m.problemBelow ? 'contains damage' : 'damaged' }, m.problemBelow ? '•' : '!') : undefined,
      );
      el.dataset.index = String(m.index);
      el.style.paddingLeft = `${n.depth * 14 + 4}px`;
      this.element.appendChild(el);
    }
    if (this.roots.length < this.rootsTotal) {
      const b = h('button', { class: 'tree-more', type: 'button' }, `Show more of ${this.rootsTotal - this.roots.length}`);
      b.addEventListener('click', () => void this.moreRoots());
      this.element.appendChild(b);
    }
    this.element.scrollTop = scroll;
  }

  private nodeRows(): TreeNode[] {
    return this.rows.flatMap((r) => ('node' in r ? [r.node] : []));
  }

  private focusNode(n: TreeNode): void {
    this.focused = n.model.index;
    // Selection follows focus, as in VS Code's trees, after a pause so that holding an arrow key
    // does not ask the host for every record on the way.
    if (this.selectTimer) clearTimeout(this.selectTimer);
    this.selected = n.model.index;
    this.render();
    const el = this.element.querySelector<HTMLElement>(`[data-index="${n.model.index}"]`);
    el?.focus();
    el?.scrollIntoView({ block: 'nearest' });
    this.selectTimer = setTimeout(() => this.onSelect(n.model.index), 120);
  }

  private onKey(e: KeyboardEvent): void {
    const list = this.nodeRows();
    const cur = list.find((n) => n.model.index === this.focused);
    if (!cur) return;
    const handled = handleTreeKey(e.key, list, cur, {
      hasChildren: (n) => n.model.childCount > 0,
      focus: (n) => this.focusNode(n),
      expand: (n) => void this.expand(n).then(() => this.refocus()),
      collapse: (n) => {
        n.expanded = false;
        this.render();
        this.refocus();
      },
      activate: (n) => {
        if (this.selectTimer) clearTimeout(this.selectTimer);
        this.select(n.model.index, true);
      },
    });
    if (handled) e.preventDefault();
  }

  private refocus(): void {
    this.element.querySelector<HTMLElement>(`[data-index="${this.focused}"]`)?.focus();
  }

  private onClick(e: MouseEvent): void {
    const row = (e.target as HTMLElement).closest('.tree-row') as HTMLElement | null;
    if (!row) return;
    const n = this.byIndex.get(Number(row.dataset.index));
    if (!n) return;
    if ((e.target as HTMLElement).classList.contains('twistie') && n.model.childCount > 0) {
      if (n.expanded) {
        n.expanded = false;
        this.render();
      } else void this.expand(n);
      return;
    }
    if (this.selectTimer) clearTimeout(this.selectTimer);
    this.select(n.model.index, true);
    if (!n.expanded && n.model.childCount > 0 && e.detail === 2) void this.expand(n);
  }
}
