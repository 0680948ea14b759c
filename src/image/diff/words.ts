// The words for a comparison, shared by `ckpt-inspect diff` and the compare editor: names of the
// kinds of differences, counts in words, and the summary line ("1 VMA changed, 1 page modified").
// Pure, importing only shared words, so the webview can bundle it.

import { plural } from '../../shared/plural';

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
  timer: ['timer', 'timers'],
  'inotify-watch': ['inotify watch', 'inotify watches'],
  unsupported: ['unsupported item', 'unsupported items'],
};

export function kindNames(kind: string): [string, string] {
  return KIND_NAMES[kind] ?? [kind, `${kind}s`];
}

export { plural };

/** "2 pages modified, 1 page only in B". */
export function pagesText(p: { modified: number; added: number; removed: number }): string {
  const parts: string[] = [];
  if (p.modified) parts.push(`${plural(p.modified, 'page')} modified`);
  if (p.added) parts.push(`${plural(p.added, 'page')} only in B`);
  if (p.removed) parts.push(`${plural(p.removed, 'page')} only in A`);
  return parts.join(', ');
}

export interface KindCounts {
  kind: string;
  added: number;
  removed: number;
  changed: number;
}

/** "1 VMA changed, 1 thread added, 1 page modified"; empty when nothing is counted. */
export function countsText(counts: Iterable<KindCounts>, pages: { modified: number; added: number; removed: number }): string {
  const parts: string[] = [];
  for (const c of counts) {
    for (const change of ['added', 'removed', 'changed'] as const) if (c[change]) parts.push(`${plural(c[change], ...kindNames(c.kind))} ${change}`);
  }
  const p = pagesText(pages);
  if (p) parts.push(p);
  return parts.join(', ');
}
