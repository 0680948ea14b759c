// Mutants of real and synthetic images for the fuzzer and the agreement test: structured
// edits (a field set to an extreme, off by one or random; a string's contents or length; a
// header's type, tag or ptag; records inserted, deleted, duplicated or moved; the file cut
// short), resealed (resealBytes.ts) so that they reach past the checksums, plus raw bit flips after
// resealing. Mutations are plain data, so a failing one prints and replays.
//
//   const base = await fuzzBase('sample', bytes);
//   fc.assert(fc.property(mutantArb(base), (m) => check(applyMutant(base, m))));
//   const thousand = sampleMutants(base, { seed: 42, count: 1000 });   // the same ones every time

import fc from 'fast-check';
import { CheckpointImage, FieldNode, payloadTypeName, RecordType, renderFields } from '../../src/image';
import { joinRecords, RawImageRecord, splitRecords } from './recordList';
import { resealBytes } from './resealBytes';

/** A place in a payload that a mutation can change. */
export interface Spot {
  /** Offset in the payload, and size in bytes. */
  at: number;
  size: number;
  /** An integer field (1, 2, 4 or 8 bytes, little-endian), or a length-prefixed string or byte string. */
  kind: 'int' | 'lengthy';
  /** Field path, for messages: 'comm', 'regs.rip', 'runs[2].npages'. */
  name: string;
}

export interface FuzzBase {
  name: string;
  bytes: Uint8Array;
  records: RawImageRecord[];
  /** The spots of each record's payload, found by decoding it. */
  spots: Spot[][];
  tags: number[];
  /** Addresses worth reading: where dumped pages start and end, a VMA, the top of the address space. */
  addresses: bigint[];
}

/** Find the fields of every record of a sound image. */
export async function fuzzBase(name: string, bytes: Uint8Array): Promise<FuzzBase> {
  const { records } = splitRecords(bytes);
  const img = await CheckpointImage.open(bytes);
  const spots: Spot[][] = [];
  const addresses = [0xffffffffffffe000n, 0xfffffffffffff000n];
  try {
    const proc = img.processes()[0];
    if (proc) {
      const mem = await img.memory(proc);
      for (const s of mem.segments.slice(0, 4)) addresses.push(s.start, s.end - 4096n);
      if (mem.vmas[0]) addresses.push(mem.vmas[0].start);
    }
    for (const r of img.records) {
      const typeName = payloadTypeName(r.type);
      const payload = typeName && r.type !== RecordType.PAGES ? await img.decode(r) : undefined;
      const list: Spot[] = [];
      if (payload && typeName) collectSpots(renderFields(typeName, payload as never), '', list, r.len);
      spots.push(list);
    }
  } finally {
    await img.close();
  }
  return { name, bytes, records, spots, tags: records.map((r) => r.tag), addresses };
}

function collectSpots(nodes: FieldNode[], prefix: string, out: Spot[], len: number): void {
  for (const n of nodes) {
    const name = prefix ? (n.name.startsWith('[') ? `${prefix}${n.name}` : `${prefix}.${n.name}`) : n.name;
    if (n.children?.length) {
      collectSpots(n.children, name, out, len);
      continue;
    }
    if (n.size <= 0 || n.offset + n.size > len) continue;
    const quoted = n.display.startsWith('"') || n.display.endsWith('more)');
    if ([1, 2, 4, 8].includes(n.size) && !quoted && !/bytes|page hashes/.test(n.display)) out.push({ at: n.offset, size: n.size, kind: 'int', name });
    else if (n.size >= 4) {
      out.push({ at: n.offset, size: n.size, kind: 'lengthy', name });
      out.push({ at: n.offset, size: 4, kind: 'int', name: `${name}.len` });
    }
  }
}

/** How an integer field changes. */
export type IntChange = { set: bigint } | { add: number };

export type Mutation =
  /** Set an integer field of record `rec` (spot `spot`). */
  | { t: 'int'; rec: number; spot: number; change: IntChange }
  /** Replace a length-prefixed value with `bytes`, fixing its length prefix and the payload's length. */
  | { t: 'text'; rec: number; spot: number; bytes: Uint8Array }
  /** Overwrite payload bytes at `at` (modulo the payload's length). */
  | { t: 'bytes'; rec: number; at: number; bytes: Uint8Array }
  /** Cut the payload to `len` bytes, or extend it with zeros. */
  | { t: 'resize'; rec: number; len: number }
  /** Set a header field. */
  | { t: 'header'; rec: number; field: 'type' | 'flags' | 'tag' | 'ptag' | 'reserved'; value: number }
  /** Insert a copy of record `from` before record `at`; duplicate when at = from + 1. */
  | { t: 'insert'; at: number; from: number }
  | { t: 'delete'; rec: number }
  | { t: 'move'; from: number; to: number };

/** After resealing: cut the file, or flip a bit. */
export type Damage = { t: 'truncate'; at: number } | { t: 'flip'; at: number; bit: number };

export interface Mutant {
  mutations: Mutation[];
  /** Whether the checksums are fixed after the mutations (almost always). */
  reseal: boolean;
  damage?: Damage;
}

function writeInt(b: Uint8Array, at: number, size: number, v: bigint): void {
  for (let k = 0; k < size; k++) b[at + k] = Number((v >> BigInt(8 * k)) & 0xffn);
}

function readInt(b: Uint8Array, at: number, size: number): bigint {
  let v = 0n;
  for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[at + k]);
  return v;
}

const copy = (r: RawImageRecord): RawImageRecord => ({ ...r, payload: Uint8Array.from(r.payload) });

/** The mutant's bytes. Mutations that no longer fit (an index past the end) do nothing. */
export function applyMutant(base: FuzzBase, m: Mutant): Uint8Array {
  const records = base.records.map(copy);
  // Which base record each record is, for its spots (undefined for a payload already resized).
  const origin: (number | undefined)[] = records.map((_, i) => i);
  for (const mu of m.mutations) {
    const n = records.length;
    switch (mu.t) {
      case 'int': {
        const i = mu.rec % n,
          o = origin[i];
        const spot = o === undefined ? undefined : base.spots[o][mu.spot % Math.max(1, base.spots[o].length)];
        if (!spot || spot.kind !== 'int' || spot.at + spot.size > records[i].payload.length) break;
        const p = records[i].payload;
        const max = (1n << BigInt(8 * spot.size)) - 1n;
        const v = 'set' in mu.change ? mu.change.set : readInt(p, spot.at, spot.size) + BigInt(mu.change.add);
        writeInt(p, spot.at, spot.size, v & max);
        break;
      }
      case 'text': {
        const i = mu.rec % n,
          o = origin[i];
        const lengthy = o === undefined ? [] : base.spots[o].filter((s) => s.kind === 'lengthy');
        const spot = lengthy[mu.spot % Math.max(1, lengthy.length)];
        if (!spot || spot.at + spot.size > records[i].payload.length) break;
        const p = records[i].payload;
        const next = new Uint8Array(p.length - (spot.size - 4) + mu.bytes.length);
        next.set(p.subarray(0, spot.at));
        writeInt(next, spot.at, 4, BigInt(mu.bytes.length));
        next.set(mu.bytes, spot.at + 4);
        next.set(p.subarray(spot.at + spot.size), spot.at + 4 + mu.bytes.length);
        records[i].payload = next;
        origin[i] = undefined;
        break;
      }
      case 'bytes': {
        const p = records[mu.rec % n].payload;
        for (let k = 0; k < mu.bytes.length && p.length; k++) p[(mu.at + k) % p.length] = mu.bytes[k];
        break;
      }
      case 'resize': {
        const i = mu.rec % n;
        const next = new Uint8Array(mu.len);
        next.set(records[i].payload.subarray(0, mu.len));
        records[i].payload = next;
        origin[i] = undefined;
        break;
      }
      case 'header':
        records[mu.rec % n][mu.field] = mu.value >>> 0;
        break;
      case 'insert': {
        const from = mu.from % n;
        records.splice(mu.at % (n + 1), 0, copy(records[from]));
        origin.splice(mu.at % (n + 1), 0, origin[from]);
        break;
      }
      case 'delete':
        if (n > 1) {
          records.splice(mu.rec % n, 1);
          origin.splice(mu.rec % n, 1);
        }
        break;
      case 'move': {
        const [r] = records.splice(mu.from % n, 1);
        const [o] = origin.splice(mu.from % n, 1);
        records.splice(mu.to % n, 0, r);
        origin.splice(mu.to % n, 0, o);
        break;
      }
    }
  }
  let bytes = joinRecords(records);
  if (m.reseal) bytes = resealBytes(bytes);
  if (m.damage?.t === 'truncate') bytes = bytes.slice(0, m.damage.at % (bytes.length + 1));
  if (m.damage?.t === 'flip' && bytes.length) bytes[m.damage.at % bytes.length] ^= 1 << m.damage.bit;
  return bytes;
}

const enc = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

/** String contents worth trying: terminal escapes, NULs, invalid UTF-8, long and empty ones. */
const textArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(
    enc('\x1b]0;pwned\x07'),
    enc('\x1b[2J\x1b[H'),
    new Uint8Array(Buffer.from('\u009b31m', 'utf8')),
    new Uint8Array([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80]),
    new Uint8Array(0),
    enc('A=1\0A=2\0A\0=\0\0'),
  ),
  fc.integer({ min: 0, max: 1 << 16 }).map((n) => new Uint8Array(n)),
  fc.integer({ min: 0, max: 1 << 15 }).map((n) => new Uint8Array(n).fill(0x41)),
  fc.uint8Array({ maxLength: 512 }),
);

/** Integers worth trying in a field of `size` bytes: extremes, off by one, tags, random. */
function intChangeArb(base: FuzzBase): fc.Arbitrary<IntChange> {
  return fc.oneof(
    fc.constantFrom<IntChange>(
      { add: 1 },
      { add: -1 },
      { add: 4096 },
      { set: 0n },
      { set: 1n },
      { set: -1n },
      { set: 0x7fffffffn },
      { set: 0x80000000n },
      { set: 0xffffffffn },
      { set: 1n << 63n },
      { set: (1n << 63n) - 1n },
    ),
    fc.constantFrom(...base.tags).map((t): IntChange => ({ set: BigInt(t) })),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v): IntChange => ({ set: v })),
    fc.integer({ min: 0, max: 0x10000 }).map((v): IntChange => ({ set: BigInt(v) })),
  );
}

const RECORD_TYPES = [1, 2, 3, 10, 11, 20, 21, 22, 23, 30, 31, 40, 41, 50];

export function mutationArb(base: FuzzBase): fc.Arbitrary<Mutation> {
  const n = base.records.length;
  const rec = fc.integer({ min: 0, max: n - 1 });
  const spot = fc.nat({ max: 1000 });
  const tagValue = fc.oneof(fc.constantFrom(0, 0xffffffff, ...base.tags), fc.nat({ max: base.tags.length + 4 }), fc.nat());
  return fc.oneof(
    { weight: 8, arbitrary: fc.record({ t: fc.constant('int' as const), rec, spot, change: intChangeArb(base) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('text' as const), rec, spot, bytes: textArb }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('bytes' as const), rec, at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('resize' as const), rec, len: fc.oneof(fc.nat({ max: 64 }), fc.nat({ max: 1 << 16 })) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('header' as const), rec, field: fc.constantFrom('tag' as const, 'ptag' as const), value: tagValue }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('header' as const), rec, field: fc.constant('type' as const), value: fc.oneof(fc.constantFrom(...RECORD_TYPES), fc.nat()) }) },
    {
      weight: 1,
      arbitrary: fc.record({ t: fc.constant('header' as const), rec, field: fc.constantFrom('flags' as const, 'reserved' as const), value: fc.oneof(fc.constantFrom(0, 1, 2, 0xffffffff), fc.nat()) }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('insert' as const), at: rec, from: rec }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('delete' as const), rec }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('move' as const), from: rec, to: rec }) },
  );
}

export function mutantArb(base: FuzzBase): fc.Arbitrary<Mutant> {
  return fc
    .record(
      {
        mutations: fc.array(mutationArb(base), { minLength: 1, maxLength: 4 }),
        reseal: fc.oneof({ weight: 19, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        damage: fc.option(
          fc.oneof(fc.record({ t: fc.constant('truncate' as const), at: fc.nat() }), fc.record({ t: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) })),
          { freq: 8 },
        ),
      },
      { requiredKeys: ['mutations', 'reseal'] },
    )
    .map((m) => (m.damage === null ? { mutations: m.mutations, reseal: m.reseal } : (m as Mutant)));
}

/** `count` mutants of `base`, the same ones for the same seed: for tests that compare two readers. */
export function sampleMutants(base: FuzzBase, opts: { seed: number; count: number }): { mutant: Mutant; bytes: Uint8Array }[] {
  return fc.sample(mutantArb(base), { seed: opts.seed, numRuns: opts.count }).map((mutant) => ({ mutant, bytes: applyMutant(base, mutant) }));
}

/** A mutant as JSON, bytes as hex, to print a failing one so that it can be replayed. */
export function mutantJson(m: Mutant): string {
  return JSON.stringify(m, (_, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? `hex:${Buffer.from(v).toString('hex')}` : v));
}
