// Opening a checkpoint for a command: the one place that turns a path into a Checkpoint, a .ckpt
// image or a CRIU checkpoint (a folder, its inventory.img, or a checkpoint archive).

import { Checkpoint, openCheckpoint } from '../../checkpoint';
import { CliError } from '../output';

export async function openImage(positionals: string[], usage: string): Promise<Checkpoint> {
  if (positionals.length !== 1) throw new CliError(`expected one IMAGE argument\nusage: ckpt-inspect ${usage}`);
  return openNamed(positionals[0]);
}

/** Opens one checkpoint; a folder that is not a CRIU checkpoint is a CliError. */
export async function openNamed(where: string): Promise<Checkpoint> {
  try {
    return await openCheckpoint(where);
  } catch (e) {
    if ((e as Error).message?.includes('is a folder without a CRIU checkpoint')) throw new CliError((e as Error).message);
    throw e;
  }
}
