// `pages IMAGE --addr ADDR [--len N] [--pid PID]`: a hexdump of memory from the image, by
// virtual address, saying which ranges hold no dumped bytes and why.

import { MemoryPiece } from '../../image';
import type { RecordRef } from '../../image/memoryMap';
import type { Command } from './command';
import { CliError, EXIT_OK, Output, parseHexAddress, parseLength, wholeNumber } from '../output';
import { withImage } from './open';

/** The longest --len: a memory read's limit (MAX_MEMORY_READ). */
const MAX_LEN = 16 * 1024 * 1024;

export const pagesCommand: Command = {
  usage: 'pages IMAGE --addr ADDR [--len N] [--pid PID]',
  summary: 'hexdump memory from the image at a virtual address',
  options: { addr: { type: 'string' }, len: { type: 'string', default: '256' }, pid: { type: 'string' } },
  run({ positionals, values }, out) {
    if (values.addr === undefined) throw new CliError('pages needs --addr ADDR');
    const addr = parseHexAddress(String(values.addr));
    const len = parseLength(String(values.len));
    if (len > BigInt(MAX_LEN)) throw new CliError('--len is limited to 16 MiB');
    if (addr + len > 1n << 64n) throw new CliError(`--addr 0x${addr.toString(16)} with --len ${len} runs past the end of the 64-bit address space`);
    const pid = values.pid === undefined ? undefined : wholeNumber(values.pid, '--pid', 0);
    return withImage(positionals, this.usage, async (img) => {
      // The first process needs nothing decoded; a pid is looked for among every process's.
      let proc: number | undefined = img.processRecords()[0];
      if (pid !== undefined) {
        proc = (await img.searchTarget()).processes.find((p) => p.pid === pid)?.record;
        if (proc === undefined) throw new CliError(`the image holds no process with pid ${pid}`);
      }
      if (proc === undefined) throw new CliError('the image holds no process');
      const mem = await img.memory(proc);
      for (const piece of await mem.read(addr, Number(len))) await printPiece(piece, out);
      return EXIT_OK;
    });
  },
};

const addrText = (a: bigint) => a.toString(16).padStart(16, '0');

async function printPiece(p: MemoryPiece<RecordRef>, out: Output): Promise<void> {
  const end = p.addr + BigInt(p.length);
  const where = p.vma ? ` in ${p.vma.path || p.vma.kind}` : '';
  if (p.state !== 'dumped' || !p.bytes) {
    const why = p.state === 'unmapped' ? 'not mapped' : 'mapped, not in the image (never touched, zero, or clean file pages)';
    out.line(`${addrText(p.addr)}-${addrText(end)}  ${why}${where}`);
    return;
  }
  for (const row of hexdumpRows(p.addr, p.bytes)) {
    out.line(row);
    if (out.needsDrain) await out.drain();
  }
}

/** Lines of `address  16 hex bytes  |ascii|`, like hexdump -C. */
export function* hexdumpRows(addr: bigint, bytes: Uint8Array): Generator<string> {
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16);
    const hexes: string[] = [];
    for (let k = 0; k < 16; k++) hexes.push(k < row.length ? row[k].toString(16).padStart(2, '0') : '  ');
    const ascii = Array.from(row, (c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.')).join('');
    yield `${addrText(addr + BigInt(i))}  ${hexes.slice(0, 8).join(' ')}  ${hexes.slice(8).join(' ')}  |${ascii}|`;
  }
}
