// `diff A B [--format=text|json] [--bytes] [--match=tree|pid]`: what changed between two
// checkpoints (.ckpt images, CRIU checkpoints, or one of each), matched by meaning (processes by
// their place in the tree or by pid, threads, address ranges, fd numbers, signals), with the changed pages of each VMA from the page hashes (or bytes where none are
// stored). Exit status as diff(1): 0 the same, 1 different, 2 trouble (an image cannot be
// opened, or records of either could not be read and were left out).

import { Checkpoint, compareCheckpoints } from '../../checkpoint';
import { countsText, DiffNode, FieldChange, formatBytes, ImageDiff, pagesText } from '../../image';
import type { Command } from '../ckptInspect';
import { JsonWriter } from '../jsonWriter';
import { CliError, EXIT_ERROR, EXIT_NO, EXIT_OK } from '../output';
import { inImage, openNamed } from './open';

export const diffCommand: Command = {
  usage: 'diff A B [--format=text|json] [--bytes] [--match=tree|pid]',
  summary: 'compare two images (processes by place in the tree, pages by their hashes); exit 1 if they differ',
  options: { format: { type: 'string', default: 'text' }, bytes: { type: 'boolean' }, match: { type: 'string', default: 'tree' } },
  async run({ positionals, values }, out) {
    if (positionals.length !== 2) throw new CliError(`expected two images, A and B\nusage: ckpt-inspect ${this.usage}`);
    const format = String(values.format);
    if (format !== 'text' && format !== 'json') throw new CliError(`--format must be text or json, not '${format}'`);
    const match = String(values.match);
    if (match !== 'tree' && match !== 'pid') throw new CliError(`--match must be tree or pid, not '${match}'`);
    const a = await openNamed(positionals[0]);
    let b: Checkpoint | undefined;
    try {
      b = await openNamed(positionals[1]);
      let diff: ImageDiff;
      try {
        diff = await compareCheckpoints(a, b, { pages: values.bytes ? 'bytes' : 'auto', match });
      } catch (e) {
        // Records that cannot be decoded are left out (diff.problems); what escapes is a file
        // that could not be read, which the error names.
        throw inImage(`${positionals[0]} or ${positionals[1]}`, e);
      }
      if (format === 'json') {
        await new JsonWriter(out).value(diff);
        out.text('\n');
      } else {
        for (const line of diffText(diff)) {
          out.line(line);
          if (out.needsDrain) await out.drain();
        }
      }
      for (const p of diff.problems) out.error(`ckpt-inspect diff: ${p.side === 'a' ? 'A' : 'B'}: ${p.message} (left out of the comparison)`);
      return diff.problems.length ? EXIT_ERROR : diff.same ? EXIT_OK : EXIT_NO;
    } finally {
      await a.close();
      await b?.close();
    }
  },
};

const MARK = { added: '+', removed: '-', changed: '~' } as const;
/** Page ranges listed per VMA in text; JSON lists them all. */
const MAX_RANGES_SHOWN = 16;

function fieldText(f: FieldChange): string {
  if (f.bytes) {
    const { aLength, bLength, differ, first } = f.bytes;
    const size = aLength === bLength ? `${aLength} bytes` : `${aLength} -> ${bLength} bytes`;
    return `${f.path}: ${size}, ${differ} differ${differ ? ` from offset 0x${first.toString(16)}` : ''}`;
  }
  if (f.omitted) return `${f.path}: ${f.omitted} more differ, not listed`;
  const side = (text: string) => text || '(absent)';
  return `${f.path}: ${side(f.aText)} -> ${side(f.bText)}`;
}

function nodeLines(n: DiffNode, indent: string, out: string[]): void {
  let title = `${indent}${MARK[n.change]} ${n.kind === 'vma' && n.key !== 'outside' ? `vma ${n.label}` : n.label}`;
  if (n.aspects?.length) title += `: ${n.aspects.join(', ')}`;
  if (n.change !== 'changed' && n.pages) title += ` (${pagesText(n.pages)})`;
  out.push(title);
  const inner = `${indent}    `;
  for (const f of n.fields) out.push(`${inner}${fieldText(f)}`);
  if (n.pages) {
    if (n.change === 'changed') out.push(`${inner}pages: ${pagesText(n.pages)}`);
    for (const r of n.pages.ranges.slice(0, MAX_RANGES_SHOWN)) {
      const what = r.change === 'modified' ? 'modified' : r.change === 'added' ? 'only in B' : 'only in A';
      out.push(`${inner}  ${r.start}-${r.end}  ${what}, ${r.pages} page${r.pages === 1 ? '' : 's'}`);
    }
    if (n.pages.ranges.length > MAX_RANGES_SHOWN) out.push(`${inner}  ... ${n.pages.ranges.length - MAX_RANGES_SHOWN} more ranges (--format=json lists them all)`);
  }
  for (const c of n.children) nodeLines(c, `${indent}  `, out);
}

/** The diff for a terminal: a header per image, the tree of differences, a summary line. */
export function diffText(d: ImageDiff): string[] {
  if (d.same) return [];
  const out = [`--- ${d.a.name}  ${d.a.time}  ${formatBytes(d.a.size)}`, `+++ ${d.b.name}  ${d.b.time}  ${formatBytes(d.b.size)}`];
  for (const n of d.nodes) nodeLines(n, '', out);
  const counts = countsText(Object.entries(d.counts.byKind).map(([kind, c]) => ({ kind, ...c })), d.counts.pages);
  const how = d.pageMethod === 'hashes' ? 'by page hash' : d.pageMethod === 'bytes' ? `by reading ${formatBytes(d.stats.bytesRead)} of pages` : d.pageMethod === 'mixed' ? `by hash and by reading ${formatBytes(d.stats.bytesRead)}` : '';
  out.push('', `${counts}${how ? `; pages compared ${how}` : ''}`);
  return out;
}
