// file:line for an address from DWARF's .debug_line (versions 2 to 5; gcc 12 emits 5). Opening
// runs every line program once and keeps only where each sequence of rows lies (its address
// range and its unit), not the rows: memory stays small for a large file. A lookup runs the one
// unit's program again and stops at the row that covers the address.

import { Cursor, DecodeError, stringAt } from './cursor';

/** Most sequences indexed per file, and most rows one program may produce, so a hostile file stays bounded. */
const MAX_SEQUENCES = 2_000_000;
const MAX_ROWS_PER_UNIT = 10_000_000;

export interface SourceLine {
  /** The path as the debug info gives it: absolute when the compiler knew the directory. */
  file: string;
  line: number;
  column: number;
}

interface Sequence {
  low: number;
  high: number;
  unit: number;
}

interface UnitHeader {
  /** Offsets in the section: the program's first and past-last bytes. */
  program: number;
  end: number;
  version: number;
  minInst: number;
  maxOps: number;
  defaultIsStmt: boolean;
  lineBase: number;
  lineRange: number;
  opcodeBase: number;
  opLengths: number[];
  dirs: string[];
  files: { name: string; dir: number }[];
}

interface Row {
  addr: number;
  file: number;
  line: number;
  column: number;
  endSequence: boolean;
}

const DW_FORM = {
  block: 0x09,
  data1: 0x0b,
  data2: 0x05,
  data4: 0x06,
  data8: 0x07,
  data16: 0x1e,
  string: 0x08,
  strp: 0x0e,
  line_strp: 0x1f,
  udata: 0x0f,
  sdata: 0x0d,
  strx: 0x1a,
  strx1: 0x25,
  strx2: 0x26,
  strx3: 0x27,
  strx4: 0x28,
};

export class LineTable {
  private readonly sequences: Sequence[] = [];
  /** Units that could not be read, with why (the first few). */
  readonly problems: string[] = [];

  constructor(
    private readonly line: Uint8Array,
    /** .debug_line_str and .debug_str, for DWARF 5 names. */
    private readonly lineStr: Uint8Array = new Uint8Array(0),
    private readonly str: Uint8Array = new Uint8Array(0),
  ) {
    for (let off = 0; off < line.length;) {
      let next: number;
      try {
        const h = this.header(off, false);
        next = h.end;
        this.run(
          h,
          (row, seqLow) => {
            if (this.sequences.length < MAX_SEQUENCES && row.addr > seqLow) this.sequences.push({ low: seqLow, high: row.addr, unit: off });
            return false;
          },
          true,
        );
      } catch (e) {
        if (this.problems.length < 8) this.problems.push(`line program at 0x${off.toString(16)}: ${(e as Error).message}`);
        // A unit whose length is readable is skipped; otherwise the rest cannot be found.
        next = this.unitEnd(off) ?? line.length;
      }
      off = next;
    }
    this.sequences.sort((a, b) => a.low - b.low);
  }

  /** Bytes held: the sections it reads again on lookups, and its index. */
  get bytes(): number {
    return this.line.byteLength + this.lineStr.byteLength + this.str.byteLength + this.sequences.length * 48;
  }

  get sequenceCount(): number {
    return this.sequences.length;
  }

  /** The source line of file address `addr`; undefined when no sequence covers it. */
  lookup(addr: number): SourceLine | undefined {
    // Sequences may overlap (a discarded inline function at 0); take any that covers addr.
    let lo = 0,
      hi = this.sequences.length - 1,
      at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.sequences[mid].low <= addr) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let i = at; i >= 0 && i > at - 16; i--) {
      const s = this.sequences[i];
      if (addr < s.low || addr >= s.high) continue;
      const found = this.find(s.unit, addr);
      if (found) return found;
    }
    return undefined;
  }

  private find(unit: number, addr: number): SourceLine | undefined {
    let h: UnitHeader;
    try {
      h = this.header(unit);
    } catch {
      return undefined;
    }
    let prev: Row | undefined;
    let hit: Row | undefined;
    try {
      this.run(h, (row) => {
        if (prev && !prev.endSequence && prev.addr <= addr && addr < row.addr) {
          hit = prev;
          return true;
        }
        prev = row.endSequence ? undefined : { ...row };
        return false;
      });
    } catch {
      return undefined;
    }
    if (!hit) return undefined;
    return { file: this.fileName(h, hit.file), line: hit.line, column: hit.column };
  }

  private fileName(h: UnitHeader, index: number): string {
    // DWARF 5 numbers files from 0; earlier versions from 1.
    const f = h.version >= 5 ? h.files[index] : h.files[index - 1];
    if (!f) return `<file ${index}>`;
    if (f.name.startsWith('/')) return f.name;
    const dir = h.version >= 5 ? h.dirs[f.dir] : f.dir === 0 ? '' : h.dirs[f.dir - 1];
    if (!dir) return f.name;
    if (dir.startsWith('/') || h.version < 5) return joinPath(dir, f.name);
    // A relative directory of DWARF 5 is relative to directory 0, the compilation's.
    return joinPath(joinPath(h.dirs[0] ?? '', dir), f.name);
  }

  private unitEnd(off: number): number | undefined {
    try {
      const c = new Cursor(this.line, off);
      let len = c.u32();
      if (len === 0xffffffff) {
        const l = c.u64();
        if (l > BigInt(this.line.length)) return undefined;
        len = Number(l);
      }
      const end = c.pos + len;
      return end > off && end <= this.line.length ? end : undefined;
    } catch {
      return undefined;
    }
  }

  /** A unit's header; its directory and file tables only `withNames` (indexing needs none of them). */
  private header(off: number, withNames = true): UnitHeader {
    const c = new Cursor(this.line, off);
    let len = c.u32();
    let dwarf64 = false;
    if (len === 0xffffffff) {
      dwarf64 = true;
      const l = c.u64();
      if (l > BigInt(this.line.length)) throw new DecodeError('unit length past the section');
      len = Number(l);
    } else if (len >= 0xfffffff0) throw new DecodeError(`reserved unit length 0x${len.toString(16)}`);
    const end = c.pos + len;
    if (end > this.line.length) throw new DecodeError('unit length past the section');
    const u = new Cursor(this.line, c.pos, end);
    const version = u.u16();
    if (version < 2 || version > 5) throw new DecodeError(`line table version ${version} is not 2 to 5`);
    if (version >= 5) {
      const addrSize = u.u8();
      u.skip(1);
      if (addrSize !== 8) throw new DecodeError(`address size ${addrSize} is not 8`);
    }
    const headerLength = dwarf64 ? Number(u.u64()) : u.u32();
    const program = u.pos + headerLength;
    if (!Number.isSafeInteger(program) || program > end) throw new DecodeError('header length past the unit');
    const minInst = u.u8();
    const maxOps = version >= 4 ? u.u8() : 1;
    const defaultIsStmt = u.u8() !== 0;
    const lineBase = u.i8();
    const lineRange = u.u8();
    const opcodeBase = u.u8();
    if (lineRange === 0) throw new DecodeError('line_range is 0');
    const opLengths: number[] = [];
    for (let i = 1; i < opcodeBase; i++) opLengths.push(u.u8());
    const dirs: string[] = [];
    const files: { name: string; dir: number }[] = [];
    if (!withNames) {
      // the tables end where the program starts
    } else if (version < 5) {
      for (let s = u.cstr(); s !== ''; s = u.cstr()) dirs.push(s);
      for (let s = u.cstr(); s !== ''; s = u.cstr()) {
        const dir = u.ulebn('directory index');
        u.uleb();
        u.uleb();
        files.push({ name: s, dir });
      }
    } else {
      for (const entry of this.entries(u, dwarf64)) dirs.push(entry.path ?? '');
      for (const entry of this.entries(u, dwarf64)) files.push({ name: entry.path ?? '', dir: entry.dir ?? 0 });
    }
    return { program, end, version, minInst, maxOps, defaultIsStmt, lineBase, lineRange, opcodeBase, opLengths, dirs, files };
  }

  /** A DWARF 5 directory or file name table: its format, then its entries. */
  private entries(u: Cursor, dwarf64: boolean): { path?: string; dir?: number }[] {
    const nformats = u.u8();
    const formats: [number, number][] = [];
    for (let i = 0; i < nformats; i++) formats.push([u.ulebn('content type'), u.ulebn('form')]);
    const count = u.ulebn('entry count', u.left);
    const out: { path?: string; dir?: number }[] = [];
    for (let i = 0; i < count; i++) {
      const e: { path?: string; dir?: number } = {};
      for (const [type, form] of formats) {
        const v = this.form(u, form, dwarf64);
        if (type === 1 /* DW_LNCT_path */ && typeof v === 'string') e.path = v;
        else if (type === 2 /* DW_LNCT_directory_index */ && typeof v === 'number') e.dir = v;
      }
      out.push(e);
    }
    return out;
  }

  private form(u: Cursor, form: number, dwarf64: boolean): string | number | undefined {
    const offset = () => (dwarf64 ? Number(u.u64()) : u.u32());
    switch (form) {
      case DW_FORM.string:
        return u.cstr();
      case DW_FORM.line_strp:
        return stringAt(this.lineStr, offset()) ?? '?';
      case DW_FORM.strp:
        return stringAt(this.str, offset()) ?? '?';
      case DW_FORM.udata:
        return u.ulebn('udata', Number.MAX_SAFE_INTEGER);
      case DW_FORM.sdata:
        return Number(u.sleb());
      case DW_FORM.data1:
        return u.u8();
      case DW_FORM.data2:
        return u.u16();
      case DW_FORM.data4:
        return u.u32();
      case DW_FORM.data8:
        u.skip(8);
        return undefined;
      case DW_FORM.data16:
        u.skip(16);
        return undefined;
      case DW_FORM.block:
        u.skip(u.ulebn('block length', u.left));
        return undefined;
      case DW_FORM.strx:
        u.uleb();
        return undefined; // needs .debug_str_offsets and the unit's base: not used by gcc or clang here
      case DW_FORM.strx1:
        u.skip(1);
        return undefined;
      case DW_FORM.strx2:
        u.skip(2);
        return undefined;
      case DW_FORM.strx3:
        u.skip(3);
        return undefined;
      case DW_FORM.strx4:
        u.skip(4);
        return undefined;
      default:
        throw new DecodeError(`form 0x${form.toString(16)} in a line table header`);
    }
  }

  /**
   * Runs a unit's line program, calling `emit` for each row (only for each sequence's end with
   * `onlyEnds`) with the address its sequence began at; `emit` returns true to stop.
   */
  private run(h: UnitHeader, emit: (row: Row, seqLow: number) => boolean, onlyEnds = false): void {
    const c = new Cursor(this.line, h.program, h.end);
    const reset = (): Row & { isStmt: boolean } => ({ addr: 0, file: 1, line: 1, column: 0, endSequence: false, isStmt: h.defaultIsStmt });
    let r = reset();
    let seqLow = -1;
    let rows = 0;
    const push = (): boolean => {
      if (++rows > MAX_ROWS_PER_UNIT) throw new DecodeError('too many rows');
      if (seqLow < 0) seqLow = r.addr;
      return onlyEnds && !r.endSequence ? false : emit(r, seqLow);
    };
    const advance = (opAdvance: number) => {
      r.addr += h.minInst * opAdvance; // maxOps > 1 (VLIW) does not occur on x86-64
    };
    const bytes = this.line;
    while (c.pos < h.end) {
      const op = bytes[c.pos++]; // c.pos < h.end <= bytes.length: the hot loop reads directly
      if (op >= h.opcodeBase) {
        const adj = op - h.opcodeBase;
        advance(Math.floor(adj / h.lineRange));
        r.line += h.lineBase + (adj % h.lineRange);
        if (push()) return;
        continue;
      }
      switch (op) {
        case 0: {
          const len = c.ulebn('extended opcode length', c.left);
          if (len === 0) break;
          const at = c.pos;
          const sub = c.u8();
          if (sub === 1) {
            r.endSequence = true;
            if (push()) return;
            r = reset();
            seqLow = -1;
          } else if (sub === 2) {
            const a = c.u64();
            r.addr = a > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(a);
          }
          c.pos = at + len;
          if (c.pos > h.end) throw new DecodeError('extended opcode past the unit');
          break;
        }
        case 1:
          if (push()) return;
          break;
        case 2:
          advance(c.ulebn('advance_pc', Number.MAX_SAFE_INTEGER));
          break;
        case 3:
          r.line += Number(c.sleb());
          break;
        case 4:
          r.file = c.ulebn('file');
          break;
        case 5:
          r.column = c.ulebn('column');
          break;
        case 6:
          r.isStmt = !r.isStmt;
          break;
        case 7:
        case 10:
        case 11:
          break;
        case 8:
          advance(Math.floor((255 - h.opcodeBase) / h.lineRange));
          break;
        case 9:
          r.addr += c.u16();
          break;
        default:
          // An opcode this reader does not know: skip its arguments, as the header says.
          for (let i = 0; i < (h.opLengths[op - 1] ?? 0); i++) c.uleb();
      }
      if (!Number.isSafeInteger(r.addr)) throw new DecodeError('address overflow');
    }
  }
}

function joinPath(dir: string, name: string): string {
  if (!dir) return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}
