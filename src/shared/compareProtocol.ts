// The one message protocol between the compare editor's extension-host side and its webview, and
// the data it carries: plain JSON, 64-bit values as hex strings. As in the image editor, the webview
// asks and the host answers (RequestMap); the host pushes only the comparison's state (running with
// progress, done, cancelled, failed), and the webview tells the host what the user did.
//
// The diff tree can be large (a process with thousands of changed VMAs, a VMA with a million
// changed pages), so it crosses in bounded pieces: rows of one level at a time, the detail of one
// node, its changed pages in pages, and the bytes of one page.

import type { BacktraceModel } from './models';
import { requestOf, type ResponseMessage } from './protocol';

export const MAX_DIFF_ROWS_PER_REQUEST = 500;
export const MAX_PAGES_PER_REQUEST = 1000;
/** Field changes sent with one node; a node with more says how many were left out. */
export const MAX_FIELDS_PER_NODE = 2000;

export type ChangeModel = 'added' | 'removed' | 'changed';
export type PageChangeModel = 'modified' | 'added' | 'removed';

export interface CompareSideModel {
  fileName: string;
  path: string;
  size: number;
  /** ISO 8601 time of the checkpoint. */
  time: string;
  checkpointer: string;
  pageSize: number;
  processes: number;
}

export type CompareStatusModel =
  | { state: 'running'; /** Page bytes read so far and in all (only the no-hash fallback reads any). */ done: number; total: number }
  | { state: 'done' }
  | { state: 'cancelled' }
  | { state: 'failed'; error: string };

export interface KindCountModel {
  kind: string;
  added: number;
  removed: number;
  changed: number;
}

export interface CompareResultModel {
  same: boolean;
  /** Kinds with at least one change, in the engine's order (image, process, thread, mm, vma, ...). */
  counts: KindCountModel[];
  pages: { modified: number; added: number; removed: number };
  total: number;
  pageMethod: 'hashes' | 'bytes' | 'mixed' | 'none';
  stats: { ms: number; pagesCompared: number; bytesRead: number };
  problems: { side: 'a' | 'b'; message: string }[];
}

export interface CompareOverviewModel {
  a: CompareSideModel;
  b: CompareSideModel;
  status: CompareStatusModel;
  /** Once the comparison is done. */
  result?: CompareResultModel;
}

/** A node of the diff tree, as a row. */
export interface DiffRowModel {
  /** The node's identity in every message. */
  id: number;
  kind: string;
  key: string;
  label: string;
  change: ChangeModel;
  childCount: number;
  /** Its own changed fields, and (VMAs) changed pages. */
  fields: number;
  pages?: { modified: number; added: number; removed: number };
}

export interface FieldChangeModel {
  path: string;
  /** As `ckpt-inspect show -v` displays them; '' where absent. */
  a: string;
  b: string;
  bytes?: { aLength: number; bLength: number; differ: number; first: number };
}

export interface VmaSideModel {
  start: string;
  end: string;
  prot: string;
  kind: string;
  path: string;
}

export interface RegisterRowModel {
  name: string;
  a: string | null;
  b: string | null;
  changed: boolean;
}

/** Record indices of one process in image A and in image B, for the sides that have it. */
export interface ProcessSides {
  a?: number;
  b?: number;
}

export interface DiffDetailModel {
  row: DiffRowModel;
  /** Ids of the ancestors, top level first. */
  path: number[];
  /** The process the node belongs to, by its record on each side (its PID may differ between them). */
  process?: ProcessSides;
  fields: FieldChangeModel[];
  moreFields?: number;
  vma?: { a?: VmaSideModel; b?: VmaSideModel };
  aspects?: string[];
  /** Threads: every general-purpose register on both sides. */
  registers?: RegisterRowModel[];
  /** VMAs: how many pages changed, in how many ranges (the pages themselves come by `pages`). */
  pages?: { modified: number; added: number; removed: number; total: number; ranges: number };
}

export interface PageRowModel {
  addr: string;
  change: PageChangeModel;
}

export interface PageBytesModel {
  /** The page's first address, its size, and its bytes in each image (binary; null where not dumped). */
  address: string;
  pageSize: number;
  a: Uint8Array | null;
  b: Uint8Array | null;
  /** Runs of differing bytes, by offset in the page. */
  changed: { offset: number; length: number }[];
}

/** Two threads paired across the images (by tid, or by place when the PIDs differ), or one side's alone. */
export interface ThreadPairModel {
  /** The pair's key, as a thread node's key. */
  key: string;
  label: string;
  a?: number;
  b?: number;
}

/** Longest thread key the webview may send back. */
export const MAX_THREAD_KEY = 256;

export interface CompareRequestMap {
  /** Both images, the comparison's state, and its counts once done. */
  overview: { params: Record<string, never>; result: CompareOverviewModel };
  /** Rows of the diff tree under a node (top level when `parent` is absent), `limit` at most from `offset`. */
  children: { params: { parent?: number; offset?: number; limit?: number }; result: { items: DiffRowModel[]; total: number } };
  /** One node: its fields, its VMA on each side, its registers, its page counts. */
  node: { params: { id: number }; result: DiffDetailModel };
  /** The changed pages of a VMA node, one row a page, in address order. */
  pages: { params: { id: number; offset?: number; limit?: number }; result: { items: PageRowModel[]; total: number } };
  /** One page of a node's process from both images, with the runs of differing bytes. */
  pageBytes: { params: { id: number; addr: string }; result: PageBytesModel };
  /** The threads of a node's process, paired across the images. */
  threads: { params: { id: number }; result: { pairs: ThreadPairModel[] } };
  /** The backtraces of one pair of threads (by key) of a node's process, each side that has the thread. */
  backtraces: { params: { id: number; key: string }; result: { a?: BacktraceModel; b?: BacktraceModel } };
}

export type CompareMethod = keyof CompareRequestMap;

export type CompareRequest = {
  [M in CompareMethod]: { type: 'request'; id: number; method: M; params: CompareRequestMap[M]['params'] };
}[CompareMethod];

/** Messages from the host that are not responses. */
export type CompareHostEvent = { type: 'status'; status: CompareStatusModel };

/** What the user did in the compare editor. */
export type CompareWebviewEvent =
  | { type: 'ready' }
  /** Stop the running comparison. */
  | { type: 'cancel' }
  /** Compare the two images again (after a cancel, or when they changed on disk). */
  | { type: 'rerun' }
  /** Compare B with A instead. */
  | { type: 'swap' }
  /** Open image A or B in the image editor, at the record of a node when one is given. */
  | { type: 'open'; side: 'a' | 'b'; node?: number };

export type CompareResponse = ResponseMessage;

export type ToCompareWebview = CompareResponse | CompareHostEvent;
export type FromCompareWebview = CompareRequest | CompareWebviewEvent;

const METHODS: Record<CompareMethod, true> = { overview: true, children: true, node: true, pages: true, pageBytes: true, threads: true, backtraces: true };

/** Checks the shape of a message from the compare webview, which is untrusted input to the host. */
export function parseFromCompareWebview(m: unknown): FromCompareWebview | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case 'request':
      return requestOf<CompareRequest>(o, METHODS);
    case 'ready':
    case 'cancel':
    case 'rerun':
    case 'swap':
      return { type: o.type };
    case 'open': {
      if (o.side !== 'a' && o.side !== 'b') return undefined;
      if (o.node === undefined) return { type: 'open', side: o.side };
      return Number.isSafeInteger(o.node) && (o.node as number) >= 0 ? { type: 'open', side: o.side, node: o.node as number } : undefined;
    }
    default:
      return undefined;
  }
}
