// Decoding CRIU's protobuf messages: protobuf.js decodes the values from the definitions in
// formats/criu/*.proto (built into build/formats/criu-proto.json), and a walk over the wire format
// with protobuf.js's own reader finds where each field lies, so that the editor can show a field's
// bytes, and which fields the definitions do not know, so that they are shown as unknown fields
// with their raw value rather than dropped. 64-bit values are BigInt throughout.

import { Reader, Root, Type, Enum, Field } from 'protobufjs/light';
import descriptor from '../../build/formats/criu-proto.json';
import { bytesToHex, FieldNode, hex, JsonValue } from '../image/fields';

const root = Root.fromJSON(descriptor as never);
const PACKAGE = 'criu';

/** Decoded bytes that look like a message, beyond which decoding refuses (hostile lengths). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const WIRE_NAMES = ['varint', '64-bit', 'length-delimited', 'group start', 'group end', '32-bit'];
const PREVIEW_BYTES = 32;

export class MessageError extends Error {
  constructor(
    message: string,
    /** Offset in the message where it went wrong, when known. */
    readonly at?: number,
  ) {
    super(message);
    this.name = 'MessageError';
  }
}

/** A message type by its name in the .proto files (`pstree_entry`). */
export function messageType(name: string): Type {
  return root.lookupType(`${PACKAGE}.${name}`);
}

function lookupEnum(name: string): Enum | undefined {
  try {
    return root.lookupEnum(`${PACKAGE}.${name}`);
  } catch {
    return undefined;
  }
}

/** The name of an enum value, or undefined. */
export function enumName(enumType: string, value: number): string | undefined {
  return lookupEnum(enumType)?.valuesById[value];
}

/** The names of the bits set in `value` by a bit-set enum, and what is left without a name. */
export function flagNames(enumType: string, value: number | bigint): { names: string[]; rest: bigint } {
  const e = lookupEnum(enumType);
  let rest = BigInt(value);
  const names: string[] = [];
  if (e) {
    for (const [label, bit] of Object.entries(e.values).sort((a, b) => a[1] - b[1])) {
      const b = BigInt(bit);
      if (b !== 0n && (rest & b) === b) {
        names.push(label);
        rest &= ~b;
      }
    }
  }
  return { names, rest };
}

export interface DecodedMessage<T> {
  value: T;
  /** The fields for people and JSON, known and unknown, with offsets from the message's start. */
  fields: FieldNode[];
}

/**
 * Decodes one message of type `typeName`. Throws MessageError when the bytes are not a message
 * of that type (truncated varint, a length past the end, a wrong wire type).
 */
export function decodeMessage<T>(typeName: string, bytes: Uint8Array): DecodedMessage<T> {
  if (bytes.length > MAX_MESSAGE_BYTES) throw new MessageError(`a message of ${bytes.length} bytes is larger than any this reader decodes (${MAX_MESSAGE_BYTES})`);
  const type = messageType(typeName);
  let value: T;
  try {
    const reader = Reader.create(bytes);
    const message = type.decode(reader);
    value = type.toObject(message, { longs: BigInt as never, enums: Number, arrays: true }) as T;
  } catch (e) {
    throw new MessageError(`not a valid ${typeName} message: ${(e as Error).message}`);
  }
  return { value, fields: layoutFields(type, bytes, 0, bytes.length, value as Record<string, unknown>, 0) };
}

interface Occurrence {
  field: number;
  wire: number;
  /** Start of the tag, and of the value (after its length, for length-delimited), and its end. */
  start: number;
  valueStart: number;
  end: number;
}

/** The fields of a message, in wire order, with their extents. */
function walk(bytes: Uint8Array, from: number, to: number): Occurrence[] {
  const r = Reader.create(bytes.subarray(0, to));
  r.pos = from;
  const out: Occurrence[] = [];
  while (r.pos < to) {
    const start = r.pos;
    const tag = r.uint32();
    const field = tag >>> 3,
      wire = tag & 7;
    if (field === 0) throw new MessageError('field number 0', start);
    let valueStart = r.pos;
    if (wire === 2) {
      const len = r.uint32();
      valueStart = r.pos;
      if (len > to - r.pos) throw new MessageError(`a field of ${len} bytes runs past the end of its message`, start);
      r.pos += len;
    } else {
      r.skipType(wire);
    }
    out.push({ field, wire, start, valueStart, end: r.pos });
  }
  return out;
}

function displayHint(f: Field): string | undefined {
  const v: unknown = f.options?.['(display)'];
  return typeof v === 'string' ? v : undefined;
}

/** Field nodes of a message at [from, to) of `bytes`; `base` is the top message's start. */
function layoutFields(type: Type, bytes: Uint8Array, from: number, to: number, value: Record<string, unknown>, base: number): FieldNode[] {
  const occurrences = walk(bytes, from, to);
  const known = new Map<number, Occurrence[]>();
  const nodes: { order: number; node: FieldNode }[] = [];
  for (const o of occurrences) {
    const f = type.fieldsById[o.field];
    if (!f) {
      nodes.push({ order: o.field, node: unknownNode(o, bytes, base) });
      continue;
    }
    let list = known.get(o.field);
    if (!list) known.set(o.field, (list = []));
    list.push(o);
  }
  for (const f of type.fieldsArray) {
    const occ = known.get(f.id);
    if (!occ) continue;
    const v = value[f.name];
    const span = (o: Occurrence) => ({ offset: o.start - base, size: o.end - o.start });
    if (f.repeated) {
      const items = Array.isArray(v) ? v : [];
      const whole = { offset: occ[0].start - base, size: occ[occ.length - 1].end - occ[0].start };
      // Unpacked: one occurrence per item. Packed: one occurrence holds them all.
      const children = items.map((item, i) => valueNode(f, `[${i}]`, item, occ.length === items.length ? occ[i] : undefined, bytes, base, occ.length === items.length ? span(occ[i]) : whole));
      nodes.push({
        order: f.id,
        node: { name: f.name, display: `${children.length} item${children.length === 1 ? '' : 's'}`, json: children.map((c) => c.json), doc: f.comment ?? undefined, ...whole, children },
      });
    } else {
      const o = occ[occ.length - 1];
      nodes.push({ order: f.id, node: valueNode(f, f.name, v, o, bytes, base, span(o)) });
    }
  }
  return nodes.sort((a, b) => a.order - b.order).map((n) => n.node);
}

function valueNode(f: Field, name: string, v: unknown, o: Occurrence | undefined, bytes: Uint8Array, base: number, where: { offset: number; size: number }): FieldNode {
  const doc = f.comment ?? undefined;
  const node = (display: string, json: JsonValue, children?: FieldNode[]): FieldNode => ({ name, display, json, ...(doc ? { doc } : {}), ...where, ...(children ? { children } : {}) });
  const resolved = f.resolvedType;
  if (resolved instanceof Type) {
    const children = o && o.wire === 2 ? layoutFields(resolved, bytes, o.valueStart, o.end, (v ?? {}) as Record<string, unknown>, base) : [];
    return node('', Object.fromEntries(children.map((c) => [c.name, c.json])), children);
  }
  if (resolved instanceof Enum) {
    const n = Number(v);
    const label = resolved.valuesById[n];
    return node(label ? `${label} (${n})` : `unknown (${n})`, label ?? n);
  }
  if (typeof v === 'boolean') return node(String(v), v);
  if (typeof v === 'string') return node(JSON.stringify(v), v);
  if (v instanceof Uint8Array) {
    const preview = bytesToHex(v.subarray(0, PREVIEW_BYTES), ' ');
    return node(`${v.length} bytes${v.length ? `: ${preview}${v.length > PREVIEW_BYTES ? ' ...' : ''}` : ''}`, bytesToHex(v));
  }
  if (typeof v === 'number' || typeof v === 'bigint') {
    const r = numberDisplay(displayHint(f), v);
    return node(r.display, r.json);
  }
  return node(String(v), null);
}

/** A number as a display hint of the .proto asks; 64-bit values go to JSON as strings. */
export function numberDisplay(hint: string | undefined, v: number | bigint): { display: string; json: JsonValue } {
  const json: JsonValue = typeof v === 'bigint' ? (hint === 'hex' ? hex(v) : v.toString()) : v;
  if (hint?.startsWith('enum:')) {
    const label = enumName(hint.slice(5), Number(v));
    return { display: label ? `${label} (${v})` : `unknown (${v})`, json: label ?? json };
  }
  if (hint?.startsWith('flags:')) {
    const { names, rest } = flagNames(hint.slice(6), v);
    if (rest) names.push(hex(rest));
    return { display: `${names.length ? names.join('|') : 'none'} (${hex(v)})`, json };
  }
  if (hint === 'hex') return { display: hex(v), json };
  if (hint === 'octal') return { display: `0o${v.toString(8)}`, json };
  return { display: v.toString(), json };
}

/** A field the definitions do not declare: its number, wire type and raw value. */
function unknownNode(o: Occurrence, bytes: Uint8Array, base: number): FieldNode {
  const r = Reader.create(bytes.subarray(0, o.end));
  r.pos = o.valueStart;
  let display: string;
  let json: JsonValue;
  switch (o.wire) {
    case 0: {
      const v = longToBigInt(r.uint64() as unknown as LongBits);
      display = `${v} (${hex(v)})`;
      json = v.toString();
      break;
    }
    case 1: {
      const v = longToBigInt(r.fixed64() as unknown as LongBits);
      display = hex(v);
      json = hex(v);
      break;
    }
    case 5: {
      const v = r.fixed32();
      display = hex(v);
      json = v;
      break;
    }
    case 2: {
      const b = bytes.subarray(o.valueStart, o.end);
      display = `${b.length} bytes${b.length ? `: ${bytesToHex(b.subarray(0, PREVIEW_BYTES), ' ')}${b.length > PREVIEW_BYTES ? ' ...' : ''}` : ''}`;
      json = bytesToHex(b);
      break;
    }
    default:
      display = WIRE_NAMES[o.wire] ?? `wire type ${o.wire}`;
      json = null;
  }
  return {
    name: `#${o.field}`,
    display: `unknown field (${WIRE_NAMES[o.wire] ?? `wire type ${o.wire}`}): ${display}`,
    json,
    doc: `Field number ${o.field}, which the definitions in formats/criu/ do not declare.`,
    offset: o.start - base,
    size: o.end - o.start,
  };
}

/** The two halves protobuf.js gives a 64-bit value in (a Long). */
interface LongBits {
  low: number;
  high: number;
}

function longToBigInt(l: LongBits | number): bigint {
  if (typeof l === 'number') return BigInt(l);
  return (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
}
