// Opening a checkpoint for a command: the one place that turns a path into a Checkpoint, a .ckpt
// image or a CRIU checkpoint (a folder, its inventory.img, or a checkpoint archive), and that
// names the path in the message of anything wrong with it.

import { Checkpoint, openCheckpoint } from '../../checkpoint';
import { ImageError, SourceError } from '../../image';
import { CliError } from '../output';

/**
 * An error about the checkpoint at `path` as the one line the user sees: the file, then where in
 * it. A CRIU checkpoint's messages name the file inside it (`core-1.img, entry #0 ...`), after
 * the checkpoint's path; a message that already starts with the path is not given it twice.
 */
export function inImage(path: string, e: unknown): unknown {
  if (e instanceof SourceError) return new CliError(`${e.file}: ${e.message}`);
  if (e instanceof ImageError) return new CliError(e.message.startsWith(path) ? e.message : `${path}: ${e.message}`);
  return e;
}

/** Open one checkpoint of either format; its problems come out as CliErrors that name it. */
export async function openNamed(path: string): Promise<Checkpoint> {
  try {
    return await openCheckpoint(path);
  } catch (e) {
    throw inImage(path, e);
  }
}

/** Open the one IMAGE a command takes, run `use` on it, and close it. */
export async function withImage<T>(positionals: string[], usage: string, use: (img: Checkpoint) => Promise<T>): Promise<T> {
  if (positionals.length !== 1) throw new CliError(`expected one IMAGE argument\nusage: ckpt-inspect ${usage}`);
  const path = positionals[0];
  const img = await openNamed(path);
  try {
    return await use(img);
  } catch (e) {
    throw inImage(path, e);
  } finally {
    await img.close();
  }
}
