// Which process of one checkpoint is which process of the other. Two checkpoints of one live
// tree have the same PIDs; a checkpoint and one of its restored copy, or two runs of one program,
// do not. So by default processes are paired by their place in the tree: the roots in the order
// of their PIDs (a root that exec'd another program is still the root), then, under each pair,
// the children by command and, among those of one command, by the order of their PIDs. A child
// that came or went, and everything below it, is added or removed. `match: 'pid'` pairs by PID.
// One pass over each side, without recursion: an image's tree may be as deep as it has records.

export type ProcessMatch = 'tree' | 'pid';

/** One process of one side: its PID, its command, and its parent among the same list. */
export interface TreeMember<T> {
  pid: number;
  comm: string;
  /** Index of its parent in the same list; undefined for a root. */
  parent?: number;
  value: T;
}

export interface ProcessPair<T> {
  /** Unique among the pairs: the PID in A (and `->` the PID in B when it differs), or B's PID. */
  key: string;
  a?: T;
  b?: T;
}

export function pairProcesses<T>(A: TreeMember<T>[], B: TreeMember<T>[], match: ProcessMatch = 'tree'): ProcessPair<T>[] {
  const partnerOfA = new Array<number>(A.length).fill(-1);
  const pairedB = new Uint8Array(B.length);
  if (match === 'pid') {
    const inB = new Map(B.map((m, i) => [m.pid, i]));
    A.forEach((m, i) => {
      const j = inB.get(m.pid);
      if (j !== undefined && !pairedB[j]) {
        partnerOfA[i] = j;
        pairedB[j] = 1;
      }
    });
  } else {
    const kidsA = childLists(A),
      kidsB = childLists(B);
    const roots = (list: TreeMember<T>[]) =>
      byPid(
        list,
        list.flatMap((m, i) => (m.parent === undefined ? [i] : [])),
      );
    const pairAt = (i: number, j: number, queue: [number, number][]) => {
      partnerOfA[i] = j;
      pairedB[j] = 1;
      queue.push([i, j]);
    };
    const queue: [number, number][] = [];
    const ra = roots(A),
      rb = roots(B);
    for (let k = 0; k < Math.min(ra.length, rb.length); k++) pairAt(ra[k], rb[k], queue);
    // Children of each pair, by command, in PID order within a command.
    for (let q = 0; q < queue.length; q++) {
      const [i, j] = queue[q];
      const byComm = new Map<string, number[]>();
      for (const y of byPid(B, kidsB[j])) {
        const list = byComm.get(B[y].comm);
        if (list) list.push(y);
        else byComm.set(B[y].comm, [y]);
      }
      const taken = new Map<string, number>();
      for (const x of byPid(A, kidsA[i])) {
        const n = taken.get(A[x].comm) ?? 0;
        const y = byComm.get(A[x].comm)?.[n];
        if (y === undefined) continue;
        taken.set(A[x].comm, n + 1);
        pairAt(x, y, queue);
      }
    }
  }
  const out: (ProcessPair<T> & { order: number })[] = [];
  A.forEach((m, i) => {
    const j = partnerOfA[i];
    if (j < 0) out.push({ key: String(m.pid), a: m.value, order: i });
    else out.push({ key: m.pid === B[j].pid ? String(m.pid) : `${m.pid}->${B[j].pid}`, a: m.value, b: B[j].value, order: i });
  });
  B.forEach((m, j) => {
    if (!pairedB[j]) out.push({ key: String(m.pid), b: m.value, order: A.length + j });
  });
  // A removed process and an added one may have the same PID: the second gets a suffix.
  const seen = new Map<string, number>();
  return out.map(({ key, a, b }) => {
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    return { key: n === 1 ? key : `${key}#${n}`, ...(a !== undefined ? { a } : {}), ...(b !== undefined ? { b } : {}) };
  });
}

function childLists<T>(list: TreeMember<T>[]): number[][] {
  const kids: number[][] = list.map(() => []);
  list.forEach((m, i) => {
    if (m.parent !== undefined && m.parent !== i && kids[m.parent]) kids[m.parent].push(i);
  });
  return kids;
}

function byPid<T>(list: TreeMember<T>[], indices: number[]): number[] {
  return [...indices].sort((x, y) => list[x].pid - list[y].pid);
}

/** One thread of one process: its TID, its name, whether it is the main thread. */
export interface ThreadMember<T> {
  tid: number;
  comm: string;
  main: boolean;
  value: T;
}

/**
 * The threads of two paired processes. In one process (the same PID on both sides) by TID; in two
 * whose PIDs differ, whose TIDs differ too, the main thread with the main thread and the others by
 * name and, among those of one name, by the order of their TIDs.
 */
export function pairThreads<T>(A: ThreadMember<T>[], B: ThreadMember<T>[], samePid: boolean): ProcessPair<T>[] {
  const keys = (list: ThreadMember<T>[]) => {
    const seen = new Map<string, number>(),
      repeats = new Map<string, number>();
    const out = new Map<ThreadMember<T>, string>();
    for (const t of [...list].sort((x, y) => x.tid - y.tid)) {
      let k: string;
      if (samePid) k = String(t.tid);
      else if (t.main) k = 'main';
      else {
        const n = seen.get(t.comm) ?? 0;
        seen.set(t.comm, n + 1);
        k = `${t.comm}#${n}`;
      }
      // A repeated TID (a damaged image) or a second main thread: a suffix keeps keys unique.
      const again = repeats.get(k) ?? 0;
      repeats.set(k, again + 1);
      out.set(t, again ? `${k}#${again + 1}` : k);
    }
    return out;
  };
  const ka = keys(A),
    kb = keys(B);
  const inB = new Map(B.map((t) => [kb.get(t)!, t]));
  const out: ProcessPair<T>[] = [];
  const used = new Set<string>();
  for (const t of A) {
    const k = ka.get(t)!;
    const u = inB.get(k);
    if (u) used.add(k);
    out.push({ key: k, a: t.value, ...(u ? { b: u.value } : {}) });
  }
  for (const u of B) if (!used.has(kb.get(u)!)) out.push({ key: kb.get(u)!, b: u.value });
  return out;
}
