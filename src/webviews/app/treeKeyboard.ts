// Keyboard navigation over the visible rows of a tree, as VS Code's own trees do it: Up/Down
// move, Right expands or enters, Left collapses or goes to the parent, Home/End jump, Enter and
// Space activate. Both trees of the webviews (records, differences) use it.

export interface KeyTreeNode<N> {
  expanded: boolean;
  parent?: N;
  children?: N[];
}

export interface TreeKeyActions<N> {
  hasChildren(n: N): boolean;
  focus(n: N): void;
  expand(n: N): void;
  collapse(n: N): void;
  activate(n: N): void;
}

/** Acts on a key pressed on row `current` of the visible `rows`; false for keys that are not the tree's. */
export function handleTreeKey<N extends KeyTreeNode<N>>(key: string, rows: N[], current: N, a: TreeKeyActions<N>): boolean {
  const i = rows.indexOf(current);
  switch (key) {
    case 'ArrowDown':
      if (rows[i + 1]) a.focus(rows[i + 1]);
      return true;
    case 'ArrowUp':
      if (i > 0) a.focus(rows[i - 1]);
      return true;
    case 'Home':
      a.focus(rows[0]);
      return true;
    case 'End':
      a.focus(rows[rows.length - 1]);
      return true;
    case 'ArrowRight':
      if (a.hasChildren(current) && !current.expanded) a.expand(current);
      else if (current.expanded && current.children?.[0]) a.focus(current.children[0]);
      return true;
    case 'ArrowLeft':
      if (current.expanded) a.collapse(current);
      else if (current.parent) a.focus(current.parent);
      return true;
    case 'Enter':
    case ' ':
      a.activate(current);
      return true;
    default:
      return false;
  }
}
