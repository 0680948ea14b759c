// Words for the compare editor's page (the summary line, badges, how the pages were compared),
// on top of the engine's own words for a comparison (src/image/diff/words.ts), which
// `ckpt-inspect diff` uses too. Pure.

import { countsText, pagesText, plural } from '../image/diff/words';
import type { CompareResultModel, DiffRowModel, KindCountModel } from './compareProtocol';

export { pagesText, plural } from '../image/diff/words';

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
  timer: 'TIMER',
  'inotify-watch': 'WATCH',
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
  timer: 'Timers',
  'inotify-watch': 'inotify watches',
  unsupported: 'Not captured',
};

export function kindTitle(kind: string): string {
  return KIND_TITLES[kind] ?? kind;
}

/** "1 VMA changed, 1 thread added, 1 page modified", or that the images are the same. */
export function summaryLine(r: Pick<CompareResultModel, 'same' | 'counts' | 'pages'>): string {
  if (r.same) return 'The images are the same.';
  // A process that differs only in what it holds is a container, not counted: say so rather than nothing.
  return countsText(r.counts as KindCountModel[], r.pages) || 'The images differ only in what their processes hold.';
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
  return `${how ? `Pages compared ${how}: ` : ''}${plural(pagesCompared, 'page')} in both, ${read}; ${ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`}`;
}

/** What a row of the diff tree says after its label: "3 fields · 2 pages modified". */
export function rowSummary(r: DiffRowModel): string {
  const parts: string[] = [];
  if (r.fields) parts.push(plural(r.fields, 'field'));
  if (r.pages) {
    const p = pagesText(r.pages);
    if (p) parts.push(p);
  }
  return parts.join(' · ');
}
