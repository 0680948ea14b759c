// The progress stream of `ckpt ... --progress=json`: one JSON object per line on stdout. Lines that
// are not events (a PID printed by restore, anything unexpected) are handed back as plain text.

export type CheckpointerEvent =
  | { event: 'step'; step: string; message: string }
  | { event: 'progress'; phase: string; done: number; total: number }
  | { event: 'warning'; message: string }
  | { event: 'done'; image?: string; bytes?: number; ms?: number; pid?: number; processes?: number }
  /** Dump: how long the processes could not run, and how ('precopy': their pages were copied while they ran, and at the freeze those written since; 'snapshot': read from a copy-on-write snapshot after they resumed; 'frozen': read while frozen). */
  | { event: 'frozen'; ms: number; mode: string }
  /** Restore: the new process exists (it runs once ckpt lets it go). */
  | { event: 'restored'; pid: number }
  | { event: 'error'; exit: number; message: string };

const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The event on one line, or undefined when the line is not a well-formed event. */
export function parseEventLine(line: string): CheckpointerEvent | undefined {
  const t = line.trim();
  if (!t.startsWith('{')) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(t) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  switch (o.event) {
    case 'step':
      return str(o.step) ? { event: 'step', step: o.step, message: str(o.message) ? o.message : '' } : undefined;
    case 'progress':
      return str(o.phase) && num(o.done) && num(o.total) ? { event: 'progress', phase: o.phase, done: o.done, total: o.total } : undefined;
    case 'warning':
      return str(o.message) ? { event: 'warning', message: o.message } : undefined;
    case 'done':
      return {
        event: 'done',
        ...(str(o.image) ? { image: o.image } : {}),
        ...(num(o.bytes) ? { bytes: o.bytes } : {}),
        ...(num(o.ms) ? { ms: o.ms } : {}),
        ...(num(o.pid) ? { pid: o.pid } : {}),
        ...(num(o.processes) ? { processes: o.processes } : {}),
      };
    case 'frozen':
      return num(o.ms) ? { event: 'frozen', ms: o.ms, mode: str(o.mode) ? o.mode : '' } : undefined;
    case 'restored':
      return num(o.pid) ? { event: 'restored', pid: o.pid } : undefined;
    case 'error':
      return num(o.exit) ? { event: 'error', exit: o.exit, message: str(o.message) ? o.message : '' } : undefined;
    default:
      return undefined;
  }
}

/** Splits a byte stream into lines, keeping a partial last line until the rest arrives. */
export class LineSplitter {
  private rest = '';

  push(chunk: string | Buffer): string[] {
    const text = this.rest + chunk.toString();
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    return lines.map((l) => l.replace(/\r$/, ''));
  }

  /** The last line when the stream ends without a newline. */
  end(): string[] {
    const r = this.rest;
    this.rest = '';
    return r ? [r] : [];
  }
}

/**
 * Turns progress events into the whole-task fraction done, from 0 to 1, for a progress bar that only
 * takes increments. Only the page phase has a known size; steps before it count as the first 5 %.
 */
export class ProgressTracker {
  private reported = 0;

  /** The increment, in percent, that this event adds, or 0. */
  increment(e: CheckpointerEvent): number {
    let target = this.reported;
    if (e.event === 'step') target = Math.max(this.reported, 2);
    else if (e.event === 'progress' && e.total > 0) target = 5 + 95 * Math.min(1, e.done / e.total);
    else if (e.event === 'done') target = 100;
    const inc = target - this.reported;
    if (inc <= 0) return 0;
    this.reported = target;
    return inc;
  }

  get percent(): number {
    return this.reported;
  }
}
