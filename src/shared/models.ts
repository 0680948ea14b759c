// The data that crosses between the extension host and the image editor's webview: plain JSON
// (64-bit values as hex strings, never BigInt or lossy Numbers), built by the host from the image
// library and rendered by the webview, which never sees the image file itself.

import type { ContainerInfo } from '../criu/container';
import type { ProcessSummary } from '../image/summary';
import type { ProblemSeverity } from '../image/errors';

/** A problem found in the image, already phrased for people. */
export interface ProblemModel {
  code: string;
  message: string;
  /** File-order index of the damaged record, when the problem belongs to one. */
  record?: number;
  /** Problems such as an unknown record type are notes, not damage. */
  severity: ProblemSeverity;
}

/** One record as a row of the record tree. */
export interface RecordNodeModel {
  /** File-order index: the record's identity in every message (tags may be damaged or repeated). */
  index: number;
  /** The .ckpt record's tag (CRIU records have none). */
  tag?: number;
  /** e.g. "VMA" */
  title: string;
  /** e.g. "0x7f1c2000-0x7f1c4000 r-xp file /usr/lib/libc.so.6" */
  detail: string;
  childCount: number;
  /** Set when the record, or one below it, has a problem. */
  problem?: string;
  /** True when the problem is in a record below this one rather than in this one. */
  problemBelow?: boolean;
}

/** One decoded field, from the schema-driven field tree of the image library. */
export interface FieldModel {
  name: string;
  display: string;
  doc?: string;
  /** Where the field's bytes are, in bytes from the start of the file. */
  fileOffset: number;
  size: number;
  children?: FieldModel[];
  /** Children left out to keep the message bounded. */
  moreChildren?: number;
}

/**
 * The views the detail pane can show for a record: its fields and bytes, its process (threads,
 * files, signals), its process's address space and memory, and for the members of a CRIU
 * checkpoint, their text, their log lines, or the files of a tar (the rootfs diff).
 */
export type RecordView = 'fields' | 'process' | 'addressSpace' | 'memory' | 'text' | 'log' | 'files';

/** Everything the detail pane needs for one record, except bytes (fetched as they scroll into view). */
export interface RecordDetailModel {
  node: RecordNodeModel;
  /** Ancestors from the top level down, as file-order indices, for revealing the record. */
  path: number[];
  /** File offsets of the record header and payload, and the payload length. */
  offset: number;
  payloadOffset: number;
  length: number;
  header: FieldModel[];
  /** Payload fields; absent for page data and types this reader does not know. */
  fields?: FieldModel[];
  decodeError?: string;
  problems: ProblemModel[];
  views: RecordView[];
  /** The process whose memory the record belongs to (the process record's index). */
  process?: number;
  /** For a VMA, PAGEMAP or PAGES record: the address range its memory view opens at. */
  memoryRange?: { start: string; end: string };
  /** When the record is in one file of many (a CRIU checkpoint): the file, and where it starts. */
  file?: { name: string; base: number };
}

/** A thread of a process in the image, as the image library summarises it. */

/** A process in the image, as the image library summarises it, with its record's file-order index. */
export interface ProcessModel extends ProcessSummary {
  index: number;
}

export type VerificationStatus = 'unverified' | 'running' | 'ok' | 'damaged' | 'cancelled' | 'failed';

export interface VerificationModel {
  status: VerificationStatus;
  /** Problems found so far: on opening (headers, metadata checksums, tail, tree), then by the full check. */
  problems: ProblemModel[];
  /** The full check's figures, once it ran. */
  pagesChecked?: number;
  bytesChecked?: number;
  ms?: number;
  /** While running: page bytes hashed so far, and in all. */
  done?: number;
  total?: number;
  /** Why the full check could not run. */
  error?: string;
}

/** The container a CRIU checkpoint archive was taken of, as its engine recorded it. */
export type ContainerModel = ContainerInfo;

export interface SummaryModel {
  /** 'ckpt' for this project's images; 'criu' for CRIU checkpoints (folders and archives). */
  format: 'ckpt' | 'criu';
  fileName: string;
  path: string;
  size: number;
  records: number;
  version: string;
  arch: string;
  pageSize: number;
  kernel: string;
  kernelVersion: string;
  hostname: string;
  machine: string;
  checkpointer: string;
  time: string;
  flags: string[];
  complete: boolean;
  processes: ProcessModel[];
  verification: VerificationModel;
  container?: ContainerModel;
  /** Members worth a look (a CRIU log, the rootfs diff, the engine's files), by record. */
  extras: { index: number; kind: 'log' | 'files' | 'text'; name: string }[];
  /** Whether Restore can take it as it is (CRIU checkpoints cannot, yet). */
  restorable: boolean;
}

/** One register of a thread: its name and value in hex. */
export interface RegisterModel {
  name: string;
  value: string;
}

export interface ThreadDetailModel {
  tid: number;
  comm: string;
  /** The record that holds the thread. */
  record: number;
  registers: RegisterModel[];
  sigmask: string;
  pending: string[];
}

/** One frame of a thread's backtrace. Names and paths come from files on disk and the image: untrusted text. */
export interface FrameModel {
  index: number;
  /** The frame's pc (frame 0) or return address, hex. */
  pc: string;
  /** How it was found: the saved registers (frame 0), the file's CFI, or the frame-pointer chain. */
  method: 'registers' | 'cfi' | 'frame-pointer';
  /** The mapped file's path, or what the mapping is ("[vdso]"). */
  module?: string;
  /** The nearest function symbol, and how many bytes into it. */
  function?: string;
  offset?: number;
  /** The source line, where the file (or its debug file) has DWARF line info. */
  file?: string;
  line?: number;
  /** Why less is known of this frame (a file that changed since the checkpoint, ...). */
  note?: string;
}

export interface BacktraceModel {
  process: number;
  tid: number;
  frames: FrameModel[];
  /** Why the walk ended: 'outermost' for a complete stack, else what stopped it. */
  stop: { reason: string; message: string };
  ms: number;
}

export interface FdModel {
  fd: number;
  /** regular, directory, pipe, socket, ... */
  kind: string;
  /** A path, "pipe:[ino]", "socket:[ino]". */
  path: string;
  /** open(2) flags, as text ("O_WRONLY|O_APPEND"). */
  flags: string;
  pos: string;
  cloexec: boolean;
  /** The open file description's id; descriptors with the same id share it. */
  file: string;
  /** The other descriptors, of this process or others, that share the open file description (at most MAX_SHARERS). */
  sharedWith: FdHolderModel[];
  /** How many more share it than sharedWith lists. */
  sharedMore?: number;
  /** Pipes: which end, and the bytes buffered. */
  detail: string;
  record?: number;
}

/** A descriptor that refers to an open file description: which process holds it, and its number. */
export interface FdHolderModel {
  /** The process's record, to show it. */
  process: number;
  pid: number;
  comm: string;
  fd: number;
}

/** Sharers listed per descriptor; a pipe held by every worker of a big pool says "and N more". */
export const MAX_SHARERS = 8;

export interface SocketModel {
  fd: number;
  family: string;
  type: string;
  state: string;
  local: string;
  remote: string;
  queued: number;
}

export interface SigactionModel {
  signal: string;
  handler: string;
  flags: string;
  mask: string;
}

/** A process as the process view shows it: who it is, its threads, files, sockets and signals. */
export interface ProcessDetailModel {
  process: number;
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  comm: string;
  state: string;
  exe: string;
  cwd: string;
  /** The first MAX_SHOWN_STRINGS arguments, and how many more there are. */
  cmdline: string[];
  cmdlineOmitted?: number;
  uids: number[];
  threads: ThreadDetailModel[];
  fds: FdModel[];
  sockets: SocketModel[];
  sigactions: SigactionModel[];
  pending: string[];
}

/** A member shown as text (JSON pretty-printed), cut at a bound. */
export interface TextModel {
  name: string;
  text: string;
  truncated: boolean;
}

export interface LogModel {
  name: string;
  lines: { n: number; text: string; level: 'error' | 'warn' | 'info' }[];
  errors: number;
  warnings: number;
  more: number;
}

/** The files of a tar member (the rootfs diff), each openable read-only. */
export interface FilesModel {
  name: string;
  files: { path: string; kind: string; size: number }[];
  more: number;
}

/** A stretch of the address space in the memory view: dumped bytes, or a gap shown as one row. */
export interface MemorySpanModel {
  start: string;
  end: string;
  kind: 'data' | 'not-dumped' | 'unmapped';
  /** For gaps: the VMA it lies in, for its label. */
  label?: string;
}

export interface MemoryLayoutModel {
  process: number;
  start: string;
  end: string;
  spans: MemorySpanModel[];
  /** True when spans were left out beyond the limit; the view ends early. */
  truncated: boolean;
}

export interface MemoryPieceModel {
  addr: string;
  length: number;
  state: 'dumped' | 'not-dumped' | 'unmapped';
  /** The bytes, when dumped (binary: postMessage carries a Uint8Array as it is). */
  bytes?: Uint8Array;
}

export interface VmaModel {
  /** File-order index of the VMA record. */
  index: number;
  start: string;
  end: string;
  size: number;
  prot: string;
  kind: string;
  path: string;
  offset: string;
  dumpedBytes: number;
}

export interface AddressSpaceModel {
  process: number;
  pageSize: number;
  vmas: VmaModel[];
  dumpedBytes: number;
}

export interface BytesModel {
  /** File offset of the first byte. */
  offset: number;
  bytes: Uint8Array;
}

/** What a memory search looks for (the image library's SearchQuery, as the protocol carries it). */
export interface SearchQueryModel {
  mode: 'text' | 'hex' | 'regex';
  pattern: string;
  /** How text is encoded in memory (default utf8); only for text. */
  encoding?: 'utf8' | 'utf16le';
  /** Text and regex: letters match either case. */
  ignoreCase?: boolean;
}

/** One match of a memory search. */
export interface SearchHitModel {
  pid: number;
  /** File-order index of the process record, whose memory view shows the match. */
  process: number;
  /** Address of the match's first byte, and its length. */
  address: string;
  length: number;
  /** The VMA the match starts in (null in a damaged image), and the match's offset in it. */
  vma: { start: string; end: string; prot: string; kind: string; path: string } | null;
  vmaOffset: string | null;
  /** The bytes of the context before, the match, and the context after. */
  before: Uint8Array;
  match: Uint8Array;
  after: Uint8Array;
}

export interface SearchProgressModel {
  /** Page bytes searched so far, and in all. */
  scannedBytes: number;
  totalBytes: number;
  hits: number;
}

export interface SearchEndModel extends SearchProgressModel {
  /** `truncated`: it stopped at the result cap, before the end of memory. */
  status: 'done' | 'truncated' | 'cancelled' | 'failed';
  error?: string;
  ms: number;
}

/** Where the memory view went for a search hit: its cursor, its highlight, and the bytes there. */
export interface RevealedModel {
  process: number;
  cursor: string | null;
  highlight: { start: string; end: string } | null;
  /** The highlighted bytes, read through the memory view's own source. */
  bytes: Uint8Array;
}
