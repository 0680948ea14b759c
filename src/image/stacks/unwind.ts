// Walking one thread's stack from its saved registers: each step finds the caller's registers
// with the .eh_frame CFI of the file mapped at the pc, and falls back to the frame-pointer chain
// (rbp) where there is none (JIT code, the vdso, a file that is gone). It stops cleanly, saying
// why: the outermost frame (CFI marks no return address, or it is 0), a bounded depth, a loop or
// a stack that does not grow, memory the image does not hold, or an address in no mapping.

import type { Registers } from '../../checkpoint/model';
import { DW_REG, DW_REG_COUNT, FrameRow } from './callFrameInfo';
import { DecodeError } from './cursor';
import { evaluate, UnknownValue } from './dwarfExpression';
import type { MappedModule, ProcessSpace } from './processSpace';

export const MAX_FRAMES = 256;

export type FrameMethod = 'registers' | 'cfi' | 'frame-pointer';

export interface UnwoundFrame {
  pc: bigint;
  /** The stack pointer in this frame. */
  sp?: bigint;
  /** How this frame's pc was found: the saved registers (frame 0), CFI, or the rbp chain. */
  method: FrameMethod;
  /** The pc is exact (frame 0, or interrupted by a signal), not a return address. */
  exact: boolean;
  mapped?: MappedModule;
}

export type StopReason = 'outermost' | 'depth' | 'loop' | 'memory' | 'no-unwind-info' | 'bad-pc' | 'error';

export interface UnwindResult {
  frames: UnwoundFrame[];
  stop: { reason: StopReason; message: string };
}

/** Registers a caller keeps from its callee unless the CFI says otherwise (SysV x86-64 callee-saved). */
const CALLEE_SAVED = [DW_REG.rbx, DW_REG.rbp, 12, 13, 14, 15];

type Regs = (bigint | undefined)[];

const DWARF_ORDER = ['rax', 'rdx', 'rcx', 'rbx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip'] as const;

/** Saved registers in DWARF numbering (16 is rip, the return address column). */
export function dwarfRegisters(r: Registers): Regs {
  return DWARF_ORDER.map((n) => r[n]);
}

export async function unwind(space: ProcessSpace, registers: Registers, maxFrames = MAX_FRAMES): Promise<UnwindResult> {
  let regs = dwarfRegisters(registers);
  const frames: UnwoundFrame[] = [];
  const seen = new Set<string>();
  let exact = true;
  let method: FrameMethod = 'registers';
  const stop = (reason: StopReason, message: string): UnwindResult => ({ frames, stop: { reason, message } });
  if (regs[DW_REG.ra] === undefined) return stop('error', 'the thread has no saved instruction pointer');
  for (;;) {
    const pc = regs[DW_REG.ra]!;
    const sp = regs[DW_REG.rsp];
    // A return address points after the call; the call itself (pc - 1) is in the caller's range.
    const lookup = exact ? pc : pc - 1n;
    const mapped = space.moduleAt(lookup);
    frames.push({ pc, sp, method, exact, ...(mapped ? { mapped } : {}) });
    if (frames.length >= maxFrames) return stop('depth', `stopped after ${maxFrames} frames`);
    const key = `${pc}:${sp}`;
    if (seen.has(key)) return stop('loop', 'the stack repeats a frame');
    seen.add(key);
    if (!space.memory.vmaAt(lookup)) return stop('bad-pc', `0x${pc.toString(16)} is not in any mapping: the stack above may be damaged`);

    let row: FrameRow | undefined;
    let why = '';
    if (mapped?.module) {
      try {
        row = mapped.module.cfi()?.rowAt(BigInt.asUintN(64, lookup - mapped.bias));
        if (!row) why = `no CFI covers it in ${mapped.path}`;
      } catch (e) {
        why = `the CFI of ${mapped.path} cannot be read (${(e as Error).message})`;
      }
    } else why = mapped ? `${mapped.path}: ${mapped.problem}` : 'it is in no file mapping';

    let next: { regs: Regs; exact: boolean; method: FrameMethod } | { end: StopReason; message: string };
    if (row) {
      next = await stepCfi(space, regs, row);
      // CFI that cannot be followed (a register it needs is unknown) may still leave the rbp chain.
      if ('end' in next && next.end !== 'outermost') {
        const fp = await stepFramePointer(space, regs);
        if (!('end' in fp)) next = fp;
      }
    } else {
      next = await stepFramePointer(space, regs);
      if ('end' in next) next = { end: next.end, message: `${next.message}; no CFI for 0x${pc.toString(16)}: ${why}` };
    }
    if ('end' in next) return stop(next.end, next.message);
    const newPc = next.regs[DW_REG.ra],
      newSp = next.regs[DW_REG.rsp];
    if (newPc === undefined || newPc === 0n) return stop('outermost', 'the return address is 0: the outermost frame');
    // The stack grows down, so each caller's frame is above its callee's; a signal frame may switch stacks.
    if (!next.exact && sp !== undefined && newSp !== undefined && newSp <= sp && !row?.signalFrame) {
      return stop('loop', `the caller's stack pointer 0x${newSp.toString(16)} is not above 0x${sp.toString(16)}`);
    }
    regs = next.regs;
    exact = next.exact;
    method = next.method;
  }
}

type Step = { regs: Regs; exact: boolean; method: FrameMethod } | { end: StopReason; message: string };

async function stepCfi(space: ProcessSpace, regs: Regs, row: FrameRow): Promise<Step> {
  const ctx = { reg: (n: number) => regs[n], read: (a: bigint) => space.read64(a) };
  let cfa: bigint;
  try {
    if (row.cfa.kind === 'reg') {
      const base = regs[row.cfa.reg];
      if (base === undefined) return { end: 'error', message: `the CFA is based on register ${row.cfa.reg}, which is not known in this frame` };
      cfa = BigInt.asUintN(64, base + row.cfa.offset);
    } else cfa = await evaluate(row.cfa.expr, ctx);
  } catch (e) {
    return failure(e, 'the CFA');
  }
  const out: Regs = new Array<bigint | undefined>(DW_REG_COUNT).fill(undefined);
  for (const r of CALLEE_SAVED) out[r] = regs[r];
  out[DW_REG.rsp] = cfa;
  const raRule = row.regs.get(row.raReg);
  if (!raRule || raRule.kind === 'undefined') return { end: 'outermost', message: 'the outermost frame (its CFI marks no return address)' };
  for (const [r, rule] of row.regs) {
    if (r >= DW_REG_COUNT && r !== row.raReg) continue;
    const slot = r === row.raReg ? DW_REG.ra : r;
    try {
      switch (rule.kind) {
        case 'undefined':
          out[slot] = undefined;
          break;
        case 'same':
          out[slot] = regs[r];
          break;
        case 'offset': {
          const addr = BigInt.asUintN(64, cfa + rule.offset);
          const v = await space.read64(addr);
          if (v === undefined && slot === DW_REG.ra) return { end: 'memory', message: `the return address cannot be read: ${space.whyUnreadable(addr)}` };
          out[slot] = v;
          break;
        }
        case 'valOffset':
          out[slot] = BigInt.asUintN(64, cfa + rule.offset);
          break;
        case 'register':
          out[slot] = regs[rule.reg];
          break;
        case 'expr': {
          const addr = await evaluate(rule.expr, ctx, [cfa]);
          out[slot] = await space.read64(addr);
          break;
        }
        case 'valExpr':
          out[slot] = await evaluate(rule.expr, ctx, [cfa]);
          break;
      }
    } catch (e) {
      if (slot === DW_REG.ra) return failure(e, 'the return address');
      out[slot] = undefined;
    }
  }
  // A signal trampoline's "return address" is the interrupted instruction itself.
  return { regs: out, exact: row.signalFrame, method: 'cfi' };
}

async function stepFramePointer(space: ProcessSpace, regs: Regs): Promise<Step> {
  const rbp = regs[DW_REG.rbp],
    sp = regs[DW_REG.rsp];
  if (rbp === undefined || rbp === 0n) return { end: 'no-unwind-info', message: 'no frame pointer to follow' };
  if (sp !== undefined && rbp < sp) return { end: 'no-unwind-info', message: `the frame pointer 0x${rbp.toString(16)} is below the stack pointer, so it is not one` };
  if (rbp % 8n) return { end: 'no-unwind-info', message: `the frame pointer 0x${rbp.toString(16)} is not aligned` };
  const savedRbp = await space.read64(rbp);
  const ra = await space.read64(rbp + 8n);
  if (savedRbp === undefined || ra === undefined) return { end: 'memory', message: `the frame at the frame pointer cannot be read: ${space.whyUnreadable(rbp)}` };
  const out: Regs = new Array<bigint | undefined>(DW_REG_COUNT).fill(undefined);
  out[DW_REG.rbp] = savedRbp;
  out[DW_REG.rsp] = rbp + 16n;
  out[DW_REG.ra] = ra;
  return { regs: out, exact: false, method: 'frame-pointer' };
}

function failure(e: unknown, what: string): Step {
  if (e instanceof UnknownValue) return { end: 'memory', message: `${what} cannot be computed: ${e.message}` };
  if (e instanceof DecodeError) return { end: 'error', message: `${what} cannot be computed: ${e.message}` };
  throw e;
}
