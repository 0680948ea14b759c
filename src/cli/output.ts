// Where the CLI writes, so that tests can capture it and a closed pipe (`| head`) ends quietly.

export const EXIT_OK = 0;
export const EXIT_NO = 1;
export const EXIT_ERROR = 2;

/** An error meant for the user, printed as one line without a stack. */
export class CliError extends Error {}

export class Output {
  constructor(
    private readonly stdout: (s: string) => void = (s) => writeQuietly(process.stdout, s),
    private readonly stderr: (s: string) => void = (s) => writeQuietly(process.stderr, s),
  ) {}
  line(s = ''): void {
    this.stdout(`${s}\n`);
  }
  error(s: string): void {
    this.stderr(`${s}\n`);
  }
}

function writeQuietly(stream: NodeJS.WriteStream, s: string): void {
  stream.write(s, (err) => {
    if (err && (err as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
  });
}

/** Output that collects text, for tests and for callers that want a string. */
export class BufferedOutput extends Output {
  out = '';
  err = '';
  constructor() {
    super(
      (s) => (this.out += s),
      (s) => (this.err += s),
    );
  }
}

/** Parse an address given in hex (0x...) or decimal, exactly, as a BigInt. */
export function parseAddress(s: string, what = 'address'): bigint {
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(s.trim())) throw new CliError(`${what} '${s}' is not a number (use 0x... for hex)`);
  const v = BigInt(s.trim());
  if (v >= 1n << 64n) throw new CliError(`${what} ${s} is beyond the 64-bit address space`);
  return v;
}
