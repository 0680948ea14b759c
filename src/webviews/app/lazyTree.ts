// A tree whose children are asked of the host when a node opens, a page at a time for a node with
// thousands, with the keyboard behaviour of VS Code's trees (treeKeyboard.ts), one tab stop so that
// Tab moves past it in one step, and selection that follows focus after a pause. The editor's record
// tree and the compare editor's tree of differences are both one; each says how its rows look.

import { handleTreeKey } from './treeKeyboard';
import { clear, h } from './dom';

/** One page of a node's children, and how many it has in all. */
export interface ChildPage<M> {
  items: M[];
  total: number;
}

/** Asks the host for a page of the children of `parent` (the top level when undefined): both protocols' `children`. */
export type FetchChildren<M> = (params: { parent?: number; offset: number; limit: number }) => Promise<ChildPage<M>>;

/** What the tree needs of a node's model. */
export interface TreeModel {
  childCount: number;
}

/** What a row shows besides what every row has (twistie, level, selection, tab stop). */
export interface RowLook {
  class?: string;
  ariaLabel?: string;
  title: string;
  content: Array<Node | undefined>;
}

interface TreeNode<M> {
  model: M;
  id: number;
  depth: number;
  parent?: TreeNode<M>;
  expanded: boolean;
  children?: TreeNode<M>[];
  total?: number;
}

/** A row of the flattened tree: a node, or the "more" row of a node (undefined: the top level) whose children are paged. */
type Line<M> = { node: TreeNode<M> } | { more: TreeNode<M> | undefined };

/** Selection follows focus after this pause, so that holding an arrow key does not ask the host for every row on the way. */
const SELECT_AFTER_MS = 120;

export abstract class LazyTree<M extends TreeModel> {
  readonly element: HTMLDivElement;
  private roots: TreeNode<M>[] = [];
  private rootsTotal = 0;
  private readonly byId = new Map<number, TreeNode<M>>();
  private lines: Line<M>[] = [];
  private focused?: number;
  private selected?: number;
  private selectTimer?: ReturnType<typeof setTimeout>;

  constructor(
    ariaLabel: string,
    className: string,
    private readonly pageSize: number,
    private readonly fetchChildren: FetchChildren<M>,
    private readonly idOf: (m: M) => number,
    private readonly onSelect: (id: number) => void,
  ) {
    this.element = h('div', { class: `tree ${className}`.trim(), role: 'tree', 'aria-label': ariaLabel });
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    this.element.addEventListener('click', (e) => this.onClick(e));
  }

  protected abstract rowLook(m: M): RowLook;

  get selectedId(): number | undefined {
    return this.selected;
  }

  get firstId(): number | undefined {
    return this.roots[0] ? this.roots[0].id : undefined;
  }

  /** Forgets every node. */
  reset(): void {
    this.roots = [];
    this.rootsTotal = 0;
    this.byId.clear();
    this.selected = this.focused = undefined;
    this.render();
  }

  /** Loads the first page of the top level, and opens the first `openFirst` nodes that have children. */
  async load(openFirst = 0): Promise<void> {
    const { items, total } = await this.fetchChildren({ offset: 0, limit: this.pageSize });
    this.byId.clear();
    this.roots = items.map((m) => this.make(m, 0));
    this.rootsTotal = total;
    for (const n of this.roots.slice(0, openFirst)) await this.expand(n, false);
    this.render();
  }

  /** Reads the loaded nodes again (their labels may have changed), keeping what was open and selected. */
  async reload(): Promise<void> {
    const open = [...this.byId.values()].filter((n) => n.expanded).map((n) => n.id);
    const selected = this.selected;
    await this.load();
    for (const id of open) {
      const n = this.byId.get(id);
      if (n) await this.expand(n, false);
    }
    this.selected = selected;
    this.render();
  }

  /** The first loaded node, in tree order, whose model passes a test. */
  find(test: (m: M) => boolean): number | undefined {
    for (const l of this.flatten()) if ('node' in l && test(l.node.model)) return l.node.id;
    return undefined;
  }

  /** Opens the ancestors of a node (ids top-down), selects it and scrolls it into view. */
  async reveal(id: number, ancestors: number[], notify: boolean): Promise<void> {
    for (const a of ancestors) {
      const n = this.byId.get(a) ?? (await this.loadUntil(a));
      if (!n) break;
      await this.expand(n, false);
    }
    if (this.byId.get(id) ?? (await this.loadUntil(id))) this.select(id, notify);
    else this.render();
  }

  select(id: number, notify: boolean, focus = false): void {
    if (this.selectTimer) clearTimeout(this.selectTimer);
    this.selected = this.focused = id;
    this.render();
    const el = this.rowElement(id);
    el?.scrollIntoView({ block: 'nearest' });
    if (focus) el?.focus();
    if (notify) this.onSelect(id);
  }

  private make(m: M, depth: number, parent?: TreeNode<M>): TreeNode<M> {
    const n: TreeNode<M> = { model: m, id: this.idOf(m), depth, parent, expanded: false };
    this.byId.set(n.id, n);
    return n;
  }

  private rowElement(id: number | undefined): HTMLElement | null {
    return id === undefined ? null : this.element.querySelector<HTMLElement>(`.tree-row[data-id="${id}"]`);
  }

  private async expand(n: TreeNode<M>, render = true): Promise<void> {
    if (n.model.childCount === 0) return;
    if (!n.children) {
      const { items, total } = await this.fetchChildren({ parent: n.id, offset: 0, limit: this.pageSize });
      n.children = items.map((m) => this.make(m, n.depth + 1, n));
      n.total = total;
    }
    n.expanded = true;
    if (render) this.render();
  }

  private collapse(n: TreeNode<M>): void {
    n.expanded = false;
    this.render();
  }

  /** Loads the next page of children of a node, or of the top level. */
  private async more(n: TreeNode<M> | undefined, render = true): Promise<void> {
    const siblings = n ? (n.children ?? []) : this.roots;
    const { items, total } = await this.fetchChildren({ parent: n?.id, offset: siblings.length, limit: this.pageSize });
    siblings.push(...items.map((m) => this.make(m, n ? n.depth + 1 : 0, n)));
    if (n) {
      n.children = siblings;
      n.total = total;
    } else this.rootsTotal = total;
    if (render) this.render();
  }

  /** Loads further pages of the open nodes until a node appears (it may sit deep in a paged list). */
  private async loadUntil(id: number): Promise<TreeNode<M> | undefined> {
    for (let guard = 0; guard < 100 && !this.byId.has(id); guard++) {
      const paged = [...this.byId.values()].find((n) => n.expanded && n.children && n.total !== undefined && n.children.length < n.total);
      if (paged) await this.more(paged, false);
      else if (this.roots.length < this.rootsTotal) await this.more(undefined, false);
      else break;
    }
    return this.byId.get(id);
  }

  private flatten(): Line<M>[] {
    const out: Line<M>[] = [];
    const walk = (list: TreeNode<M>[]) => {
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

  private visibleNodes(): TreeNode<M>[] {
    return this.lines.flatMap((l) => ('node' in l ? [l.node] : []));
  }

  private render(): void {
    this.lines = this.flatten();
    const scroll = this.element.scrollTop;
    clear(this.element);
    // The one tab stop stays on a visible row: the focused one, else the selected one, else the first.
    const visible = this.visibleNodes();
    if (!visible.some((n) => n.id === this.focused)) this.focused = visible.some((n) => n.id === this.selected) ? this.selected : visible[0]?.id;
    for (const line of this.lines) {
      if ('more' in line) this.element.appendChild(this.moreButton(line.more));
      else this.element.appendChild(this.rowFor(line.node));
    }
    this.element.scrollTop = scroll;
  }

  private moreButton(n: TreeNode<M> | undefined): HTMLButtonElement {
    const left = n ? (n.total ?? 0) - (n.children?.length ?? 0) : this.rootsTotal - this.roots.length;
    const b = h('button', { class: 'tree-more', type: 'button' }, `Show ${Math.min(left, this.pageSize)} more of ${left}`);
    b.style.paddingLeft = `${((n?.depth ?? -1) + 1) * 14 + 22}px`;
    b.addEventListener('click', () => void this.more(n));
    return b;
  }

  private rowFor(n: TreeNode<M>): HTMLDivElement {
    const look = this.rowLook(n.model);
    const parent = n.model.childCount > 0;
    const selected = n.id === this.selected;
    const el = h(
      'div',
      {
        class: `tree-row${look.class ? ` ${look.class}` : ''}${selected ? ' selected' : ''}`,
        role: 'treeitem',
        'aria-level': n.depth + 1,
        'aria-selected': selected ? 'true' : 'false',
        'aria-expanded': parent ? String(n.expanded) : undefined,
        'aria-label': look.ariaLabel,
        tabindex: n.id === this.focused ? 0 : -1,
        title: look.title,
      },
      h('span', { class: `twistie${parent ? (n.expanded ? ' open' : ' closed') : ''}`, 'aria-hidden': 'true' }),
      ...look.content,
    );
    el.dataset.id = String(n.id);
    el.style.paddingLeft = `${n.depth * 14 + 4}px`;
    return el;
  }

  private focusNode(n: TreeNode<M>): void {
    if (this.selectTimer) clearTimeout(this.selectTimer);
    this.selected = this.focused = n.id;
    this.render();
    const el = this.rowElement(n.id);
    el?.focus();
    el?.scrollIntoView({ block: 'nearest' });
    this.selectTimer = setTimeout(() => this.onSelect(n.id), SELECT_AFTER_MS);
  }

  private refocus(): void {
    this.rowElement(this.focused)?.focus();
  }

  private onKey(e: KeyboardEvent): void {
    const visible = this.visibleNodes();
    const current = visible.find((n) => n.id === this.focused);
    if (!current) return;
    const handled = handleTreeKey(e.key, visible, current, {
      hasChildren: (n) => n.model.childCount > 0,
      focus: (n) => this.focusNode(n),
      expand: (n) => void this.expand(n).then(() => this.refocus()),
      collapse: (n) => {
        this.collapse(n);
        this.refocus();
      },
      activate: (n) => this.select(n.id, true, true),
    });
    if (handled) e.preventDefault();
  }

  private onClick(e: MouseEvent): void {
    const target = e.target as HTMLElement;
    const row = target.closest<HTMLElement>('.tree-row');
    const n = row ? this.byId.get(Number(row.dataset.id)) : undefined;
    if (!n) return;
    const parent = n.model.childCount > 0;
    if (target.classList.contains('twistie') && parent) {
      if (n.expanded) this.collapse(n);
      else void this.expand(n);
      return;
    }
    this.select(n.id, true, true);
    if (!n.expanded && parent && e.detail === 2) void this.expand(n);
  }
}
