// The streaming index of record headers: one pass over the image that reads each 32-byte
// header (and, for metadata records, the payload, to check its checksum), and skips page data
// without reading it. This is what makes a multi-GiB image open at once.

import { ByteSource } from './byteSource';
import { ImageError, ImageProblem, problem } from './errors';
import { alignRecord, Ckpt, HEAD_MAGIC, HEADER_SIZE, HEADER_SUMMED, MAX_METADATA_PAYLOAD, MAX_RECORDS, recordTypeLabel, recordTypeName, RecordType, schema } from './format';
import { decodePayload } from './payload';
import { Xxh64, xxh64Low32 } from './xxhash64';

export interface RecordEntry {
  /** Position in file order; the head is 0. */
  index: number;
  /** File offset of the header. */
  offset: number;
  /** File offset of the payload. */
  payloadOffset: number;
  len: number;
  type: number;
  flags: number;
  tag: number;
  ptag: number;
  payloadSum: number;
}

export interface RecordIndex {
  records: RecordEntry[];
  byTag: Map<number, RecordEntry>;
  problems: ImageProblem[];
  head?: Ckpt.Head;
  tail?: Ckpt.Tail;
}

export interface IndexOptions {
  /** Check metadata payload checksums (reads every payload but page data). Default true. */
  checkPayloads?: boolean;
  signal?: AbortSignal;
}

const PAGE_HASHED = Ckpt.RecordFlags.PAGE_HASHED;
/** Read this much at each header, so that runs of small records cost one read. */
const BLOCK = 64 * 1024;

/**
 * Serves reads from the last block read, reading a new block when a range falls outside it.
 * Synchronously where the source can (a promise only otherwise): an await per record made
 * opening millions of small records several times slower.
 */
class BlockReader {
  private start = 0;
  private block: Uint8Array = new Uint8Array(0);
  constructor(private readonly src: ByteSource) {}

  bytes(offset: number, length: number): Uint8Array | Promise<Uint8Array> {
    if (offset >= this.start && offset + length <= this.start + this.block.length) {
      return this.block.subarray(offset - this.start, offset - this.start + length);
    }
    if (length > BLOCK) return this.read(offset, length);
    const block = this.read(offset, Math.min(BLOCK, this.src.size - offset));
    const keep = (b: Uint8Array) => {
      this.start = offset;
      this.block = b;
      return b.subarray(0, length);
    };
    return block instanceof Promise ? block.then(keep) : keep(block);
  }

  /** A fresh buffer each time: decoded head and tail keep views into it. */
  private read(offset: number, length: number): Uint8Array | Promise<Uint8Array> {
    if (!this.src.readIntoSync) return this.src.read(offset, length);
    // Synchronous where the source can: an asynchronous read costs ~100 us in the thread pool.
    const out = new Uint8Array(length);
    this.src.readIntoSync(offset, out);
    return out;
  }
}

/** The event loop gets a turn after this many records, so that opening stays cancellable. */
const YIELD_EVERY = 65536;

/** Headers for the tail's sum, hashed in batches rather than 32 bytes at a time. */
class HeaderSum {
  private readonly batch = new Uint8Array(HEADER_SIZE * 2048);
  private used = 0;
  private readonly sum = new Xxh64();
  add(header: Uint8Array): void {
    if (this.used === this.batch.length) this.flush();
    this.batch.set(header, this.used);
    this.used += header.length;
  }
  digest(): bigint {
    this.flush();
    return this.sum.digest();
  }
  private flush(): void {
    this.sum.update(this.batch.subarray(0, this.used));
    this.used = 0;
  }
}

/** The value of a record_flags label. */
function flagValue(label: string): number {
  const hit = Object.entries(schema.enums.record_flags).find(([, l]) => l === label);
  if (!hit) throw new Error(`no record flag ${label}`);
  return Number(hit[0]);
}

/** The header flags each known record type carries, by its grammar; found once per type. */
const typeFlags = new Map<string, number>();
function flagsOfType(label: string): number {
  let want = typeFlags.get(label);
  if (want === undefined) typeFlags.set(label, (want = schema.grammar[label].flags.reduce((m, f) => m | flagValue(f), 0)));
  return want;
}

type Header = Pick<Ckpt.RecordHeader, 'type' | 'flags' | 'len' | 'tag' | 'ptag' | 'payloadSum' | 'headerSum'>;

/**
 * Offsets of the header's fields, from the schema. Every header field is a u4, read straight
 * from the bytes: a parser object per header made opening millions of records slow.
 */
const HEADER_AT: Record<keyof Header, number> = (() => {
  const at: Record<string, number> = {};
  let o = 0;
  for (const f of schema.types.record_header.fields) {
    if (f.kind !== 'u4') throw new Error(`record_header.${f.id} is a ${f.kind}; this reader reads headers of u4 fields only`);
    at[f.prop] = o;
    o += 4;
  }
  return at as Record<keyof Header, number>;
})();

/**
 * Where a problem with one header field of a record is: the field's own byte offset, as the C
 * reader (`ckpt restore`) names it too. A problem with the record as a whole names its start.
 */
export function headerFieldSite(r: { index: number; type: number; tag: number; offset: number }, field: 'type' | 'flags' | 'len' | 'tag' | 'ptag') {
  return { record: r.index, type: r.type, tag: r.tag, field, offset: r.offset + HEADER_AT[field] };
}

function readHeader(b: Uint8Array): Header {
  const u4 = (o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
  return {
    type: u4(HEADER_AT.type),
    flags: u4(HEADER_AT.flags),
    len: u4(HEADER_AT.len),
    tag: u4(HEADER_AT.tag),
    ptag: u4(HEADER_AT.ptag),
    payloadSum: u4(HEADER_AT.payloadSum),
    headerSum: u4(HEADER_AT.headerSum),
  };
}

export async function indexRecords(src: ByteSource, opts: IndexOptions = {}): Promise<RecordIndex> {
  const checkPayloads = opts.checkPayloads ?? true;
  const problems: ImageProblem[] = [];
  const records: RecordEntry[] = [];
  const byTag = new Map<number, RecordEntry>();
  const out: RecordIndex = { records, byTag, problems };
  const reader = new BlockReader(src);
  const fatal = (p: ImageProblem) => {
    p.fatal = true;
    throw new ImageError(p);
  };

  if (src.size < HEADER_SIZE + HEAD_MAGIC.length) {
    fatal(problem('not-an-image', { offset: 0 }, `not a ckpt image: ${src.size} bytes is too small to hold a head record`));
  }
  const first = await reader.bytes(0, HEADER_SIZE + HEAD_MAGIC.length);
  if (!Buffer.from(first.subarray(HEADER_SIZE)).equals(HEAD_MAGIC)) {
    fatal(problem('bad-magic', { record: 0, offset: HEADER_SIZE, field: 'magic' }, 'not a ckpt image: the head magic "CKPTIMG\\n" is missing'));
  }

  const headers = new HeaderSum();
  let offset = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    const index = records.length;
    if (index % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((resolve) => setImmediate(resolve));
    if (offset >= src.size) {
      problems.push(problem('truncated', { offset }, `no tail record: the image is truncated after record #${index - 1}`));
      break;
    }
    if (index >= MAX_RECORDS) fatal(problem('too-many-records', { record: index, offset }, `more than ${MAX_RECORDS} records`));
    if (src.size - offset < HEADER_SIZE) {
      problems.push(problem('truncated', { record: index, offset }, `the image ends ${src.size - offset} bytes into a record header: it is truncated`));
      break;
    }
    let hb = reader.bytes(offset, HEADER_SIZE);
    if (hb instanceof Promise) hb = await hb;
    const h = readHeader(hb);
    const site = { record: index, type: h.type, tag: h.tag, offset };
    if (xxh64Low32(hb.subarray(0, HEADER_SUMMED)) !== h.headerSum) {
      // The length cannot be trusted, so nothing after this header can be found.
      const p = problem('bad-header-checksum', site, 'the record header is damaged (header_sum mismatch); the records after it cannot be located');
      if (index === 0) fatal(p);
      problems.push(p);
      break;
    }
    const payloadOffset = offset + HEADER_SIZE;
    if (h.len > src.size - payloadOffset) {
      const p = problem(
        'bad-length',
        headerFieldSite({ ...h, index, offset }, 'len'),
        `payload length ${h.len} runs past the end of the file (${src.size - payloadOffset} bytes left): the image is truncated or the length is damaged`,
      );
      if (index === 0) fatal(p);
      problems.push(p);
      break;
    }
    const entry: RecordEntry = { index, offset, payloadOffset, len: h.len, type: h.type, flags: h.flags, tag: h.tag, ptag: h.ptag, payloadSum: h.payloadSum };
    if (h.tag === 0) problems.push(problem('bad-tag', headerFieldSite(entry, 'tag'), 'tag 0 is reserved for "no parent"'));
    else if (byTag.has(h.tag)) problems.push(problem('duplicate-tag', headerFieldSite(entry, 'tag'), `tag ${h.tag} is already used by record #${byTag.get(h.tag)!.index}`));
    else byTag.set(h.tag, entry);
    records.push(entry);

    if (index === 0 && h.type !== RecordType.HEAD) fatal(problem('not-an-image', site, 'the first record is not a HEAD'));
    const label = recordTypeLabel(h.type);
    if (label === undefined) {
      problems.push(problem('unknown-type', site, `record type ${h.type} is unknown to this reader; it is skipped`));
    }

    // The header flags a known type carries are the grammar's (page_hashed on pages, none on the
    // rest); a type of a later version with page_hashed is bulk data like pages. Bulk data is
    // never read on opening, nor whole: verify() checks it by its hashes.
    const grammar = label ? schema.grammar[label] : undefined;
    const pageData = grammar ? grammar.flags.includes('page_hashed') : (h.flags & PAGE_HASHED) !== 0;
    if (grammar) {
      const want = flagsOfType(label!);
      if (h.flags !== want)
        problems.push(problem('bad-flags', headerFieldSite(entry, 'flags'), `header flags 0x${h.flags.toString(16)}, a ${recordTypeName(h.type)} record has 0x${want.toString(16)}`));
    }
    if (!pageData && h.len > MAX_METADATA_PAYLOAD) {
      problems.push(problem('bad-length', headerFieldSite(entry, 'len'), `a ${recordTypeName(h.type)} payload of ${h.len} bytes is larger than any metadata record may be (${MAX_METADATA_PAYLOAD})`));
    } else if (!pageData && (checkPayloads || h.type === RecordType.HEAD || h.type === RecordType.TAIL)) {
      let payload = reader.bytes(payloadOffset, h.len);
      if (payload instanceof Promise) payload = await payload;
      if (xxh64Low32(payload) !== h.payloadSum) {
        problems.push(problem('bad-checksum', site, 'the payload is damaged (payload_sum mismatch)'));
      }
      if (h.type === RecordType.HEAD && index === 0) {
        try {
          out.head = decodePayload(entry, payload) as Ckpt.Head;
        } catch (e) {
          if (e instanceof ImageError) fatal(e.problem);
          throw e;
        }
      } else if (h.type === RecordType.TAIL) {
        try {
          out.tail = decodePayload(entry, payload) as Ckpt.Tail;
        } catch (e) {
          if (!(e instanceof ImageError)) throw e;
          problems.push(e.problem);
        }
      }
    }

    if (h.type === RecordType.TAIL) {
      checkTail(out, entry, headers.digest());
      const end = alignRecord(payloadOffset + h.len);
      if (end < src.size) {
        problems.push(problem('misplaced-record', { offset: end }, `${src.size - end} bytes follow the tail record`));
      }
      break;
    }
    headers.add(hb);
    offset = alignRecord(payloadOffset + h.len);
  }
  return out;
}

function checkTail(idx: RecordIndex, entry: RecordEntry, headersSum: bigint): void {
  const t = idx.tail;
  if (!t) return;
  const site = { record: entry.index, type: entry.type, tag: entry.tag, offset: entry.payloadOffset };
  if (t.recordCount !== entry.index) {
    idx.problems.push(problem('bad-tail', { ...site, field: 'record_count' }, `the tail counts ${t.recordCount} records before it, the image has ${entry.index}`));
  }
  if (t.headersSum !== headersSum) {
    idx.problems.push(
      problem(
        'bad-tail',
        { ...site, field: 'headers_sum' },
        `headers_sum 0x${t.headersSum.toString(16)} does not match the headers (0x${headersSum.toString(16)}): a record was changed, added or removed`,
      ),
    );
  }
}
