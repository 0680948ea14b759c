// Turns a decoded payload into a tree of named fields for people (the CLI, the editor) and into
// JSON for programs, driven by the schema generated from the .ksy: field order, docs, enums,
// bit sets and display hints all come from the format, not from code here. 64-bit values are
// rendered from BigInt and appear in JSON as strings, never as lossy Numbers.

import { enumDoc, enumLabel, flagLabels, schema, SchemaField, ParsedObject } from './format';
import { decodeUtf8, quote } from './text';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export interface FieldNode {
  /** Field id from the .ksy, or an array index such as "[3]" or "[nofile]". */
  name: string;
  /** Human rendering of the value; empty for structures. */
  display: string;
  /** The value for JSON output. */
  json: JsonValue;
  /**
   * For a list that can be long (NUL-separated strings, page hashes): its JSON items one at a
   * time, for writers that stream. `json` holds the same list, made when it is first read.
   */
  jsonItems?: () => Iterable<JsonValue>;
  doc?: string;
  /** Position of the field in the payload, in bytes from its start, and its size. */
  offset: number;
  size: number;
  children?: FieldNode[];
}

const PREVIEW_BYTES = 32;
/**
 * A NUL-separated list (cmdline, environ) is shown to people by its first strings and a count
 * of the rest: 64 MB of NULs are 64 million empty strings, which no one reads one by one.
 * JSON gives every string.
 */
export const MAX_SHOWN_STRINGS = 256;

export function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}

export function bytesToHex(b: Uint8Array, sep = ''): string {
  const h = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  return sep ? h.replace(/(..)(?!$)/g, `$1${sep}`) : h;
}

/** Printable rendering of bytes: a quoted string with escapes for anything not printable ASCII. */
export function escapeBytes(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : c === 0x22 ? '\\"' : c === 0x5c ? '\\\\' : `\\x${c.toString(16).padStart(2, '0')}`;
  return `"${s}"`;
}

/** The strings of a NUL-separated list, one at a time; a NUL at the end ends the last one. */
export function* nulStrings(b: Uint8Array): Generator<string> {
  for (let start = 0; start < b.length;) {
    let end = b.indexOf(0, start);
    if (end < 0) end = b.length;
    yield end === start ? '' : decodeUtf8(b.subarray(start, end));
    start = end + 1;
  }
}

/** The number of strings nulStrings() gives. */
function nulCount(b: Uint8Array): number {
  let n = 0;
  for (let i = b.indexOf(0); i >= 0; i = b.indexOf(0, i + 1)) n++;
  return b.length > 0 && b[b.length - 1] !== 0 ? n + 1 : n;
}

function intDisplay(f: SchemaField, v: number | bigint): { display: string; json: JsonValue } {
  const json: JsonValue = typeof v === 'bigint' ? (f.display === 'hex' ? hex(v) : v.toString()) : v;
  // The value's meaning first; JSON keeps the number, exact.
  const sentinel = f.sentinels?.[v.toString()];
  if (sentinel) return { display: sentinel, json };
  if (f.labels) {
    const what = enumDoc(f.labels, v) ?? enumLabel(f.labels, v)?.replace(/_/g, ' ') ?? 'unknown';
    const shown = f.display === 'char' && v >= 0x20 && v < 0x7f ? String.fromCharCode(Number(v)) : v.toString();
    return { display: `${shown} (${what})`, json };
  }
  if (f.enum) {
    const label = enumLabel(f.enum, v);
    return { display: label ? `${label} (${v})` : `unknown (${v})`, json: typeof v === 'bigint' ? json : (label ?? v) };
  }
  if (f.flags && typeof v === 'number') {
    const labels = flagLabels(f.flags, v);
    return { display: `${labels.length ? labels.join('|') : 'none'} (${hex(v)})`, json: v };
  }
  if (f.display === 'hex') return { display: hex(v), json };
  if (f.display === 'octal') return { display: `0o${v.toString(8)}`, json };
  return { display: v.toString(), json };
}

/** Little-endian u64s as 16 hex digits each. */
function* hash64s(b: Uint8Array): Generator<string> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i + 8 <= b.length; i += 8)
    yield (
      dv
        .getUint32(i + 4, true)
        .toString(16)
        .padStart(8, '0') + dv.getUint32(i, true).toString(16).padStart(8, '0')
    );
}

/** A rendering: its display and either its JSON value or, for a long list, its items. */
type Rendered = { display: string; json: JsonValue; jsonItems?: undefined } | { display: string; json?: undefined; jsonItems: () => Iterable<JsonValue> };

function bytesField(f: SchemaField, b: Uint8Array): Rendered {
  if (f.display === 'nul-separated') {
    const count = nulCount(b);
    const shown: string[] = [];
    for (const s of nulStrings(b)) {
      if (shown.length === MAX_SHOWN_STRINGS) break;
      shown.push(quote(s));
    }
    const more = count > shown.length ? ` ... (${count - shown.length} more)` : '';
    return { display: shown.join(' ') + more, jsonItems: () => nulStrings(b) };
  }
  if (f.display === 'hash64-array') {
    return { display: `${Math.floor(b.length / 8)} page hashes`, jsonItems: () => hash64s(b) };
  }
  const preview = bytesToHex(b.subarray(0, PREVIEW_BYTES), ' ');
  return { display: `${b.length} bytes${b.length ? `: ${preview}${b.length > PREVIEW_BYTES ? ' ...' : ''}` : ''}`, json: bytesToHex(b) };
}

function span(obj: ParsedObject, prop: string, base: number): { offset: number; size: number } {
  const d = obj._debug?.[prop];
  if (!d) return { offset: 0, size: 0 };
  return { offset: d.ioOffset + d.start - base, size: (d.end ?? d.start) - d.start };
}

function renderValue(f: SchemaField, value: unknown, name: string, where: { offset: number; size: number }, base: number, parent: ParsedObject, siblings: SchemaField[]): FieldNode {
  const node = (display: string, json: JsonValue, children?: FieldNode[]): FieldNode => ({ name, display, json, doc: f.doc || undefined, ...where, ...(children ? { children } : {}) });
  const rendered = (r: Rendered): FieldNode => {
    if (!r.jsonItems) return node(r.display, r.json);
    // A long list's JSON is made when read, and not kept: streaming writers use jsonItems.
    const n = { name, display: r.display, doc: f.doc || undefined, ...where, jsonItems: r.jsonItems } as Omit<FieldNode, 'json'>;
    return Object.defineProperty(n, 'json', { get: () => [...r.jsonItems()], enumerable: true }) as FieldNode;
  };
  switch (f.kind) {
    case 'u1':
    case 'u2':
    case 'u4':
    case 's1':
    case 's2':
    case 's4':
    case 'u8':
    case 's8': {
      const r = intDisplay(f, value as number | bigint);
      return node(r.display, r.json);
    }
    case 'str':
      return node(quote(value as string), value as string);
    case 'contents':
      return node(escapeBytes(value as Uint8Array), bytesToHex(value as Uint8Array));
    case 'bytes':
      return rendered(bytesField(f, value as Uint8Array));
    case 'type': {
      const obj = value as ParsedObject;
      // Length-prefixed strings and byte strings show as their value, with this field's hints.
      if (f.type === 'lstr') return node(quote(obj.value as string), obj.value as string);
      if (f.type === 'lbytes') return rendered(bytesField(f, obj.value as Uint8Array));
      const children = renderFields(f.type!, obj, base);
      return node('', Object.fromEntries(children.map((c) => [c.name, c.json])), children);
    }
    case 'switch': {
      // The switch is on a sibling enum field (fd.extra on fd.kind).
      const onField = siblings.find((x) => x.id === f.switchOn);
      const on = onField ? (parent[onField.prop] as number) : undefined;
      const onLabel = onField?.enum && on !== undefined ? enumLabel(onField.enum, on) : undefined;
      const typeName = onLabel ? f.cases?.[onLabel] : undefined;
      if (!typeName || value instanceof Uint8Array || !value) {
        const b = value instanceof Uint8Array ? value : new Uint8Array(0);
        return node(b.length ? bytesField({ ...f, kind: 'bytes' }, b).display : 'none', bytesToHex(b));
      }
      const children = renderFields(typeName, value as ParsedObject, base);
      return node('', Object.fromEntries(children.map((c) => [c.name, c.json])), children);
    }
  }
}

/** The fields of a decoded object of the schema type `typeName`, in format order. */
export function renderFields(typeName: string, obj: ParsedObject, base = obj._io.byteOffset): FieldNode[] {
  const type = schema.types[typeName];
  if (!type) return [];
  const out: FieldNode[] = [];
  for (const f of type.fields) {
    const value = obj[f.prop];
    if (value === undefined) continue;
    const where = span(obj, f.prop, base);
    if (f.repeat && Array.isArray(value)) {
      const arr = obj._debug?.[f.prop]?.arr ?? [];
      const items = value.map((item, i) => {
        const label = f.indexEnum ? enumLabel(f.indexEnum, i + (f.indexBase ?? 0)) : undefined;
        const itemName = label ? `[${label}]` : f.indexEnum === 'signal' ? `[${i + (f.indexBase ?? 0)}]` : `[${i}]`;
        const s = arr[i] ? { offset: arr[i].ioOffset + arr[i].start - base, size: (arr[i].end ?? arr[i].start) - arr[i].start } : where;
        return renderValue({ ...f, repeat: false, doc: '' }, item, itemName, s, base, obj, type.fields);
      });
      out.push({ name: f.id, display: `${items.length} items`, json: items.map((c) => c.json), doc: f.doc || undefined, ...where, children: items });
    } else {
      out.push(renderValue(f, value, f.id, where, base, obj, type.fields));
    }
  }
  return out;
}

/** A decoded payload as a JSON object. */
export function payloadJson(typeName: string, obj: object): { [k: string]: JsonValue } {
  return Object.fromEntries(renderFields(typeName, obj as ParsedObject).map((c) => [c.name, c.json]));
}
