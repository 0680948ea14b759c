// The checkpointer's exit codes as typed errors with messages for people. The native message
// ("<what>: <why>") stays available as detail for the log; the message says what happened and
// what to do about it, in the words of the task (checkpoint, restore), not of the syscall.

import * as fs from 'fs';
import { ExitCode } from '../image/format';

// The exit codes are declared once, in formats/ckpt.ksy (enum exit_code), for C, TS and the README.
export { ExitCode };

export type CheckpointerErrorKind = 'failed' | 'usage' | 'no-such-process' | 'permission-denied' | 'unsupported' | 'bad-image' | 'io-error' | 'cancelled' | 'binary-missing' | 'killed';

/** Every exit code has its kind: a code added to the .ksy fails the build here until it has one. */
const KIND_OF_EXIT: { [code in ExitCode]: CheckpointerErrorKind | undefined } = {
  [ExitCode.OK]: undefined,
  [ExitCode.FAIL]: 'failed',
  [ExitCode.USAGE]: 'usage',
  [ExitCode.NOPROC]: 'no-such-process',
  [ExitCode.PERM]: 'permission-denied',
  [ExitCode.UNSUPPORTED]: 'unsupported',
  [ExitCode.BADIMAGE]: 'bad-image',
  [ExitCode.IO]: 'io-error',
  [ExitCode.CANCELLED]: 'cancelled',
};

export class CheckpointerError extends Error {
  constructor(
    readonly kind: CheckpointerErrorKind,
    message: string,
    /** What the native checkpointer said, for the log. */
    readonly detail = '',
    readonly exitCode?: number,
  ) {
    super(message);
    this.name = 'CheckpointerError';
  }
}

export interface FailureContext {
  operation: 'checkpoint' | 'restore';
  pid?: number;
  image?: string;
}

/** Facts that explain a ptrace permission failure; read from /proc by `ptraceFacts`. */
export interface PtraceFacts {
  /** Our real uid, and the target's real and effective uids. */
  ourUid?: number;
  targetUids?: number[];
  /** /proc/sys/kernel/yama/ptrace_scope, when Yama is present. */
  ptraceScope?: number;
  /** The PID already tracing the target, when it is being traced. */
  tracerPid?: number;
}

export function kindOfExit(exit: number): CheckpointerErrorKind {
  return KIND_OF_EXIT[exit as ExitCode] ?? 'failed';
}

/** Why ptrace could be refused, as sentences; the most likely cause first. */
export function explainPtracePermission(pid: number | undefined, f: PtraceFacts): string {
  const who = pid === undefined ? 'the process' : `process ${pid}`;
  const reasons: string[] = [];
  if (f.tracerPid) reasons.push(`${who} is already being traced by PID ${f.tracerPid} (a debugger or strace); detach it first.`);
  if (f.ourUid !== undefined && f.ourUid !== 0 && f.targetUids && f.targetUids.some((u) => u !== f.ourUid)) {
    reasons.push(`${who} runs as another user (uid ${f.targetUids.join('/')}); you can only checkpoint your own processes.`);
  }
  if (f.ptraceScope !== undefined && f.ptraceScope >= 1) {
    const scope =
      f.ptraceScope === 1
        ? 'only lets a process trace its own descendants (set it to 0, or run the checkpointer with CAP_SYS_PTRACE)'
        : f.ptraceScope === 2
          ? 'only lets administrators trace (CAP_SYS_PTRACE)'
          : 'forbids tracing altogether';
    reasons.push(`/proc/sys/kernel/yama/ptrace_scope is ${f.ptraceScope}, which ${scope}.`);
  }
  if (reasons.length === 0) {
    reasons.push(`${who} may be setuid/setgid or have made itself non-dumpable (prctl PR_SET_DUMPABLE 0), which forbids tracing it.`);
  }
  return `Checkpointing uses ptrace, and the kernel refused to let it attach to ${who}. ${reasons.join(' ')}`;
}

/** Reads what explainPtracePermission needs; missing files leave fields out. */
export function ptraceFacts(pid: number | undefined): PtraceFacts {
  const f: PtraceFacts = { ourUid: process.getuid?.() };
  try {
    f.ptraceScope = Number(fs.readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim());
  } catch {
    // no Yama
  }
  if (pid !== undefined) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const uid = /^Uid:\s+(.*)$/m.exec(status);
      if (uid) f.targetUids = [...new Set(uid[1].trim().split(/\s+/).slice(0, 2).map(Number))];
      const tracer = /^TracerPid:\s+(\d+)/m.exec(status);
      if (tracer && Number(tracer[1]) !== 0) f.tracerPid = Number(tracer[1]);
    } catch {
      // gone, or not readable
    }
  }
  return f;
}

/** The error for a non-zero exit of the checkpointer. */
export function failure(exit: number, nativeMessage: string, ctx: FailureContext, facts?: PtraceFacts): CheckpointerError {
  const kind = kindOfExit(exit);
  const what = ctx.operation === 'checkpoint' ? `Checkpoint of process ${ctx.pid ?? '?'}` : `Restore of ${ctx.image ?? 'the image'}`;
  const native = nativeMessage.trim();
  const because = native ? `: ${native}` : '.';
  let message: string;
  switch (kind) {
    case 'no-such-process':
      message = ctx.operation === 'checkpoint' ? `Process ${ctx.pid ?? '?'} does not exist (it may have exited).` : `${what} failed: a process it needs no longer exists${because}`;
      break;
    case 'permission-denied':
      message =
        ctx.operation === 'checkpoint'
          ? `${what} was not permitted. ${explainPtracePermission(ctx.pid, facts ?? ptraceFacts(ctx.pid))}`
          : `${what} was not permitted${because} Restoring needs to trace the process it creates and to read the files the image names.`;
      break;
    case 'unsupported':
      message = `${what} is not possible: the process uses something the checkpointer cannot ${ctx.operation === 'checkpoint' ? 'save' : 'recreate'}${because}`;
      break;
    case 'bad-image':
      message = `${ctx.image ?? 'The image'} is not a valid checkpoint image${because}`;
      break;
    case 'io-error':
      message = `${what} failed reading or writing a file${because} Check the free space and the permissions of the image folder.`;
      break;
    case 'cancelled':
      message = ctx.operation === 'checkpoint' ? `Checkpoint cancelled; process ${ctx.pid ?? '?'} was left as it was.` : 'Restore cancelled.';
      break;
    case 'usage':
      message = `${what} failed: the checkpointer did not accept its arguments (is the bundled binary out of date?)${because}`;
      break;
    default:
      message = `${what} failed${because}`;
  }
  return new CheckpointerError(kind, message, native, exit);
}
