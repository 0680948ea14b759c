// `export-criu IMAGE.ckpt -o DIR`: a .ckpt image as a CRIU image folder (src/convert/ckptToCriu.ts),
// which this project's CRIU reader and `crit` read. Says what it wrote and what CRIU's model had
// no place for.

import { exportCkptToCriu } from '../../convert/ckptToCriu';
import { checkpointFormat } from '../../checkpoint';
import type { Command } from './command';
import { CliError, EXIT_OK } from '../output';
import { inImage } from './open';

export const exportCriuCommand: Command = {
  usage: 'export-criu IMAGE.ckpt -o DIR',
  summary: 'write a .ckpt image as a CRIU image folder (DIR must not exist, or be empty)',
  options: { output: { type: 'string', short: 'o' } },
  async run({ positionals, values }, out) {
    if (positionals.length !== 1 || !values.output) throw new CliError(`expected an IMAGE.ckpt and -o DIR\nusage: ckpt-inspect ${this.usage}`);
    const [from] = positionals;
    const to = String(values.output);
    let format: string | undefined;
    try {
      format = await checkpointFormat(from);
    } catch (e) {
      throw inImage(from, e);
    }
    if (format !== 'ckpt') throw new CliError(`${from}: not a .ckpt image${format === 'criu' ? ' (it is a CRIU checkpoint already)' : ''}`);
    let r;
    try {
      r = await exportCkptToCriu(from, to);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err?.code === 'ENOTEMPTY' || err?.code === 'EEXIST') throw new CliError(`${to}: exists and is not an empty folder`);
      throw inImage(from, e);
    }
    out.line(`${to}: ${r.processes} process${r.processes === 1 ? '' : 'es'}, ${r.threads} thread${r.threads === 1 ? '' : 's'}, ${r.vmas} VMAs, ${r.pages} pages; ${r.files.length} files`);
    if (r.leftOut.length) {
      out.line(`left out (${r.leftOut.length}; CRIU's images have no place for them, or this exporter does not write them):`);
      for (const l of r.leftOut) out.line(`  ${l}`);
    }
    return EXIT_OK;
  },
};
