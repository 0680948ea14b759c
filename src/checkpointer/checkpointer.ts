// Runs the native checkpointer (`ckpt`): always with an argument array, never through a shell,
// with --progress=json parsed as it streams. Cancelling sends SIGTERM, on which `ckpt dump` rolls
// back and leaves the process as it was (exit 8). No vscode import: the tests run it as it is.

import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointerError, ExitCode, failure, FailureContext } from './errors';
import { CheckpointerEvent, LineSplitter, parseEventLine } from './events';

export type CheckpointMode = 'leaveRunning' | 'stop';

export interface DumpOptions {
  pid: number;
  /** The image to write. */
  image: string;
  mode: CheckpointMode;
  /** The process and all its descendants, frozen together (`--tree`); else the process alone. */
  tree?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: CheckpointerEvent) => void;
}

export interface DumpResult {
  image: string;
  bytes?: number;
  ms?: number;
  /** How many processes the image holds. */
  processes?: number;
  /** How long the processes could not run (a leave-running dump), in ms. */
  frozenMs?: number;
  warnings: string[];
}

/**
 * The PIDs a restore gives: the original ones where the user may choose PIDs, else new ones with a
 * warning ('original-or-new'); the original ones or fail ('original', `--same-pids`); the original
 * ones inside a new user and PID namespace ('namespace', `--pid-ns`).
 */
export type RestorePids = 'original-or-new' | 'original' | 'namespace';

export interface RestoreOptions {
  image: string;
  pids?: RestorePids;
  /** Where the restored process's stdin/stdout/stderr go: a file path, or 'null'. */
  stdio: string;
  /** A file the checkpointer writes the new PID to. */
  pidFile?: string;
  signal?: AbortSignal;
  onEvent?: (e: CheckpointerEvent) => void;
}

export interface RestoreResult {
  /** The restored root, as this PID namespace sees it. */
  pid: number;
  /** How many processes were restored (the root and its descendants, zombies included). */
  processes?: number;
  warnings: string[];
}

interface RunResult {
  exit: number;
  events: CheckpointerEvent[];
  /** Lines of stdout that are not events. */
  text: string[];
  stderr: string;
}

/** The path of the bundled binary inside the extension's install folder, relative to its root. */
export const BUNDLED_BINARY = path.join('dist', 'bin', 'ckpt');

/**
 * Why this machine cannot checkpoint, or undefined when it can. The native checkpointer works through
 * ptrace, /proc and the x86-64 register set, so it runs on Linux x86-64 only; everything else in the
 * extension (opening, exploring, comparing, searching images) is TypeScript and runs anywhere.
 */
export function checkpointingUnavailable(platform: string = process.platform, arch: string = process.arch): string | undefined {
  if (platform === 'linux' && arch === 'x64') return undefined;
  const here = `${platform === 'linux' ? 'Linux' : platform} on ${arch}`;
  return `Checkpoint and restore need Linux on x86-64 (the native checkpointer works through ptrace and the x86-64 registers); this is ${here}. Opening, exploring and comparing images works here as usual.`;
}

/**
 * The checkpointer binary to run: the override when one is set (it must exist), else the one
 * bundled with the extension. Throws a 'binary-missing' error that says why when there is none
 * this machine can run.
 */
export function resolveCheckpointerBinary(extensionPath: string, override?: string, platform: string = process.platform, arch: string = process.arch): string {
  const unavailable = checkpointingUnavailable(platform, arch);
  if (unavailable) throw new CheckpointerError('binary-missing', unavailable);
  const candidate = override && override.trim() ? path.resolve(override.trim()) : path.join(extensionPath, BUNDLED_BINARY);
  try {
    fs.accessSync(candidate, fs.constants.X_OK);
  } catch {
    const where = override && override.trim() ? `the path set in ckptExplorer.nativeBinaryPath (${candidate})` : candidate;
    throw new CheckpointerError(
      'binary-missing',
      `The native checkpointer is missing or not executable at ${where}. Build it with "npm run build:native", or set ckptExplorer.nativeBinaryPath. Opening, exploring and comparing images works without it.`,
    );
  }
  return candidate;
}

export class Checkpointer {
  constructor(
    readonly binary: string,
    /** Receives the command lines run and everything the checkpointer prints, for the Output channel. */
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  async dump(o: DumpOptions): Promise<DumpResult> {
    const args = ['dump', String(o.pid), '-o', o.image, o.mode === 'stop' ? '--kill' : '--leave-running', '--progress=json'];
    if (o.tree) args.push('--tree');
    const ctx: FailureContext = { operation: 'checkpoint', pid: o.pid, image: o.image };
    const r = await this.run(args, ctx, o.signal, o.onEvent);
    const done = r.events.find((e): e is Extract<CheckpointerEvent, { event: 'done' }> => e.event === 'done');
    const frozen = r.events.find((e): e is Extract<CheckpointerEvent, { event: 'frozen' }> => e.event === 'frozen');
    return { image: done?.image ?? o.image, bytes: done?.bytes, ms: done?.ms, processes: done?.processes, frozenMs: frozen?.ms, warnings: warnings(r) };
  }

  async restore(o: RestoreOptions): Promise<RestoreResult> {
    const args = ['restore', o.image, `--stdio=${o.stdio}`, '--progress=json'];
    if (o.pidFile) args.push('--pid-file', o.pidFile);
    if (o.pids === 'original') args.push('--same-pids');
    else if (o.pids === 'namespace') args.push('--pid-ns');
    const ctx: FailureContext = { operation: 'restore', image: o.image };
    const r = await this.run(args, ctx, o.signal, o.onEvent);
    let pid: number | undefined, processes: number | undefined;
    for (const e of r.events) {
      if ((e.event === 'restored' || e.event === 'done') && e.pid) pid = e.pid;
      if (e.event === 'done' && e.processes) processes = e.processes;
    }
    for (const line of r.text) if (/^\s*\d+\s*$/.test(line)) pid = Number(line);
    if (pid === undefined && o.pidFile) {
      const t = fs.readFileSync(o.pidFile, 'utf8').trim();
      if (/^\d+$/.test(t)) pid = Number(t);
    }
    if (pid === undefined || pid <= 0) {
      throw new CheckpointerError('failed', `Restore of ${o.image} reported success but no process ID.`, [...r.text, r.stderr].join('\n'));
    }
    return { pid, ...(processes ? { processes } : {}), warnings: warnings(r) };
  }

  /** `ckpt --version`, for the log; undefined when it cannot be run. */
  async version(): Promise<string | undefined> {
    try {
      const r = await this.run(['--version'], { operation: 'checkpoint' }, undefined, undefined, true);
      return r.text.join(' ').trim() || r.stderr.trim() || undefined;
    } catch {
      return undefined;
    }
  }

  private run(args: string[], ctx: FailureContext, signal?: AbortSignal, onEvent?: (e: CheckpointerEvent) => void, quiet = false): Promise<RunResult> {
    return new Promise<RunResult>((resolve, reject) => {
      if (signal?.aborted) {
        reject(failure(ExitCode.CANCELLED, '', ctx));
        return;
      }
      if (!quiet) this.log(`$ ${[this.binary, ...args].map(shellQuote).join(' ')}`);
      let child: ChildProcess;
      try {
        child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false });
      } catch (e) {
        reject(new CheckpointerError('binary-missing', `Cannot run the native checkpointer ${this.binary}: ${(e as Error).message}`));
        return;
      }
      const out = new LineSplitter();
      const err = new LineSplitter();
      const result: RunResult = { exit: -1, events: [], text: [], stderr: '' };
      const onOut = (lines: string[]) => {
        for (const line of lines) {
          const e = parseEventLine(line);
          if (e) {
            result.events.push(e);
            if (!quiet && e.event !== 'progress') this.log(line);
            onEvent?.(e);
          } else if (line.trim()) {
            result.text.push(line);
            if (!quiet) this.log(line);
          }
        }
      };
      const onErr = (lines: string[]) => {
        for (const line of lines) {
          result.stderr += `${line}\n`;
          if (!quiet) this.log(line);
        }
      };
      child.stdout!.on('data', (d: Buffer) => onOut(out.push(d)));
      child.stderr!.on('data', (d: Buffer) => onErr(err.push(d)));
      const abort = () => child.kill('SIGTERM');
      signal?.addEventListener('abort', abort, { once: true });

      let settled = false;
      const finish = (code: number | null, sig: NodeJS.Signals | null) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', abort);
        onOut(out.end());
        onErr(err.end());
        if (!quiet) this.log(`ckpt ${args[0]} exited with ${code ?? sig}`);
        if (code === 0) {
          result.exit = 0;
          resolve(result);
          return;
        }
        if (code === null) {
          const cancelled = signal?.aborted;
          reject(cancelled ? failure(ExitCode.CANCELLED, '', ctx) : new CheckpointerError('killed', `The checkpointer was killed by ${sig}.`, result.stderr));
          return;
        }
        const ev = [...result.events].reverse().find((e): e is Extract<CheckpointerEvent, { event: 'error' }> => e.event === 'error');
        const native = ev?.message ?? lastLine(result.stderr).replace(/^ckpt:\s*/, '');
        reject(failure(code, native, ctx));
      };
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', abort);
        reject(new CheckpointerError('binary-missing', `Cannot run the native checkpointer ${this.binary}: ${e.message}`));
      });
      // A restored process may inherit and hold our pipes open, so 'close' can come late or never:
      // settle on 'exit', after a short grace for the last output to arrive.
      child.on('close', (code, sig) => finish(code, sig));
      child.on('exit', (code, sig) => setTimeout(() => finish(code, sig), 300));
    });
  }
}

function warnings(r: RunResult): string[] {
  return r.events.flatMap((e) => (e.event === 'warning' ? [e.message] : []));
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

/** For the log only: how the command line would be typed. It is never run through a shell. */
export function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}
