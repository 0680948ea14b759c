// `convert CRIU_CHECKPOINT -o IMAGE.ckpt`: a CRIU checkpoint (folder, inventory.img or archive)
// as a .ckpt image that `ckpt restore` takes (src/convert/criuToCkpt.ts). Says what it wrote,
// what it left out (each also an `unsupported` record in the image), and what it took from this
// machine rather than from the checkpoint.

import { convertCriuToCkpt } from '../../convert/criuToCkpt';
import { checkpointFormat } from '../../checkpoint';
import { formatBytes } from '../../image';
import type { Command } from './command';
import { CliError, EXIT_OK } from '../output';
import { inImage } from './open';

export const convertCommand: Command = {
  usage: 'convert CRIU_CHECKPOINT -o IMAGE.ckpt',
  summary: 'write a CRIU checkpoint (folder or archive) as a .ckpt image for ckpt restore',
  options: { output: { type: 'string', short: 'o' } },
  async run({ positionals, values }, out) {
    if (positionals.length !== 1 || !values.output) throw new CliError(`expected a CRIU checkpoint and -o IMAGE.ckpt\nusage: ckpt-inspect ${this.usage}`);
    const [from] = positionals;
    const to = String(values.output);
    let format: string | undefined;
    try {
      format = await checkpointFormat(from);
    } catch (e) {
      throw inImage(from, e);
    }
    if (format !== 'criu') throw new CliError(`${from}: not a CRIU checkpoint (a folder with inventory.img, or a checkpoint archive)`);
    let r;
    try {
      r = await convertCriuToCkpt(from, to);
    } catch (e) {
      throw inImage(from, e);
    }
    out.line(
      `${to}: ${r.processes} process${r.processes === 1 ? '' : 'es'}, ${r.threads} thread${r.threads === 1 ? '' : 's'}, ${r.vmas} VMAs, ${r.pages} pages (${formatBytes(r.pages * 4096)}), ${r.files} open files`,
    );
    for (const n of r.notes) out.line(`note: ${n}`);
    if (r.leftOut.length) {
      out.line(`left out (${r.leftOut.length}, each an unsupported record in the image):`);
      for (const l of r.leftOut) out.line(`  ${l}`);
    }
    return EXIT_OK;
  },
};
