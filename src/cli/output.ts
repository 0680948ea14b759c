// Where the CLI writes, so that tests can capture it, so that a closed pipe (`| head`) ends
// quietly, and so that no string from an image reaches the terminal raw: every human-readable
// line goes through printableLines() (control characters escaped, see src/image/text.ts), while
// JSON goes out exact through text(). Standard output is written in pieces of 64 KiB, not a
// write per line, and long outputs give the event loop a turn now and then (drain()), so that
// an output of any size streams in bounded memory.

import { printableLines } from '../image/text';
import { parseAddress } from '../shared/protocol';

export const EXIT_OK = 0;
export const EXIT_NO = 1;
export const EXIT_ERROR = 2;

/** An error meant for the user, printed as one line without a stack. */
export class CliError extends Error {}

/** Standard output is written in pieces of this size. */
const PIECE = 64 * 1024;
/** drain() gives the event loop a turn after this many bytes: a write error (EPIPE) arrives in a callback. */
const TURN_EVERY = 4 * 1024 * 1024;

/** A sink for text: returns false when it wants the caller to wait for it to drain. */
export type Sink = (s: string) => boolean | void;

export class Output {
  private pending = '';
  private sinceTurn = 0;
  private full = false;

  constructor(
    private readonly stdout: Sink = (s) => writeQuietly(process.stdout, s),
    private readonly stderr: Sink = (s) => writeQuietly(process.stderr, s),
  ) {}

  /** One line for people: its control characters are escaped. */
  line(s = ''): void {
    this.text(`${printableLines(s)}\n`);
  }

  /** Text as it is: JSON, whose own escaping keeps image strings exact and harmless. */
  text(s: string): void {
    this.pending += s;
    if (this.pending.length >= PIECE) this.flush();
  }

  /** A message on standard error, after what is pending on standard output. */
  error(s: string): void {
    this.flush();
    this.stderr(`${printableLines(s)}\n`);
  }

  /** Write what is pending. */
  flush(): void {
    if (!this.pending) return;
    const s = this.pending;
    this.pending = '';
    this.sinceTurn += s.length;
    if (this.stdout(s) === false) this.full = true;
  }

  /** True when a long writer should await drain() before writing more. */
  get needsDrain(): boolean {
    return this.full || this.sinceTurn >= TURN_EVERY;
  }

  /** Wait until standard output has room, and give the event loop a turn. */
  async drain(): Promise<void> {
    if (this.full) {
      this.full = false;
      await new Promise((resolve) => (process.stdout.writableNeedDrain ? process.stdout.once('drain', resolve) : resolve(undefined)));
    }
    this.sinceTurn = 0;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function writeQuietly(stream: NodeJS.WriteStream, s: string): boolean {
  return stream.write(s, (err) => {
    if (err && (err as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
  });
}

/** Output that collects text, for tests and for callers that want a string. */
export class BufferedOutput extends Output {
  out = '';
  err = '';
  constructor() {
    super(
      (s) => void (this.out += s),
      (s) => void (this.err += s),
    );
  }
}

/** A whole number given in decimal (a count, a pid), or `fallback` when it is not given. */
export function wholeNumber(value: string | boolean | undefined, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  const s = String(value);
  if (!/^[0-9]+$/.test(s)) throw new CliError(`${what} must be a whole number, not '${s}'`);
  return Number(s);
}

/** A length or count given in decimal or hex (0x...), exactly, as a BigInt. */
export function parseLength(s: string, what = 'length'): bigint {
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(s.trim())) throw new CliError(`${what} '${s}' is not a number (decimal, or 0x... for hex)`);
  const v = BigInt(s.trim());
  if (v >= 1n << 64n) throw new CliError(`${what} ${s} is beyond the 64-bit address space`);
  return v;
}

/** A virtual address, always hex, with or without 0x (7ffd1000, 0x7ffd_1000), as the editor's Go box takes it. */
export function parseHexAddress(s: string): bigint {
  const a = parseAddress(s);
  if (a === undefined) throw new CliError(`address '${s}' is not a 64-bit hex address (e.g. 7ffd1000 or 0x7ffd1000)`);
  return a;
}
