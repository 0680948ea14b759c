// The index of a tar archive: one pass over its 512-byte headers (POSIX ustar, with pax and GNU
// long names), which records where each member's bytes are and skips them unread. Members are
// then read in place through the archive's ByteSource, so that a checkpoint archive of gigabytes
// is opened without unpacking it. A damaged archive is reported with the offset of the header.

import { ByteSource } from '../image/byteSource';

export type MemberKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface TarMember {
  /** Path in the archive, without a leading "./" or "/"; folders end without "/". */
  path: string;
  kind: MemberKind;
  /** Offset of the member's bytes in the archive, and their length. */
  offset: number;
  size: number;
  /** Offset of the member's (first) header. */
  headerOffset: number;
  mode: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
  linkTarget?: string;
}

export class TarError extends Error {
  constructor(
    readonly archive: string,
    readonly offset: number,
    what: string,
  ) {
    super(`${archive}, offset 0x${offset.toString(16)}: ${what}`);
    this.name = 'TarError';
  }
}

const BLOCK = 512;
/** More members than any checkpoint has; bounds the index of a hostile archive. */
export const MAX_MEMBERS = 1_000_000;
/** Longest pax record or GNU long name read. */
const MAX_EXTENDED_HEADER = 1024 * 1024;

const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const utf8 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

/** A NUL-terminated field of a header. */
function str(h: Uint8Array, at: number, len: number): string {
  const f = h.subarray(at, at + len);
  const nul = f.indexOf(0);
  return utf8(nul < 0 ? f : f.subarray(0, nul));
}

/** A numeric field: octal text, or GNU base-256 (high bit of the first byte set). */
function num(h: Uint8Array, at: number, len: number): number | undefined {
  const f = h.subarray(at, at + len);
  if (f[0] & 0x80) {
    let v = BigInt(f[0] & 0x7f);
    for (let i = 1; i < f.length; i++) v = (v << 8n) | BigInt(f[i]);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
  }
  const text = latin1(f).replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  const v = parseInt(text, 8);
  return Number.isSafeInteger(v) ? v : undefined;
}

function checksumOk(h: Uint8Array): boolean {
  const stored = num(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  return stored === sum;
}

/** Key=value records of a pax extended header ("%d %s=%s\n"). */
function paxRecords(b: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < b.length) {
    const sp = b.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(latin1(b.subarray(i, sp)));
    if (!Number.isSafeInteger(len) || len <= sp - i || i + len > b.length) break;
    const rec = utf8(b.subarray(sp + 1, i + len)).replace(/\n$/, '');
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

export function normalizeMemberPath(p: string): string {
  return p
    .replace(/^(\.\/)+/, '')
    .replace(/^\/+/, '')
    .replace(/\/+$/, '');
}

async function readInto(src: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  if (src.readIntoSync) {
    const out = new Uint8Array(length);
    src.readIntoSync(offset, out);
    return out;
  }
  return src.read(offset, length);
}

/**
 * Indexes the archive in `src` from `start` (a tar nested in another is indexed at its offset).
 * Reads only headers. Throws TarError for a header that is not a tar header.
 */
export async function indexTar(src: ByteSource, opts: { start?: number; end?: number; name?: string } = {}): Promise<TarMember[]> {
  const name = opts.name ?? src.name;
  const end = opts.end ?? src.size;
  const members: TarMember[] = [];
  let at = opts.start ?? 0;
  let longName: string | undefined, longLink: string | undefined;
  let pax = new Map<string, string>();
  let headerStart: number | undefined;
  for (;;) {
    if (at + BLOCK > end) {
      if (members.length === 0) throw new TarError(name, at, 'not a tar archive: it ends before its first header');
      throw new TarError(name, at, 'the archive is truncated: it ends inside a header, before its end-of-archive blocks');
    }
    const h = await readInto(src, at, BLOCK);
    if (h.every((b) => b === 0)) break; // end of archive (the second zero block is not needed)
    if (!checksumOk(h))
      throw new TarError(name, at, members.length === 0 && at === (opts.start ?? 0) ? 'not a tar archive (no valid header at its start)' : 'a damaged tar header (its checksum does not match)');
    const size = num(h, 124, 12);
    if (size === undefined) throw new TarError(name, at + 124, 'a tar header with an unreadable size');
    const type = String.fromCharCode(h[156] || 0x30);
    const dataAt = at + BLOCK;
    if (size > end - dataAt) throw new TarError(name, at, `member data of ${size} bytes runs past the end of the archive: it is truncated`);
    const next = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    headerStart ??= at;
    if (type === 'x' || type === 'L' || type === 'K') {
      if (size > MAX_EXTENDED_HEADER) throw new TarError(name, at, `an extended header of ${size} bytes is larger than any this reader takes`);
      const body = await readInto(src, dataAt, size);
      if (type === 'x') pax = paxRecords(body);
      else if (type === 'L') longName = str(body, 0, body.length);
      else longLink = str(body, 0, body.length);
      at = next;
      continue;
    }
    if (type === 'g') {
      at = next;
      headerStart = undefined;
      continue;
    }
    const ustar = latin1(h.subarray(257, 262)) === 'ustar';
    const prefix = ustar ? str(h, 345, 155) : '';
    let path = pax.get('path') ?? longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    path = normalizeMemberPath(path);
    const paxSize = pax.has('size') ? Number(pax.get('size')) : undefined;
    const realSize = paxSize !== undefined && Number.isSafeInteger(paxSize) ? paxSize : size;
    const kind: MemberKind = type === '0' || type === '\0' || type === '7' ? 'file' : type === '5' ? 'dir' : type === '2' ? 'symlink' : type === '1' ? 'hardlink' : 'other';
    const linkTarget = pax.get('linkpath') ?? longLink ?? (kind === 'symlink' || kind === 'hardlink' ? str(h, 157, 100) : undefined);
    if (path !== '') {
      if (members.length >= MAX_MEMBERS) throw new TarError(name, at, `more than ${MAX_MEMBERS} members`);
      members.push({
        path,
        kind,
        offset: dataAt,
        size: kind === 'file' ? realSize : 0,
        headerOffset: headerStart,
        mode: num(h, 100, 8) ?? 0,
        mtimeMs: Math.round((pax.has('mtime') ? Number(pax.get('mtime')) : (num(h, 136, 12) ?? 0)) * 1000),
        ...(linkTarget ? { linkTarget } : {}),
      });
    }
    at = kind === 'file' ? dataAt + Math.ceil(realSize / BLOCK) * BLOCK : next;
    longName = longLink = headerStart = undefined;
    pax = new Map();
  }
  return members;
}
