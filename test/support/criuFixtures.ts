// The real CRIU checkpoints of test/fixtures/criu/, what their README says is in them, and ways to
// make damaged or extended copies of them: rewrite an image's entries (messages encoded with the
// project's own .proto definitions through protobuf.js), keeping its magics.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { messageType } from '../../src/criu/messages';

export const CRIU_FIXTURES = path.resolve(__dirname, '../fixtures/criu');
export const criuFixture = (...p: string[]) => path.join(CRIU_FIXTURES, ...p);

/** The marker strings at the addresses the fixtures' README gives, by fixture. */
export const MARKERS = {
  single: { pid: 28660, text: 'criu-fixture-marker-0001', addr: 0x55b1c78fb2a0n, pattern: 0x55b1c78fb2f0n },
  threads: { pid: 28701, text: 'criu-fixture-marker-threads', addr: 0x5632b5fe00a0n, stacks: [0x7fa4cecdae90n, 0x7fa4ce4d9e90n, 0x7fa4cdcd8e90n, 0x7fa4cd4d7e90n] },
  tree: { pids: [28777, 28781, 28782], text: 'criu-fixture-pipe-data-0001', addr: 0x559db5109013n },
  lrt: { pid: 28897, page: 0x7f8982c15000n },
  podman: { 'podman.tar.gz': 0x33fc56d0n, 'podman.tar': 0x399c66d0n, 'podman-gzip.tar.gz': 0x10c416d0n, text: 'criu-fixture-marker-podman' },
} as const;

/** A writable copy of a fixture folder in a temp folder; `remove()` deletes it. */
export function copyFixture(name: string): { dir: string; root: string; remove(): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'criu-fixture-'));
  const dir = path.join(root, path.basename(name));
  fs.cpSync(criuFixture(name), dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
  return { dir, root, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

export interface RawImage {
  /** The magic numbers at its start (4 or 8 bytes). */
  head: Buffer;
  /** Each entry's message, and the raw bytes after it (pipe data). */
  entries: { message: Buffer; extra: Buffer }[];
}

/** Splits an image file into its magics and entries; `extraOf` gives the raw bytes after entry i. */
export function readImage(file: string, extraOf: (message: Buffer, i: number) => number = () => 0): RawImage {
  const b = fs.readFileSync(file);
  const first = b.readUInt32LE(0);
  const headSize = first === 0x54564319 || first === 0x55105940 ? 8 : 4;
  const entries: RawImage['entries'] = [];
  for (let at = headSize, i = 0; at < b.length; i++) {
    const len = b.readUInt32LE(at);
    const message = b.subarray(at + 4, at + 4 + len);
    const n = extraOf(message, i);
    entries.push({ message, extra: b.subarray(at + 4 + len, at + 4 + len + n) });
    at += 4 + len + n;
  }
  return { head: b.subarray(0, headSize), entries };
}

export function writeImage(file: string, img: RawImage): void {
  const parts: Buffer[] = [img.head];
  for (const e of img.entries) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(e.message.length);
    parts.push(len, e.message, e.extra);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

/** A message encoded with the project's .proto definitions. */
export function encode(type: string, value: object): Buffer {
  const t = messageType(type);
  return Buffer.from(t.encode(t.fromObject(value)).finish());
}

export function decode<T>(type: string, bytes: Buffer): T {
  const t = messageType(type);
  return t.toObject(t.decode(bytes), { longs: String, enums: Number, arrays: true }) as T;
}
