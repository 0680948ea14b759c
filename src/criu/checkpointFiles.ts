// The files of a CRIU checkpoint, wherever they are: a directory that `criu dump -D` wrote (with
// the directories of its pre-dump chain, through `parent` links), or an archive in the layout of
// Podman, CRI-O and containerd (the images under checkpoint/, the engine's files beside them),
// plain or compressed. Either way the files become members at offsets of one ByteSource, so that
// the reader above never asks where a byte is stored.

import { promises as fsp } from 'fs';
import path from 'path';
import { ByteSource, FileByteSource } from '../image/byteSource';
import { CacheOptions, Compression, compressionOf, decompressedArchive } from './archiveCache';
import { FilesSource } from './filesSource';
import { indexTar, MemberKind, normalizeMemberPath, TarMember } from './tar';

export interface CheckpointMember {
  /** Path inside the checkpoint ("core-1.img"; "checkpoint/core-1.img" in an archive; "parent/pages-1.img"). */
  path: string;
  kind: MemberKind;
  /** Where its bytes are in the checkpoint's source, and how many. */
  offset: number;
  size: number;
  mtimeMs: number;
  linkTarget?: string;
}

export interface CheckpointFiles {
  kind: 'directory' | 'archive';
  /** The directory or archive as given. */
  name: string;
  compression: Compression;
  /** Its bytes on disk: the archive's size, or the sum of the directory's files. */
  diskSize: number;
  source: ByteSource;
  members: CheckpointMember[];
  /** Folder of the CRIU images, as a member path prefix: '' for a directory, 'checkpoint' in an archive. */
  imagesDir: string;
  /** Folders of the pre-dump chain (the `parent` links), nearest first. */
  parentDirs: string[];
  close(): Promise<void>;
}

export class CheckpointFilesError extends Error {}

/** How deep a pre-dump chain is followed; a longer one (or a cycle) ends there. */
const MAX_PARENTS = 64;

export const joinMember = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);

/** Opens a checkpoint directory (or the directory of a given inventory.img), or an archive. */
export async function openCheckpointFiles(where: string, cache: CacheOptions = {}): Promise<CheckpointFiles> {
  const st = await fsp.stat(where);
  if (st.isDirectory()) return openDirectory(where);
  if (path.basename(where) === 'inventory.img') return openDirectory(path.dirname(where));
  return openArchive(where, cache);
}

/** Does this path look like a CRIU checkpoint we can open (a directory with inventory.img, an inventory.img, or an archive)? */
export async function sniffCheckpoint(where: string): Promise<'directory' | 'archive' | undefined> {
  try {
    const st = await fsp.stat(where);
    if (st.isDirectory()) return (await fsp.stat(path.join(where, 'inventory.img')).catch(() => undefined)) ? 'directory' : undefined;
    if (path.basename(where) === 'inventory.img') return 'directory';
    if (!st.isFile()) return undefined; // a FIFO would block the open below
    const fh = await fsp.open(where, 'r');
    try {
      const head = Buffer.alloc(512);
      await fh.read(head, 0, 512, 0);
      return compressionOf(head) ? 'archive' : undefined;
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

async function listDirectory(dir: string, prefix: string, into: { path: string; member: Omit<CheckpointMember, 'offset'> }[]): Promise<string | undefined> {
  let parentLink: string | undefined;
  const names = (await fsp.readdir(dir)).sort();
  for (const name of names) {
    const full = path.join(dir, name);
    const lst = await fsp.lstat(full);
    const memberPath = joinMember(prefix, name);
    if (lst.isSymbolicLink()) {
      const target = await fsp.readlink(full);
      into.push({ path: full, member: { path: memberPath, kind: 'symlink', size: 0, mtimeMs: lst.mtimeMs, linkTarget: target } });
      if (name === 'parent') parentLink = full;
    } else if (lst.isDirectory()) {
      into.push({ path: full, member: { path: memberPath, kind: 'dir', size: 0, mtimeMs: lst.mtimeMs } });
    } else if (lst.isFile()) {
      into.push({ path: full, member: { path: memberPath, kind: 'file', size: lst.size, mtimeMs: lst.mtimeMs } });
    }
  }
  return parentLink;
}

async function openDirectory(dir: string): Promise<CheckpointFiles> {
  const listed: { path: string; member: Omit<CheckpointMember, 'offset'> }[] = [];
  const parentDirs: string[] = [];
  let link = await listDirectory(dir, '', listed);
  const seen = new Set([await fsp.realpath(dir)]);
  let prefix = '';
  while (link && parentDirs.length < MAX_PARENTS) {
    let real: string;
    try {
      real = await fsp.realpath(link);
    } catch {
      break; // a dangling parent link: the pages it would hold are reported missing
    }
    if (seen.has(real) || !(await fsp.stat(real)).isDirectory()) break;
    seen.add(real);
    prefix = joinMember(prefix, 'parent');
    parentDirs.push(prefix);
    link = await listDirectory(real, prefix, listed);
  }
  const files = listed.filter((l) => l.member.kind === 'file');
  const source = FilesSource.place(
    dir,
    files.map((f) => ({ path: f.path, size: f.member.size })),
  );
  const offsets = new Map(files.map((f, i) => [f.member, source.files[i].base]));
  return {
    kind: 'directory',
    name: dir,
    compression: 'none',
    diskSize: files.reduce((n, f) => n + f.member.size, 0),
    source,
    members: listed.map((l) => ({ ...l.member, offset: offsets.get(l.member) ?? 0 })),
    imagesDir: '',
    parentDirs,
    close: () => source.close(),
  };
}

async function openArchive(file: string, cache: CacheOptions): Promise<CheckpointFiles> {
  const fh = await fsp.open(file, 'r');
  const head = Buffer.alloc(512);
  try {
    await fh.read(head, 0, 512, 0);
  } finally {
    await fh.close();
  }
  const compression = compressionOf(head);
  if (!compression) throw new CheckpointFilesError(`${file} is not a checkpoint archive: it is neither a tar archive nor gzip- or zstd-compressed`);
  const tarPath = compression === 'none' ? file : await decompressedArchive(file, compression, cache);
  const source = await FileByteSource.open(tarPath);
  try {
    const tar = await indexTar(source, { name: compression === 'none' ? file : `${file} (decompressed)` });
    const members = tar.map(toMember);
    const byPath = new Map(members.map((m) => [m.path, m]));
    const imagesDir = byPath.has('checkpoint/inventory.img') ? 'checkpoint' : byPath.has('inventory.img') ? '' : undefined;
    if (imagesDir === undefined) throw new CheckpointFilesError(`${file} holds no CRIU checkpoint: there is no checkpoint/inventory.img in it`);
    const parentDirs: string[] = [];
    let dir = imagesDir;
    for (let i = 0; i < MAX_PARENTS; i++) {
      const link = byPath.get(joinMember(dir, 'parent'));
      if (!link?.linkTarget) break;
      const target = normalizeMemberPath(path.posix.normalize(path.posix.join(dir, link.linkTarget)));
      if (target.startsWith('..') || parentDirs.includes(target) || target === imagesDir || !byPath.has(joinMember(target, 'inventory.img'))) break;
      parentDirs.push(target);
      dir = target;
    }
    const diskSize = (await fsp.stat(file)).size;
    return { kind: 'archive', name: file, compression, diskSize, source: nameSource(source, file), members, imagesDir, parentDirs, close: () => source.close() };
  } catch (e) {
    await source.close();
    throw e;
  }
}

function toMember(t: TarMember): CheckpointMember {
  return { path: t.path, kind: t.kind, offset: t.offset, size: t.size, mtimeMs: t.mtimeMs, ...(t.linkTarget ? { linkTarget: t.linkTarget } : {}) };
}

/** The cache file's source under the archive's name, so that messages name what the user opened. */
function nameSource(src: FileByteSource, name: string): ByteSource {
  if (src.name === name) return src;
  return {
    size: src.size,
    name,
    read: (o, n) => src.read(o, n),
    readIntoSync: (o, t) => src.readIntoSync(o, t),
    close: () => src.close(),
  };
}
