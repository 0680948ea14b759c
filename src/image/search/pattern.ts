// What a memory search looks for, compiled to a matcher over raw bytes. Literal patterns (text
// in either encoding, hex bytes with `??` wildcards) search with Buffer.indexOf for a short
// "anchor" of the pattern that starts with a byte that is rare in the data, then check the rest:
// indexOf is a memchr on the anchor's first byte, ~10 GB/s when that byte is rare and 50x
// slower when it is common (a pattern starting with 0x00 in zero-filled memory), and Node uses
// a slower Boyer-Moore-Horspool for needles of 8 bytes or more. Case-insensitive text and
// regular expressions run as a RegExp over the bytes read as Latin-1 (one char per byte).

export type SearchMode = 'text' | 'hex' | 'regex';

export interface SearchQuery {
  mode: SearchMode;
  pattern: string;
  /** How text is encoded in memory (default utf8). Only for `text`. */
  encoding?: 'utf8' | 'utf16le';
  /** Text and regex: letters match either case. */
  ignoreCase?: boolean;
}

/** A pattern that cannot be searched for, with a message for the user. */
export class SearchPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SearchPatternError';
  }
}

export interface Matcher {
  /** The longest match it reports in full; matches across chunk seams are found up to this length. */
  readonly maxLength: number;
  /** Choose how to search from a sample of the data (which bytes are common). */
  tune(sample: Uint8Array): void;
  /**
   * Call `each(index, length)` for the matches that start in [from, to) of `buf`, in order and not
   * overlapping; bytes after `to` are there for matches to end in. `each` returns false to stop.
   */
  find(buf: Buffer, from: number, to: number, each: (index: number, length: number) => boolean | void): void;
}

/** Default longest match for regular expressions and case-insensitive text. */
export const DEFAULT_MAX_MATCH = 1024;
/** indexOf needles shorter than 8 bytes use memchr plus a compare, the fast path. */
const ANCHOR_MAX = 6;
const ANCHOR_MIN = 3;

/** How common each byte value is in typical process memory, when no sample is at hand. */
function defaultFrequency(): Float64Array {
  const f = new Float64Array(256).fill(1);
  f[0] = 1000;
  f[0xff] = 50;
  for (let b = 1; b < 0x10; b++) f[b] = 10;
  for (let b = 0x20; b < 0x7f; b++) f[b] = 4;
  for (const c of ' etaoinsrhl') f[c.charCodeAt(0)] = 8;
  return f;
}

/** Bytes with a mask: wildcards (`??`) have mask 0, half-known bytes (`4?`) 0xf0 or 0x0f. */
class MaskedMatcher implements Matcher {
  readonly maxLength: number;
  private readonly exact: boolean;
  private readonly full: Buffer;
  private anchor!: Buffer;
  private anchorAt = 0;

  constructor(
    private readonly value: Uint8Array,
    private readonly mask: Uint8Array,
  ) {
    this.maxLength = value.length;
    this.exact = mask.every((m) => m === 0xff);
    this.full = Buffer.from(value);
    this.choose(defaultFrequency());
  }

  tune(sample: Uint8Array): void {
    const f = new Float64Array(256);
    for (let i = 0; i < sample.length; i++) f[sample[i]]++;
    this.choose(f);
  }

  /** The anchor: a run of exact bytes, at most ANCHOR_MAX long, whose first byte is the rarest. */
  private choose(freq: Float64Array): void {
    const n = this.value.length;
    const runEnd = new Int32Array(n + 1);
    runEnd[n] = n;
    for (let i = n - 1; i >= 0; i--) runEnd[i] = this.mask[i] === 0xff ? runEnd[i + 1] : i;
    let longest = 0;
    for (let i = 0; i < n; i++) longest = Math.max(longest, runEnd[i] - i);
    const minLen = Math.min(ANCHOR_MIN, longest);
    let best = -1, bestScore = Infinity;
    for (let k = 0; k < n; k++) {
      const len = Math.min(ANCHOR_MAX, runEnd[k] - k);
      if (len < minLen) continue;
      // Rarer first byte first; then a longer anchor (fewer false hits).
      const score = freq[this.value[k]] * 16 - len;
      if (score < bestScore) {
        bestScore = score;
        best = k;
      }
    }
    this.anchorAt = best;
    this.anchor = this.full.subarray(best, best + Math.min(ANCHOR_MAX, runEnd[best] - best));
  }

  private verify(buf: Buffer, start: number): boolean {
    if (this.exact) return buf.compare(this.full, 0, this.full.length, start, start + this.full.length) === 0;
    for (let i = 0; i < this.value.length; i++) if ((buf[start + i] & this.mask[i]) !== this.value[i]) return false;
    return true;
  }

  find(buf: Buffer, from: number, to: number, each: (index: number, length: number) => boolean | void): void {
    const k = this.anchorAt, len = this.value.length;
    const whole = this.exact && this.anchor.length === len;
    let i = buf.indexOf(this.anchor, from + k);
    while (i !== -1) {
      const start = i - k;
      if (start >= to) return;
      if (start + len <= buf.length && (whole || this.verify(buf, start))) {
        if (each(start, len) === false) return;
        i = buf.indexOf(this.anchor, start + len + k);
      } else {
        i = buf.indexOf(this.anchor, i + 1);
      }
    }
  }
}

class RegexMatcher implements Matcher {
  constructor(
    private readonly re: RegExp,
    readonly maxLength: number,
  ) {}

  tune(): void {}

  find(buf: Buffer, from: number, to: number, each: (index: number, length: number) => boolean | void): void {
    const text = buf.toString('latin1');
    const re = this.re;
    re.lastIndex = from;
    for (let m = re.exec(text); m && m.index < to; m = re.exec(text)) {
      if (m[0].length === 0) {
        re.lastIndex = m.index + 1; // empty matches say nothing; step past them
        continue;
      }
      if (each(m.index, m[0].length) === false) return;
    }
  }
}

const byteEscape = (b: number) => `\\x${b.toString(16).padStart(2, '0')}`;
const escapeBytes = (bytes: Uint8Array) => Array.from(bytes, byteEscape).join('');

/** Text as bytes in memory. */
function encodeText(text: string, encoding: 'utf8' | 'utf16le'): Uint8Array {
  return Buffer.from(text, encoding);
}

/**
 * A byte-level regex source for text in either case: one alternative per case variant of each
 * character, each encoded as memory holds it, so that "é" also finds the two UTF-8 bytes of "É".
 */
function caseInsensitiveSource(text: string, encoding: 'utf8' | 'utf16le'): { source: string; flags: string; maxLength: number } {
  // For ASCII text the regex engine's own case folding is exact on Latin-1 chars (non-Unicode
  // mode never folds a char >= 128 to one < 128) and much faster than character classes.
  if (/^[\x00-\x7f]*$/.test(text)) {
    const bytes = encodeText(text, encoding);
    return { source: escapeBytes(bytes), flags: 'gi', maxLength: bytes.length };
  }
  let source = '';
  let maxLength = 0;
  for (const c of text) {
    const variants = [...new Set([c, c.toLowerCase(), c.toUpperCase()])].filter((v) => [...v].length === 1);
    const encoded = variants.map((v) => encodeText(v, encoding));
    maxLength += Math.max(...encoded.map((e) => e.length));
    source += encoded.length === 1 ? escapeBytes(encoded[0]) : `(?:${encoded.map(escapeBytes).join('|')})`;
  }
  return { source, flags: 'g', maxLength };
}

/** Hex bytes: "de ad be ef", "deadbeef", "de ad ?? ef", "4? 0x41". */
export function parseHexPattern(pattern: string): { value: Uint8Array; mask: Uint8Array } {
  const value: number[] = [], mask: number[] = [];
  for (let token of pattern.trim().split(/[\s,]+/)) {
    if (token === '') continue;
    if (/^0x/i.test(token)) token = token.slice(2);
    if (!/^[0-9a-f?]+$/i.test(token) || token.length % 2 !== 0) {
      throw new SearchPatternError(`'${token}' is not hex bytes: use pairs of hex digits, with ?? for any byte (e.g. "de ad ?? ef")`);
    }
    for (let i = 0; i < token.length; i += 2) {
      let v = 0, m = 0;
      for (const [shift, ch] of [[4, token[i]], [0, token[i + 1]]] as const) {
        if (ch !== '?') {
          v |= parseInt(ch, 16) << shift;
          m |= 0xf << shift;
        }
      }
      value.push(v);
      mask.push(m);
    }
  }
  if (value.length === 0) throw new SearchPatternError('the hex pattern is empty');
  if (!mask.some((m) => m === 0xff)) throw new SearchPatternError('a hex pattern needs at least one whole byte that is not a wildcard');
  return { value: Uint8Array.from(value), mask: Uint8Array.from(mask) };
}

/** Compile a query to a matcher. Throws SearchPatternError for a pattern that cannot be searched. */
export function compileQuery(q: SearchQuery, opts: { maxMatchLength?: number } = {}): Matcher {
  const encoding = q.encoding ?? 'utf8';
  if (q.pattern === '') throw new SearchPatternError('the pattern is empty');
  switch (q.mode) {
    case 'text': {
      if (q.ignoreCase) {
        const { source, flags, maxLength } = caseInsensitiveSource(q.pattern, encoding);
        return new RegexMatcher(new RegExp(source, flags), maxLength);
      }
      const bytes = encodeText(q.pattern, encoding);
      return new MaskedMatcher(bytes, new Uint8Array(bytes.length).fill(0xff));
    }
    case 'hex': {
      if (q.ignoreCase) throw new SearchPatternError('ignoring case applies to text and regular expressions, not to hex bytes');
      if (q.encoding && q.encoding !== 'utf8') throw new SearchPatternError('an encoding applies to text, not to hex bytes');
      const { value, mask } = parseHexPattern(q.pattern);
      return new MaskedMatcher(value, mask);
    }
    case 'regex': {
      if (encoding !== 'utf8') throw new SearchPatternError('regular expressions match bytes (UTF-8 and ASCII text); UTF-16 applies to text searches');
      // Non-ASCII characters of the pattern stand for their UTF-8 bytes, as memory holds them.
      const source = Buffer.from(q.pattern, 'utf8').toString('latin1');
      // `s`: memory is not lines, so `.` matches any byte, newlines too.
      let re: RegExp;
      try {
        re = new RegExp(source, `gs${q.ignoreCase ? 'i' : ''}`);
      } catch (e) {
        throw new SearchPatternError(`invalid regular expression: ${(e as Error).message}`);
      }
      return new RegexMatcher(re, opts.maxMatchLength ?? DEFAULT_MAX_MATCH);
    }
    default:
      throw new SearchPatternError(`unknown search mode '${(q as { mode: string }).mode}'`);
  }
}
