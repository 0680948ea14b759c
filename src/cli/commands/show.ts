// `show IMAGE`: the record tree in the terminal, one line per record, large payloads summarised;
// with -v, each record's decoded fields under it.

import { CheckpointImage, describeRecord, FieldNode, formatBytes, payloadTypeName, RecordEntry, renderFields, summarizeImage } from '../../image';
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
      const s = await summarizeImage(img);
      out.line(`${s.name}: ckpt image ${s.version}, ${s.arch}, kernel ${s.kernel}, host ${s.hostname}`);
      out.line(`  taken ${s.time} by ${s.checkpointer}${s.flags.length ? ` [${s.flags.join(', ')}]` : ''}, ${s.records} records, ${formatBytes(s.size)}`);
      for (const p of s.processes) {
        out.line(`  process ${p.pid} ${JSON.stringify(p.comm)}: ${p.cmdline.map((a) => JSON.stringify(a)).join(' ')}`);
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

async function printTree(img: CheckpointImage, out: Output, verbose: boolean): Promise<void> {
  const walk = async (list: RecordEntry[], prefix: string) => {
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      const last = i === list.length - 1;
      const d = await describeRecord(img, r);
      const branch = prefix === '' ? '' : last ? '└─ ' : '├─ ';
      out.line(`${prefix}${branch}#${r.index} ${d.title} tag ${r.tag}: ${d.detail}`);
      const childPrefix = prefix === '' ? '   ' : `${prefix}${last ? '   ' : '│  '}`;
      if (verbose) {
        const typeName = payloadTypeName(r.type);
        const payload = typeName ? await img.decode(r).catch(() => undefined) : undefined;
        if (payload && typeName) printFields(renderFields(typeName, payload as never), out, `${childPrefix}    `);
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

export function printProblems(img: CheckpointImage, out: Output): void {
  const problems = img.problems;
  if (problems.length === 0) return;
  out.line('');
  out.line(`${problems.length} problem${problems.length === 1 ? '' : 's'}:`);
  for (const p of problems) out.line(`  ${p.code === 'unknown-type' ? 'note' : 'error'}: ${p.message}`);
}
