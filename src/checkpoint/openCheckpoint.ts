// Opening a checkpoint of either format from a path: a .ckpt image; a CRIU checkpoint directory
// (or its inventory.img); or a Podman/CRI-O/Kubernetes checkpoint archive (.tar, .tar.gz,
// .tar.zst). What a file is, is decided by its bytes, not its name. Only regular files are read
// to find out: a FIFO or a device goes to the .ckpt reader, which refuses it without opening it
// for reading (a FIFO would block that open for ever).

import { promises as fsp } from 'fs';
import { CacheOptions } from '../criu/archiveCache';
import { sniffCheckpoint } from '../criu/checkpointFiles';
import { SourceError } from '../image/byteSource';
import { HEAD_MAGIC, HEADER_SIZE } from '../image/format';
import type { Checkpoint } from './checkpoint';
import { CkptCheckpoint } from './ckptCheckpoint';
import { CriuAsCheckpoint } from './criuAsCheckpoint';

export interface OpenCheckpointOptions {
  /** Where compressed archives are decompressed to (the extension gives its storage folder). */
  cache?: CacheOptions;
}

/** The format of the checkpoint at a path, or undefined when it is neither. */
export async function checkpointFormat(where: string): Promise<'ckpt' | 'criu' | undefined> {
  const st = await fsp.stat(where);
  if (!st.isDirectory() && !st.isFile()) return undefined;
  if (st.isFile()) {
    const fh = await fsp.open(where, 'r');
    try {
      // The first record's header, then the head's magic.
      const size = HEADER_SIZE + HEAD_MAGIC.length;
      const head = Buffer.alloc(size);
      const { bytesRead } = await fh.read(head, 0, size, 0);
      if (bytesRead === size && head.subarray(HEADER_SIZE).equals(HEAD_MAGIC)) return 'ckpt';
    } finally {
      await fh.close();
    }
  }
  return (await sniffCheckpoint(where)) ? 'criu' : undefined;
}

/**
 * Opens a checkpoint of either format. Throws ImageError, or SourceError naming the path (a
 * folder without a checkpoint, a file that is no regular file), or an I/O error, when it cannot.
 */
export async function openCheckpoint(where: string, opts: OpenCheckpointOptions = {}): Promise<Checkpoint> {
  let format: 'ckpt' | 'criu' | undefined;
  try {
    format = await checkpointFormat(where);
  } catch {
    return CkptCheckpoint.open(where); // a path that cannot be read: the .ckpt reader says why
  }
  if (format === 'criu') return CriuAsCheckpoint.open(where, { cache: opts.cache });
  if (format === undefined && (await fsp.stat(where)).isDirectory()) {
    throw new SourceError(where, 'it is a folder without a CRIU checkpoint in it (no inventory.img)');
  }
  return CkptCheckpoint.open(where);
}
