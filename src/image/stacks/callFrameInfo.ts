// DWARF call frame information as .eh_frame holds it (x86-64): finding the FDE that covers an
// address (through .eh_frame_hdr's sorted table, or an index built from .eh_frame when a file
// has no header), and running its CIE's and its own CFA programs up to that address, which
// gives the rule for the canonical frame address and for each saved register. FDEs are read
// from the file on demand, one at a time; only the header's table is held.

import { Cursor, DecodeError } from './cursor';
import type { ElfFile, ElfSection } from './elfFile';

/** x86-64 DWARF register numbers. */
export const DW_REG = { rax: 0, rdx: 1, rcx: 2, rbx: 3, rsi: 4, rdi: 5, rbp: 6, rsp: 7, r8: 8, r15: 15, ra: 16 } as const;
export const DW_REG_COUNT = 17;

/** Largest CIE or FDE read (real ones are under a few KiB). */
const MAX_ENTRY = 1024 * 1024;
/** Most FDEs indexed from an .eh_frame without a header. */
const MAX_SCANNED_FDES = 1_000_000;
const MAX_STATE_STACK = 64;

export type CfaRule = { kind: 'reg'; reg: number; offset: bigint } | { kind: 'expr'; expr: Uint8Array };

export type RegRule =
  | { kind: 'undefined' }
  | { kind: 'same' }
  | { kind: 'offset'; offset: bigint }
  | { kind: 'valOffset'; offset: bigint }
  | { kind: 'register'; reg: number }
  | { kind: 'expr'; expr: Uint8Array }
  | { kind: 'valExpr'; expr: Uint8Array };

export interface FrameRow {
  cfa: CfaRule;
  regs: Map<number, RegRule>;
  /** The CIE's return address column (16 on x86-64). */
  raReg: number;
  /** 'S' augmentation: a signal trampoline, whose caller's pc is not a return address. */
  signalFrame: boolean;
  /** The FDE's range, in file addresses. */
  pcBegin: bigint;
  pcEnd: bigint;
}

interface Cie {
  codeAlign: bigint;
  dataAlign: bigint;
  raReg: number;
  fdeEncoding: number;
  hasAugData: boolean;
  signalFrame: boolean;
  initial: Uint8Array;
}

/** Where a DW_EH_PE pointer is relative to. */
interface PointerBases {
  /** File address of the byte being read (pcrel). */
  here: bigint;
  /** File address datarel pointers are relative to (.eh_frame_hdr's start). */
  data?: bigint;
}

/** Reads a pointer encoded as DW_EH_PE `enc`; undefined for DW_EH_PE_omit. */
export function readEncoded(c: Cursor, enc: number, bases: PointerBases): bigint | undefined {
  if (enc === 0xff) return undefined;
  let v: bigint;
  switch (enc & 0x0f) {
    case 0x00:
      v = c.u64();
      break;
    case 0x01:
      v = c.uleb();
      break;
    case 0x02:
      v = BigInt(c.u16());
      break;
    case 0x03:
      v = BigInt(c.u32());
      break;
    case 0x04:
      v = c.u64();
      break;
    case 0x09:
      v = c.sleb();
      break;
    case 0x0a:
      v = BigInt(c.i16());
      break;
    case 0x0b:
      v = BigInt(c.i32());
      break;
    case 0x0c:
      v = c.i64();
      break;
    default:
      throw new DecodeError(`pointer encoding 0x${enc.toString(16)}`);
  }
  switch (enc & 0x70) {
    case 0x00:
      break;
    case 0x10:
      v += bases.here; // relative to the pointer's own address
      break;
    case 0x30:
      if (bases.data === undefined) throw new DecodeError('datarel pointer without a data base');
      v += bases.data;
      break;
    default:
      throw new DecodeError(`pointer application 0x${(enc & 0x70).toString(16)}`);
  }
  if (enc & 0x80) throw new DecodeError('indirect pointer');
  return BigInt.asUintN(64, v);
}

export class CallFrameInfo {
  /** Sorted (initial location, FDE file address) pairs, from .eh_frame_hdr or a scan. */
  private table?: { locs: BigUint64Array; fdes: BigUint64Array };
  private readonly cies = new Map<number, Cie>();
  readonly problems: string[] = [];

  private constructor(
    private readonly elf: ElfFile,
    private readonly ehFrame: ElfSection,
    private readonly hdr?: ElfSection,
  ) {}

  /** The CFI of a file, or undefined when it has no .eh_frame. */
  static of(elf: ElfFile): CallFrameInfo | undefined {
    const eh = elf.section('.eh_frame');
    if (!eh || eh.size === 0) return undefined;
    return new CallFrameInfo(elf, eh, elf.section('.eh_frame_hdr'));
  }

  /** Bytes held: the FDE index and the CIEs read. */
  get bytes(): number {
    return (this.table ? this.table.locs.byteLength * 2 : 0) + this.cies.size * 256;
  }

  /** The CFA and register rules at file address `pc`; undefined when no FDE covers it. */
  rowAt(pc: bigint): FrameRow | undefined {
    const fdeAddr = this.findFde(pc);
    if (fdeAddr === undefined) return undefined;
    const fde = this.readFde(fdeAddr);
    if (!fde || pc < fde.pcBegin || pc >= fde.pcEnd) return undefined;
    return this.execute(fde.cie, fde.pcBegin, fde.program, fde.programAddr, pc, fde.pcEnd);
  }

  private ensureTable(): { locs: BigUint64Array; fdes: BigUint64Array } {
    if (this.table) return this.table;
    this.table = (this.hdr && this.tableFromHeader(this.hdr)) || this.tableFromScan();
    return this.table;
  }

  private tableFromHeader(hdr: ElfSection): { locs: BigUint64Array; fdes: BigUint64Array } | undefined {
    try {
      const bytes = this.elf.sectionBytes(hdr);
      const c = new Cursor(bytes);
      const version = c.u8();
      const ptrEnc = c.u8(),
        countEnc = c.u8(),
        tableEnc = c.u8();
      if (version !== 1) throw new DecodeError(`.eh_frame_hdr version ${version}`);
      const base = { here: hdr.addr, data: hdr.addr };
      const at = () => ({ here: hdr.addr + BigInt(c.pos), data: hdr.addr });
      readEncoded(c, ptrEnc, at());
      const count = readEncoded(c, countEnc, at());
      if (count === undefined || tableEnc === 0xff) return undefined;
      const entrySize = encodedSize(tableEnc);
      if (entrySize === undefined || count > BigInt(Math.floor(c.left / (2 * entrySize)))) throw new DecodeError(`.eh_frame_hdr table of ${count} entries does not fit`);
      const n = Number(count);
      const locs = new BigUint64Array(n),
        fdes = new BigUint64Array(n);
      for (let i = 0; i < n; i++) {
        locs[i] = readEncoded(c, tableEnc, { ...base, here: hdr.addr + BigInt(c.pos) })!;
        fdes[i] = readEncoded(c, tableEnc, { ...base, here: hdr.addr + BigInt(c.pos) })!;
      }
      // The table is sorted by the linker; a damaged one must not break the binary search.
      for (let i = 1; i < n; i++) if (locs[i] < locs[i - 1]) throw new DecodeError('.eh_frame_hdr table is not sorted');
      return { locs, fdes };
    } catch (e) {
      this.problems.push(`.eh_frame_hdr: ${(e as Error).message}; scanning .eh_frame instead`);
      return undefined;
    }
  }

  /** An index of every FDE of .eh_frame, for files without a usable header. */
  private tableFromScan(): { locs: BigUint64Array; fdes: BigUint64Array } {
    const pairs: [bigint, bigint][] = [];
    try {
      const bytes = this.elf.sectionBytes(this.ehFrame);
      const c = new Cursor(bytes);
      while (c.left >= 4 && pairs.length < MAX_SCANNED_FDES) {
        const start = c.pos;
        const { length, idPos } = entryLength(c);
        if (length === 0) break; // terminator
        const end = idPos + length;
        if (end > bytes.length) break;
        const id = c.u32();
        if (id !== 0) {
          const fde = this.readFde(this.ehFrame.addr + BigInt(start));
          if (fde) pairs.push([fde.pcBegin, this.ehFrame.addr + BigInt(start)]);
        }
        c.pos = end;
      }
    } catch (e) {
      this.problems.push(`.eh_frame: ${(e as Error).message}`);
    }
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { locs: BigUint64Array.from(pairs.map((p) => p[0])), fdes: BigUint64Array.from(pairs.map((p) => p[1])) };
  }

  private findFde(pc: bigint): bigint | undefined {
    const { locs, fdes } = this.ensureTable();
    let lo = 0,
      hi = locs.length - 1,
      at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (locs[mid] <= pc) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return at < 0 ? undefined : fdes[at];
  }

  /** Bytes of .eh_frame at file address `addr`: the entry there, header included. */
  private entryAt(addr: bigint): { bytes: Uint8Array; addr: bigint } | undefined {
    const rel = addr - this.ehFrame.addr;
    if (rel < 0n || rel >= BigInt(this.ehFrame.size)) return undefined;
    const off = this.ehFrame.offset + Number(rel);
    const maxLen = Math.min(this.ehFrame.size - Number(rel), MAX_ENTRY);
    if (maxLen < 4) return undefined;
    const first = new Cursor(this.elf.read(off, Math.min(12, maxLen)));
    const { length, idPos } = entryLength(first);
    if (length === 0 || idPos + length > maxLen) return undefined;
    return { bytes: this.elf.read(off, idPos + length), addr };
  }

  private readCie(addr: bigint): Cie | undefined {
    const key = Number(addr - this.ehFrame.addr);
    const cached = this.cies.get(key);
    if (cached) return cached;
    const e = this.entryAt(addr);
    if (!e) return undefined;
    const c = new Cursor(e.bytes);
    entryLength(c);
    if (c.u32() !== 0) return undefined;
    const version = c.u8();
    if (version !== 1 && version !== 3 && version !== 4) throw new DecodeError(`CIE version ${version}`);
    const aug = c.cstr(64);
    if (version === 4) c.skip(2);
    const codeAlign = c.uleb();
    const dataAlign = c.sleb();
    const raReg = version === 1 ? c.u8() : c.ulebn('return address register', 1024);
    let fdeEncoding = 0,
      signalFrame = false;
    const hasAugData = aug.startsWith('z');
    if (hasAugData) {
      const len = c.ulebn('augmentation length', c.left);
      const end = c.pos + len;
      for (const ch of aug.slice(1)) {
        if (ch === 'R') fdeEncoding = c.u8();
        else if (ch === 'L') c.u8();
        else if (ch === 'P') {
          const enc = c.u8();
          readEncoded(c, enc & 0x7f, { here: e.addr + BigInt(c.pos), data: 0n });
        } else if (ch === 'S') signalFrame = true;
        else break; // 'B' and others: the length lets us skip them
      }
      c.pos = end;
    } else if (aug !== '' && aug !== 'S') {
      throw new DecodeError(`CIE augmentation "${aug}"`);
    }
    if (aug.includes('S')) signalFrame = true;
    const cie: Cie = { codeAlign, dataAlign, raReg, fdeEncoding, hasAugData, signalFrame, initial: e.bytes.subarray(c.pos) };
    if (this.cies.size < 4096) this.cies.set(key, cie);
    return cie;
  }

  private readFde(addr: bigint): { cie: Cie; pcBegin: bigint; pcEnd: bigint; program: Uint8Array; programAddr: bigint } | undefined {
    try {
      const e = this.entryAt(addr);
      if (!e) return undefined;
      const c = new Cursor(e.bytes);
      const { idPos } = entryLength(c);
      const ciePtr = c.u32();
      if (ciePtr === 0) return undefined;
      const cie = this.readCie(addr + BigInt(idPos) - BigInt(ciePtr));
      if (!cie) return undefined;
      const pcBegin = readEncoded(c, cie.fdeEncoding, { here: addr + BigInt(c.pos) });
      const range = readEncoded(c, cie.fdeEncoding & 0x0f, { here: 0n });
      if (pcBegin === undefined || range === undefined) return undefined;
      if (cie.hasAugData) c.skip(c.ulebn('augmentation length', c.left));
      return { cie, pcBegin, pcEnd: pcBegin + range, program: e.bytes.subarray(c.pos), programAddr: addr + BigInt(c.pos) };
    } catch (err) {
      if (this.problems.length < 8) this.problems.push(`FDE at 0x${addr.toString(16)}: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** Runs the CIE's initial instructions, then the FDE's up to `pc`. */
  private execute(cie: Cie, pcBegin: bigint, program: Uint8Array, programAddr: bigint, pc: bigint, pcEnd: bigint): FrameRow | undefined {
    const row = { cfa: { kind: 'reg', reg: DW_REG.rsp, offset: 8n } as CfaRule, regs: new Map<number, RegRule>() };
    let initial: Map<number, RegRule> = new Map();
    const stack: { cfa: CfaRule; regs: Map<number, RegRule> }[] = [];
    const run = (code: Uint8Array, codeAddr: bigint, isInitial: boolean): boolean => {
      const c = new Cursor(code);
      let loc = pcBegin;
      while (c.left > 0) {
        const op = c.u8();
        const hi = op & 0xc0,
          low = op & 0x3f;
        if (hi === 0x40) {
          loc += BigInt(low) * cie.codeAlign;
          if (!isInitial && loc > pc) return true;
          continue;
        }
        if (hi === 0x80) {
          row.regs.set(low, { kind: 'offset', offset: c.uleb() * cie.dataAlign });
          continue;
        }
        if (hi === 0xc0) {
          restore(low);
          continue;
        }
        switch (op) {
          case 0x00:
            break;
          case 0x01:
            loc = readEncoded(c, cie.fdeEncoding, { here: codeAddr + BigInt(c.pos) }) ?? loc;
            if (!isInitial && loc > pc) return true;
            break;
          case 0x02:
          case 0x03:
          case 0x04:
            loc += BigInt(op === 0x02 ? c.u8() : op === 0x03 ? c.u16() : c.u32()) * cie.codeAlign;
            if (!isInitial && loc > pc) return true;
            break;
          case 0x05:
            row.regs.set(reg(c), { kind: 'offset', offset: c.uleb() * cie.dataAlign });
            break;
          case 0x06:
            restore(reg(c));
            break;
          case 0x07:
            row.regs.set(reg(c), { kind: 'undefined' });
            break;
          case 0x08:
            row.regs.set(reg(c), { kind: 'same' });
            break;
          case 0x09: {
            const r = reg(c);
            row.regs.set(r, { kind: 'register', reg: reg(c) });
            break;
          }
          case 0x0a:
            if (stack.length >= MAX_STATE_STACK) throw new DecodeError('DW_CFA_remember_state nested too deep');
            stack.push({ cfa: row.cfa, regs: new Map(row.regs) });
            break;
          case 0x0b: {
            const s = stack.pop();
            if (!s) throw new DecodeError('DW_CFA_restore_state without remember_state');
            row.cfa = s.cfa;
            row.regs = s.regs;
            break;
          }
          case 0x0c:
            row.cfa = { kind: 'reg', reg: reg(c), offset: c.uleb() };
            break;
          case 0x0d:
            row.cfa = { kind: 'reg', reg: reg(c), offset: row.cfa.kind === 'reg' ? row.cfa.offset : 0n };
            break;
          case 0x0e:
            if (row.cfa.kind === 'reg') row.cfa = { ...row.cfa, offset: c.uleb() };
            else c.uleb();
            break;
          case 0x0f:
            row.cfa = { kind: 'expr', expr: c.take(c.ulebn('expression length', c.left)) };
            break;
          case 0x10: {
            const r = reg(c);
            row.regs.set(r, { kind: 'expr', expr: c.take(c.ulebn('expression length', c.left)) });
            break;
          }
          case 0x11: {
            const r = reg(c);
            row.regs.set(r, { kind: 'offset', offset: c.sleb() * cie.dataAlign });
            break;
          }
          case 0x12:
            row.cfa = { kind: 'reg', reg: reg(c), offset: c.sleb() * cie.dataAlign };
            break;
          case 0x13:
            if (row.cfa.kind === 'reg') row.cfa = { ...row.cfa, offset: c.sleb() * cie.dataAlign };
            else c.sleb();
            break;
          case 0x14: {
            const r = reg(c);
            row.regs.set(r, { kind: 'valOffset', offset: c.uleb() * cie.dataAlign });
            break;
          }
          case 0x15: {
            const r = reg(c);
            row.regs.set(r, { kind: 'valOffset', offset: c.sleb() * cie.dataAlign });
            break;
          }
          case 0x16: {
            const r = reg(c);
            row.regs.set(r, { kind: 'valExpr', expr: c.take(c.ulebn('expression length', c.left)) });
            break;
          }
          case 0x2e: // DW_CFA_GNU_args_size
            c.uleb();
            break;
          case 0x2f: {
            const r = reg(c);
            row.regs.set(r, { kind: 'offset', offset: -c.uleb() * cie.dataAlign });
            break;
          }
          default:
            throw new DecodeError(`CFA instruction 0x${op.toString(16)}`);
        }
      }
      return false;
    };
    const restore = (r: number) => {
      const rule = initial.get(r);
      if (rule) row.regs.set(r, rule);
      else row.regs.delete(r);
    };
    try {
      run(cie.initial, 0n, true);
      initial = new Map(row.regs);
      run(program, programAddr, false);
    } catch (e) {
      if (this.problems.length < 8) this.problems.push(`CFA program of the FDE at 0x${pcBegin.toString(16)}: ${(e as Error).message}`);
      return undefined;
    }
    return { cfa: row.cfa, regs: row.regs, raReg: cie.raReg, signalFrame: cie.signalFrame, pcBegin, pcEnd };
  }
}

function reg(c: Cursor): number {
  return c.ulebn('register', 1024);
}

/** An entry's length and where its id field starts (after a 4- or 12-byte length). */
function entryLength(c: Cursor): { length: number; idPos: number } {
  let length = c.u32();
  if (length === 0xffffffff) {
    const l = c.u64();
    if (l > BigInt(MAX_ENTRY * 1024)) throw new DecodeError(`entry length ${l}`);
    length = Number(l);
  }
  return { length, idPos: c.pos };
}

function encodedSize(enc: number): number | undefined {
  switch (enc & 0x0f) {
    case 0x02:
    case 0x0a:
      return 2;
    case 0x03:
    case 0x0b:
      return 4;
    case 0x00:
    case 0x04:
    case 0x0c:
      return 8;
    default:
      return undefined;
  }
}
