// `verify IMAGE`: check everything, page bytes included. Exit 0 on a sound image, 1 with the
// list of problems on a damaged one. For a CRIU checkpoint, which has no checksums: every entry
// decodes, every process is complete, every pagemap run lies in its pages file, every page reads.

import { formatBytes, problemSeverity } from '../../image';
import type { Command } from './command';
import { JsonWriter } from '../jsonWriter';
import { CliError, EXIT_NO, EXIT_OK } from '../output';
import { withImage } from './open';
import { plural } from '../../shared/plural';

export const verifyCommand: Command = {
  usage: 'verify IMAGE [--format=text|json]',
  summary: 'check every checksum, page hash, tag and length; exit 1 if damaged',
  options: { format: { type: 'string', default: 'text' } },
  run({ positionals, values }, out) {
    const format = String(values.format);
    if (format !== 'text' && format !== 'json') throw new CliError(`--format must be text or json, not '${format}'`);
    return withImage(positionals, this.usage, async (img) => {
      const report = await img.verify();
      if (format === 'json') {
        await new JsonWriter(out).value(report);
        out.text('\n');
      } else {
        for (const p of report.problems) {
          out.line(`${problemSeverity(p.code)}: ${p.message}`);
          if (out.needsDrain) await out.drain();
        }
        const what = `${plural(report.records, 'record')}, ${plural(report.pagesChecked, 'page')} (${formatBytes(report.bytesChecked)}) in ${report.ms} ms`;
        out.line(report.ok ? `OK: ${what}` : `DAMAGED: ${plural(report.problems.filter((p) => problemSeverity(p.code) === 'error').length, 'problem')}; checked ${what}`);
      }
      return report.ok ? EXIT_OK : EXIT_NO;
    });
  },
};
