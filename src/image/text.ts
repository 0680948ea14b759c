// Strings from an image, decoded exactly and shown safely.
//
// Decoding: image strings are meant to be UTF-8 but are whatever bytes the process had. Valid
// UTF-8 decodes as usual; each byte that is not part of a valid sequence decodes to the lone
// surrogate U+DC00 + byte (U+DC80..U+DCFF), as Python's "surrogateescape" does, so that no byte
// is lost: JSON shows it as "\udc9b", and a reader can turn it back into the byte.
//
// Showing: a string from an image can hold terminal escape sequences ("\x1b]0;title\x07",
// "\x1b[2J"). Everything human-readable that the CLI prints goes through `printable`, which
// shows C0 controls and DEL as \xNN (\n, \t, \r by name), C1 controls (U+0080..U+009F, which
// some terminals obey as 8-bit escapes) as \u00NN, an undecodable byte as \xNN and any other
// lone surrogate as \uXXXX. It leaves backslashes alone, so that applying it twice does no harm.
// JSON output is not passed through it: JSON's own escaping keeps the values exact.

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `bytes` as a string, with each undecodable byte as U+DC00 + byte (see above). */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    return decodeEscaped(bytes);
  }
}

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there does not start one. */
function sequenceAt(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const ok1 = c === 0xe0 ? cont(1, 0xa0) : c === 0xed ? cont(1, 0x80, 0x9f) : cont(1);
    return ok1 && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const ok1 = c === 0xf0 ? cont(1, 0x90) : c === 0xf4 ? cont(1, 0x80, 0x8f) : cont(1);
    return ok1 && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

function decodeEscaped(b: Uint8Array): string {
  const parts: string[] = [];
  let run = 0;
  for (let i = 0; i < b.length;) {
    const n = sequenceAt(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    if (run < i) parts.push(strict.decode(b.subarray(run, i)));
    parts.push(String.fromCharCode(0xdc00 + b[i]));
    run = ++i;
  }
  if (run < b.length) parts.push(strict.decode(b.subarray(run)));
  return parts.join('');
}

const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\ud800-\udfff]/;
const UNQUOTABLE = /[\x00-\x1f\x7f-\x9f\ud800-\udfff"\\]/;
const NAMED: Record<number, string> = { 0x09: '\\t', 0x0a: '\\n', 0x0d: '\\r' };

type Mode = 'quoted' | 'plain' | 'lines';

function escaped(s: string, mode: Mode): string {
  const quoted = mode === 'quoted';
  if (!(quoted ? UNQUOTABLE : UNPRINTABLE).test(s)) return s;
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c === 0x0a && mode === 'lines') continue;
    if (c < 0x20 || c === 0x7f) rep = NAMED[c] ?? `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0x80 && c <= 0x9f)
      rep = `\\u00${c.toString(16)}`; // a C1 control, told apart from the byte \\x9b
    else if (quoted && (c === 0x22 || c === 0x5c)) rep = `\\${String.fromCharCode(c)}`;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00)
      i++; // a pair: one character
    else if (c >= 0xdc80 && c <= 0xdcff) rep = `\\x${(c - 0xdc00).toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdfff) rep = `\\u${c.toString(16)}`;
    if (rep === undefined) continue;
    out += s.slice(from, i) + rep;
    from = i + 1;
  }
  return out + s.slice(from);
}

/** `s` safe for a terminal: controls and undecodable bytes as escapes (see above). */
export function printable(s: string): string {
  return escaped(s, 'plain');
}

/** printable(), line by line: the text's own newlines stay newlines. For whole lines of output. */
export function printableLines(s: string): string {
  return escaped(s, 'lines');
}

/** `s` in double quotes, safe for a terminal, with quotes and backslashes escaped. */
export function quote(s: string): string {
  return `"${escaped(s, 'quoted')}"`;
}

/** A word as a POSIX shell reads it (a path in a command line to copy): quoted unless plainly safe. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
