// Comparing two decoded payloads field by field, driven by the schema: the fields, their order,
// their names and how they are displayed come from the .ksy through renderFields, so a field
// added to the format is compared without any change here. Arrays are matched item by item by
// their label (`rlimits[nofile]`, `actions[sigint]`), not by position alone.

import { FieldNode, JsonValue, renderFields } from '../fields';
import { enumLabel, schema, SchemaField, SchemaType } from '../format';
import { MAX_SHOWN_STRINGS, nulStrings } from '../fields';
import { quote } from '../text';
import type { FieldChange } from './types';

/** Bytes of a byte string kept in a FieldChange's JSON values; longer ones keep only a summary. */
const MAX_BYTES_IN_CHANGE = 4096;
/**
 * Environment variables listed per process that differ; the rest are counted in one entry
 * (`omitted`). An environment can hold millions of variables, each a change of its own.
 */
export const MAX_ENV_CHANGES = 1000;

const derivedCache = new Map<string, Set<string>>();

/**
 * Fields that only count or measure another field of the same type (`ngroups`, `nauxv`,
 * `extra_len`, an array's `count`): a change in them shows through the field they measure.
 */
function derivedFields(typeName: string, type: SchemaType): Set<string> {
  let set = derivedCache.get(typeName);
  if (!set) {
    set = new Set(type.fields.filter((f) => type.fields.some((g) => g.repeatExpr === f.id || g.size === f.id)).map((f) => f.id));
    derivedCache.set(typeName, set);
  }
  return set;
}

const sameJson = (a: JsonValue, b: JsonValue): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

function join(prefix: string, name: string): string {
  if (!prefix) return name;
  return name.startsWith('[') ? `${prefix}${name}` : `${prefix}.${name}`;
}

/** The fields of a decoded payload, for comparing. */
export function fieldsOf(typeName: string, obj: object): FieldNode[] {
  return renderFields(typeName, obj as never);
}

/** A change of one leaf field; byte strings get a count of differing bytes. */
function leafChange(path: string, a: FieldNode | undefined, b: FieldNode | undefined, isBytes: boolean): FieldChange {
  const change: FieldChange = { path, a: a?.json ?? null, b: b?.json ?? null, aText: a?.display ?? '', bText: b?.display ?? '' };
  if (isBytes && typeof change.a === 'string' && typeof change.b === 'string') {
    const ha = change.a,
      hb = change.b;
    const aLength = ha.length / 2,
      bLength = hb.length / 2;
    let differ = Math.abs(aLength - bLength),
      first = -1;
    for (let i = 0; i < Math.min(aLength, bLength); i++) {
      if (ha[2 * i] !== hb[2 * i] || ha[2 * i + 1] !== hb[2 * i + 1]) {
        differ++;
        if (first < 0) first = i;
      }
    }
    if (first < 0) first = Math.min(aLength, bLength);
    change.bytes = { aLength, bLength, differ, first };
    if (aLength > MAX_BYTES_IN_CHANGE) change.a = null;
    if (bLength > MAX_BYTES_IN_CHANGE) change.b = null;
  }
  return change;
}

/**
 * The differences between two lists of rendered fields of schema type `typeName` (undefined
 * for array items of a scalar type), appended to `out`. Fields named in `skip` are left out.
 */
export function diffFieldNodes(typeName: string | undefined, a: FieldNode[], b: FieldNode[], prefix: string, out: FieldChange[], skip: ReadonlySet<string> = new Set()): FieldChange[] {
  const type = typeName ? schema.types[typeName] : undefined;
  const derived = type && typeName ? derivedFields(typeName, type) : new Set<string>();
  const byName = (list: FieldNode[]) => new Map(list.map((n) => [n.name, n]));
  const ma = byName(a),
    mb = byName(b);
  const names = [...ma.keys(), ...[...mb.keys()].filter((n) => !ma.has(n))];
  for (const name of names) {
    if (derived.has(name) || skip.has(name)) continue;
    const na = ma.get(name),
      nb = mb.get(name);
    const path = join(prefix, name);
    const f = type?.fields.find((x) => x.id === name);
    const isBytes = f ? f.kind === 'bytes' || (f.type === 'lbytes' && f.display !== 'nul-separated') : false;
    if (!na || !nb) {
      out.push(leafChange(path, na, nb, isBytes));
      continue;
    }
    if (sameJson(na.json, nb.json)) continue;
    if (f?.repeat && na.children && nb.children) {
      // Array items, matched by their label; items of a structure type are compared field by field.
      const itemType = f.kind === 'type' && f.type !== 'lstr' && f.type !== 'lbytes' ? f.type : undefined;
      if (itemType) diffItems(itemType, na.children, nb.children, path, out);
      else diffFieldNodes(undefined, na.children, nb.children, path, out);
      continue;
    }
    const nestedType = f?.kind === 'type' && f.type !== 'lstr' && f.type !== 'lbytes' ? f.type : f?.kind === 'switch' ? switchCase(f.switchOn, f.cases, a, b) : undefined;
    if (nestedType && na.children && nb.children) {
      diffFieldNodes(nestedType, na.children, nb.children, path, out);
      continue;
    }
    out.push(leafChange(path, na, nb, isBytes || f?.kind === 'switch'));
  }
  return out;
}

function diffItems(itemType: string, a: FieldNode[], b: FieldNode[], prefix: string, out: FieldChange[]): void {
  const mb = new Map(b.map((n) => [n.name, n]));
  const ma = new Map(a.map((n) => [n.name, n]));
  for (const item of a) {
    const other = mb.get(item.name);
    if (!other) out.push(leafChange(join(prefix, item.name), item, undefined, false));
    else if (!sameJson(item.json, other.json)) diffFieldNodes(itemType, item.children ?? [], other.children ?? [], join(prefix, item.name), out);
  }
  for (const item of b) if (!ma.has(item.name)) out.push(leafChange(join(prefix, item.name), undefined, item, false));
}

/** The type a switch field decodes to, when both sides switch to the same one. */
function switchCase(on: string | undefined, cases: Record<string, string> | undefined, a: FieldNode[], b: FieldNode[]): string | undefined {
  if (!on || !cases) return undefined;
  const la = a.find((n) => n.name === on)?.json,
    lb = b.find((n) => n.name === on)?.json;
  return la === lb && typeof la === 'string' ? cases[la] : undefined;
}

/** NUL-separated strings (cmdline, environ) as a list. */
export function nulList(bytes: Uint8Array): string[] {
  return [...nulStrings(bytes)];
}

/** The command line as one change when it differs; its text shows the first MAX_SHOWN_STRINGS arguments. */
export function cmdlineChange(a: string[], b: string[]): FieldChange[] {
  if (sameJson(a, b)) return [];
  const text = (l: string[]) => l.slice(0, MAX_SHOWN_STRINGS).map(quote).join(' ') + (l.length > MAX_SHOWN_STRINGS ? ` ... (${l.length - MAX_SHOWN_STRINGS} more)` : '');
  return [{ path: 'cmdline', a, b, aText: text(a), bText: text(b) }];
}

/**
 * The environment, variable by variable: one change per variable set, unset or changed. A name
 * set more than once is compared occurrence by occurrence, the second under NAME#2 and so on.
 * At most MAX_ENV_CHANGES are listed; one more entry counts the rest.
 */
export function environChanges(a: string[], b: string[]): FieldChange[] {
  const split = (entry: string): [string, string] => {
    const eq = entry.indexOf('=');
    return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
  };
  // The values of each name, in order: the lookups are by name, never by a made-up NAME#k key,
  // which for a million repeats of one name cost a million distinct keys.
  const valuesOf = (list: string[]) => {
    const m = new Map<string, string[]>();
    for (const entry of list) {
      const [name, value] = split(entry);
      const values = m.get(name);
      if (values) values.push(value);
      else m.set(name, [value]);
    }
    return m;
  };
  const va = valuesOf(a),
    vb = valuesOf(b);
  const out: FieldChange[] = [];
  let omitted = 0;
  const change = (name: string, k: number, x: string | undefined, y: string | undefined) => {
    if (out.length === MAX_ENV_CHANGES) return void omitted++;
    const path = `environ.${name}${k === 0 ? '' : `#${k + 1}`}`;
    out.push({ path, a: x ?? null, b: y ?? null, aText: x === undefined ? '' : quote(x), bText: y === undefined ? '' : quote(y) });
  };
  // A's variables in A's order, then those only B has, in B's order.
  const seen = new Map<string, number>();
  for (const entry of a) {
    const [name, x] = split(entry);
    const k = seen.get(name) ?? 0;
    seen.set(name, k + 1);
    const y = vb.get(name)?.[k];
    if (x !== y) change(name, k, x, y);
  }
  seen.clear();
  for (const entry of b) {
    const [name, y] = split(entry);
    const k = seen.get(name) ?? 0;
    seen.set(name, k + 1);
    if ((va.get(name)?.length ?? 0) <= k) change(name, k, undefined, y);
  }
  if (omitted) out.push({ path: 'environ', a: null, b: null, aText: `${omitted} more variables differ`, bText: '', omitted });
  return out;
}

/** Name of a signal for labels: "SIGINT", or "signal 40" for those the format does not name. */
export function signalName(n: number): string {
  const label = enumLabel('signal', n);
  return label ? label.toUpperCase() : `signal ${n}`;
}

const bytesEqual = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/**
 * Whether two decoded objects of schema type `typeName` hold the same values, walking the
 * schema without rendering anything: the cheap test that lets a comparison skip the records
 * that did not change, which are most of them.
 */
export function equalDecoded(typeName: string, x: object, y: object): boolean {
  const type = schema.types[typeName];
  if (!type) return false;
  const a = x as Record<string, unknown>,
    b = y as Record<string, unknown>;
  for (const f of type.fields) {
    const va = a[f.prop],
      vb = b[f.prop];
    if (va === undefined || vb === undefined) {
      if (va !== vb) return false;
      continue;
    }
    if (f.repeat) {
      const la = va as unknown[],
        lb = vb as unknown[];
      if (la.length !== lb.length) return false;
      for (let i = 0; i < la.length; i++) if (!equalValue(f, la[i], lb[i], a, b, type)) return false;
    } else if (!equalValue(f, va, vb, a, b, type)) {
      return false;
    }
  }
  return true;
}

function equalValue(f: SchemaField, va: unknown, vb: unknown, a: Record<string, unknown>, b: Record<string, unknown>, type: SchemaType): boolean {
  switch (f.kind) {
    case 'bytes':
    case 'contents':
      return bytesEqual(va as Uint8Array, vb as Uint8Array);
    case 'type':
      if (f.type === 'lstr') return (va as { value: string }).value === (vb as { value: string }).value;
      if (f.type === 'lbytes') return bytesEqual((va as { value: Uint8Array }).value, (vb as { value: Uint8Array }).value);
      return equalDecoded(f.type!, va as object, vb as object);
    case 'switch': {
      if (va instanceof Uint8Array || vb instanceof Uint8Array) return va instanceof Uint8Array && vb instanceof Uint8Array && bytesEqual(va, vb);
      const on = type.fields.find((g) => g.id === f.switchOn);
      if (!on || a[on.prop] !== b[on.prop]) return false;
      const label = on.enum ? enumLabel(on.enum, a[on.prop] as number) : undefined;
      const caseType = label ? f.cases?.[label] : undefined;
      return caseType !== undefined && equalDecoded(caseType, va as object, vb as object);
    }
    default:
      return va === vb;
  }
}
