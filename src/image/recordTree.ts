// The record tree, built from each record's ptag. A record whose ptag is dangling, cyclic or
// names a later record is reported and shown at the top level, so that a damaged image can
// still be explored; building the tree never loops, whatever the tags say, and takes time
// linear in the number of records (PtagGraph answers "is this ptag a cycle?" for all at once).

import { ImageProblem, problem } from './errors';
import { recordTypeLabel, recordTypeName, schema } from './format';
import { headerFieldSite, RecordEntry, RecordIndex } from './recordIndex';

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
  let graph: PtagGraph | undefined;
  for (const r of index.records) {
    let parent: RecordEntry | undefined;
    if (r.ptag !== 0) {
      const p = index.byTag.get(r.ptag);
      if (!p) {
        tree.problems.push(problem('dangling-ptag', headerFieldSite(r, 'ptag'), `ptag ${r.ptag} names no record`));
      } else if (p.index >= r.index) {
        graph ??= new PtagGraph(index);
        const cycle = graph.cycleThrough(r, p);
        tree.problems.push(
          cycle
            ? problem('cyclic-ptag', headerFieldSite(r, 'ptag'), `ptag chain ${cycle.map((t) => (Number.isNaN(t) ? '...' : t)).join(' -> ')} is a cycle`)
            : problem('misplaced-record', headerFieldSite(r, 'ptag'), `its parent, tag ${r.ptag} (record #${p.index}), does not come before it`),
        );
      } else {
        parent = p;
      }
    }
    const label = recordTypeLabel(r.type);
    const allowed = label ? ALLOWED_PARENTS[label] : undefined;
    const parentLabel = parent ? (recordTypeLabel(parent.type) ?? '?') : '';
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

/** Tags shown of a ptag cycle in a message; a longer cycle is shown by its start and its end. */
const MAX_CHAIN_SHOWN = 16;

/**
 * The ptags as a graph, for telling cycles from ptags that merely point forward. Following ptags
 * from a record visits the records that `byTag` holds for each tag in turn: a functional graph
 * (each node has at most one successor) on those records, whose cycles and trees are found once,
 * in linear time, so that each record's question costs O(1) (its message, O(MAX_CHAIN_SHOWN)).
 */
class PtagGraph {
  /** Successor of each record (by file index) in the graph, -1 where the chain ends. */
  private readonly next: Int32Array;
  /** For a record on a cycle, the index of a record that names the cycle; else -1. */
  private readonly cycle: Int32Array;
  /** The cycle that following ptags from a record ends in (as `cycle`), or -1 when it ends. */
  private readonly endsIn: Int32Array;
  /** Entry and exit times of a walk of the trees hanging off the chains, for ancestor tests. */
  private order?: { tin: Int32Array; tout: Int32Array };

  constructor(private readonly index: RecordIndex) {
    const n = index.records.length;
    this.next = new Int32Array(n).fill(-1);
    for (const [, r] of index.byTag) {
      const p = r.ptag === 0 ? undefined : index.byTag.get(r.ptag);
      if (p) this.next[r.index] = p.index;
    }
    this.cycle = new Int32Array(n).fill(-1);
    this.endsIn = new Int32Array(n).fill(-1);
    // 0 unseen, 1 on the walk in progress, 2 done. Each node is walked once.
    const state = new Uint8Array(n);
    const path: number[] = [];
    for (const [, start] of index.byTag) {
      if (state[start.index] !== 0) continue;
      path.length = 0;
      let v = start.index;
      while (v !== -1 && state[v] === 0) {
        state[v] = 1;
        path.push(v);
        v = this.next[v];
      }
      let ends = v === -1 ? -1 : this.endsIn[v];
      if (v !== -1 && state[v] === 1) {
        // A new cycle: the walk came back to v.
        for (let k = path.lastIndexOf(v); k < path.length; k++) this.cycle[path[k]] = v;
        ends = v;
      }
      for (const u of path) {
        state[u] = 2;
        this.endsIn[u] = ends;
      }
    }
  }

  /**
   * The tags from `r` around its ptag cycle back to its own tag (NaN standing for the middle of
   * a long one); undefined when following ptags from `r` (whose parent is `p`) never comes back
   * to r's tag. Tags are followed through `byTag`, so a record whose tag is a duplicate is on a
   * cycle when the chain reaches the first record with that tag.
   */
  cycleThrough(r: RecordEntry, p: RecordEntry): number[] | undefined {
    const own = r.tag === 0 ? undefined : this.index.byTag.get(r.tag);
    if (!own || !this.reaches(p.index, own.index)) return undefined;
    const chain = [r.tag];
    for (let t = r.ptag; chain.length <= MAX_CHAIN_SHOWN; t = this.index.byTag.get(t)!.ptag) {
      chain.push(t);
      if (t === r.tag) return chain;
    }
    return [...chain.slice(0, MAX_CHAIN_SHOWN / 2), NaN, r.tag];
  }

  /** Whether following ptags from record `from` (itself included) reaches record `to`. */
  private reaches(from: number, to: number): boolean {
    if (this.cycle[to] !== -1) return this.endsIn[from] === this.cycle[to];
    // `to` is on a tree hanging off a cycle or off a chain's end: `from` must be below it.
    const { tin, tout } = (this.order ??= this.treeOrder());
    return tin[to] <= tin[from] && tout[from] <= tout[to];
  }

  /** Entry and exit times of a depth-first walk of the reversed edges, from cycles and chain ends. */
  private treeOrder(): { tin: Int32Array; tout: Int32Array } {
    const n = this.next.length;
    // The records whose successor is v (an edge that is not on a cycle), in one array (CSR).
    const isChild = (u: number) => this.next[u] !== -1 && this.cycle[u] === -1;
    const first = new Int32Array(n + 1);
    for (let u = 0; u < n; u++) if (isChild(u)) first[this.next[u] + 1]++;
    for (let v = 0; v < n; v++) first[v + 1] += first[v];
    const fill = first.slice(0, n);
    const kids = new Int32Array(first[n]);
    for (let u = 0; u < n; u++) if (isChild(u)) kids[fill[this.next[u]]++] = u;
    const tin = new Int32Array(n);
    const tout = new Int32Array(n);
    const at = new Int32Array(n);
    const stack: number[] = [];
    let clock = 0;
    for (let root = 0; root < n; root++) {
      if (isChild(root)) continue;
      tin[root] = clock++;
      at[root] = first[root];
      stack.push(root);
      while (stack.length) {
        const v = stack[stack.length - 1];
        if (at[v] < first[v + 1]) {
          const u = kids[at[v]++];
          tin[u] = clock++;
          at[u] = first[u];
          stack.push(u);
        } else {
          tout[v] = clock++;
          stack.pop();
        }
      }
    }
    return { tin, tout };
  }
}

/** Children of `r` of one record type, in file order. */
export function childrenOfType(tree: RecordTree, r: RecordEntry, type: number): RecordEntry[] {
  return (tree.children.get(r) ?? []).filter((c) => c.type === type);
}
