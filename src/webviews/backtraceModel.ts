// A thread's backtrace as the editors' webviews get it: plain JSON, addresses in hex. Both the
// image editor and the compare editor answer with this.

import type { Backtrace } from '../image/stacks';
import type { BacktraceModel, FrameModel } from '../shared/models';
import { addrHex } from '../shared/protocol';

export function backtraceModel(process: number, tid: number, b: Backtrace): BacktraceModel {
  return {
    process,
    tid,
    frames: b.frames.map((f): FrameModel => ({
      index: f.index,
      pc: addrHex(f.pc),
      method: f.method,
      ...(f.module !== undefined ? { module: f.module } : {}),
      ...(f.function !== undefined ? { function: f.function, offset: f.offset } : {}),
      ...(f.source ? { file: f.source.file, line: f.source.line } : {}),
      ...(f.note ? { note: f.note } : {}),
    })),
    stop: { ...b.stop },
    ms: Math.round(b.ms * 10) / 10,
  };
}
