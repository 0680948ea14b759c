// The record tree, built from each record's ptag. A record whose ptag is dangling, cyclic or
// names a later record is reported and shown at the top level, so that a damaged image can
// still be explored; building the tree never loops, whatever the tags say.

import { ImageProblem, problem } from './errors';
import { recordTypeLabel, recordTypeName, schema } from './format';
import { RecordEntry, RecordIndex } from './recordIndex';

export interface RecordTree {
  roots: RecordEntry[];
  children: Map<RecordEntry, RecordEntry[]>;
  parent: Map<RecordEntry, RecordEntry>;
  problems: ImageProblem[];
}

/** Which parents each record type may have ('' is the top level), from the .ksy's grammar.
 *  Unknown types may go anywhere. */
export const ALLOWED_PARENTS: Record<string, readonly string[]> = Object.fromEntries(Object.entries(schema.grammar).map(([label, g]) => [label, g.parents]));

export function buildRecordTree(index: RecordIndex): RecordTree {
  const tree: RecordTree = { roots: [], children: new Map(), parent: new Map(), problems: [] };
  const site = (r: RecordEntry) => ({ record: r.index, type: r.type, tag: r.tag, offset: r.offset });
  for (const r of index.records) {
    let parent: RecordEntry | undefined;
    if (r.ptag !== 0) {
      const p = index.byTag.get(r.ptag);
      if (!p) {
        tree.problems.push(problem('dangling-ptag', { ...site(r), field: 'ptag' }, `ptag ${r.ptag} names no record`));
      } else if (p.index >= r.index) {
        const cycle = ptagCycle(index, r);
        tree.problems.push(
          cycle
            ? problem('cyclic-ptag', { ...site(r), field: 'ptag' }, `ptag chain ${cycle.join(' -> ')} is a cycle`)
            : problem('misplaced-record', { ...site(r), field: 'ptag' }, `its parent, tag ${r.ptag} (record #${p.index}), does not come before it`),
        );
      } else {
        parent = p;
      }
    }
    const label = recordTypeLabel(r.type);
    const allowed = label ? ALLOWED_PARENTS[label] : undefined;
    const parentLabel = parent ? recordTypeLabel(parent.type) ?? '?' : '';
    if (allowed && (parent || r.ptag === 0) && !allowed.includes(parentLabel)) {
      tree.problems.push(problem('misplaced-record', site(r), `a ${recordTypeName(r.type)} record cannot be ${parent ? `a child of ${recordTypeName(parent.type)}` : 'at the top level'}`));
    }
    if (parent) {
      tree.parent.set(r, parent);
      let list = tree.children.get(parent);
      if (!list) tree.children.set(parent, (list = []));
      list.push(r);
    } else {
      tree.roots.push(r);
    }
  }
  return tree;
}

/** The tags of the ptag chain from `r` back to itself, or undefined if the chain ends. */
function ptagCycle(index: RecordIndex, r: RecordEntry): number[] | undefined {
  const chain = [r.tag];
  const seen = new Set<number>([r.tag]);
  let cur: RecordEntry | undefined = r;
  while (cur && cur.ptag !== 0) {
    chain.push(cur.ptag);
    if (cur.ptag === r.tag) return chain;
    if (seen.has(cur.ptag)) return undefined; // a cycle that does not include r
    seen.add(cur.ptag);
    cur = index.byTag.get(cur.ptag);
  }
  return undefined;
}

/** Children of `r` of one record type, in file order. */
export function childrenOfType(tree: RecordTree, r: RecordEntry, type: number): RecordEntry[] {
  return (tree.children.get(r) ?? []).filter((c) => c.type === type);
}
