// `pages IMAGE --addr ADDR [--len N] [--pid PID]`: a hexdump of memory from the image, by
// virtual address, saying which ranges hold no dumped bytes and why.

import { MemoryPiece } from '../../image';
import type { RecordRef } from '../../image/memoryMap';
import type { Command } from '../ckptInspect';
import { CliError, EXIT_OK, Output, parseAddress } from '../output';
import { openImage } from './open';

export const pagesCommand: Command = {
  usage: 'pages IMAGE --addr ADDR [--len N] [--pid PID]',
  summary: 'hexdump memory from the image at a virtual address',
  options: { addr: { type: 'string' }, len: { type: 'string', default: '256' }, pid: { type: 'string' } },
  async run({ positionals, values }, out) {
    if (values.addr === undefined) throw new CliError('pages needs --addr ADDR');
    const addr = parseAddress(String(values.addr));
    const len = Number(parseAddress(String(values.len), 'length'));
    if (len > 16 * 1024 * 1024) throw new CliError('--len is limited to 16 MiB');
    const img = await openImage(positionals, this.usage);
    try {
      const procs = (await img.searchTarget()).processes;
      let proc = procs[0];
      if (values.pid !== undefined) {
        const want = Number(values.pid);
        proc = procs.find((p) => p.pid === want)!;
        if (!proc) throw new CliError(`the image holds no process with pid ${values.pid}`);
      }
      if (!proc) throw new CliError('the image holds no process');
      const mem = await proc.memory();
      for (const piece of await mem.read(addr, len)) printPiece(piece, out);
      return EXIT_OK;
    } finally {
      await img.close();
    }
  },
};

const addrText = (a: bigint) => a.toString(16).padStart(16, '0');

function printPiece(p: MemoryPiece<RecordRef>, out: Output): void {
  const end = p.addr + BigInt(p.length);
  const where = p.vma ? ` in ${p.vma.path || p.vma.kind}` : '';
  if (p.state !== 'dumped' || !p.bytes) {
    const why = p.state === 'unmapped' ? 'not mapped' : 'mapped, not in the image (never touched, zero, or clean file pages)';
    out.line(`${addrText(p.addr)}-${addrText(end)}  ${why}${where}`);
    return;
  }
  out.line(hexdump(p.addr, p.bytes));
}

/** Lines of `address  16 hex bytes  |ascii|`, like hexdump -C. */
export function hexdump(addr: bigint, bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16);
    const hexes: string[] = [];
    for (let k = 0; k < 16; k++) hexes.push(k < row.length ? row[k].toString(16).padStart(2, '0') : '  ');
    const ascii = Array.from(row, (c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.')).join('');
    lines.push(`${addrText(addr + BigInt(i))}  ${hexes.slice(0, 8).join(' ')}  ${hexes.slice(8).join(' ')}  |${ascii}|`);
  }
  return lines.join('\n');
}
