// What a ckpt-inspect subcommand is: its usage line, summary and options, and how it runs. Here,
// beside the subcommands, so that they need not import the CLI's entry point (ckptInspect.ts).

import type { parseArgs } from 'util';
import type { Output } from '../output';

export interface Command {
  usage: string;
  summary: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  run(args: { positionals: string[]; values: Record<string, string | boolean | undefined> }, out: Output): Promise<number>;
}
