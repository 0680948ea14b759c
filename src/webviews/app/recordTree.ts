// The editor's record tree: the image's records by ptag, each with its type badge and summary, and
// a mark on a damaged record and on the records that hold one.

import type { RecordNodeModel } from '../../shared/models';
import { MAX_CHILDREN_PER_REQUEST } from '../../shared/protocol';
import type { HostConnection } from './connection';
import { h } from './dom';
import { LazyTree, RowLook } from './lazyTree';

export class RecordTree extends LazyTree<RecordNodeModel> {
  constructor(conn: HostConnection, onSelect: (index: number) => void) {
    super(
      'Records of the image',
      '',
      MAX_CHILDREN_PER_REQUEST,
      (params) => conn.request('children', params),
      (m) => m.index,
      onSelect,
    );
  }

  protected rowLook(m: RecordNodeModel): RowLook {
    const name = `${m.title} #${m.index}, tag ${m.tag}`;
    return {
      class: m.problem && !m.problemBelow ? 'damaged' : undefined,
      title: m.problem ? `${name}: ${m.problem}` : name,
      content: [
        h('span', { class: `badge t-${m.title.toLowerCase().replace(/[^a-z_]/g, '')}`, 'aria-hidden': 'true' }, m.title),
        h('span', { class: 'tree-detail' }, m.detail),
        m.problem ? h('span', { class: m.problemBelow ? 'mark below' : 'mark', 'aria-label': m.problemBelow ? 'contains damage' : 'damaged' }, m.problemBelow ? '•' : '!') : undefined,
      ],
    };
  }
}
