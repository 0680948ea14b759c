// `diff A B [--format=text|json] [--bytes [--max N]] [--match=tree|pid]`: what changed between two
// checkpoints (.ckpt images, CRIU checkpoints, or one of each), matched by meaning (processes by
// their place in the tree or by pid, threads, address ranges, fd numbers, signals), with the changed pages of each VMA from the page hashes (or bytes where none are
// stored). Exit status as diff(1): 0 the same, 1 different, 2 trouble (an image cannot be
// opened, or records of either could not be read and were left out).

import { Checkpoint, checkpointPageBytes, compareCheckpoints, diffNodeRecord } from '../../checkpoint';
import { countsText, DiffNode, FieldChange, formatBytes, ImageDiff, pagesText } from '../../image';
import type { Command } from './command';
import { JsonWriter } from '../jsonWriter';
import { CliError, EXIT_ERROR, EXIT_NO, EXIT_OK, wholeNumber } from '../output';
import { inImage, openNamed } from './open';

export const diffCommand: Command = {
  usage: 'diff A B [--format=text|json] [--bytes [--max N]] [--match=tree|pid]',
  summary: 'compare two images (processes by place in the tree, pages by their hashes); exit 1 if they differ',
  options: { format: { type: 'string', default: 'text' }, bytes: { type: 'boolean' }, max: { type: 'string' }, match: { type: 'string', default: 'tree' } },
  async run({ positionals, values }, out) {
    if (positionals.length !== 2) throw new CliError(`expected two images, A and B\nusage: ckpt-inspect ${this.usage}`);
    const format = String(values.format);
    if (format !== 'text' && format !== 'json') throw new CliError(`--format must be text or json, not '${format}'`);
    const match = String(values.match);
    if (match !== 'tree' && match !== 'pid') throw new CliError(`--match must be tree or pid, not '${match}'`);
    const maxRuns = wholeNumber(values.max, '--max', DEFAULT_BYTE_RUNS);
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
        const bytes = values.bytes ? await changedBytes(diff, a, b, maxRuns) : undefined;
        for (const line of diffText(diff, bytes)) {
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

/** Byte runs that `--bytes` prints when `--max` is not given. */
const DEFAULT_BYTE_RUNS = 32;
/** Bytes shown of one run; the rest is counted. */
const MAX_RUN_BYTES = 64;
const ROW = 16;

/**
 * The changed bytes under each VMA node, as lines: each run of differing bytes by address, A's
 * bytes then B's, 16 to a row as a hexdump shows them, at most `max` runs in all (then a note).
 * Pages are read from both images only here, one page at a time.
 */
async function changedBytes(d: ImageDiff, a: Checkpoint, b: Checkpoint, max: number): Promise<Map<DiffNode, string[]>> {
  const lines = new Map<DiffNode, string[]>();
  let shown = 0,
    more = 0;
  const walk = async (nodes: DiffNode[], proc: { a?: number; b?: number } | undefined): Promise<void> => {
    for (const n of nodes) {
      const own = n.kind === 'process' ? { a: diffNodeRecord(a, n, 'a'), b: diffNodeRecord(b, n, 'b') } : proc;
      if (n.pages && own) {
        const out: string[] = [];
        for (const r of n.pages.ranges) {
          if (r.change !== 'modified') continue;
          const ps = BigInt(Math.min(a.pageSize, b.pageSize));
          for (let page = BigInt(r.start); page < BigInt(r.end); page += ps) {
            if (shown >= max) {
              more++;
              continue;
            }
            const p = await checkpointPageBytes(a, b, page, own);
            if (!p.a || !p.b) continue;
            const x = Buffer.from(p.a),
              y = Buffer.from(p.b);
            for (const run of p.changed) {
              if (shown >= max) {
                more++;
                continue;
              }
              shown++;
              out.push(...runLines(page + BigInt(run.offset), x.subarray(run.offset, run.offset + run.length), y.subarray(run.offset, run.offset + run.length)));
            }
          }
        }
        if (out.length) lines.set(n, out);
      }
      await walk(n.children, own);
    }
  };
  await walk(d.nodes, undefined);
  if (more) {
    const last = [...lines.values()].pop();
    last?.push(`... more changed bytes not shown (--max ${max}; raise it to see them)`);
  }
  return lines;
}

function runLines(addr: bigint, x: Buffer, y: Buffer): string[] {
  const hexRow = (b: Buffer) =>
    [...b]
      .map((v) => v.toString(16).padStart(2, '0'))
      .join(' ')
      .padEnd(ROW * 3 - 1);
  const ascii = (b: Buffer) => [...b].map((v) => (v >= 0x20 && v < 0x7f ? String.fromCharCode(v) : '.')).join('');
  const shown = Math.min(x.length, MAX_RUN_BYTES);
  const out = [`0x${addr.toString(16)}: ${x.length} byte${x.length === 1 ? '' : 's'} changed`];
  for (let i = 0; i < shown; i += ROW) {
    const a = x.subarray(i, Math.min(i + ROW, shown)),
      b = y.subarray(i, Math.min(i + ROW, shown));
    const at = `0x${(addr + BigInt(i)).toString(16).padStart(12, '0')}`;
    out.push(`  ${at}  - ${hexRow(a)}  |${ascii(a)}|`, `  ${' '.repeat(at.length)}  + ${hexRow(b)}  |${ascii(b)}|`);
  }
  if (x.length > shown) out.push(`  ... ${x.length - shown} more bytes`);
  return out;
}

function nodeLines(n: DiffNode, indent: string, out: string[], bytes?: Map<DiffNode, string[]>): void {
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
    for (const l of bytes?.get(n) ?? []) out.push(`${inner}  ${l}`);
  }
  for (const c of n.children) nodeLines(c, `${indent}  `, out, bytes);
}

/** The diff for a terminal: a header per image, the tree of differences, a summary line. */
export function diffText(d: ImageDiff, bytes?: Map<DiffNode, string[]>): string[] {
  if (d.same) return ['no differences'];
  const out = [`--- ${d.a.name}  ${d.a.time}  ${formatBytes(d.a.size)}`, `+++ ${d.b.name}  ${d.b.time}  ${formatBytes(d.b.size)}`];
  for (const n of d.nodes) nodeLines(n, '', out, bytes);
  const counts = countsText(
    Object.entries(d.counts.byKind).map(([kind, c]) => ({ kind, ...c })),
    d.counts.pages,
  );
  const how =
    d.pageMethod === 'hashes'
      ? 'by page hash'
      : d.pageMethod === 'bytes'
        ? `by reading ${formatBytes(d.stats.bytesRead)} of pages`
        : d.pageMethod === 'mixed'
          ? `by hash and by reading ${formatBytes(d.stats.bytesRead)}`
          : '';
  out.push('', `${counts}${how ? `; pages compared ${how}` : ''}`);
  return out;
}
