// `core IMAGE -o FILE [--pid PID] [--force]`: an ELF core file of one process of a .ckpt image
// (src/image/core/writeCore.ts), for `gdb PROGRAM FILE`. Written atomically with mode 0600;
// an existing FILE is replaced only with --force.

import fs from 'fs';
import path from 'path';
import { checkpointFormat } from '../../checkpoint';
import { CheckpointImage, formatBytes } from '../../image';
import { CoreError, gdbCommandLine, writeCore } from '../../image/core/writeCore';
import type { Command } from './command';
import { CliError, EXIT_OK, wholeNumber } from '../output';
import { inImage } from './open';

export const coreCommand: Command = {
  usage: 'core IMAGE.ckpt -o FILE [--pid PID] [--force] [--no-fsync]',
  summary: 'write an ELF core file of a process of the image (the root by default), for gdb PROGRAM FILE',
  options: { output: { type: 'string', short: 'o' }, pid: { type: 'string' }, force: { type: 'boolean' }, 'no-fsync': { type: 'boolean' } },
  async run({ positionals, values }, out) {
    if (positionals.length !== 1 || !values.output) throw new CliError(`expected an IMAGE.ckpt and -o FILE\nusage: ckpt-inspect ${this.usage}`);
    const [from] = positionals;
    const to = String(values.output);
    const pid = values.pid === undefined ? undefined : wholeNumber(values.pid, '--pid', 1);
    let format: string | undefined;
    try {
      format = await checkpointFormat(from);
    } catch (e) {
      throw inImage(from, e);
    }
    if (format !== 'ckpt') throw new CliError(`${from}: not a .ckpt image (core takes .ckpt images)`);
    if (!values.force && fs.existsSync(to)) throw new CliError(`${to}: exists (--force replaces it)`);
    let img: CheckpointImage | undefined;
    const t0 = process.hrtime.bigint();
    try {
      img = await CheckpointImage.open(from);
      const r = await writeCore(img, to, { pid, fsync: !values['no-fsync'] });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      out.line(`${to}: core of process ${r.pid} (${r.exe}), ${r.threads} thread${r.threads === 1 ? '' : 's'}, ${r.loads} segments, ${formatBytes(r.dataBytes)} of memory in ${ms.toFixed(0)} ms`);
      out.line(`debug it with: ${gdbCommandLine(r.exe, path.resolve(to))}`);
      return EXIT_OK;
    } catch (e) {
      if (e instanceof CoreError) throw new CliError(`${from}: ${e.message}`);
      throw inImage(from, e);
    } finally {
      await img?.close();
    }
  },
};
