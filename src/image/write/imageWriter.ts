// The TypeScript image writer. It encodes payloads from the schema generated from the .ksy (so it
// restates nothing of the layout) and lays records out as the format requires: checksums,
// 8-byte alignment, page-aligned page data, the tail. `ckpt-inspect convert` writes its images
// with it (to a file, streaming: page data goes through in chunks, and the tail's sum is kept as
// it goes); decoder tests build theirs with it, record by record, and can damage any byte
// afterwards. The C writer (src/native/image.c) writes what `ckpt dump` makes.

import fs from 'fs';
import { alignRecord, Ckpt, HEADER_SIZE, HEADER_SUMMED, RecordType, schema } from '../format';
import type { SchemaField } from '../format';
import { Xxh64, xxh64, xxh64Blocks, xxh64Low32 } from '../xxhash64';

type Value = Record<string, unknown>;

class ByteBuilder {
  private buf = new Uint8Array(256);
  length = 0;
  private grow(n: number) {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  int(size: number, v: number | bigint, signed: boolean) {
    this.grow(size);
    const dv = new DataView(this.buf.buffer, this.length, size);
    if (size === 8) {
      const b = BigInt(v);
      if (signed) dv.setBigInt64(0, b, true);
      else dv.setBigUint64(0, BigInt.asUintN(64, b), true);
    } else if (size === 4) signed ? dv.setInt32(0, Number(v), true) : dv.setUint32(0, Number(v), true);
    else if (size === 2) signed ? dv.setInt16(0, Number(v), true) : dv.setUint16(0, Number(v), true);
    else signed ? dv.setInt8(0, Number(v)) : dv.setUint8(0, Number(v));
    this.length += size;
  }
  bytes(b: Uint8Array) {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const INT = /^([us])([1248])$/;
const enc = new TextEncoder();

function byteValue(f: SchemaField, v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return enc.encode(v);
  if (Array.isArray(v) && f.display === 'nul-separated') return enc.encode(v.map((s) => `${s}\0`).join(''));
  if (v === undefined) return new Uint8Array(0);
  throw new Error(`field ${f.id}: cannot encode ${typeof v} as bytes`);
}

/** Normalise the shorthand forms: a string for an lstr, bytes or a string list for an lbytes. */
function normalise(f: SchemaField, v: unknown): unknown {
  if (f.kind === 'type' && f.type === 'lstr' && typeof v === 'string') return { value: v };
  if (f.kind === 'type' && f.type === 'lbytes' && (v instanceof Uint8Array || typeof v === 'string' || Array.isArray(v))) return { value: byteValue(f, v) };
  return v;
}

/** Encode an object of schema type `typeName` (camelCase properties, like the decoder's). */
export function encodePayload(typeName: string, value: Value): Uint8Array {
  const b = new ByteBuilder();
  encodeInto(b, typeName, value);
  return b.result();
}

function encodeInto(b: ByteBuilder, typeName: string, value: Value): void {
  const type = schema.types[typeName];
  if (!type) throw new Error(`no type ${typeName} in the schema`);
  const v: Value = {};
  for (const f of type.fields) v[f.prop] = normalise(f, value[f.prop]);
  // Lengths and counts left out are filled in from the field they measure.
  for (const f of type.fields) {
    if (v[f.prop] !== undefined || !INT.test(f.kind) || f.optional) continue;
    const sized = type.fields.find((g) => g.size === f.id);
    const counted = type.fields.find((g) => g.repeatExpr === f.id);
    if (sized) {
      const measure = new ByteBuilder();
      encodeOne(measure, sized, v[sized.prop], v, type.fields);
      v[f.prop] = measure.length;
    } else if (counted) v[f.prop] = ((v[counted.prop] as unknown[]) ?? []).length;
    else v[f.prop] = 0;
  }
  for (const f of type.fields) {
    const x = v[f.prop];
    if (f.optional && x === undefined) continue; // an optional field left out, as in an older minor version
    if (f.repeat) {
      const n = typeof f.repeatExpr === 'number' ? f.repeatExpr : ((x as unknown[]) ?? []).length;
      const items = (x as unknown[]) ?? [];
      for (let i = 0; i < n; i++) encodeOne(b, { ...f, repeat: false }, normalise(f, items[i]), v, type.fields);
    } else {
      encodeOne(b, f, x, v, type.fields);
    }
  }
}

function encodeOne(b: ByteBuilder, f: SchemaField, x: unknown, siblings: Value, fields: SchemaField[]): void {
  const m = INT.exec(f.kind);
  if (m) {
    b.int(Number(m[2]), (x as number | bigint | undefined) ?? 0, m[1] === 's');
    return;
  }
  switch (f.kind) {
    case 'contents':
      b.bytes(Uint8Array.from(f.contents ?? []));
      return;
    case 'str':
      b.bytes(enc.encode(String(x ?? '')));
      return;
    case 'bytes': {
      let bytes = byteValue(f, x);
      if (typeof f.size === 'number' && bytes.length !== f.size) {
        const fixed = new Uint8Array(f.size);
        fixed.set(bytes.subarray(0, f.size));
        bytes = fixed;
      }
      b.bytes(bytes);
      return;
    }
    case 'type':
      encodeInto(b, f.type!, (x as Value) ?? {});
      return;
    case 'switch': {
      if (x === undefined || x instanceof Uint8Array) {
        b.bytes((x as Uint8Array) ?? new Uint8Array(0));
        return;
      }
      const on = fields.find((g) => g.id === f.switchOn)!;
      const label = schema.enums[on.enum!]?.[String(siblings[on.prop])];
      const caseType = label ? f.cases?.[label] : undefined;
      if (!caseType) throw new Error(`field ${f.id}: no case for ${f.switchOn} = ${String(siblings[on.prop])}`);
      b.bytes(encodePayload(caseType, x as Value));
      return;
    }
    case 'u1':
    case 'u2':
    case 'u4':
    case 'u8':
    case 's1':
    case 's2':
    case 's4':
    case 's8':
      throw new Error(`field ${f.id}: integers are written above`);
  }
}

// ---- laying records out -------------------------------------------------------------------

export interface RecordOptions {
  ptag?: number;
  flags?: number;
  /** Force a tag (default: the next one). */
  tag?: number;
  /** Write this payload_sum instead of the right one. */
  payloadSum?: number;
}

/** Where the writer puts bytes: memory for small test images, a file for big ones. */
interface Sink {
  write(bytes: Uint8Array): void;
  /** Leave `n` zero bytes (a hole in a sparse file). */
  skip(n: number): void;
  readonly offset: number;
}

class MemorySink implements Sink {
  private parts: Uint8Array[] = [];
  offset = 0;
  write(bytes: Uint8Array) {
    this.parts.push(bytes.slice());
    this.offset += bytes.length;
  }
  skip(n: number) {
    this.write(new Uint8Array(n));
  }
  /** A plain Uint8Array (not a Buffer, whose slice() would share memory). */
  result(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts));
  }
}

class FileSink implements Sink {
  offset = 0;
  constructor(readonly fd: number) {}
  write(bytes: Uint8Array) {
    let done = 0;
    while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done, bytes.length - done, this.offset + done);
    this.offset += bytes.length;
  }
  skip(n: number) {
    this.offset += n;
    fs.ftruncateSync(this.fd, this.offset);
  }
}

export interface PageRunData {
  vaddr: bigint;
  /** The run's bytes (a multiple of the page size), ... */
  data?: Uint8Array;
  /** ... or a count of zero pages, left as a hole in a file, ... */
  zeroPages?: number;
  /** ... or `npages` pages whose content `fill` writes, generated twice (to hash, then to write) so that big runs need no memory, ... */
  npages?: number;
  fill?: (page: number, bytes: Uint8Array) => void;
  /** ... or `npages` pages read in chunks (each a whole number of pages), asked for twice: to hash, then to write. */
  chunks?: () => Iterable<Uint8Array>;
}

/** Generated pages of a `fill` run (or a `chunks` run's chunks), in batches of at most 16 MiB. */
function* filledBatches(run: PageRunData, ps: number): Generator<Uint8Array> {
  if (run.chunks) {
    let n = 0;
    for (const c of run.chunks()) {
      if (c.length % ps !== 0) throw new Error(`a chunk of ${c.length} bytes is not a whole number of pages`);
      n += c.length / ps;
      if (n > run.npages!) break;
      yield c;
    }
    if (n !== run.npages) throw new Error(`the run at 0x${run.vaddr.toString(16)} gave ${n} pages, not ${run.npages}`);
    return;
  }
  const per = (16 << 20) / ps;
  for (let p = 0; p < run.npages!; p += per) {
    const n = Math.min(per, run.npages! - p);
    const batch = new Uint8Array(n * ps);
    for (let i = 0; i < n; i++) run.fill!(p + i, batch.subarray(i * ps, (i + 1) * ps));
    yield batch;
  }
}

export class ImageWriter {
  private nextTag = 1;
  /** The XXH64 of every header so far, for the tail. */
  private readonly headerSums = new Xxh64();
  private count = 0;
  readonly pageSize: number;

  private constructor(
    private readonly sink: Sink,
    pageSize: number,
  ) {
    this.pageSize = pageSize;
  }

  static inMemory(pageSize = 4096): ImageWriter & { bytes(): Uint8Array } {
    const sink = new MemorySink();
    const w = new ImageWriter(sink, pageSize) as ImageWriter & { bytes(): Uint8Array };
    w.bytes = () => sink.result();
    return w;
  }

  static toFile(fd: number, pageSize = 4096): ImageWriter {
    return new ImageWriter(new FileSink(fd), pageSize);
  }

  get offset(): number {
    return this.sink.offset;
  }

  /** Write one record with a raw payload; returns its tag. */
  raw(type: number, payload: Uint8Array, opts: RecordOptions = {}): number {
    return this.rawHeader(type, payload.length, opts, xxh64Low32(payload), () => this.sink.write(payload));
  }

  private rawHeader(type: number, len: number, opts: RecordOptions, sum: number, writePayload: () => void): number {
    const tag = opts.tag ?? this.nextTag;
    this.nextTag = Math.max(this.nextTag, tag) + 1;
    const h = new Uint8Array(HEADER_SIZE);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, type, true);
    dv.setUint32(4, opts.flags ?? 0, true);
    dv.setUint32(8, len, true);
    dv.setUint32(12, tag, true);
    dv.setUint32(16, opts.ptag ?? 0, true);
    dv.setUint32(20, opts.payloadSum ?? sum, true);
    dv.setUint32(24, 0, true);
    dv.setUint32(HEADER_SUMMED, xxh64Low32(h.subarray(0, HEADER_SUMMED)), true);
    this.sink.write(h);
    writePayload();
    const pad = alignRecord(len) - len;
    if (pad) this.sink.write(new Uint8Array(pad));
    if (type !== RecordType.TAIL) {
      this.headerSums.update(h);
      this.count++;
    }
    return tag;
  }

  /** Write a record whose payload is encoded from `value` with the schema. */
  record(label: string, value: Value, opts: RecordOptions = {}): number {
    const typeName = schema.payloadTypes[label];
    const type = Number(Object.entries(schema.enums.record_type).find(([, l]) => l === label)?.[0]);
    if (!typeName || !type) throw new Error(`no record type ${label}`);
    return this.raw(type, encodePayload(typeName, value), opts);
  }

  /**
   * An fd of a file table and its open file description: the file record (at the top level,
   * before the fd that names it), then the fd. `file` may also be the tag of a file written
   * before, for an fd that shares it. Returns the file's tag.
   */
  fd(filesTag: number, fd: { fd: number; fdFlags?: number }, file: Value | number): number {
    const fileTag = typeof file === 'number' ? file : this.record('file', file);
    this.record('fd', { fd: fd.fd, fdFlags: fd.fdFlags ?? 0, file: fileTag }, { ptag: filesTag });
    return fileTag;
  }

  /** The main thread a sound process needs (rule one_main_thread); write its process with nthreads 1. */
  mainThread(procTag: number, tid: number, value: Value = {}): number {
    return this.record('thread', { tid, flags: Ckpt.ThreadFlags.MAIN_THREAD, ...value }, { ptag: procTag });
  }

  head(value: Value = {}): number {
    return this.record('head', {
      versionMajor: schema.version.major,
      versionMinor: schema.version.minor,
      arch: Ckpt.Arch.X86_64,
      pageSize: this.pageSize,
      timeNs: 1_790_000_000_123_456_789n,
      sysname: 'Linux',
      nodename: 'testhost',
      release: '6.18.0-test',
      version: '#1 SMP',
      machine: 'x86_64',
      checkpointer: 'imageWriter (test)',
      bootId: '00000000-0000-0000-0000-000000000000',
      ...value,
    });
  }

  /**
   * A pagemap with its page data: runs of pages, hashed, with the page bytes aligned to the
   * page size in the file. Returns the pagemap's tag.
   */
  pages(mmTag: number, runs: PageRunData[], opts: { corruptHashOfPage?: number; hashed?: boolean } = {}): number {
    const ps = this.pageSize;
    const counts = runs.map((r) => (r.data ? r.data.length / ps : r.fill || r.chunks ? r.npages! : (r.zeroPages ?? 0)));
    const npages = counts.reduce((a, b) => a + b, 0);
    const hashes = new Uint8Array(npages * 8);
    const zeroHash = xxh64(new Uint8Array(ps));
    let i = 0;
    runs.forEach((r, k) => {
      if (r.data) hashes.set(xxh64Blocks(r.data, ps), i * 8);
      else if (r.fill || r.chunks) {
        let j = i;
        for (const batch of filledBatches(r, ps)) {
          hashes.set(xxh64Blocks(batch, ps), j * 8);
          j += batch.length / ps;
        }
      } else for (let j = 0; j < counts[k]; j++) new DataView(hashes.buffer).setBigUint64((i + j) * 8, zeroHash, true);
      i += counts[k];
    });
    if (opts.corruptHashOfPage !== undefined) hashes[opts.corruptHashOfPage * 8] ^= 0xff;
    if (opts.hashed === false) hashes.fill(0);
    const pm = this.record('pagemap', { runs: runs.map((r, k) => ({ vaddr: r.vaddr, npages: counts[k], flags: 0 })), npages, pageHashes: hashes }, { ptag: mmTag });
    // A pad record so that the page payload (after its 32-byte header) starts on a page.
    const gap = (ps - ((this.offset + HEADER_SIZE) % ps)) % ps;
    if (gap !== 0) {
      const padLen = gap >= HEADER_SIZE ? gap - HEADER_SIZE : gap + ps - HEADER_SIZE;
      this.raw(RecordType.PAD, new Uint8Array(padLen));
    }
    // Without per-page hashes (hashed: false), the page data carries a payload_sum like any record.
    const hashed = opts.hashed ?? true;
    let sum = 0;
    if (!hashed) {
      const whole = new Xxh64();
      runs.forEach((r, k) => {
        if (r.data) whole.update(r.data);
        else if (r.fill || r.chunks) for (const batch of filledBatches(r, ps)) whole.update(batch);
        else whole.update(new Uint8Array(counts[k] * ps));
      });
      sum = Number(whole.digest() & 0xffffffffn);
    }
    this.rawHeader(RecordType.PAGES, npages * ps, { ptag: pm, flags: hashed ? Ckpt.RecordFlags.PAGE_HASHED : 0 }, sum, () => {
      runs.forEach((r, k) => {
        if (r.data) this.sink.write(r.data);
        else if (r.fill || r.chunks) for (const batch of filledBatches(r, ps)) this.sink.write(batch);
        else this.sink.skip(counts[k] * ps);
      });
    });
    return pm;
  }

  /** The tail; `value` overrides its fields (to damage it). */
  tail(value: Value = {}): number {
    const sum = this.headerSums.digest();
    return this.record('tail', { recordCount: this.count, headersSum: sum, ...value });
  }
}
