// `show IMAGE`: the record tree in the terminal, one line per record, large payloads summarised;
// with -v, each record's decoded fields under it. IMAGE is a .ckpt image or a CRIU checkpoint.

import type { Checkpoint } from '../../checkpoint';
import { FieldNode, formatBytes, ImageError, problemSeverity, quote } from '../../image';
import type { Command } from './command';
import { EXIT_NO, EXIT_OK, Output } from '../output';
import { withImage } from './open';
import { plural } from '../../shared/plural';

/**
 * The tree is drawn with indentation down to this depth; records deeper than that (a hostile
 * image can nest every record in the one before) are drawn at this indentation with their depth
 * written out, so that the output stays linear in the number of records.
 */
export const MAX_DRAWN_DEPTH = 32;

export const showCommand: Command = {
  usage: 'show IMAGE [-v]',
  summary: 'print the record tree; -v adds every decoded field',
  options: { verbose: { type: 'boolean', short: 'v' } },
  run({ positionals, values }, out) {
    return withImage(positionals, this.usage, async (img) => {
      const s = await img.summary();
      if (s.format === 'ckpt') out.line(`${s.name}: ckpt image ${s.version}, ${s.arch}, kernel ${s.kernel}, host ${s.hostname}`);
      else out.line(`${s.name}: CRIU checkpoint (${s.version}), ${s.arch}${s.hostname ? `, host ${s.hostname}` : ''}`);
      out.line(`  taken ${s.time} by ${s.checkpointer}${s.flags.length ? ` [${s.flags.join(', ')}]` : ''}, ${plural(s.records, 'record')}, ${formatBytes(s.size)}`);
      const c = s.container;
      if (c) {
        out.line(`  container ${quote(c.name)} (${c.engine}, ${c.runtime || 'runtime ?'}), image ${c.image || '?'}, created ${c.created || '?'}`);
        out.line(`    command ${c.command.map(quote).join(' ')}; ${plural(c.env.length, 'environment variable')}`);
      }
      for (const p of s.processes) {
        const more = p.cmdlineOmitted ? ` ... (${p.cmdlineOmitted} more)` : '';
        out.line(`  process ${p.pid} ${quote(p.comm)}${s.processes.length > 1 ? ` (parent ${p.ppid})` : ''}: ${p.cmdline.map(quote).join(' ')}${more}`);
        out.line(`    ${plural(p.threads.length, 'thread')}, ${plural(p.vmas, 'VMA')}, ${formatBytes(p.dumpedBytes)} of pages, ${plural(p.fds, 'fd')}`);
      }
      out.line('');
      await printTree(img, out, values.verbose === true);
      // as verify: 1 when the image is damaged, though all that could be read is shown
      return (await printProblems(img, out)) ? EXIT_NO : EXIT_OK;
    });
  },
};

/** The record tree, depth first, with an explicit stack: a tree can be as deep as it is long. */
async function printTree(img: Checkpoint, out: Output, verbose: boolean): Promise<void> {
  const stack: { list: readonly number[]; next: number; prefix: string; depth: number }[] = [{ list: img.children(), next: 0, prefix: '', depth: 0 }];
  while (stack.length) {
    const level = stack[stack.length - 1];
    if (level.next === level.list.length) {
      stack.pop();
      continue;
    }
    const r = level.list[level.next++];
    const last = level.next === level.list.length;
    const d = await img.describe(r);
    const branch = level.depth === 0 ? '' : last ? '└─ ' : '├─ ';
    const depth = level.depth > MAX_DRAWN_DEPTH ? `(depth ${level.depth}) ` : '';
    out.line(`${level.prefix}${branch}${depth}#${r} ${d.title}${d.tag !== undefined ? ` tag ${d.tag}` : ''}: ${d.detail}`);
    const childPrefix = level.depth === 0 ? '   ' : level.depth >= MAX_DRAWN_DEPTH ? level.prefix : `${level.prefix}${last ? '   ' : '│  '}`;
    if (verbose) {
      // A payload that cannot be decoded says so in its line above.
      const fields = await img.fields(r).catch((e: unknown) => {
        if (e instanceof ImageError) return undefined;
        throw e;
      });
      if (fields) printFields(fields, out, `${childPrefix}    `);
    }
    const children = img.children(r);
    if (children.length) stack.push({ list: children, next: 0, prefix: childPrefix, depth: level.depth + 1 });
    if (out.needsDrain) await out.drain();
  }
}

function printFields(fields: FieldNode[], out: Output, indent: string): void {
  for (const f of fields) {
    out.line(`${indent}${f.name}: ${f.display}`);
    if (f.children && f.children.length <= 64) printFields(f.children, out, `${indent}  `);
  }
}

/** Lists the image's problems; returns how many are errors (an unknown record type is only a note). */
export async function printProblems(img: Checkpoint, out: Output): Promise<number> {
  const problems = [...img.problems, ...img.layoutProblems];
  if (problems.length === 0) return 0;
  out.line('');
  out.line(`${plural(problems.length, 'problem')}:`);
  for (const p of problems) {
    out.line(`  ${problemSeverity(p.code)}: ${p.message}`);
    if (out.needsDrain) await out.drain();
  }
  return problems.filter((p) => problemSeverity(p.code) === 'error').length;
}
