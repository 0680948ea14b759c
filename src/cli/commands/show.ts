// `show IMAGE`: the record tree in the terminal, one line per record, large payloads summarised;
// with -v, each record's decoded fields under it. IMAGE is a .ckpt image or a CRIU checkpoint.

import type { Checkpoint } from '../../checkpoint';
import { FieldNode, formatBytes, ImageError } from '../../image';
import type { Command } from '../ckptInspect';
import { EXIT_OK, Output } from '../output';
import { openImage } from './open';

export const showCommand: Command = {
  usage: 'show IMAGE [-v]',
  summary: 'print the record tree; -v adds every decoded field',
  options: { verbose: { type: 'boolean', short: 'v' } },
  async run({ positionals, values }, out) {
    const img = await openImage(positionals, this.usage);
    try {
      const s = await img.summary();
      if (s.format === 'ckpt') out.line(`${s.name}: ckpt image ${s.version}, ${s.arch}, kernel ${s.kernel}, host ${s.hostname}`);
      else out.line(`${s.name}: CRIU checkpoint (${s.version}), ${s.arch}${s.hostname ? `, host ${s.hostname}` : ''}`);
      out.line(`  taken ${s.time} by ${s.checkpointer}${s.flags.length ? ` [${s.flags.join(', ')}]` : ''}, ${s.records} records, ${formatBytes(s.size)}`);
      const c = s.container;
      if (c) {
        out.line(`  container ${JSON.stringify(c.name)} (${c.engine}, ${c.runtime || 'runtime ?'}), image ${c.image || '?'}, created ${c.created || '?'}`);
        out.line(`    command ${c.command.map((a) => JSON.stringify(a)).join(' ')}; ${c.env.length} environment variables`);
      }
      for (const p of s.processes) {
        out.line(`  process ${p.pid} ${JSON.stringify(p.comm)}${s.processes.length > 1 ? ` (parent ${p.ppid})` : ''}: ${p.cmdline.map((a) => JSON.stringify(a)).join(' ')}`);
        out.line(`    ${p.threads.length} threads, ${p.vmas} VMAs, ${formatBytes(p.dumpedBytes)} of pages, ${p.fds} fds`);
      }
      out.line('');
      await printTree(img, out, values.verbose === true);
      printProblems(img, out);
      return EXIT_OK;
    } finally {
      await img.close();
    }
  },
};

async function printTree(img: Checkpoint, out: Output, verbose: boolean): Promise<void> {
  const walk = async (list: readonly number[], prefix: string) => {
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      const last = i === list.length - 1;
      const d = await img.describe(r);
      const branch = prefix === '' ? '' : last ? '└─ ' : '├─ ';
      out.line(`${prefix}${branch}#${r} ${d.title}${d.tag !== undefined ? ` tag ${d.tag}` : ''}: ${d.detail}`);
      const childPrefix = prefix === '' ? '   ' : `${prefix}${last ? '   ' : '│  '}`;
      if (verbose) {
        const fields = await img.layout(r).then(
          (l) => l.fields,
          (e) => {
            if (e instanceof ImageError) return undefined;
            throw e;
          },
        );
        if (fields) printFields(fields, out, `${childPrefix}    `);
      }
      await walk(img.children(r), childPrefix);
    }
  };
  await walk(img.children(), '');
}

function printFields(fields: FieldNode[], out: Output, indent: string): void {
  for (const f of fields) {
    out.line(`${indent}${f.name}: ${f.display}`);
    if (f.children && f.children.length <= 64) printFields(f.children, out, `${indent}  `);
  }
}

export function printProblems(img: Checkpoint, out: Output): void {
  const problems = [...img.problems, ...img.layoutProblems];
  if (problems.length === 0) return;
  out.line('');
  out.line(`${problems.length} problem${problems.length === 1 ? '' : 's'}:`);
  for (const p of problems) out.line(`  ${p.code === 'unknown-type' ? 'note' : 'error'}: ${p.message}`);
}
