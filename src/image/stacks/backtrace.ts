// A thread's backtrace, symbolized: each unwound frame with the function it is in (the nearest
// function symbol, with the offset), the mapped file, and the source file and line where the
// file or its separate debug file has DWARF line info. 64-bit addresses stay BigInt here; the
// editor's models turn them into hex.

import type { Registers } from '../../checkpoint/model';
import type { ProcessSpace } from './processSpace';
import { FrameMethod, MAX_FRAMES, StopReason, unwind } from './unwind';

export interface BacktraceFrame {
  index: number;
  pc: bigint;
  method: FrameMethod;
  /** The mapped file's path, or what the mapping is ("[vdso]", "[anon]"). */
  module?: string;
  /** pc - the module's load address (the file address). */
  moduleOffset?: bigint;
  function?: string;
  /** Bytes into the function. */
  offset?: number;
  source?: { file: string; line: number; column: number };
  /** Why the frame has less than a name and a line, where it is worth saying. */
  note?: string;
}

export interface Backtrace {
  frames: BacktraceFrame[];
  stop: { reason: StopReason; message: string };
  ms: number;
}

export async function backtrace(space: ProcessSpace, registers: Registers, maxFrames = MAX_FRAMES): Promise<Backtrace> {
  const t0 = performance.now();
  const { frames, stop } = await unwind(space, registers, maxFrames);
  const out: BacktraceFrame[] = frames.map((f, index) => {
    const frame: BacktraceFrame = { index, pc: f.pc, method: f.method };
    // Names and lines of the call instruction, which a return address points just past.
    const at = f.exact ? f.pc : f.pc - 1n;
    const m = f.mapped;
    if (!m) {
      const vma = space.memory.vmaAt(at);
      if (vma) frame.module = vma.path || `[${vma.kind}]`;
      return frame;
    }
    frame.module = m.path;
    if (!m.module) {
      frame.note = m.problem;
      return frame;
    }
    // The checkpoint (a CRIU one) did not record which file it mapped: this one is taken on trust.
    if (m.identity === 'unchecked') frame.note = 'the file on disk is not checked: the checkpoint does not record which file was mapped';
    const fileAddr = BigInt.asUintN(64, at - m.bias);
    frame.moduleOffset = BigInt.asUintN(64, f.pc - m.bias);
    if (fileAddr > BigInt(Number.MAX_SAFE_INTEGER)) return frame;
    const addr = Number(fileAddr);
    try {
      const sym = m.module.symbols().lookup(addr);
      if (sym) {
        frame.function = sym.name;
        frame.offset = f.exact ? sym.offset : sym.offset + 1;
        if (sym.outside) frame.note = 'past the end of the nearest symbol';
      }
      const line = m.module.lines()?.lookup(addr);
      if (line) frame.source = line;
    } catch (e) {
      frame.note = `cannot read the symbols of ${m.path}: ${(e as Error).message}`;
    }
    return frame;
  });
  return { frames: out, stop, ms: performance.now() - t0 };
}
