// What the rest of the code needs to know about the format, taken from the generated parser
// and schema (both built from formats/ckpt.ksy): header size, record alignment, magics, limits.

import { Ckpt, CkptPayloads, KsyDebugSpan } from '../../build/formats/Ckpt';
import schemaJson from '../../build/formats/ckpt-schema.json';

export { Ckpt };
export type { CkptPayloads };

export interface SchemaField {
  /** Field id in the .ksy (snake_case). */
  id: string;
  /** Property name on the generated class (camelCase). */
  prop: string;
  kind: 'u1' | 'u2' | 'u4' | 'u8' | 's1' | 's2' | 's4' | 's8' | 'str' | 'bytes' | 'contents' | 'type' | 'switch';
  /** The user type, for kind 'type'. */
  type?: string;
  enum?: string;
  /** Display hint from `-ckpt-display` (`char`: an ASCII letter, as /proc's state letters). */
  display?: 'hex' | 'octal' | 'nul-separated' | 'hash64-array' | 'char';
  /** The enum that names and explains the values (`-ckpt-labels`), for a field that is not an enum in Kaitai's sense. */
  labels?: string;
  /** Values that mean something else than their number (`-ckpt-sentinels`): RLIM_INFINITY is "unlimited". */
  sentinels?: Record<string, string>;
  /** For a bit set, the enum that names its bits (`-ckpt-flags`). */
  flags?: string;
  /** For an array indexed by an enum (rlimits by resource, handlers by signal). */
  indexEnum?: string;
  indexBase?: number;
  /** The .ksy `size` (a number or an expression over earlier fields). */
  size?: number | string;
  /** The .ksy `repeat-expr` (a number or an expression over earlier fields). */
  repeatExpr?: number | string;
  /** Fixed bytes of a `contents` field (magics). */
  contents?: number[];
  /** For kind 'switch': the field (or expression) switched on, and its cases by enum label. */
  switchOn?: string;
  cases?: Record<string, string>;
  repeat?: boolean;
  /** The field has an `if:` and may be absent (fields appended in a later minor version). */
  optional?: boolean;
  doc: string;
}

export interface SchemaType {
  doc: string;
  fields: SchemaField[];
}

/** One record type's place in the record tree (the .ksy's -ckpt-grammar). */
export interface GrammarEntry {
  /** Record type labels its parent may have; '' is the top level. */
  parents: string[];
  /** How many children of this type each such parent must (min) or may (max, 0: any) have. */
  min: number;
  max: number;
  /** The parent's field (property name) that states how many there are. */
  count?: string;
  /** Labels of the header flags this type carries; other known types carry none. */
  flags: string[];
  /** How many the image must hold at least and at most (0: any). */
  imageMin: number;
  imageMax: number;
}

export interface FormatSchema {
  version: { major: number; minor: number };
  /** Record type label -> its place in the tree. */
  grammar: Record<string, GrammarEntry>;
  /** Rule id -> what it requires (the .ksy's -ckpt-rules); readers name the id when broken. */
  rules: Record<string, string>;
  limits: { maxMetadataPayload: number; maxRecords: number; maxZstdChunk: number };
  /**
   * Sizes and magics, computed from the .ksy's record_header, head and tail types; the record
   * alignment from the size of `record`'s padding.
   */
  layout: { headerSize: number; headerSummed: number; recordAlign: number; headMagic: number[]; tailMagic: number[] };
  types: Record<string, SchemaType>;
  /** enum name -> value (as a decimal string) -> label. */
  enums: Record<string, Record<string, string>>;
  /** What enum values mean, where the .ksy documents them. */
  enumDocs: Record<string, Record<string, string>>;
  /** record type label -> payload type name. */
  payloadTypes: Record<string, string>;
}

export const schema = schemaJson as FormatSchema;

/**
 * A decoded object seen generically, as the renderers and error reports walk it: its fields by
 * property name, and the offsets the debug-mode parser recorded for each.
 */
export interface ParsedObject {
  _io: { byteOffset: number };
  _debug: Record<string, KsyDebugSpan>;
  [prop: string]: unknown;
}

export const HEADER_SIZE = schema.layout.headerSize;
/** Every record header starts at a multiple of this; the padding before it is zero bytes. */
export const RECORD_ALIGN = schema.layout.recordAlign;
/** Bytes of the header covered by header_sum. */
export const HEADER_SUMMED = schema.layout.headerSummed;
/** The bytes that open the head's payload ("CKPTIMG\n"). */
export const HEAD_MAGIC: Uint8Array = Uint8Array.from(schema.layout.headMagic);
/** The largest payload that is read whole to check or decode it; page data is never read whole. */
export const MAX_METADATA_PAYLOAD = schema.limits.maxMetadataPayload;
/** More records than any real process tree needs; bounds the index of a hostile image. */
export const MAX_RECORDS = schema.limits.maxRecords;

export const RecordType = Ckpt.RecordType;
export type RecordType = Ckpt.RecordType;

/** The exit status of the `ckpt` command (enum exit_code in the .ksy; the C side's EXIT_*). */
export const ExitCode = Ckpt.ExitCode;
export type ExitCode = Ckpt.ExitCode;

/** `n` rounded up to the record alignment: where the next record starts after one ending at `n`. */
export const alignRecord = (n: number): number => Math.ceil(n / RECORD_ALIGN) * RECORD_ALIGN;

/** 'vma', 'pagemap', ... or undefined for a type this reader does not know. */
export function recordTypeLabel(type: number): string | undefined {
  return schema.enums.record_type[String(type)];
}

/** Upper-case name for messages and tree labels: 'VMA', or 'UNKNOWN(0x1234)'. */
export function recordTypeName(type: number): string {
  return recordTypeLabel(type)?.toUpperCase() ?? `UNKNOWN(0x${type.toString(16)})`;
}

/** Label of an enum value, e.g. enumLabel('vma_kind', 5) === 'heap'. */
export function enumLabel(enumName: string, value: number | bigint): string | undefined {
  return schema.enums[enumName]?.[String(value)];
}

/** What an enum value means, where the .ksy says (e.g. process_state 116: "stopped by its tracer"). */
export function enumDoc(enumName: string, value: number | bigint): string | undefined {
  return schema.enumDocs?.[enumName]?.[String(value)];
}

/** Labels of the bits set in `value`, for the `*_flags` enums; unknown bits as hex. */
export function flagLabels(enumName: string, value: number): string[] {
  const out: string[] = [];
  let rest = value >>> 0;
  for (const [bit, label] of Object.entries(schema.enums[enumName] ?? {})) {
    const b = Number(bit);
    if (b !== 0 && (rest & b) === b) {
      out.push(label);
      rest = (rest & ~b) >>> 0;
    }
  }
  if (rest) out.push(`0x${rest.toString(16)}`);
  return out;
}

/** The generated class that decodes payloads of a record type, if the reader knows one. */
type PayloadClass = new (io: unknown, parent?: unknown, root?: unknown) => { _read(): void };
const payloadClasses = new Map<number, PayloadClass | undefined>();

export function payloadClass(type: number): PayloadClass | undefined {
  if (payloadClasses.has(type)) return payloadClasses.get(type);
  const label = recordTypeLabel(type);
  const typeName = label && schema.payloadTypes[label];
  const className = typeName
    ? typeName
        .split('_')
        .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
        .join('')
    : undefined;
  const cls = className ? (Ckpt as unknown as Record<string, PayloadClass>)[className] : undefined;
  // Remembered for the types of the format only: a hostile image can name four billion others.
  if (label) payloadClasses.set(type, cls);
  return cls;
}
