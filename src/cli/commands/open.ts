// Opening an image for a command: the one place that turns a path into a CheckpointImage.

import { CheckpointImage } from '../../image';
import { CliError } from '../output';

export async function openImage(positionals: string[], usage: string): Promise<CheckpointImage> {
  if (positionals.length !== 1) throw new CliError(`expected one IMAGE argument\nusage: ckpt-inspect ${usage}`);
  return CheckpointImage.open(positionals[0]);
}
