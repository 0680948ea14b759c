// What CRIU's messages and the .ckpt format say in different words, stated once for both
// converters (and the CRIU reader): register names, the FXSAVE area CRIU splits into fields,
// siginfo_t, unlimited.

import type { UserX86FpregsEntry } from '../../build/formats/CriuMessages';
import type { Registers } from '../checkpoint/model';

/** CRIU's register names (user_x86_regs_entry) to the kernel's (user_regs_struct). */
export const CRIU_REGISTERS: Record<string, keyof Registers> = {
  r15: 'r15',
  r14: 'r14',
  r13: 'r13',
  r12: 'r12',
  bp: 'rbp',
  bx: 'rbx',
  r11: 'r11',
  r10: 'r10',
  r9: 'r9',
  r8: 'r8',
  ax: 'rax',
  cx: 'rcx',
  dx: 'rdx',
  si: 'rsi',
  di: 'rdi',
  orig_ax: 'orig_rax',
  ip: 'rip',
  cs: 'cs',
  flags: 'eflags',
  sp: 'rsp',
  ss: 'ss',
  fs_base: 'fs_base',
  gs_base: 'gs_base',
  ds: 'ds',
  es: 'es',
  fs: 'fs',
  gs: 'gs',
};

export const UNLIMITED = 0xffffffffffffffffn;

/** The legacy FXSAVE area (struct user_i387_struct): 512 bytes. */
export const FXSAVE_SIZE = 512;
/** Where the XSAVE header's xstate_bv and the AVX component (YMM upper halves) lie in the standard format. */
const XSTATE_BV_AT = 512,
  AVX_AT = 576,
  AVX_SIZE = 256;

/**
 * The 512-byte FXSAVE area of CRIU's fpregs, and what of CRIU's XSAVE state it leaves out (the
 * AVX and AVX-512 components: restoring them needs the XSAVE layout of the CPU, which neither
 * CRIU's images nor this converter know; CRIU's restore builds it from CPUID).
 */
export function fxsaveFromCriu(fp: UserX86FpregsEntry): { bytes: Uint8Array; lost?: string } {
  const b = Buffer.alloc(FXSAVE_SIZE);
  b.writeUInt16LE((fp.cwd ?? 0) & 0xffff, 0);
  b.writeUInt16LE((fp.swd ?? 0) & 0xffff, 2);
  b.writeUInt16LE((fp.twd ?? 0) & 0xffff, 4);
  b.writeUInt16LE((fp.fop ?? 0) & 0xffff, 6);
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(fp.rip ?? 0n)), 8);
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(fp.rdp ?? 0n)), 16);
  b.writeUInt32LE((fp.mxcsr ?? 0) >>> 0, 24);
  b.writeUInt32LE((fp.mxcsr_mask ?? 0) >>> 0, 28);
  (fp.st_space ?? []).slice(0, 32).forEach((w, i) => b.writeUInt32LE(w >>> 0, 32 + i * 4));
  (fp.xmm_space ?? []).slice(0, 64).forEach((w, i) => b.writeUInt32LE(w >>> 0, 160 + i * 4));
  const x = fp.xsave;
  const inUse = BigInt(x?.xstate_bv ?? 0n) & ~3n; // beyond x87 and SSE
  const nonZero = !!x && ((x.ymmh_space ?? []).some((w) => w !== 0) || [...(x.opmask_reg ?? []), ...(x.zmm_upper ?? []), ...(x.hi16_zmm ?? [])].some((w) => BigInt(w) !== 0n));
  return { bytes: new Uint8Array(b), ...(inUse && nonZero ? { lost: `AVX/AVX-512 register state (xstate_bv 0x${BigInt(x!.xstate_bv ?? 0n).toString(16)})` } : {}) };
}

/**
 * CRIU's fpregs from an XSAVE (or FXSAVE) area: the legacy area, and the XSAVE header and AVX
 * component, whose offsets are the same on every CPU. Returns what it leaves out: AVX-512 and
 * later components, whose offsets in the standard format vary between CPUs.
 */
export function criuFromXstate(x: Uint8Array, xsave: boolean): { fpregs: Record<string, unknown>; lost?: string } {
  if (x.length < FXSAVE_SIZE) return { fpregs: {} };
  const b = Buffer.from(x.buffer, x.byteOffset, x.length);
  const words = (at: number, n: number) => Array.from({ length: n }, (_, i) => b.readUInt32LE(at + i * 4));
  const fpregs: Record<string, unknown> = {
    cwd: b.readUInt16LE(0),
    swd: b.readUInt16LE(2),
    twd: b.readUInt16LE(4),
    fop: b.readUInt16LE(6),
    rip: b.readBigUInt64LE(8),
    rdp: b.readBigUInt64LE(16),
    mxcsr: b.readUInt32LE(24),
    mxcsr_mask: b.readUInt32LE(28),
    st_space: words(32, 32),
    xmm_space: words(160, 64),
  };
  if (!xsave || x.length < XSTATE_BV_AT + 8) return { fpregs };
  const bv = b.readBigUInt64LE(XSTATE_BV_AT);
  const kept = bv & 7n; // x87, SSE, AVX
  fpregs.xsave = { xstate_bv: kept, ymmh_space: x.length >= AVX_AT + AVX_SIZE ? words(AVX_AT, 64) : [] };
  const rest = bv & ~7n;
  return { fpregs, ...(rest ? { lost: `XSAVE components beyond AVX (xstate_bv 0x${bv.toString(16)})` } : {}) };
}

/** A 128-byte siginfo_t as the .ckpt format's siginfo record. */
export function signalInfo(raw: Uint8Array): Record<string, unknown> {
  const b = Buffer.alloc(128);
  b.set(raw.subarray(0, 128));
  return { siSigno: b.readInt32LE(0), siErrno: b.readInt32LE(4), siCode: b.readInt32LE(8), pad: b.readUInt32LE(12), fields: new Uint8Array(b.subarray(16)) };
}

/** A register's property in the .ckpt decoder's user_regs (fs_base -> fsBase). */
export function camelRegister(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}
