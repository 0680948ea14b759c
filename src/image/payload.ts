// Decoding one record's payload with the class generated from the .ksy. When the bytes do not
// fit the format, the error names the field that failed and its byte offset in the file,
// found from the offsets the debug-mode parser records for each field as it reads.

import { payloadStream } from './bigintStream';
import { ImageError, problem, ProblemSite } from './errors';
import { CkptPayloads, payloadClass, recordTypeLabel, schema, ParsedObject } from './format';

/** The generated payload class of each record type (generated from the .ksy's record switch). */
export type PayloadByType = CkptPayloads;
export type PayloadLabel = keyof PayloadByType;
export type Payload = PayloadByType[PayloadLabel];

/** What a record is to its decoder: its type, and where its payload starts in the file. */
export interface PayloadSite {
  index: number;
  type: number;
  tag: number;
  payloadOffset: number;
}

const snake = (prop: string) => prop.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The field being read (or just read and found invalid) when parsing stopped: the last field
 * each nested object started, followed down into the innermost one.
 */
function failingField(obj: ParsedObject, base: number): { path: string; offset: number } {
  const keys = Object.keys(obj._debug);
  const key = keys[keys.length - 1];
  if (key === undefined) return { path: '', offset: 0 };
  const span = obj._debug[key];
  const name = snake(key);
  const value = obj[key];
  if (span.arr && span.arr.length > 0) {
    const i = span.arr.length - 1;
    const item = Array.isArray(value) ? (value[i] as ParsedObject | undefined) : undefined;
    if (item && typeof item === 'object' && '_debug' in item) {
      const inner = failingField(item, base);
      return { path: `${name}[${i}]${inner.path ? `.${inner.path}` : ''}`, offset: inner.offset };
    }
    return { path: `${name}[${i}]`, offset: span.arr[i].ioOffset + span.arr[i].start - base };
  }
  if (value && typeof value === 'object' && '_debug' in (value as object) && Object.keys((value as ParsedObject)._debug).length > 0) {
    const inner = failingField(value as ParsedObject, base);
    return { path: `${name}${inner.path ? `.${inner.path}` : ''}`, offset: inner.offset };
  }
  return { path: name, offset: span.ioOffset + span.start - base };
}

function describeParseError(e: unknown): string {
  const err = e as { name?: string; message?: string; expected?: unknown; actual?: unknown; min?: unknown; max?: unknown; bytesReq?: number; bytesAvail?: number };
  const show = (v: unknown) =>
    v instanceof Uint8Array
      ? `"${Buffer.from(v)
          .toString('latin1')
          .replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`
      : String(v);
  switch (err.name) {
    case 'EOFError':
      return `the payload ends early: ${err.bytesReq} bytes needed, ${err.bytesAvail} left`;
    case 'ValidationNotEqualError':
      return `expected ${show(err.expected)}, found ${show(err.actual)}`;
    case 'ValidationLessThanError':
      return `value ${show(err.actual)} is below the minimum ${show(err.min)}`;
    case 'ValidationGreaterThanError':
      return `value ${show(err.actual)} is above the maximum ${show(err.max)}`;
    case 'ValidationExprError':
      return `value ${show(err.actual)} does not fit in the rest of the payload`;
    default:
      return err.message ?? String(e);
  }
}

/** Field-level problem code for a failure at a given field. */
function codeFor(field: string, e: unknown): 'bad-magic' | 'bad-version' | 'bad-payload' {
  const name = (e as { name?: string }).name;
  if (field === 'magic' && name === 'ValidationNotEqualError') return 'bad-magic';
  if (field === 'version_major' && name === 'ValidationNotEqualError') return 'bad-version';
  return 'bad-payload';
}

/**
 * Decode a payload with its generated class. Returns undefined for record types this reader
 * does not know and for `pages` (raw page bytes have no structure). Throws ImageError.
 */
export function decodePayload(site: PayloadSite, bytes: Uint8Array): Payload | undefined {
  const Cls = payloadClass(site.type);
  if (!Cls) return undefined;
  const obj = new Cls(payloadStream(bytes));
  try {
    obj._read();
  } catch (e) {
    const { path, offset } = failingField(obj as unknown as ParsedObject, bytes.byteOffset);
    const where: ProblemSite = { record: site.index, type: site.type, tag: site.tag, field: path || undefined, offset: site.payloadOffset + Math.max(0, offset) };
    throw new ImageError(problem(codeFor(path, e), where, describeParseError(e)));
  }
  return obj as unknown as Payload;
}

/** The payload type name ('vma', 'fd_pipe', ...) of a record type, for rendering. */
export function payloadTypeName(type: number): string | undefined {
  const label = recordTypeLabel(type);
  return label ? schema.payloadTypes[label] : undefined;
}
