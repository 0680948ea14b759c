// One opened checkpoint, whatever its format: a .ckpt image, or a CRIU checkpoint (a directory
// or a Podman/CRI-O/Kubernetes archive). The editor, the Image Records view, the memory search,
// the comparison and ckpt-inspect see checkpoints only through this: records in a tree (each
// with its bytes, header and fields), what the checkpoint says about its processes (model.ts),
// and each process's memory. No vscode import.

import type { ByteSource } from '../image/byteSource';
import type { ImageProblem } from '../image/errors';
import type { FieldNode } from '../image/fields';
import type { MemoryMap, RecordRef } from '../image/memoryMap';
import type { SearchTarget } from '../image/search/searchMemory';
import type { ImageSummary, ProcessSummary } from '../image/summary';
import type { VerifyOptions, VerifyReport } from '../image/verify';
import type { ContainerInfo } from '../criu/container';
import type { ProcessState } from './model';

export type CheckpointFormat = 'ckpt' | 'criu';

/** The views the editor can show for a record. */
export type RecordView = 'fields' | 'process' | 'addressSpace' | 'memory' | 'text' | 'log' | 'files';

export interface RecordDescription {
  /** e.g. "VMA", "CORE" */
  title: string;
  /** e.g. "0x7f1c2000-0x7f1c4000 r-xp file /usr/lib/libc.so.6" */
  detail: string;
  error?: string;
  /** The .ckpt record's tag. */
  tag?: number;
}

/** Where a record's bytes are, what they decode to, and what else can be shown of it. */
export interface RecordLayout {
  /** Source offsets of the record's first byte and of its payload, and the payload's length. */
  offset: number;
  payloadOffset: number;
  length: number;
  /** Its header (offsets from `offset`) and its payload's fields (offsets from payloadOffset). */
  header: FieldNode[];
  fields?: FieldNode[];
  decodeError?: string;
  views: RecordView[];
  /** The process record whose memory the record belongs to. */
  process?: number;
  /** For a VMA or a run of pages: the address range its memory view opens at. */
  memoryRange?: { start: bigint; end: bigint };
  /** When the source is many files (a CRIU directory): the file the record is in, and where it starts. */
  file?: { name: string; base: number };
}

/** What a checkpoint is, at a glance; the .ckpt summary, with what CRIU checkpoints add. */
export interface CheckpointSummary extends Omit<ImageSummary, 'processes'> {
  format: CheckpointFormat;
  /** Each process with its record's index. */
  processes: (ProcessSummary & { index: number })[];
  container?: ContainerInfo;
  /** Members of the checkpoint worth a look (logs, the rootfs diff, the engine's files), by record. */
  extras: { index: number; kind: 'log' | 'files' | 'text'; name: string }[];
  /** Whether `ckpt restore` can take it as it is. */
  restorable: boolean;
}

export interface Checkpoint {
  readonly format: CheckpointFormat;
  /** The path it was opened from. */
  readonly name: string;
  /** Its bytes on disk. */
  readonly size: number;
  /** Where records' and pages' offsets point. */
  readonly source: ByteSource;
  readonly pageSize: number;
  readonly recordCount: number;
  /** Problems found on opening. */
  readonly problems: ImageProblem[];
  /** Problems found since, while reading processes and memory. */
  readonly layoutProblems: ImageProblem[];

  /** Records at the top level (no index) or below one, in order. */
  children(index?: number): readonly number[];
  /** A record's parent, which always comes before it (so that a walk up the tree ends). */
  parent(index: number): number | undefined;
  /** The bytes a record spans in the source (header and payload). */
  bounds(index: number): { offset: number; end: number };
  describe(index: number): Promise<RecordDescription>;
  layout(index: number): Promise<RecordLayout>;
  /**
   * A record's decoded payload as fields (undefined when it has none); an ImageError when it
   * cannot be decoded. What layout() gives as `fields`, without the rest: for walks over every
   * record (ckpt-inspect show -v and json), which must stay linear in the records.
   */
  fields(index: number): Promise<FieldNode[] | undefined>;

  summary(): Promise<CheckpointSummary>;
  /** The processes, parents before children. Throws ImageError when none can be read. */
  processes(): Promise<ProcessState[]>;
  /** The process records, in order (cheap: no decoding beyond what opening did). */
  processRecords(): readonly number[];
  memory(processRecord: number): Promise<MemoryMap<RecordRef>>;
  /**
   * The GNU build-ids the checkpoint recorded for a process's mapped ELF files, by VMA record
   * index, where it records them: the unwinder then trusts a file on disk by its build-id.
   */
  mappedBuildIds?(processRecord: number): Promise<Map<number, string>>;
  /** Each process's pid, record and memory, for the memory search. */
  searchTarget(): Promise<SearchTarget>;
  verify(opts?: VerifyOptions): Promise<VerifyReport>;
  /** Bytes of a member that the editor shows as text, a log or a file list; undefined for others. */
  memberBytes?(index: number, max: number): Promise<Uint8Array | undefined>;
  /** The files of a tar member (the rootfs diff), and one file's bytes, read in place. */
  memberFiles?(index: number): Promise<{ path: string; kind: string; size: number }[]>;
  memberFile?(index: number, path: string, max: number): Promise<Uint8Array>;
  close(): Promise<void>;
}
