// The DWARF expression subset that CFI uses on x86-64 (glibc's PLT entries and signal
// trampolines, hand-written assembly): a stack machine over 64-bit values with register and
// memory reads. Bounded: at most MAX_STEPS operations and MAX_STACK values, so a hostile
// expression (a backward branch) ends.

import { Cursor, DecodeError } from './cursor';

const MAX_STEPS = 1000;
const MAX_STACK = 64;
const M64 = (1n << 64n) - 1n;

export interface ExpressionContext {
  /** A register's value in the frame being unwound; undefined when unknown. */
  reg(n: number): bigint | undefined;
  /** 8 bytes of the process's memory; undefined when not in the image. */
  read(addr: bigint): Promise<bigint | undefined>;
}

export class UnknownValue extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownValue';
  }
}

/** Evaluates `expr`, with `push` values on the stack first (the CFA for register rules). */
export async function evaluate(expr: Uint8Array, ctx: ExpressionContext, initial: bigint[] = []): Promise<bigint> {
  const s: bigint[] = [...initial];
  const c = new Cursor(expr);
  const pop = (): bigint => {
    const v = s.pop();
    if (v === undefined) throw new DecodeError('expression stack underflow');
    return v;
  };
  const push = (v: bigint) => {
    if (s.length >= MAX_STACK) throw new DecodeError('expression stack overflow');
    s.push(v & M64);
  };
  const regValue = (n: number) => {
    const v = ctx.reg(n);
    if (v === undefined) throw new UnknownValue(`register ${n} is not known in this frame`);
    return v;
  };
  const deref = async (a: bigint) => {
    const v = await ctx.read(a);
    if (v === undefined) throw new UnknownValue(`memory at 0x${a.toString(16)} is not in the image`);
    return v;
  };
  const signed = (v: bigint) => BigInt.asIntN(64, v);
  // one line per opcode: the table reads against the DWARF spec's list
  // prettier-ignore
  for (let steps = 0; c.left > 0; steps++) {
    if (steps > MAX_STEPS) throw new DecodeError('expression runs too long');
    const op = c.u8();
    if (op >= 0x30 && op <= 0x4f) push(BigInt(op - 0x30)); // DW_OP_lit0..31
    else if (op >= 0x50 && op <= 0x6f) push(regValue(op - 0x50)); // DW_OP_reg0..31: as a value (CFI uses breg)
    else if (op >= 0x70 && op <= 0x8f) push(regValue(op - 0x70) + c.sleb()); // DW_OP_breg0..31
    else {
      switch (op) {
        case 0x03: push(c.u64()); break; // addr
        case 0x06: push(await deref(pop())); break; // deref
        case 0x08: push(BigInt(c.u8())); break; // const1u
        case 0x09: push(BigInt(c.i8())); break;
        case 0x0a: push(BigInt(c.u16())); break;
        case 0x0b: push(BigInt(c.i16())); break;
        case 0x0c: push(BigInt(c.u32())); break;
        case 0x0d: push(BigInt(c.i32())); break;
        case 0x0e: push(c.u64()); break;
        case 0x0f: push(c.i64()); break;
        case 0x10: push(c.uleb()); break; // constu
        case 0x11: push(c.sleb()); break; // consts
        case 0x12: { const v = pop(); push(v); push(v); break; } // dup
        case 0x13: pop(); break; // drop
        case 0x14: { const a = pop(), b = pop(); push(b); push(a); push(b); break; } // over
        case 0x15: { const i = c.u8(); if (i >= s.length) throw new DecodeError('DW_OP_pick past the stack'); push(s[s.length - 1 - i]); break; }
        case 0x16: { const a = pop(), b = pop(); push(a); push(b); break; } // swap
        case 0x17: { const a = pop(), b = pop(), d = pop(); push(a); push(d); push(b); break; } // rot
        case 0x19: { const v = signed(pop()); push(v < 0n ? -v : v); break; } // abs
        case 0x1a: { const a = pop(), b = pop(); push(a & b); break; }
        case 0x1b: { const a = signed(pop()), b = signed(pop()); if (a === 0n) throw new DecodeError('division by zero'); push(b / a); break; }
        case 0x1c: { const a = pop(), b = pop(); push(b - a); break; } // minus
        case 0x1d: { const a = pop(), b = pop(); if (a === 0n) throw new DecodeError('division by zero'); push(b % a); break; }
        case 0x1e: { const a = pop(), b = pop(); push(a * b); break; }
        case 0x1f: push(-pop()); break; // neg
        case 0x20: push(~pop()); break; // not
        case 0x21: { const a = pop(), b = pop(); push(a | b); break; }
        case 0x22: { const a = pop(), b = pop(); push(a + b); break; } // plus
        case 0x23: push(pop() + c.uleb()); break; // plus_uconst
        case 0x24: { const a = pop(), b = pop(); push(a >= 64n ? 0n : b << a); break; } // shl
        case 0x25: { const a = pop(), b = pop(); push(a >= 64n ? 0n : b >> a); break; } // shr
        case 0x26: { const a = pop(), b = signed(pop()); push(a >= 64n ? (b < 0n ? -1n : 0n) : b >> a); break; } // shra
        case 0x27: { const a = pop(), b = pop(); push(a ^ b); break; }
        case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d: case 0x2e: { // eq ge gt le lt ne (signed)
          const a = signed(pop()), b = signed(pop());
          const r = op === 0x29 ? b === a : op === 0x2a ? b >= a : op === 0x2b ? b > a : op === 0x2c ? b <= a : op === 0x2d ? b < a : b !== a;
          push(r ? 1n : 0n);
          break;
        }
        case 0x2f: { const d = c.i16(); c.pos += d; if (c.pos < 0 || c.pos > expr.length) throw new DecodeError('branch outside the expression'); break; } // skip
        case 0x28: { const d = c.i16(); if (pop() !== 0n) { c.pos += d; if (c.pos < 0 || c.pos > expr.length) throw new DecodeError('branch outside the expression'); } break; } // bra
        case 0x92: push(regValue(c.ulebn('register', 1024)) + c.sleb()); break; // bregx
        case 0x96: break; // nop
        default:
          throw new DecodeError(`DWARF operation 0x${op.toString(16)} in CFI`);
      }
    }
  }
  return pop();
}
