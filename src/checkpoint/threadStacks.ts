// Backtraces of a checkpoint's threads, computed on demand and kept: one ProcessSpace per process
// (its memory map and the files it mapped), one backtrace per thread. The editor asks for a
// thread's when it is shown; the compare editor asks both checkpoints for a pair of threads.
// No vscode import.

import { backtrace, Backtrace, ElfModules, ProcessSpace } from '../image/stacks';
import type { Checkpoint } from './checkpoint';
import type { ThreadState } from './model';

let shared: ElfModules | undefined;

/** The mapped files every checkpoint of this process shares: libc is opened once for all editors. */
export function sharedElfModules(): ElfModules {
  return (shared ??= new ElfModules());
}

/** Backtraces kept per checkpoint (a process with thousands of threads shows them as asked). */
const MAX_KEPT = 4096;

export class ThreadStacks {
  private readonly spaces = new Map<number, Promise<ProcessSpace>>();
  private readonly traces = new Map<string, Promise<Backtrace>>();

  constructor(
    private readonly checkpoint: Checkpoint,
    private readonly modules: ElfModules = sharedElfModules(),
  ) {}

  /** The thread `tid` of the process of record `process`; throws RangeError when there is none. */
  async thread(process: number, tid: number): Promise<ThreadState> {
    const p = (await this.checkpoint.processes()).find((x) => x.record === process);
    if (!p) throw new RangeError(`record #${process} is not a process of the checkpoint`);
    const t = p.threads.find((x) => x.tid === tid);
    if (!t) throw new RangeError(`process ${p.pid} has no thread ${tid}`);
    return t;
  }

  backtrace(process: number, tid: number): Promise<Backtrace> {
    const key = `${process}:${tid}`;
    let b = this.traces.get(key);
    if (!b) {
      b = (async () => backtrace(await this.space(process), (await this.thread(process, tid)).regs))();
      if (this.traces.size >= MAX_KEPT) this.traces.delete(this.traces.keys().next().value as string);
      this.traces.set(key, b);
      b.catch(() => this.traces.delete(key)); // a failure is not kept: asking again tries again
    }
    return b;
  }

  private space(process: number): Promise<ProcessSpace> {
    let s = this.spaces.get(process);
    if (!s) {
      s = (async () => {
        const memory = await this.checkpoint.memory(process);
        const ids = await this.checkpoint.mappedBuildIds?.(process);
        return new ProcessSpace(memory, this.modules, ids ? { buildIdOf: (vma) => ids.get(vma.entry.index) } : {});
      })();
      this.spaces.set(process, s);
      s.catch(() => this.spaces.delete(process));
    }
    return s;
  }
}
