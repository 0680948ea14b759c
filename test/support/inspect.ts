// ckpt-inspect run in-process, as its bin runs it, with what it printed and its exit code.

import { main } from '../../src/cli/ckptInspect';
import { BufferedOutput } from '../../src/cli/output';

export interface InspectRun {
  code: number;
  out: string;
  err: string;
}

export async function runInspect(...args: string[]): Promise<InspectRun> {
  const o = new BufferedOutput();
  const code = await main(args, o);
  return { code, out: o.out, err: o.err };
}
