// Words for a comparison, shared by the compare editor's page and the unit tests: the summary line
// (as `ckpt-inspect diff` prints it: "1 VMA changed, 1 page modified"), names of the kinds, and how
// the pages were compared. Pure.

import type { CompareResultModel, DiffRowModel, KindCountModel } from './compareProtocol';

/** Singular and plural names of the kinds of differences. */
export const KIND_NAMES: Record<string, [string, string]> = {
  image: ['image header', 'image headers'],
  process: ['process', 'processes'],
  thread: ['thread', 'threads'],
  mm: ['memory descriptor', 'memory descriptors'],
  vma: ['VMA', 'VMAs'],
  fd: ['fd', 'fds'],
  signal: ['signal handler', 'signal handlers'],
  rlimit: ['rlimit', 'rlimits'],
  'pending-signal': ['pending signal', 'pending signals'],
  unsupported: ['unsupported item', 'unsupported items'],
};

/** Badge text of a kind in the tree. */
export const KIND_BADGES: Record<string, string> = {
  image: 'HEAD',
  process: 'PROCESS',
  thread: 'THREAD',
  mm: 'MM',
  vma: 'VMA',
  fd: 'FD',
  signal: 'SIGNAL',
  rlimit: 'RLIMIT',
  'pending-signal': 'PENDING',
  unsupported: 'UNSUPPORTED',
};

/** Row titles of the counts table. */
const KIND_TITLES: Record<string, string> = {
  image: 'Image header',
  process: 'Processes',
  thread: 'Threads',
  mm: 'Memory descriptors',
  vma: 'VMAs',
  fd: 'File descriptors',
  signal: 'Signal handlers',
  rlimit: 'Resource limits',
  'pending-signal': 'Pending signals',
  unsupported: 'Not captured',
};

export function kindTitle(kind: string): string {
  return KIND_TITLES[kind] ?? kind;
}

export function plural(n: number, names: [string, string]): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? names[0] : names[1]}`;
}

export function kindNames(kind: string): [string, string] {
  return KIND_NAMES[kind] ?? [kind, `${kind}s`];
}

/** "2 pages modified, 1 page only in B". */
export function pagesText(p: { modified: number; added: number; removed: number }): string {
  const parts: string[] = [];
  if (p.modified) parts.push(`${plural(p.modified, ['page', 'pages'])} modified`);
  if (p.added) parts.push(`${plural(p.added, ['page', 'pages'])} only in B`);
  if (p.removed) parts.push(`${plural(p.removed, ['page', 'pages'])} only in A`);
  return parts.join(', ');
}

/** "1 VMA changed, 1 thread added, 1 page modified", or that the images are the same. */
export function summaryLine(r: Pick<CompareResultModel, 'same' | 'counts' | 'pages'>): string {
  if (r.same) return 'The images are the same.';
  const parts: string[] = [];
  for (const c of r.counts as KindCountModel[]) {
    for (const change of ['added', 'removed', 'changed'] as const) if (c[change]) parts.push(`${plural(c[change], kindNames(c.kind))} ${change}`);
  }
  const pages = pagesText(r.pages);
  if (pages) parts.push(pages);
  // A process that differs only in what it holds is a container, not counted: say so rather than nothing.
  return parts.length ? parts.join(', ') : 'The images differ only in what their processes hold.';
}

/** "Pages compared by page hash: 1,234 pages in 3 ms, no page data read". */
export function methodLine(r: Pick<CompareResultModel, 'pageMethod' | 'stats'>, formatBytes: (n: number) => string): string {
  const { ms, pagesCompared, bytesRead } = r.stats;
  const how =
    r.pageMethod === 'hashes'
      ? 'by page hash'
      : r.pageMethod === 'bytes'
        ? 'by reading their bytes (no page hashes)'
        : r.pageMethod === 'mixed'
          ? 'by page hash, and by reading the bytes of pages without one'
          : '';
  const read = bytesRead ? `${formatBytes(bytesRead)} of page data read` : 'no page data read';
  return `${how ? `Pages compared ${how}: ` : ''}${plural(pagesCompared, ['page', 'pages'])} in both, ${read}; ${ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`}`;
}

/** What a row of the diff tree says after its label: "3 fields · 2 pages modified". */
export function rowSummary(r: DiffRowModel): string {
  const parts: string[] = [];
  if (r.fields) parts.push(plural(r.fields, ['field', 'fields']));
  if (r.pages) {
    const p = pagesText(r.pages);
    if (p) parts.push(p);
  }
  return parts.join(' · ');
}
