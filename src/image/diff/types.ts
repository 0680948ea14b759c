// The result of comparing two images: plain data, ready for JSON and for a webview message as
// it is. Addresses and other 64-bit values are hex (or decimal) strings, never Numbers.

import type { JsonValue } from '../fields';

/** What happened to a thing between image A and image B. */
export type Change = 'added' | 'removed' | 'changed';

/** The kinds of things the diff matches by meaning, in the order a process node lists them. */
export const DIFF_KINDS = ['image', 'process', 'thread', 'mm', 'vma', 'fd', 'signal', 'rlimit', 'pending-signal', 'timer', 'inotify-watch', 'unsupported'] as const;
export type DiffKind = (typeof DIFF_KINDS)[number];

/** One field whose value differs, named by its path in the format (`regs.rip`, `environ.HOME`). */
export interface FieldChange {
  path: string;
  /** The value on each side as JSON (64-bit values as strings); null where the field is absent. */
  a: JsonValue;
  b: JsonValue;
  /** The value on each side as `ckpt-inspect show -v` displays it; '' where absent. */
  aText: string;
  bText: string;
  /** For byte strings (xstate, pipe data): sizes, how many bytes differ, and where the first is. */
  bytes?: { aLength: number; bLength: number; differ: number; first: number };
  /** Set on the one entry that stands for that many more changes under `path`, not listed. */
  omitted?: number;
}

/**
 * How a page differs: `modified` pages are dumped in both images with different contents,
 * `added` pages are dumped only in B, `removed` pages only in A.
 */
export type PageChange = 'modified' | 'added' | 'removed';

/** Consecutive pages with the same kind of change. */
export interface PageRange {
  /** First address and the address past the last page, hex. */
  start: string;
  end: string;
  pages: number;
  change: PageChange;
}

export interface PageCounts {
  modified: number;
  added: number;
  removed: number;
}

/** The changed pages of one VMA, in address order. */
export interface PageDiff extends PageCounts {
  ranges: PageRange[];
}

/** A VMA as one image holds it. */
export interface VmaSide {
  start: string;
  end: string;
  /** "rw-p", as /proc/PID/maps shows it. */
  prot: string;
  kind: string;
  path: string;
}

/** What about a VMA changed. */
export type VmaAspect = 'resized' | 'protection' | 'flags' | 'backing-file' | 'kind' | 'pages';

/** One general-purpose register on both sides, for a side-by-side view. */
export interface RegisterRow {
  name: string;
  a: string | null;
  b: string | null;
  changed: boolean;
}

/** One thing that differs, and the differences inside it. */
export interface DiffNode {
  kind: DiffKind;
  /** What it was matched by: pid, tid, fd or signal number, resource name, or the VMA's range. */
  key: string;
  /** One line for people: `thread 4243 "worker"`, `fd 3 pipe:[99]`, `0x1000-0x3000 rw-p [heap]`. */
  label: string;
  change: Change;
  /** Record tags in A and in B, to open the record in either image. */
  aTag?: number;
  bTag?: number;
  /** The records by index, where a side has no tags (a CRIU checkpoint). */
  aRecord?: number;
  bRecord?: number;
  /** The node's own changed fields (only for `changed`). */
  fields: FieldChange[];
  /** VMAs: the area on each side, and what about it changed. */
  vma?: { a?: VmaSide; b?: VmaSide };
  aspects?: VmaAspect[];
  /** VMAs: the pages that differ, found from the page hashes (or bytes when there are none). */
  pages?: PageDiff;
  /** Threads: every general-purpose register on both sides. */
  registers?: RegisterRow[];
  /** Nested differences (a process's threads, VMAs, fds, ...), by kind, then by key. */
  children: DiffNode[];
}

export interface ChangeCounts {
  added: number;
  removed: number;
  changed: number;
}

/**
 * Counts by kind. A node counts as changed when its own fields or pages differ; a process that
 * only holds changed threads is a container, not itself counted.
 */
export interface DiffCounts {
  byKind: Record<DiffKind, ChangeCounts>;
  pages: PageCounts;
  /** Everything above, summed: 0 exactly when the images are the same. */
  total: number;
}

export interface ImageSide {
  name: string;
  size: number;
  /** ISO 8601 time of the checkpoint, and the exact ns since the epoch. */
  time: string;
  timeNs: string;
  checkpointer: string;
  pageSize: number;
  processes: number;
}

/** How pages were compared: from the stored hashes, by reading bytes, or both. */
export type PageMethod = 'hashes' | 'bytes' | 'mixed' | 'none';

export interface ImageDiff {
  a: ImageSide;
  b: ImageSide;
  same: boolean;
  counts: DiffCounts;
  /** The image node (head fields) first when it differs, then processes by pid. */
  nodes: DiffNode[];
  pageMethod: PageMethod;
  stats: {
    ms: number;
    /** Pages dumped in both images at the same address, which were compared. */
    pagesCompared: number;
    /** Page bytes read (0 when the hashes sufficed). */
    bytesRead: number;
  };
  /** Records that could not be read on either side; the comparison skipped them. */
  problems: { side: 'a' | 'b'; message: string }[];
}

export interface CompareProgress {
  /** Page bytes read so far and in all (only the byte-comparison fallback reads any). */
  done: number;
  total: number;
}

export interface CompareOptions {
  /**
   * `auto` (default) compares page hashes where both images have them and reads bytes only
   * where one does not; `bytes` reads and compares every page (for images whose hashes are
   * not trusted).
   */
  pages?: 'auto' | 'bytes';
  /** How processes are paired: by their place in the tree (default), or by pid. */
  match?: 'tree' | 'pid';
  signal?: AbortSignal;
  onProgress?: (p: CompareProgress) => void;
}
