// The compare editor's tree of differences: processes, and in them threads, VMAs, fds, signals...,
// each marked added, removed or changed, with a one-line summary of what changed.

import type { CompareConnection } from './compareConnection';
import { MAX_DIFF_ROWS_PER_REQUEST } from '../../shared/compareProtocol';
import type { DiffRowModel } from '../../shared/compareProtocol';
import { KIND_BADGES, rowSummary } from '../../shared/compareText';
import { h } from './dom';
import { LazyTree, RowLook } from './lazyTree';

export const CHANGE_MARK: Record<string, string> = { added: '+', removed: '−', changed: '~' };

export class DiffTree extends LazyTree<DiffRowModel> {
  constructor(conn: CompareConnection, onSelect: (id: number) => void) {
    super(
      'Differences between the images',
      'diff-tree',
      MAX_DIFF_ROWS_PER_REQUEST,
      (params) => conn.request('children', params),
      (r) => r.id,
      onSelect,
    );
  }

  protected rowLook(r: DiffRowModel): RowLook {
    const summary = rowSummary(r);
    return {
      class: `diff-row ${r.change}`,
      ariaLabel: `${r.label}, ${r.change}${summary ? `, ${summary}` : ''}`,
      title: `${r.label} (${r.change})`,
      content: [
        h('span', { class: `chg ${r.change}`, 'aria-hidden': 'true' }, CHANGE_MARK[r.change] ?? '?'),
        h('span', { class: `badge t-${r.kind.replace(/[^a-z]/g, '')}`, 'aria-hidden': 'true' }, KIND_BADGES[r.kind] ?? r.kind.toUpperCase()),
        h('span', { class: 'tree-label' }, r.label),
        summary ? h('span', { class: 'tree-detail' }, summary) : undefined,
      ],
    };
  }
}
