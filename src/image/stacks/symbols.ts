// Function symbols of an ELF file (.symtab, else .dynsym), sorted by address, to name the
// function an address is in: the nearest function symbol at or before it, with the offset.
// Addresses are the file's own (before load bias); they are below 2^53 in any real file, and a
// symbol whose value is not is dropped. Names stay in the string table until asked for.

import { Cursor, stringAt } from './cursor';
import { SHT_DYNSYM, SHT_SYMTAB } from '../elfFormat';
import { ElfFile } from './elfFile';

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
/** Most symbols kept from one table (node's .symtab has ~110k functions). */
const MAX_SYMBOLS = 4_000_000;

export interface SymbolHit {
  name: string;
  /** addr - the symbol's address. */
  offset: number;
  /** Whether addr is past the symbol's size (then the name is a guess: the nearest before it). */
  outside: boolean;
}

export class SymbolTable {
  private constructor(
    private readonly addrs: Float64Array,
    private readonly sizes: Float64Array,
    private readonly names: Uint32Array,
    private readonly strtab: Uint8Array,
    /** Which table they came from. */
    readonly source: '.symtab' | '.dynsym' | 'none',
  ) {}

  static empty(): SymbolTable {
    return new SymbolTable(new Float64Array(0), new Float64Array(0), new Uint32Array(0), new Uint8Array(0), 'none');
  }

  /** Bytes held: the address, size and name arrays and the string table. */
  get bytes(): number {
    return this.addrs.byteLength + this.sizes.byteLength + this.names.byteLength + this.strtab.byteLength;
  }

  get count(): number {
    return this.addrs.length;
  }

  /** The function symbols of `elf`: .symtab when it has one, else .dynsym. A damaged table gives none. */
  static of(elf: ElfFile): SymbolTable {
    for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
      const s = elf.sections.find((x) => x.type === type);
      if (!s) continue;
      const strSec = elf.sections[s.link];
      if (!strSec || s.entsize < 24) continue;
      try {
        const table = elf.sectionBytes(s);
        const strtab = elf.sectionBytes(strSec);
        const n = Math.min(Math.floor(table.length / s.entsize), MAX_SYMBOLS);
        const list: { addr: number; size: number; name: number }[] = [];
        const c = new Cursor(table);
        for (let i = 0; i < n; i++) {
          c.pos = i * s.entsize;
          const name = c.u32(),
            info = c.u8();
          c.skip(1);
          const shndx = c.u16(),
            value = c.u64(),
            size = c.u64();
          const kind = info & 0xf;
          if ((kind !== STT_FUNC && kind !== STT_GNU_IFUNC) || shndx === 0 || value === 0n) continue;
          if (value > BigInt(Number.MAX_SAFE_INTEGER) || size > 0xffffffffn) continue;
          list.push({ addr: Number(value), size: Number(size), name });
        }
        if (!list.length) continue;
        // By address, the sized (and so more precise) symbol first among aliases.
        list.sort((a, b) => a.addr - b.addr || b.size - a.size);
        const addrs = new Float64Array(list.length),
          sizes = new Float64Array(list.length),
          names = new Uint32Array(list.length);
        list.forEach((x, i) => {
          addrs[i] = x.addr;
          sizes[i] = x.size;
          names[i] = x.name;
        });
        return new SymbolTable(addrs, sizes, names, strtab, type === SHT_SYMTAB ? '.symtab' : '.dynsym');
      } catch {
        // a table that cannot be read is no table: try the next
      }
    }
    return SymbolTable.empty();
  }

  /** The function at or before file address `addr`; undefined when none is before it. */
  lookup(addr: number): SymbolHit | undefined {
    let lo = 0,
      hi = this.addrs.length - 1,
      at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.addrs[mid] <= addr) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (at < 0) return undefined;
    // Among aliases at one address, the first (sorted sized-first).
    while (at > 0 && this.addrs[at - 1] === this.addrs[at]) at--;
    const name = stringAt(this.strtab, this.names[at], 1024) ?? `?`;
    const offset = addr - this.addrs[at];
    return { name, offset, outside: this.sizes[at] > 0 && offset >= this.sizes[at] };
  }
}
