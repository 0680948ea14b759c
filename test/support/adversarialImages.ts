// Hostile images built to make a reader slow or hungry: long ptag chains and cycles, deep
// nesting, millions of empty strings, overlapping VMAs, and so on. Each is what an attacker can
// pack into a few MB; a reader that is linear in the file's size handles each in about a second.
// The issue's reproducers are among them (forward chain, many pads, NUL environment).

import { Ckpt, RecordType, Xxh64, xxh64Low32 } from '../../src/image';
import { encodePayload, ImageWriter } from '../../src/image/write/imageWriter';

export interface AdversarialImage {
  name: string;
  /** What it attacks, for messages. */
  why: string;
  bytes: Uint8Array;
  /** An image to compare it with, where comparing it with itself would skip the hard part. */
  twin?: Uint8Array;
}

/** Bytes of a pad record with an empty payload: just its header. */
const PAD_RECORD = 32;

function head(w: ImageWriter): void {
  w.head();
}

/** Records whose ptag names the next record: each names a parent that comes after it. */
export function forwardChain(records: number): Uint8Array {
  const w = ImageWriter.inMemory();
  head(w);
  // The head is tag 1; pad k (from 0) gets tag k + 2 and names tag k + 3.
  for (let k = 0; k < records; k++) w.raw(RecordType.PAD, new Uint8Array(0), { tag: k + 2, ptag: k + 3 });
  w.tail();
  return w.bytes();
}

/** One ptag cycle through every record: a forward chain whose last record names the first. */
export function ptagCycle(records: number): Uint8Array {
  const w = ImageWriter.inMemory();
  head(w);
  for (let k = 0; k < records; k++) w.raw(RecordType.PAD, new Uint8Array(0), { tag: k + 2, ptag: k === records - 1 ? 2 : k + 3 });
  w.tail();
  return w.bytes();
}

/** Each record the child of the one before: a tree as deep as the image has records. */
export function deepChain(records: number): Uint8Array {
  const w = ImageWriter.inMemory();
  head(w);
  let parent = 0;
  for (let k = 0; k < records; k++) parent = w.raw(RecordType.PAD, new Uint8Array(0), { ptag: parent });
  w.tail();
  return w.bytes();
}

/** Processes nested in processes, which the format allows: a deep tree of valid records. */
export function deepProcesses(count: number): Uint8Array {
  const w = ImageWriter.inMemory();
  head(w);
  let parent = 0;
  for (let k = 0; k < count; k++) parent = w.record('process', { pid: k + 1, comm: 'p', nthreads: 0 }, { ptag: parent });
  w.tail();
  return w.bytes();
}

/**
 * Empty pad records at the top level, as many as fit: written straight into one array, since
 * the issue's reproducer has two million of them.
 */
export function manyPads(records: number): Uint8Array {
  const w = ImageWriter.inMemory();
  head(w);
  const headBytes = w.bytes();
  const tailLen = encodePayload('tail', {}).length;
  const out = new Uint8Array(headBytes.length + 32 * records + 32 + tailLen);
  out.set(headBytes);
  const dv = new DataView(out.buffer);
  const emptySum = xxh64Low32(new Uint8Array(0));
  const header = (at: number, type: number, len: number, tag: number, sum: number) => {
    dv.setUint32(at, type, true);
    dv.setUint32(at + 8, len, true);
    dv.setUint32(at + 12, tag, true);
    dv.setUint32(at + 20, sum, true);
    dv.setUint32(at + 28, xxh64Low32(out.subarray(at, at + 28)), true);
  };
  const padsAt = headBytes.length;
  for (let k = 0; k < records; k++) header(padsAt + 32 * k, RecordType.PAD, 0, k + 2, emptySum);
  // The tail: the sum of every header before it, the head's and the pads' (which are only headers).
  const sum = new Xxh64()
    .update(headBytes.subarray(0, 32))
    .update(out.subarray(padsAt, padsAt + 32 * records))
    .digest();
  const tail = encodePayload('tail', { recordCount: records + 1, headersSum: sum });
  const tailAt = padsAt + 32 * records;
  out.set(tail, tailAt + 32);
  header(tailAt, RecordType.TAIL, tail.length, records + 2, xxh64Low32(tail));
  return out;
}

/** A process whose environment and command line are `bytes` NULs each: millions of empty strings. */
export function nulEnvironment(bytes: number, fill = 0): Uint8Array {
  const w = ImageWriter.inMemory();
  head(w);
  const nul = new Uint8Array(bytes).fill(fill);
  w.record('process', { pid: 1, comm: 'nul', nthreads: 0, environ: nul, cmdline: nul.subarray(0, Math.min(bytes, 1 << 20)) });
  w.tail();
  return w.bytes();
}

/**
 * One environment variable set over and over ("A\0A\0..."), in two images whose values differ:
 * the comparison of environments must not try suffix after suffix for each repeat.
 */
export function repeatedVariable(bytes: number, value = ''): Uint8Array {
  const w = ImageWriter.inMemory();
  head(w);
  const entry = Buffer.from(`A${value ? `=${value}` : ''}\0`);
  const env = Buffer.alloc(Math.floor(bytes / entry.length) * entry.length);
  for (let o = 0; o < env.length; o += entry.length) entry.copy(env, o);
  w.record('process', { pid: 1, comm: 'env', nthreads: 0, environ: env });
  w.tail();
  return w.bytes();
}

/**
 * VMAs that all overlap (every one covers the whole address space) and VMAs with gaps between
 * them, with a few dumped pages: the memory map, reads across gaps and the comparison of VMAs.
 */
export function manyVmas(count: number, overlapping: boolean): Uint8Array {
  const w = ImageWriter.inMemory();
  head(w);
  const proc = w.record('process', { pid: 1, comm: 'vmas', nthreads: 0 });
  const mm = w.record('mm', { nvmas: count }, { ptag: proc });
  for (let k = 0; k < count; k++) {
    const start = overlapping ? 0n : 0x10000n + BigInt(k) * 0x2000n;
    const end = overlapping ? 0xfffffffffffff000n : start + 0x1000n;
    w.record('vma', { start, end, prot: 3, kind: Ckpt.VmaKind.ANON_PRIVATE, path: '' }, { ptag: mm });
  }
  w.pages(mm, [{ vaddr: 0x10000n, data: new Uint8Array(4 * 4096).fill(0x61) }]);
  w.tail();
  return w.bytes();
}

/** Records that all carry the same tag, and records that name no parent that exists: many problems. */
export function manyProblems(records: number): Uint8Array {
  const w = ImageWriter.inMemory();
  head(w);
  for (let k = 0; k < records; k++) w.raw(RecordType.PAD, new Uint8Array(0), k % 2 ? { tag: 7 } : { ptag: 0x7fffffff - k });
  w.tail();
  return w.bytes();
}

/** A pagemap with runs of one page each, all at one address: segments that overlap one another. */
export function overlappingRuns(pages: number): Uint8Array {
  const w = ImageWriter.inMemory();
  head(w);
  const proc = w.record('process', { pid: 1, comm: 'runs', nthreads: 0 });
  const mm = w.record('mm', { nvmas: 1 }, { ptag: proc });
  w.record('vma', { start: 0x10000n, end: 0x20000n, prot: 3, kind: Ckpt.VmaKind.ANON_PRIVATE, path: '' }, { ptag: mm });
  w.pages(
    mm,
    Array.from({ length: pages }, () => ({ vaddr: 0x10000n, data: new Uint8Array(4096).fill(0x62) })),
  );
  w.tail();
  return w.bytes();
}

/** Many small pending_signals and unsupported records under one thread and one process. */
export function wideProcess(records: number): Uint8Array {
  const w = ImageWriter.inMemory();
  head(w);
  const proc = w.record('process', { pid: 1, comm: 'wide', nthreads: 1 });
  const thread = w.record('thread', { tid: 1, comm: 'wide' }, { ptag: proc });
  for (let k = 0; k < records; k++) {
    if (k % 2) w.record('pending_signals', { signals: [{ siSigno: 10 }] }, { ptag: thread });
    else w.record('unsupported', { what: 1, fd: k, reason: 'r', detail: 'd' }, { ptag: proc });
  }
  w.tail();
  return w.bytes();
}

/**
 * The set of hostile images, each about `mb` MB. The names are stable: tests and the README
 * refer to them.
 */
export function adversarialImages(mb = 3.9): AdversarialImage[] {
  const bytes = Math.floor(mb * 1024 * 1024);
  const pads = Math.floor(bytes / PAD_RECORD);
  return [
    { name: 'forward-chain', why: 'every ptag names a later record', bytes: forwardChain(pads) },
    { name: 'ptag-cycle', why: 'one ptag cycle through every record', bytes: ptagCycle(pads) },
    { name: 'deep-chain', why: 'a tree as deep as the image has records', bytes: deepChain(pads) },
    { name: 'deep-processes', why: 'processes nested in processes', bytes: deepProcesses(Math.floor(bytes / 400)) },
    { name: 'many-pads', why: 'as many empty records as fit', bytes: manyPads(pads) },
    { name: 'nul-environment', why: 'millions of empty strings in the environment', bytes: nulEnvironment(bytes), twin: nulEnvironment(bytes, 0x41) },
    { name: 'repeated-variable', why: 'one environment variable set a million times', bytes: repeatedVariable(bytes), twin: repeatedVariable(bytes, 'x') },
    { name: 'overlapping-vmas', why: 'VMAs that all overlap', bytes: manyVmas(Math.floor(bytes / 120), true) },
    { name: 'sparse-vmas', why: 'VMAs with gaps between them', bytes: manyVmas(Math.floor(bytes / 120), false) },
    { name: 'many-problems', why: 'a problem in every record', bytes: manyProblems(pads) },
    { name: 'overlapping-runs', why: 'page runs that overlap one another', bytes: overlappingRuns(Math.floor(bytes / 4200)) },
    { name: 'wide-process', why: 'a process and a thread with many small children', bytes: wideProcess(Math.floor(bytes / 100)) },
  ];
}
