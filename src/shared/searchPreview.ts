// How a search result shows its context bytes and its match on one line: as hex bytes for a hex
// search, as UTF-16 text for a UTF-16 search, else as text byte by byte (printable ASCII as itself,
// anything else as a dot, as hex dumps show it), with a text match decoded in its encoding. Pure,
// for the webview and the unit tests.

import type { SearchQueryModel } from './models';

export type PreviewStyle = 'text' | 'utf8' | 'utf16' | 'hex';

export interface PreviewParts {
  before: string;
  match: string;
  after: string;
}

/** Longest match shown, in characters; a longer one is cut with an ellipsis. */
export const MAX_MATCH_CHARS = 80;

export function previewStyle(q: Pick<SearchQueryModel, 'mode' | 'encoding'>): PreviewStyle {
  if (q.mode === 'hex') return 'hex';
  if (q.mode === 'text') return q.encoding === 'utf16le' ? 'utf16' : 'utf8';
  return 'text';
}

function printable(c: number): boolean {
  return c >= 0x20 && c !== 0x7f && !(c >= 0x80 && c < 0xa0) && !(c >= 0xd800 && c < 0xe000) && c !== 0xfffd;
}

function asciiText(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.';
  return s;
}

function utf16Text(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) {
    const c = b[i] | (b[i + 1] << 8);
    s += printable(c) ? String.fromCharCode(c) : '.';
  }
  return s;
}

function hexText(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** The match decoded in its encoding; undefined when its bytes are not valid text there. */
function decoded(b: Uint8Array, encoding: 'utf-8' | 'utf-16le'): string | undefined {
  if (encoding === 'utf-16le' && b.length % 2) return undefined;
  let s: string;
  try {
    s = new TextDecoder(encoding, { fatal: true }).decode(b);
  } catch {
    return undefined;
  }
  let out = '';
  for (const ch of s) out += printable(ch.codePointAt(0)!) ? ch : '.';
  return out;
}

function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The context and match of a hit (its bytes, as the protocol carries them) for one line. */
export function hitPreview(hit: { before: Uint8Array; match: Uint8Array; after: Uint8Array }, style: PreviewStyle): PreviewParts {
  let { before, after } = hit;
  const { match } = hit;
  switch (style) {
    case 'hex':
      return { before: hexText(before), match: cut(hexText(match), MAX_MATCH_CHARS * 3), after: hexText(after) };
    case 'utf16':
      // Keep the context aligned with the match's code units.
      if (before.length % 2) before = before.subarray(1);
      if (after.length % 2) after = after.subarray(0, after.length - 1);
      return { before: utf16Text(before), match: cut(decoded(match, 'utf-16le') ?? utf16Text(match), MAX_MATCH_CHARS), after: utf16Text(after) };
    case 'utf8':
      return { before: asciiText(before), match: cut(decoded(match, 'utf-8') ?? asciiText(match), MAX_MATCH_CHARS), after: asciiText(after) };
    default:
      return { before: asciiText(before), match: cut(asciiText(match), MAX_MATCH_CHARS), after: asciiText(after) };
  }
}

/** "rw-p [heap]+0x1a2", "r-xp /usr/lib/libc.so.6+0x1a2b3", "rw-p anon_private+0x10": where a hit is. */
export function hitPlace(hit: { vma: { prot: string; kind: string; path: string } | null; vmaOffset: string | null }): string {
  if (!hit.vma) return 'outside every VMA';
  return `${hit.vma.prot} ${hit.vma.path || hit.vma.kind}+${hit.vmaOffset ?? '0x0'}`;
}
