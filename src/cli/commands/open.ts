// Opening an image for a command: the one place that turns a path into a CheckpointImage, and
// that names the file in the message of anything wrong with it.

import { CheckpointImage, ImageError, SourceError } from '../../image';
import { CliError } from '../output';

/** An error about the image at `path` as the one line the user sees: the file, then where in it. */
export function inImage(path: string, e: unknown): unknown {
  if (e instanceof SourceError) return new CliError(`${e.file}: ${e.message}`);
  if (e instanceof ImageError) return new CliError(`${path}: ${e.message}`);
  return e;
}

/** Open one image file; its problems come out as CliErrors that name it. */
export async function openFile(path: string): Promise<CheckpointImage> {
  try {
    return await CheckpointImage.open(path);
  } catch (e) {
    throw inImage(path, e);
  }
}

/** Open the one IMAGE a command takes, run `use` on it, and close it. */
export async function withImage<T>(positionals: string[], usage: string, use: (img: CheckpointImage) => Promise<T>): Promise<T> {
  if (positionals.length !== 1) throw new CliError(`expected one IMAGE argument\nusage: ckpt-inspect ${usage}`);
  const path = positionals[0];
  const img = await openFile(path);
  try {
    return await use(img);
  } catch (e) {
    throw inImage(path, e);
  } finally {
    await img.close();
  }
}
