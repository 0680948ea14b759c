// The index of one CRIU image file: its magic numbers and where each entry's message (and the raw
// bytes some messages are followed by) lies. One pass of small reads over the length prefixes,
// with the framing's parsers generated from formats/criu_image.ksy; messages are decoded later, on
// demand. A damaged file is reported with its name and the offset in it; what precedes the damage
// stays readable.

import { CriuImage } from '../../build/formats/CriuImage';
import { payloadStream } from '../image/bigintStream';
import { ByteSource } from '../image/byteSource';
import { ImageProblem, ProblemCode } from '../image/errors';
import type { CheckpointMember } from './checkpointFiles';
import { IMG_COMMON, IMG_SERVICE, ImageKind, kindByFileName, kindByMagic, magicLabel } from './imageKinds';
import { decodeMessage, MAX_MESSAGE_BYTES, MessageError } from './messages';

export interface ImageEntry {
  /** Position in the file, from 0. */
  number: number;
  /** Source offsets of its length prefix and of its message; the message's length. */
  offset: number;
  payloadOffset: number;
  len: number;
  /** The message type it holds (undefined when this reader does not declare one). */
  message?: string;
  /** Raw bytes that follow the message (pipe data, a socket's queued packet). */
  extra?: { offset: number; length: number };
}

export interface ImageIndex {
  member: CheckpointMember;
  /** The file's magics as read: the first, and the kind's own after img_common/img_service. */
  magic: number;
  kindMagic?: number;
  kind?: ImageKind;
  /** Where the first entry starts, in the file. */
  headerSize: number;
  entries: ImageEntry[];
  problems: ImageProblem[];
}

/** More entries than any image of a real checkpoint holds; bounds the index of a hostile file. */
export const MAX_ENTRIES = 4 * 1024 * 1024;
const BLOCK = 64 * 1024;

/** A problem in a checkpoint file, named by the file and the offset in it. */
export function fileProblem(code: ProblemCode, file: string, offset: number, what: string, opts: { record?: number; entry?: number; fatal?: boolean } = {}): ImageProblem {
  const where = opts.entry !== undefined ? `${file}, entry #${opts.entry} at offset 0x${offset.toString(16)}` : `${file}, offset 0x${offset.toString(16)}`;
  return { code, fatal: opts.fatal ?? false, offset, ...(opts.record !== undefined ? { record: opts.record } : {}), message: `${where}: ${what}` };
}

/** Reads through one block, so that runs of small entries cost one read. */
class Blocks {
  private start = 0;
  private block = new Uint8Array(0);
  constructor(private readonly src: ByteSource) {}
  bytes(offset: number, length: number): Uint8Array {
    if (offset >= this.start && offset + length <= this.start + this.block.length) return this.block.subarray(offset - this.start, offset - this.start + length);
    const n = Math.max(length, Math.min(BLOCK, this.src.size - offset));
    const out = new Uint8Array(n);
    this.src.readIntoSync!(offset, out);
    if (length <= BLOCK) {
      this.start = offset;
      this.block = out;
    }
    return out.subarray(0, length);
  }
}

/** Does this file look like a protobuf image (by name or by magic)? */
export function isImageFile(member: CheckpointMember, head: Uint8Array): boolean {
  const name = member.path.split('/').pop()!;
  if (kindByFileName(name)) return true;
  if (head.length < 4) return false;
  const m = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0, true);
  return m === IMG_COMMON || m === IMG_SERVICE || kindByMagic(m) !== undefined;
}

/**
 * Indexes an image file. `record` is the file's record number, for problems. Problems are
 * collected, never thrown: a damaged file yields the entries before the damage.
 */
export function indexImage(src: ByteSource, member: CheckpointMember, record?: number): ImageIndex {
  if (!src.readIntoSync) throw new Error(`${src.name} cannot be read synchronously`);
  const file = member.path;
  const name = file.split('/').pop()!;
  const named = kindByFileName(name);
  const out: ImageIndex = { member, magic: 0, headerSize: 0, entries: [], problems: [] };
  const blocks = new Blocks(src);
  const at = (o: number) => member.offset + o;
  const report = (code: ProblemCode, offset: number, what: string, entry?: number) => out.problems.push(fileProblem(code, file, offset, what, { record, entry }));

  if (member.size < 4) {
    report('truncated', 0, `the file is ${member.size} bytes long, too short for its magic`);
    out.kind = named;
    return out;
  }
  const head = new CriuImage.FileHead(payloadStream(blocks.bytes(at(0), Math.min(8, member.size))));
  try {
    head._read();
  } catch {
    report('truncated', 4, 'the file ends after its first magic, before the magic of its kind');
    const b = blocks.bytes(at(0), 4);
    out.magic = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
    out.kind = named;
    return out;
  }
  out.magic = head.magic;
  out.kindMagic = head.kindMagic;
  out.headerSize = head.kindMagic === undefined ? 4 : 8;
  const kind = kindByMagic(head.kindMagic ?? head.magic);
  out.kind = kind ?? named;
  if (named && kind !== named) {
    const offset = head.kindMagic === undefined ? 0 : 4;
    const found = head.kindMagic ?? head.magic;
    report('bad-magic', offset, `bad magic 0x${found.toString(16).padStart(8, '0')} (${magicLabel(found)}): a ${named.name} image has 0x${named.magic.toString(16).padStart(8, '0')}`);
    return out;
  }
  if (!kind) {
    report('unknown-type', 0, `an image of a kind this reader does not know (magic ${magicLabel(head.kindMagic ?? head.magic)}); its entries are shown as raw fields`);
  }

  let offset = out.headerSize;
  for (let n = 0; offset < member.size; n++) {
    if (n >= MAX_ENTRIES) {
      report('too-many-records', offset, `more than ${MAX_ENTRIES} entries`);
      break;
    }
    if (member.size - offset < 4) {
      report('truncated', offset, `the file ends ${member.size - offset} bytes into the length of entry #${n}: it is truncated`, n);
      break;
    }
    const eh = new CriuImage.EntryHead(payloadStream(blocks.bytes(at(offset), 4)));
    eh._read();
    const len = eh.len;
    const left = member.size - offset - 4;
    if (len > MAX_MESSAGE_BYTES) {
      report('bad-length', offset, `a length prefix of ${len} bytes is larger than any message (${MAX_MESSAGE_BYTES}): the length is damaged`, n);
      break;
    }
    if (len > left) {
      report('truncated', offset, `its length prefix says ${len} bytes, but only ${left} follow: the file is truncated or the length is damaged`, n);
      break;
    }
    const message = n === 0 && kind?.firstMessage ? kind.firstMessage : kind?.message;
    const entry: ImageEntry = { number: n, offset: at(offset), payloadOffset: at(offset + 4), len, ...(message ? { message } : {}) };
    offset += 4 + len;
    if (kind?.extraField && message) {
      // The raw bytes after this message: their length is a field of the message.
      let extra = 0;
      try {
        const v = decodeMessage<Record<string, unknown>>(message, blocks.bytes(entry.payloadOffset, len)).value[kind.extraField];
        extra = typeof v === 'number' ? v : 0;
      } catch (e) {
        report('bad-payload', offset - 4 - len, `the ${message} message cannot be decoded (${(e as MessageError).message}), so the data after it cannot be skipped`, n);
        out.entries.push(entry);
        break;
      }
      if (extra > member.size - offset) {
        report('truncated', offset, `the ${extra} bytes of data its message announces run past the end of the file (${member.size - offset} bytes left)`, n);
        out.entries.push(entry);
        break;
      }
      entry.extra = { offset: at(offset), length: extra };
      offset += extra;
    }
    out.entries.push(entry);
  }
  return out;
}
