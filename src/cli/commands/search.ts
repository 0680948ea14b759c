// `search IMAGE PATTERN [--hex|--regex|--utf16] [--ignore-case] [--context N] [--max N]
// [--pid PID] [--format=text|json]`: find text, bytes or a regular expression in the dumped
// memory of an image, by virtual address. Exit status as grep: 0 found, 1 not found, 2 error.
// Hits go out as they are found, in text and in JSON alike, so that memory stays bounded
// however many there are.

import { bytesToHex, escapeBytes, formatBytes, SearchHit, SearchPatternError, searchMemory, SearchQuery } from '../../image';
import type { Command } from './command';
import { JsonWriter } from '../jsonWriter';
import { CliError, EXIT_NO, EXIT_OK, Output, wholeNumber } from '../output';
import { withImage } from './open';
import { hexdumpRows } from './pages';

const DEFAULT_MAX = 1000;

function printHit(h: SearchHit, out: Output, context: boolean): void {
  const { before, match, after } = h;
  const where = h.vma ? `${h.vma.prot} ${h.vma.path || h.vma.kind}+${h.vmaOffset}` : 'outside any VMA';
  const shown = match.length > 64 ? `${escapeBytes(match.subarray(0, 64))}...` : escapeBytes(match);
  out.line(`${h.address}  pid ${h.pid}  ${where}  ${shown}`);
  if (context) {
    const bytes = Buffer.concat([before, match, after]);
    for (const row of hexdumpRows(BigInt(h.address) - BigInt(before.length), bytes)) out.line(`    ${row}`);
  }
}

/** A hit as the JSON output documents it: its context and match as hex strings. */
function hitJson(h: SearchHit): Omit<SearchHit, 'before' | 'match' | 'after'> & { before: string; match: string; after: string } {
  return { ...h, before: bytesToHex(h.before), match: bytesToHex(h.match), after: bytesToHex(h.after) };
}

export const searchCommand: Command = {
  usage: 'search IMAGE PATTERN [--hex|--regex|--utf16] [-i] [--context N] [--max N] [--pid PID] [--format=text|json]',
  summary: 'find text, hex bytes (?? for any byte) or a regex in the memory; exit 1 if not found',
  options: {
    hex: { type: 'boolean' },
    regex: { type: 'boolean' },
    utf16: { type: 'boolean' },
    'ignore-case': { type: 'boolean', short: 'i' },
    context: { type: 'string' },
    max: { type: 'string' },
    pid: { type: 'string' },
    format: { type: 'string', default: 'text' },
  },
  run({ positionals, values }, out) {
    if (positionals.length !== 2) throw new CliError(`expected an IMAGE and a PATTERN\nusage: ckpt-inspect ${this.usage}`);
    const modes = (['hex', 'regex', 'utf16'] as const).filter((m) => values[m]);
    if (modes.length > 1) throw new CliError(`--${modes.join(' and --')} cannot be used together`);
    const format = String(values.format);
    if (format !== 'text' && format !== 'json') throw new CliError(`--format must be text or json, not '${format}'`);
    const query: SearchQuery = {
      mode: values.hex ? 'hex' : values.regex ? 'regex' : 'text',
      pattern: positionals[1],
      encoding: values.utf16 ? 'utf16le' : 'utf8',
      ignoreCase: values['ignore-case'] === true,
    };
    const context = wholeNumber(values.context, '--context', 16);
    if (context > 4096) throw new CliError('--context is limited to 4096 bytes');
    const maxHits = wholeNumber(values.max, '--max', DEFAULT_MAX);
    const pid = values.pid === undefined ? undefined : wholeNumber(values.pid, '--pid', 0);
    return withImage([positionals[0]], this.usage, async (img) => {
      const t0 = performance.now();
      const json = format === 'json' ? new JsonWriter(out) : undefined;
      try {
        const it = searchMemory(await img.searchTarget(), query, { context, maxHits: maxHits || Infinity, pid });
        let r = await it.next();
        if (json) {
          json.begin(false);
          for (const [k, v] of Object.entries({ image: img.name, query, context })) await json.member(k, v);
          json.key('hits');
          json.begin(true);
        }
        for (; !r.done; r = await it.next()) {
          if (json) await json.value(hitJson(r.value));
          else printHit(r.value, out, context > 0);
          if (out.needsDrain) await out.drain();
        }
        const end = r.value;
        const ms = Math.round(performance.now() - t0);
        if (json) {
          json.end();
          for (const [k, v] of Object.entries({ scannedBytes: end.scannedBytes, totalBytes: end.totalBytes, truncated: end.truncated, ms })) await json.member(k, v);
          json.end();
          out.text('\n');
        } else {
          const n = end.hits;
          out.line(`${n} match${n === 1 ? '' : 'es'} in ${formatBytes(end.scannedBytes)} of memory, ${ms} ms${end.truncated ? ` (stopped at --max ${maxHits})` : ''}`);
        }
        return end.hits > 0 ? EXIT_OK : EXIT_NO;
      } catch (e) {
        // A bad pattern, or a --pid the image does not hold.
        if (e instanceof SearchPatternError || e instanceof RangeError) throw new CliError(e.message);
        throw e;
      }
    });
  },
};
