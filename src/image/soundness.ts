// What a sound image is, beyond what opening checks: the record grammar's counts (.ksy
// -ckpt-grammar: how many children of a type each parent has, the numbers parents state, how
// many of a type the image holds) and the named rules across records (.ksy -ckpt-rules). The C
// reader that `ckpt restore` uses checks the very same (src/native/image.c and load.c), so that
// `verify` calls an image sound exactly when restore accepts it as an image. Page hashes (rule
// page_hash) are checked by verify itself, as it streams the page data.
//
// Every check here is linear in the number of records (a binary search per page run at most).

import { CheckpointImage } from './checkpointImage';
import { ImageError, ImageProblem, problem, ruleProblem } from './errors';
import { Ckpt, GrammarEntry, recordTypeLabel, RecordType, schema } from './format';
import { payloadTypeName } from './payload';
import { RecordEntry } from './recordIndex';
import { plural } from '../shared/plural';
import { readChunkIndex } from './compressedPages';

function readSync(img: CheckpointImage, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  img.source.readIntoSync!(offset, out);
  return out;
}

const site = (r: RecordEntry, field?: string, offset = r.offset) => ({ record: r.index, type: r.type, tag: r.tag, offset, ...(field ? { field } : {}) });

/** User space ends below 2^56 even with 5-level paging; only the vsyscall page lies above. */
const USER_SPACE_END = 1n << 56n;
const U64_END = 1n << 64n;
/** VMA kinds restore does not map itself (moved, the kernel's, or refused). */
const NOT_MAPPED = new Set(['vdso', 'vvar', 'vvar_vclock', 'vsyscall', 'device', 'unknown']);
const MAIN_THREAD = Ckpt.ThreadFlags.MAIN_THREAD;

/**
 * Children per parent against the grammar's min/max and the count the parent states, and
 * records per type against the image's min/max. Decodes only the parents that state a count.
 */
export async function grammarProblems(img: CheckpointImage): Promise<ImageProblem[]> {
  const problems: ImageProblem[] = [];
  const perType = new Map<string, number>();
  for (const r of img.records) {
    const label = recordTypeLabel(r.type);
    if (label) perType.set(label, (perType.get(label) ?? 0) + 1);
  }
  for (const [label, g] of Object.entries(schema.grammar)) {
    const n = perType.get(label) ?? 0;
    if (n < g.imageMin || (g.imageMax && n > g.imageMax)) {
      problems.push(
        problem(
          'misplaced-record',
          { offset: 0 },
          `the image holds ${plural(n, `${label.toUpperCase()} record`)}, it must hold ${n < g.imageMin ? `at least ${g.imageMin}` : `at most ${g.imageMax}`}`,
        ),
      );
    }
  }
  for (const parent of img.records) {
    const parentLabel = recordTypeLabel(parent.type);
    const entries = parentLabel ? childRulesOf(parentLabel) : [];
    if (!entries.length) continue;
    const counts = new Map<string, number>();
    for (const c of img.children(parent)) {
      const l = recordTypeLabel(c.type);
      if (l) counts.set(l, (counts.get(l) ?? 0) + 1);
    }
    for (const [label, g] of entries) {
      const n = counts.get(label) ?? 0;
      if (n < g.min || (g.max && n > g.max)) {
        problems.push(problem('inconsistent', site(parent), `it has ${plural(n, `${label.toUpperCase()} record`)}, it must have ${n < g.min ? `at least ${g.min}` : `at most ${g.max}`}`));
      }
      if (g.count) {
        let stated: unknown;
        try {
          stated = ((await img.decode(parent)) as unknown as Record<string, unknown> | undefined)?.[g.count];
        } catch (e) {
          if (!(e instanceof ImageError)) throw e;
          continue; // a payload that does not decode is reported by verify already
        }
        if (stated !== n) problems.push(problem('inconsistent', site(parent, g.count), `it states ${plural(Number(stated), `${label.toUpperCase()} record`)}, it has ${n}`));
      }
    }
  }
  return problems;
}

/**
 * The grammar's entries that bound the children of a parent of type `parentLabel`: those whose
 * parents include it and that set a min, a max or a count. Found once per type, not per record.
 */
const childRules = new Map<string, [string, GrammarEntry][]>();
function childRulesOf(parentLabel: string): [string, GrammarEntry][] {
  let list = childRules.get(parentLabel);
  if (!list) {
    list = Object.entries(schema.grammar).filter(([, g]) => g.parents.includes(parentLabel) && (g.min || g.max || g.count));
    childRules.set(parentLabel, list);
  }
  return list;
}

/** Whether a payload type holds an `lstr` anywhere (through its fields, arrays and switch cases). */
const stringTypes = new Map<string, boolean>();
function holdsStrings(typeName: string): boolean {
  let known = stringTypes.get(typeName);
  if (known === undefined) {
    stringTypes.set(typeName, false); // a type that contains itself holds strings only through another field
    const nested = (schema.types[typeName]?.fields ?? []).flatMap((f) => (f.kind === 'type' ? [f.type!] : f.kind === 'switch' ? Object.values(f.cases ?? {}) : []));
    known = nested.some((t) => t === 'lstr' || holdsStrings(t));
    stringTypes.set(typeName, known);
  }
  return known;
}

/** Rule string_nul over one decoded payload: no `lstr` anywhere in it holds a NUL. */
export function stringNulProblems(r: RecordEntry, payload: object): ImageProblem[] {
  const typeName = payloadTypeName(r.type);
  if (typeName && !holdsStrings(typeName)) return [];
  const out: ImageProblem[] = [];
  const walk = (o: unknown, path: string) => {
    if (Array.isArray(o)) return o.forEach((x, i) => walk(x, `${path}[${i}]`));
    if (!o || typeof o !== 'object' || !('_io' in o)) return;
    if (o instanceof Ckpt.Lstr) {
      if (o.value.includes('\0')) out.push(ruleProblem('string_nul', site(r, path), `string ${path} contains a NUL byte`));
      return;
    }
    for (const [k, v] of Object.entries(o)) if (!k.startsWith('_') && typeof v === 'object') walk(v, path ? `${path}.${k}` : k);
  };
  walk(payload, '');
  return out;
}

interface VmaSpan {
  start: bigint;
  end: bigint;
  mapped: boolean;
}

/** The VMA holding [start, end), searched in VMAs that come in ascending order (rule vma_order). */
function vmaHolding(vmas: VmaSpan[], start: bigint, end: bigint): VmaSpan | undefined {
  let lo = 0;
  let hi = vmas.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (vmas[mid].end <= start) lo = mid + 1;
    else hi = mid;
  }
  const v = vmas[lo];
  return v && v.start <= start && end <= v.end ? v : undefined;
}

/** Decoded payload, or undefined when it does not decode (which verify reports on its own). */
async function decoded<L extends 'thread' | 'vma' | 'pagemap' | 'fd' | 'file' | 'process' | 'zombie' | 'file_content' | 'file_extent'>(img: CheckpointImage, r: RecordEntry, label: L) {
  try {
    return await img.decodeAs(r, label);
  } catch (e) {
    if (e instanceof ImageError) return undefined;
    throw e;
  }
}

/** The named rules of one process (all but string_nul and page_hash). */
export async function processRuleProblems(img: CheckpointImage, proc: RecordEntry, signal?: AbortSignal): Promise<ImageProblem[]> {
  const problems: ImageProblem[] = [];
  const ps = BigInt(img.pageSize);

  let mains = 0;
  for (const t of img.childrenOfType(proc, RecordType.THREAD)) {
    const thread = await decoded(img, t, 'thread');
    if (thread && thread.flags & MAIN_THREAD) mains++;
  }
  if (mains !== 1) problems.push(ruleProblem('one_main_thread', site(proc), `${mains} of its threads are flagged main_thread`));

  for (const files of img.childrenOfType(proc, RecordType.FILES)) {
    const seen = new Set<number>();
    for (const f of img.childrenOfType(files, RecordType.FD)) {
      const fd = await decoded(img, f, 'fd');
      if (!fd) continue;
      if (seen.has(fd.fd)) problems.push(ruleProblem('fd_unique', site(f, 'fd'), `fd ${fd.fd} appears twice in one file table`));
      seen.add(fd.fd);
      const file = img.byTag(fd.file);
      if (!file || file.type !== RecordType.FILE || file.index >= f.index) {
        problems.push(ruleProblem('file_ref', site(f, 'file'), `fd ${fd.fd} names tag ${fd.file}, which is no file record before it`));
      }
    }
  }

  for (const mm of img.childrenOfType(proc, RecordType.MM)) {
    const vmas: VmaSpan[] = [];
    for (const v of img.childrenOfType(mm, RecordType.VMA)) {
      signal?.throwIfAborted();
      const vma = await decoded(img, v, 'vma');
      if (!vma) continue;
      const kind = recordKindLabel(vma.kind);
      if (vma.start % ps !== 0n || vma.end % ps !== 0n || vma.offset % ps !== 0n) {
        problems.push(ruleProblem('vma_range', site(v), `vma ${hex(vma.start)}-${hex(vma.end)} (offset ${hex(vma.offset)}) is not page-aligned`));
      } else if (kind !== 'vsyscall' && vma.end > USER_SPACE_END) {
        problems.push(ruleProblem('vma_range', site(v), `vma ${hex(vma.start)}-${hex(vma.end)} lies outside user space`));
      }
      const before = vmas[vmas.length - 1];
      if (before && vma.start < before.end) problems.push(ruleProblem('vma_order', site(v), `vma ${hex(vma.start)}-${hex(vma.end)} overlaps or precedes the one before it`));
      vmas.push({ start: vma.start, end: vma.end, mapped: !NOT_MAPPED.has(kind) });
    }

    let runsEnd = 0n;
    for (const pm of img.childrenOfType(mm, RecordType.PAGEMAP)) {
      signal?.throwIfAborted();
      const map = await decoded(img, pm, 'pagemap');
      if (!map) continue;
      let total = 0;
      map.runs.forEach((run, k) => {
        total += run.npages;
        const runSite = site(pm, `runs[${k}]`);
        if (run.vaddr % ps !== 0n) problems.push(ruleProblem('pagemap_runs', runSite, `run ${k} starts at an unaligned address ${hex(run.vaddr)}`));
        const end = run.vaddr + BigInt(run.npages) * ps;
        if (run.vaddr < runsEnd || end >= U64_END) problems.push(ruleProblem('run_order', runSite, `run ${k} at ${hex(run.vaddr)} overlaps or precedes the runs before it`));
        runsEnd = end;
        const v = vmaHolding(vmas, run.vaddr, end);
        if (!v || !v.mapped) problems.push(ruleProblem('run_in_vma', runSite, `run ${k} (${hex(run.vaddr)}, ${run.npages} pages) lies outside every restorable vma`));
      });
      if (total !== map.npages) problems.push(ruleProblem('pagemap_runs', site(pm, 'npages'), `runs hold ${total} pages, npages says ${map.npages}`));
      const zpages = img.childrenOfType(pm, RecordType.PAGES_ZSTD);
      const held = img.childrenOfType(pm, RecordType.PAGES).length + zpages.length;
      if (held !== 1) problems.push(ruleProblem('pages_layout', site(pm), held ? 'its pagemap already has its pages' : 'the pagemap has no pages record'));
      for (const z of zpages) {
        if (z.payloadOffset + z.len > img.source.size) continue; // a truncated image: said on opening
        const idx = readChunkIndex(z, map.npages, img.pageSize, (o, n) => readSync(img, z.payloadOffset + o, n));
        if (!('chunkPages' in idx)) problems.push(idx);
      }
      for (const pages of img.childrenOfType(pm, RecordType.PAGES)) {
        if (pages.payloadOffset % img.pageSize !== 0) problems.push(ruleProblem('pages_layout', site(pages), 'the page data does not start at a multiple of the page size'));
        if (pages.len !== map.npages * img.pageSize) problems.push(ruleProblem('pages_layout', site(pages, 'len'), `length ${pages.len} is not the ${map.npages} pages of its pagemap`));
      }
    }
  }
  return problems;
}

/**
 * The rules across the whole image: references inside file records (file_ref: epoll targets and
 * socket peers name file records, a peer a socket), and the tree's ids (pid_unique, tree_pids).
 */
export async function imageRuleProblems(img: CheckpointImage): Promise<ImageProblem[]> {
  const problems: ImageProblem[] = [];
  const fileKind = async (tag: number): Promise<number | undefined> => {
    const r = tag ? img.byTag(tag) : undefined;
    if (!r || r.type !== RecordType.FILE) return undefined;
    return (await decoded(img, r, 'file'))?.kind ?? -1;
  };
  for (const r of img.ofType(RecordType.FILE)) {
    const f = await decoded(img, r, 'file');
    if (!f || f.extra instanceof Uint8Array) continue;
    if (f.kind === Ckpt.FdKind.EPOLL) {
      for (const t of (f.extra as Ckpt.FdEpoll).targets) {
        if ((await fileKind(t.file)) === undefined) problems.push(ruleProblem('file_ref', site(r), `an epoll target names tag ${t.file}, which is no file record`));
      }
    } else if (f.kind === Ckpt.FdKind.SOCKET) {
      const s = f.extra as Ckpt.FdSocket;
      // its peer, and (format 2.1) the listener it was accepted from or waits on
      for (const [what, tag] of [
        ['peer', s.peer],
        ['listener', s.details?.listener ?? 0],
      ] as const) {
        if (!tag) continue;
        const kind = await fileKind(tag);
        if (kind === undefined) problems.push(ruleProblem('file_ref', site(r), `a socket's ${what} names tag ${tag}, which is no file record`));
        else if (kind !== Ckpt.FdKind.SOCKET && kind !== -1) problems.push(ruleProblem('file_ref', site(r), `a socket's ${what} names a file that is no socket`));
      }
    }
  }
  const pids = new Map<number, RecordEntry>();
  const tids = new Set<number>();
  const seePid = (pid: number, r: RecordEntry) => {
    if (pids.has(pid)) problems.push(ruleProblem('pid_unique', { offset: 0 }, `pid ${pid} belongs to two processes`));
    pids.set(pid, r);
  };
  for (const r of img.records) {
    if (r.type === RecordType.PROCESS) {
      const p = await decoded(img, r, 'process');
      if (!p) continue;
      seePid(p.pid, r);
      const parent = img.parent(r);
      if (parent?.type === RecordType.PROCESS) {
        const pp = await decoded(img, parent, 'process');
        if (pp && p.ppid !== pp.pid) problems.push(ruleProblem('tree_pids', site(r, 'ppid'), `ppid ${p.ppid} is not its parent process's pid ${pp.pid}`));
      }
    } else if (r.type === RecordType.ZOMBIE) {
      const z = await decoded(img, r, 'zombie');
      if (z) seePid(z.pid, r);
    } else if (r.type === RecordType.THREAD) {
      const t = await decoded(img, r, 'thread');
      if (!t) continue;
      if (tids.has(t.tid)) problems.push(ruleProblem('pid_unique', { offset: 0 }, `tid ${t.tid} belongs to two threads`));
      tids.add(t.tid);
    }
  }
  return problems;
}

/** A dump saves at most this much data of one file without a path (GHOST_MAX_DATA in the C). */
const FILE_CONTENT_MAX_DATA = 16n << 30n;

/**
 * The contents of files without a path (rule file_extents): each file_content's extents start on
 * pages, ascend without overlapping, end within its size and hold its data_bytes; each extent's
 * file_data is page-aligned and holds exactly its pages. The hashes are verify's, as it streams.
 */
export async function fileContentProblems(img: CheckpointImage): Promise<ImageProblem[]> {
  const problems: ImageProblem[] = [];
  const ps = BigInt(img.pageSize);
  for (const r of img.ofType(RecordType.FILE_CONTENT)) {
    const c = await decoded(img, r, 'file_content');
    if (!c) continue;
    if (c.dataBytes > FILE_CONTENT_MAX_DATA || c.dataBytes > c.size || c.size > (1n << 63n) - 1n) {
      problems.push(problem('inconsistent', site(r, 'data_bytes'), `file_content of ${c.size} bytes with ${c.dataBytes} bytes of data: more than a file holds or a checkpoint saves`));
      continue;
    }
    let end = 0n,
      sum = 0n;
    for (const x of img.childrenOfType(r, RecordType.FILE_EXTENT)) {
      const e = await decoded(img, x, 'file_extent');
      if (!e) continue;
      if (e.len === 0n) problems.push(problem('inconsistent', site(x, 'len'), 'extent length 0 is not 1 to 64 MiB'));
      if (e.offset % ps) problems.push(ruleProblem('file_extents', site(x, 'offset'), `extent offset ${e.offset} is not page-aligned`));
      if (BigInt(e.npages) !== (e.len + ps - 1n) / ps) problems.push(problem('inconsistent', site(x, 'npages'), `${e.npages} pages for ${e.len} bytes`));
      if (e.offset < end || e.offset > c.size || e.len > c.size - e.offset) {
        problems.push(ruleProblem('file_extents', site(x, 'offset'), `extent ${e.offset}+${e.len} overlaps the one before it or ends past the file's size ${c.size}`));
      }
      end = e.offset + e.len;
      sum += e.len;
      for (const d of img.childrenOfType(x, RecordType.FILE_DATA)) {
        if (d.payloadOffset % img.pageSize) problems.push(ruleProblem('file_extents', site(d), 'file_data is not page-aligned'));
        if (BigInt(d.len) !== BigInt(e.npages) * ps) problems.push(ruleProblem('file_extents', site(d, 'len'), `file_data of ${d.len} bytes is not the ${e.npages} pages of its extent`));
      }
    }
    if (sum !== c.dataBytes) {
      const file = img.parent(r) ?? r;
      problems.push(problem('inconsistent', site(file), `its file_content states ${c.dataBytes} bytes of data, its extents hold ${sum}`));
    }
  }
  return problems;
}

function recordKindLabel(kind: number): string {
  return schema.enums.vma_kind[String(kind)] ?? `kind ${kind}`;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** For messages: 'a THREAD record'. */
