// Full verification: what opening checks (headers, metadata checksums, tail, tree), plus every
// payload's decoding with its fields' rules, the grammar's counts and the named rules of the
// .ksy (soundness.ts), and every page's hash. The C reader of `ckpt restore` checks the same, so
// verify calls an image sound exactly when restore accepts it. Page data is streamed in bounded
// slices, with progress and cancellation.

import { CheckpointImage } from './checkpointImage';
import { ImageError, ImageProblem, problem, problemSeverity, ruleProblem } from './errors';
import { Ckpt, RecordType } from './format';
import { RecordEntry } from './recordIndex';
import { ByteSource, SCAN_CHUNK } from './byteSource';
import { hashPagesInPlace } from './xxhash64';
import { fileContentProblems, grammarProblems, imageRuleProblems, processRuleProblems, stringNulProblems } from './soundness';

export interface VerifyProgress {
  /** Page bytes hashed so far, and in all. */
  done: number;
  total: number;
}

export interface VerifyOptions {
  signal?: AbortSignal;
  onProgress?: (p: VerifyProgress) => void;
  /** Stop listing bad pages of one PAGES record after this many (the count is still given). */
  maxPageProblems?: number;
}

export interface VerifyReport {
  ok: boolean;
  problems: ImageProblem[];
  records: number;
  pagesChecked: number;
  bytesChecked: number;
  ms: number;
}

export async function verifyImage(img: CheckpointImage, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const t0 = Date.now();
  const problems: ImageProblem[] = [...img.problems];
  const site = (r: RecordEntry) => ({ record: r.index, type: r.type, tag: r.tag, offset: r.offset });

  // Every payload decodes, with its fields' rules, and holds no string with a NUL.
  for (const r of img.records) {
    opts.signal?.throwIfAborted();
    try {
      const p = await img.decode(r, { keep: false });
      if (p) for (const q of stringNulProblems(r, p)) problems.push(q);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      problems.push(e.problem);
    }
  }
  // The grammar's counts and the rules across records.
  // (Appended one by one: a spread of a long list into push() overflows the stack.)
  for (const q of await grammarProblems(img)) problems.push(q);
  for (const proc of img.processes()) for (const q of await processRuleProblems(img, proc, opts.signal)) problems.push(q);
  for (const q of await imageRuleProblems(img)) problems.push(q);
  const contentProblems = await fileContentProblems(img);
  for (const q of contentProblems) problems.push(q);

  // Page hashes (rule page_hash). Damaged layouts are rules above; the map keeps what it can read.
  const maps = [];
  for (const proc of img.processes()) maps.push(await img.memory(proc));
  const segments = maps.flatMap((m) => m.segments);
  const total = segments.reduce((n, s) => n + Number(s.end - s.start), 0);
  let done = 0;
  let pagesChecked = 0;
  const ps = img.pageSize;
  const maxListed = opts.maxPageProblems ?? 16;
  const badByRecord = new Map<RecordEntry, number>();
  const hashCache = new Map<RecordEntry, Uint8Array>();
  const progress = async (n: number) => {
    done += n;
    if (done % YIELD_EVERY < n) {
      opts.onProgress?.({ done, total });
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const undecodable = new Set<RecordEntry>();
  for (const seg of segments) {
    if (!(seg.pages.flags & PAGE_HASHED) || undecodable.has(seg.pages)) continue;
    const hashes = hashCache.get(seg.pagemap) ?? (await img.decodeAs(seg.pagemap, 'pagemap')).pageHashes;
    hashCache.set(seg.pagemap, hashes);
    const segBytes = Number(seg.end - seg.start);
    const chunk = Math.max(ps, SCAN_CHUNK - (SCAN_CHUNK % ps));
    for (let off = 0; off < segBytes; off += chunk) {
      opts.signal?.throwIfAborted();
      const n = Math.min(chunk, segBytes - off);
      let got: Uint8Array;
      try {
        got = await hashChunk(img.source, seg.fileOffset + off, n, ps);
      } catch (e) {
        // compressed pages that do not decompress (rule zstd_chunks): said once per segment
        if (!(e instanceof ImageError)) throw e;
        problems.push(e.problem);
        undecodable.add(seg.pages);
        break;
      }
      const first = seg.firstPage + off / ps;
      for (let i = 0; i < n / ps; i++) {
        if (!equal8(got, i * 8, hashes, (first + i) * 8)) {
          const bad = (badByRecord.get(seg.pages) ?? 0) + 1;
          badByRecord.set(seg.pages, bad);
          if (bad <= maxListed) {
            const addr = seg.start + BigInt(off + i * ps);
            const at = seg.pages.type === RecordType.PAGES_ZSTD ? seg.pages.offset : seg.fileOffset + off + i * ps; // compressed: the record
            problems.push({
              ...ruleProblem('page_hash', { ...site(seg.pages), offset: at }, `page at 0x${addr.toString(16)} does not match its hash in pagemap tag ${seg.pagemap.tag}`),
              code: 'bad-page-hash',
            });
          }
        }
      }
      pagesChecked += n / ps;
      await progress(n);
    }
  }
  // The bytes of files without a path (rule file_extents), against the hashes of their extents.
  if (!contentProblems.length) {
    for (const x of img.ofType(RecordType.FILE_EXTENT)) {
      const data = img.childrenOfType(x, RecordType.FILE_DATA)[0];
      if (!data) continue;
      const hashes = (await img.decodeAs(x, 'file_extent')).pageHashes;
      for (let off = 0; off < data.len; off += SCAN_CHUNK) {
        opts.signal?.throwIfAborted();
        const n = Math.min(SCAN_CHUNK - (SCAN_CHUNK % ps), data.len - off);
        const got = await hashChunk(img.source, data.payloadOffset + off, n, ps);
        for (let i = 0; i < n / ps; i++) {
          if (!equal8(got, i * 8, hashes, (off / ps + i) * 8)) {
            problems.push({
              ...ruleProblem('file_extents', { ...site(x), offset: data.payloadOffset + off + i * ps }, `page ${off / ps + i} of its file_data does not match its hash`),
              code: 'bad-page-hash',
            });
          }
        }
        await progress(n);
      }
    }
  }
  opts.onProgress?.({ done, total });
  for (const [r, bad] of badByRecord) {
    if (bad > maxListed) problems.push(problem('bad-page-hash', site(r), `${bad - maxListed} more damaged pages in this record`));
  }
  const errors = problems.filter((p) => problemSeverity(p.code) === 'error');
  return { ok: errors.length === 0, problems, records: img.records.length, pagesChecked, bytesChecked: done, ms: Date.now() - t0 };
}

const PAGE_HASHED = Ckpt.RecordFlags.PAGE_HASHED;

/** Progress is reported, and the event loop given a turn, every this many bytes. */
const YIELD_EVERY = 8 * 1024 * 1024;

/** Hashes of the pages of [offset, offset + n), read straight into the hash engine's memory. */
async function hashChunk(src: ByteSource, offset: number, n: number, ps: number): Promise<Uint8Array> {
  if (src.readIntoSync) return hashPagesInPlace(n, ps, (into) => src.readIntoSync!(offset, into));
  const bytes = await src.read(offset, n);
  return hashPagesInPlace(n, ps, (into) => into.set(bytes));
}

function equal8(a: Uint8Array, ai: number, b: Uint8Array, bi: number): boolean {
  if (bi + 8 > b.length) return false;
  for (let k = 0; k < 8; k++) if (a[ai + k] !== b[bi + k]) return false;
  return true;
}
