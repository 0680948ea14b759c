// What a memory search looks for, compiled to a matcher over raw bytes. Literal patterns (text
// in either encoding, hex bytes with `??` wildcards) search with Buffer.indexOf for a short
// "anchor" of the pattern that starts with a byte that is rare in the data, then check the rest:
// indexOf is a memchr on the anchor's first byte, ~10 GB/s when that byte is rare and 50x
// slower when it is common (a pattern starting with 0x00 in zero-filled memory), and Node uses
// a slower Boyer-Moore-Horspool for needles of 8 bytes or more. ASCII text in either case works
// the same way, with both cases of a letter allowed at its position. Regular expressions and
// case-insensitive text beyond ASCII run as a RegExp over the bytes read as Latin-1.

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

/**
 * A pattern of byte classes: at each position, the bytes allowed there. One byte for literal
 * text and hex; both cases of a letter for case-insensitive ASCII text; 16 bytes for a half-known
 * hex byte (`4?`); all 256 for `??`. It searches for an anchor (a run of single-byte positions,
 * or one position with two bytes, each found with indexOf) and checks the rest at each hit.
 */
class ClassMatcher implements Matcher {
  readonly maxLength: number;
  private readonly exact: boolean;
  private readonly full: Buffer;
  /** Position j allows byte b when allowed[j * 256 + b] is 1. */
  private readonly allowed: Uint8Array;
  private anchorAt = 0;
  /** A run of single-byte positions to find with indexOf, or the two bytes of one position. */
  private anchor: Buffer | [number, number] = Buffer.alloc(0);

  constructor(private readonly alts: number[][]) {
    this.maxLength = alts.length;
    this.exact = alts.every((a) => a.length === 1);
    this.full = Buffer.from(alts.map((a) => a[0]));
    this.allowed = new Uint8Array(alts.length * 256);
    alts.forEach((a, j) => a.forEach((b) => (this.allowed[j * 256 + b] = 1)));
    this.choose(defaultFrequency());
  }

  tune(sample: Uint8Array): void {
    const f = new Float64Array(256);
    for (let i = 0; i < sample.length; i++) f[sample[i]]++;
    this.choose(f);
  }

  /**
   * The anchor: a run of single-byte positions (at most ANCHOR_MAX long) whose first byte is
   * rarest, or, when that is common (or there is none: all letters), the position with two
   * allowed bytes that are rarest together.
   */
  private choose(freq: Float64Array): void {
    const n = this.alts.length;
    const runEnd = new Int32Array(n + 1);
    runEnd[n] = n;
    for (let i = n - 1; i >= 0; i--) runEnd[i] = this.alts[i].length === 1 ? runEnd[i + 1] : i;
    let longest = 0;
    for (let i = 0; i < n; i++) longest = Math.max(longest, runEnd[i] - i);
    const minLen = Math.min(ANCHOR_MIN, longest);
    let best = -1,
      bestScore = Infinity,
      pair = false;
    for (let k = 0; k < n; k++) {
      const a = this.alts[k];
      const len = Math.min(ANCHOR_MAX, runEnd[k] - k);
      // Rarer first byte first; then a longer anchor (fewer false hits).
      const score = a.length === 1 && len >= minLen && len > 0 ? freq[a[0]] * 16 - len : a.length === 2 ? (freq[a[0]] + freq[a[1]]) * 16 * 2 : Infinity;
      if (score < bestScore) {
        bestScore = score;
        best = k;
        pair = a.length === 2;
      }
    }
    if (best < 0) throw new SearchPatternError('the pattern has no byte to start a search from');
    this.anchorAt = best;
    this.anchor = pair ? [this.alts[best][0], this.alts[best][1]] : this.full.subarray(best, best + Math.min(ANCHOR_MAX, runEnd[best] - best));
  }

  private verify(buf: Buffer, start: number): boolean {
    if (this.exact) return buf.compare(this.full, 0, this.full.length, start, start + this.full.length) === 0;
    const allowed = this.allowed;
    for (let j = 0; j < this.alts.length; j++) if (allowed[j * 256 + buf[start + j]] === 0) return false;
    return true;
  }

  find(buf: Buffer, from: number, to: number, each: (index: number, length: number) => boolean | void): void {
    const k = this.anchorAt,
      len = this.alts.length;
    const anchor = this.anchor;
    if (anchor instanceof Buffer) {
      const whole = this.exact && anchor.length === len;
      let i = buf.indexOf(anchor, from + k);
      while (i !== -1) {
        const start = i - k;
        if (start >= to) return;
        if (start + len <= buf.length && (whole || this.verify(buf, start))) {
          if (each(start, len) === false) return;
          i = buf.indexOf(anchor, start + len + k);
        } else {
          i = buf.indexOf(anchor, i + 1);
        }
      }
      return;
    }
    // Two bytes at the anchor position: a cursor for each, taking the nearer one each time.
    const [x, y] = anchor;
    let ix = buf.indexOf(x, from + k),
      iy = buf.indexOf(y, from + k);
    while (ix !== -1 || iy !== -1) {
      const i = iy === -1 || (ix !== -1 && ix < iy) ? ix : iy;
      const start = i - k;
      if (start >= to) return;
      let next = i + 1;
      if (start + len <= buf.length && this.verify(buf, start)) {
        if (each(start, len) === false) return;
        next = start + len + k;
      }
      if (ix !== -1 && ix < next) ix = buf.indexOf(x, next);
      if (iy !== -1 && iy < next) iy = buf.indexOf(y, next);
    }
  }
}

/** Byte classes of literal bytes. */
const literal = (bytes: Uint8Array) => Array.from(bytes, (b) => [b]);

/** Byte classes of hex bytes with a mask per byte (0xff known, 0 `??`, 0xf0 or 0x0f half-known). */
function maskedClasses(value: Uint8Array, mask: Uint8Array): number[][] {
  return Array.from(value, (v, j) => {
    if (mask[j] === 0xff) return [v];
    const out: number[] = [];
    for (let b = 0; b < 256; b++) if ((b & mask[j]) === v) out.push(b);
    return out;
  });
}

/** Byte classes of ASCII text in either case, as memory holds it in `encoding`. */
function caseClasses(text: string, encoding: 'utf8' | 'utf16le'): number[][] {
  return Array.from(encodeText(text, encoding), (b) => {
    const c = String.fromCharCode(b);
    const lower = c.toLowerCase().charCodeAt(0),
      upper = c.toUpperCase().charCodeAt(0);
    return lower !== upper ? [lower, upper] : [b];
  });
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
 * Only for text beyond ASCII; ASCII text in either case is a ClassMatcher.
 */
function caseInsensitiveSource(text: string, encoding: 'utf8' | 'utf16le'): { source: string; maxLength: number } {
  let source = '';
  let maxLength = 0;
  for (const c of text) {
    const variants = [...new Set([c, c.toLowerCase(), c.toUpperCase()])].filter((v) => [...v].length === 1);
    const encoded = variants.map((v) => encodeText(v, encoding));
    maxLength += Math.max(...encoded.map((e) => e.length));
    source += encoded.length === 1 ? escapeBytes(encoded[0]) : `(?:${encoded.map(escapeBytes).join('|')})`;
  }
  return { source, maxLength };
}

/** Hex bytes: "de ad be ef", "deadbeef", "de ad ?? ef", "4? 0x41". */
export function parseHexPattern(pattern: string): { value: Uint8Array; mask: Uint8Array } {
  const value: number[] = [],
    mask: number[] = [];
  for (let token of pattern.trim().split(/[\s,]+/)) {
    if (token === '') continue;
    if (/^0x/i.test(token)) token = token.slice(2);
    if (!/^[0-9a-f?]+$/i.test(token) || token.length % 2 !== 0) {
      throw new SearchPatternError(`'${token}' is not hex bytes: use pairs of hex digits, with ?? for any byte (e.g. "de ad ?? ef")`);
    }
    for (let i = 0; i < token.length; i += 2) {
      let v = 0,
        m = 0;
      for (const [shift, ch] of [
        [4, token[i]],
        [0, token[i + 1]],
      ] as const) {
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
      if (!q.ignoreCase) return new ClassMatcher(literal(encodeText(q.pattern, encoding)));
      if (/^[\x00-\x7f]*$/.test(q.pattern)) return new ClassMatcher(caseClasses(q.pattern, encoding));
      const { source, maxLength } = caseInsensitiveSource(q.pattern, encoding);
      return new RegexMatcher(new RegExp(source, 'g'), maxLength);
    }
    case 'hex': {
      if (q.ignoreCase) throw new SearchPatternError('ignoring case applies to text and regular expressions, not to hex bytes');
      if (q.encoding && q.encoding !== 'utf8') throw new SearchPatternError('an encoding applies to text, not to hex bytes');
      const { value, mask } = parseHexPattern(q.pattern);
      return new ClassMatcher(maskedClasses(value, mask));
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
        // V8 says "Invalid regular expression: /(/gs: Unterminated group": keep only the why,
        // since the flags are ours, not the user's
        const why = (e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
        throw new SearchPatternError(`invalid regular expression '${q.pattern}': ${why.charAt(0).toLowerCase()}${why.slice(1)}`);
      }
      return new RegexMatcher(re, opts.maxMatchLength ?? DEFAULT_MAX_MATCH);
    }
    default:
      throw new SearchPatternError(`unknown search mode '${(q as { mode: string }).mode}'`);
  }
}
