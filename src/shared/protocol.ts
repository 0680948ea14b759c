// The one message protocol between the image editor's extension-host side and its webview.
//
// The webview asks, the host answers: every piece of data reaches the webview as the result of a
// request named in RequestMap, with its parameter and result types. The host also sends a few
// events (a selection made in the Image Records tree, verification progress), and the webview
// tells the host what the user did (selection, buttons). Adding a feature is adding a request or an
// event here; both sides then fail to compile until they handle it.

import type {
  AddressSpaceModel,
  BacktraceModel,
  BytesModel,
  FilesModel,
  LogModel,
  MemoryLayoutModel,
  MemoryPieceModel,
  RecordDetailModel,
  ProcessDetailModel,
  RecordNodeModel,
  RevealedModel,
  SearchEndModel,
  SearchHitModel,
  SearchProgressModel,
  SearchQueryModel,
  SummaryModel,
  TextModel,
  VerificationModel,
} from './models';

/** Largest byte range one request may ask for; views fetch what is visible, in chunks of this or less. */
export const MAX_BYTES_PER_REQUEST = 64 * 1024;
/** Children sent per request; a node with more is paged. */
export const MAX_CHILDREN_PER_REQUEST = 500;
/** The largest result cap a memory search may ask for, its longest pattern, and its most context bytes. */
export const MAX_SEARCH_HITS = 100_000;
export const MAX_SEARCH_PATTERN = 4096;
export const MAX_SEARCH_CONTEXT = 64;

export interface RequestMap {
  /** The image at a glance, and its verification state. */
  summary: { params: Record<string, never>; result: SummaryModel };
  /** Children of a record (top level when `parent` is absent), `limit` at most from `offset`. */
  children: { params: { parent?: number; offset?: number; limit?: number }; result: { items: RecordNodeModel[]; total: number } };
  /** One record's header, decoded fields and problems. */
  record: { params: { index: number }; result: RecordDetailModel };
  /** Raw bytes of the file, within one record (header included). */
  bytes: { params: { index: number; offset: number; length: number }; result: BytesModel };
  /** The VMAs of a process, for the address-space picture. */
  addressSpace: { params: { process: number }; result: AddressSpaceModel };
  /** How an address range of a process lays out into dumped data and gaps. */
  memoryLayout: { params: { process: number; start?: string; end?: string }; result: MemoryLayoutModel };
  /** Memory by virtual address, at most MAX_BYTES_PER_REQUEST bytes. */
  memory: { params: { process: number; addr: string; length: number }; result: MemoryPieceModel[] };
  /** A process's threads with their registers, its descriptors, sockets and signals. */
  process: { params: { process: number }; result: ProcessDetailModel };
  /** A thread's backtrace, unwound from its saved registers when first asked. */
  backtrace: { params: { process: number; tid: number }; result: BacktraceModel };
  /** A member of a CRIU checkpoint as text, as log lines, or as the list of files of a tar. */
  text: { params: { index: number }; result: TextModel };
  log: { params: { index: number }; result: LogModel };
  files: { params: { index: number }; result: FilesModel };
  /**
   * Starts searching the image's memory (all processes, or the one given), ending this editor's
   * previous search. Hits, progress and the end arrive as searchHits/searchProgress/searchEnd events.
   */
  search: { params: { query: SearchQueryModel; process?: number; maxHits: number; context?: number }; result: { search: number } };
  /** Stops a running search; its searchEnd event (cancelled) follows. */
  cancelSearch: { params: { search: number }; result: { cancelled: boolean } };
}

/** Requests answered per editor (each webview has its own search), not by the image's ImageRequests. */
export type SearchMethod = 'search' | 'cancelSearch';
export const isSearchMethod = (m: RequestMethod): m is SearchMethod => m === 'search' || m === 'cancelSearch';

export type RequestMethod = keyof RequestMap;
export type RequestParams<M extends RequestMethod> = RequestMap[M]['params'];
export type RequestResult<M extends RequestMethod> = RequestMap[M]['result'];

export type RequestMessage = {
  [M in RequestMethod]: { type: 'request'; id: number; method: M; params: RequestParams<M> };
}[RequestMethod];

export type ResponseMessage = { type: 'response'; id: number; ok: true; result: unknown } | { type: 'response'; id: number; ok: false; error: string };

/** Commands the webview can ask the host to run on its image (they are the extension's commands). */
export type EditorCommand = 'verify' | 'restore' | 'revealInRecords';

/** The longest path of a file in a member that the webview may ask the host to open. */
export const MAX_MEMBER_PATH = 4096;
/** The most bytes a revealed search hit carries back (one page of the match). */
export const MAX_REVEALED_BYTES = 4096;

/** Messages from the webview that are not requests. */
export type WebviewEvent =
  | { type: 'ready' }
  /** The user selected a record in the editor. */
  | { type: 'selected'; index: number }
  | { type: 'run'; command: EditorCommand }
  /** Open a file of a tar member (the rootfs diff) read-only in an editor. */
  | { type: 'openFile'; index: number; path: string }
  /** Open the source line of a frame of a thread's backtrace (one the host computed: it names the file, not the webview). */
  | { type: 'openFrame'; process: number; tid: number; frame: number };

/** Messages from the host that are not responses. */
export type HostEvent =
  /** Select a record, because the user selected it in the Image Records tree. */
  | { type: 'select'; index: number; path: number[] }
  | { type: 'verification'; verification: VerificationModel }
  /** Hits of a running search, in address order, in batches. */
  | { type: 'searchHits'; search: number; hits: SearchHitModel[] }
  | { type: 'searchProgress'; search: number; progress: SearchProgressModel }
  | { type: 'searchEnd'; search: number; end: SearchEndModel }
  /** Show the search pane (the Search Memory command). */
  | { type: 'showSearch' };

/**
 * What the host asks of the webview: the same request/response mechanism as RequestMap, the other
 * way round (the host sends a request with an id, the webview answers with a response of that id).
 */
export interface WebviewRequestMap {
  /** Fill the search pane in, search, and jump to the first hit when asked: what the webview then shows. */
  runSearch: { params: { query: SearchQueryModel; maxHits: number; goToFirst: boolean }; result: SearchShownModel };
}
export interface SearchShownModel {
  /** The search id (0: the search did not start). */
  search: number;
  /** How many results the pane lists. */
  listed: number;
  /** Where the memory view went, when it jumped to the first hit. */
  revealed?: RevealedModel;
}
export type WebviewRequestMessage = {
  [M in keyof WebviewRequestMap]: { type: 'request'; id: number; method: M; params: WebviewRequestMap[M]['params'] };
}[keyof WebviewRequestMap];

export type ToWebview = ResponseMessage | HostEvent | WebviewRequestMessage;
export type FromWebview = RequestMessage | WebviewEvent | ResponseMessage;

/** For the `default:` of a switch over every kind of a message: a new kind fails the build there. */
export function unhandled(m: never): never {
  throw new Error(`unhandled message ${JSON.stringify(m)}`);
}

/** A response from the webview, its result still unchecked (see parseSearchShown). */
export function parseResponse(o: Record<string, unknown>): ResponseMessage | undefined {
  if (!Number.isSafeInteger(o.id)) return undefined;
  if (o.ok === true) return { type: 'response', id: o.id as number, ok: true, result: o.result };
  if (o.ok === false && typeof o.error === 'string') return { type: 'response', id: o.id as number, ok: false, error: o.error };
  return undefined;
}

/** The webview's answer to runSearch, checked. */
export function parseSearchShown(v: unknown): SearchShownModel | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (![o.search, o.listed].every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) return undefined;
  const e = { search: o.search as number, listed: o.listed as number };
  if (o.revealed === undefined) return e;
  const revealed = parseRevealed(o.revealed);
  return revealed ? { ...e, revealed } : undefined;
}

const REQUEST_METHODS: Record<RequestMethod, true> = {
  summary: true,
  children: true,
  record: true,
  bytes: true,
  addressSpace: true,
  memoryLayout: true,
  memory: true,
  process: true,
  backtrace: true,
  text: true,
  log: true,
  files: true,
  search: true,
  cancelSearch: true,
};

/**
 * A request from a webview, once its id, method (one of `methods`) and params have the right types:
 * what both editors' message checks share. The params themselves are checked by their handler.
 */
export function requestOf<R>(o: Record<string, unknown>, methods: Readonly<Record<string, true>>): R | undefined {
  if (typeof o.id !== 'number' || typeof o.method !== 'string' || !Object.prototype.hasOwnProperty.call(methods, o.method)) return undefined;
  if (typeof o.params !== 'object' || o.params === null) return undefined;
  return o as unknown as R;
}

/** Checks the shape of a message from the webview, which is untrusted input to the host. */
export function parseFromWebview(m: unknown): FromWebview | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case 'request':
      return requestOf<RequestMessage>(o, REQUEST_METHODS);
    case 'ready':
      return { type: 'ready' };
    case 'selected':
      return Number.isSafeInteger(o.index) && (o.index as number) >= 0 ? { type: 'selected', index: o.index as number } : undefined;
    case 'run':
      return o.command === 'verify' || o.command === 'restore' || o.command === 'revealInRecords' ? { type: 'run', command: o.command } : undefined;
    case 'openFile':
      return Number.isSafeInteger(o.index) && (o.index as number) >= 0 && typeof o.path === 'string' && o.path.length > 0 && o.path.length <= MAX_MEMBER_PATH
        ? { type: 'openFile', index: o.index as number, path: o.path }
        : undefined;
    case 'openFrame':
      return [o.process, o.tid, o.frame].every((n) => Number.isSafeInteger(n) && (n as number) >= 0)
        ? { type: 'openFrame', process: o.process as number, tid: o.tid as number, frame: o.frame as number }
        : undefined;
    case 'response':
      return parseResponse(o);
    default:
      return undefined;
  }
}

function parseRevealed(v: unknown): RevealedModel | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const addr = (x: unknown) => typeof x === 'string' && parseAddress(x) !== undefined;
  if (!Number.isSafeInteger(r.process) || (r.process as number) < 0) return undefined;
  if (r.cursor !== null && !addr(r.cursor)) return undefined;
  const hl = r.highlight as Record<string, unknown> | null;
  if (hl !== null && (typeof hl !== 'object' || !addr(hl.start) || !addr(hl.end))) return undefined;
  if (!(r.bytes instanceof Uint8Array) || r.bytes.length > MAX_REVEALED_BYTES) return undefined;
  return {
    process: r.process as number,
    cursor: r.cursor as string | null,
    highlight: hl === null ? null : { start: hl.start as string, end: hl.end as string },
    bytes: r.bytes,
  };
}

/** A non-negative integer parameter, or a RangeError naming it. */
export function intParam(params: object, name: string, opts: { min?: number; max?: number; optional?: boolean } = {}): number | undefined {
  const v = (params as Record<string, unknown>)[name];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (opts.min ?? 0) || (opts.max !== undefined && v > opts.max)) {
    throw new RangeError(`parameter '${name}' must be an integer${opts.max !== undefined ? ` from ${opts.min ?? 0} to ${opts.max}` : ` >= ${opts.min ?? 0}`}`);
  }
  return v;
}

/** A 64-bit address parameter given as a hex string ("0x..."). */
export function addrParam(params: object, name: string, optional = false): bigint | undefined {
  const v = (params as Record<string, unknown>)[name];
  if (v === undefined && optional) return undefined;
  const a = typeof v === 'string' ? parseAddress(v) : undefined;
  if (a === undefined) throw new RangeError(`parameter '${name}' must be an address as a hex string`);
  return a;
}

/** "0x7ffd1000", "7ffd1000" or "7ffd_1000" to a BigInt; undefined when it is not a 64-bit hex number. */
export function parseAddress(text: string): bigint | undefined {
  const t = text.trim().replace(/_/g, '').replace(/^0x/i, '');
  if (!/^[0-9a-f]{1,16}$/i.test(t)) return undefined;
  return BigInt(`0x${t}`);
}

export function addrHex(a: bigint): string {
  return `0x${a.toString(16)}`;
}
