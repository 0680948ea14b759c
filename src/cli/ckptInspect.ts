// ckpt-inspect: read .ckpt images from a terminal, in the manner of `crit` and `checkpointctl`.
// One module per subcommand under commands/. Exit codes: 0 success, 1 the answer is "no"
// (verify found problems, diff found differences), 2 an error (usage, unreadable image).

import { parseArgs } from 'util';
import { ImageError } from '../image';
import { CliError, EXIT_ERROR, Output } from './output';
import { showCommand } from './commands/show';
import { jsonCommand } from './commands/json';
import { verifyCommand } from './commands/verify';
import { pagesCommand } from './commands/pages';
import { diffCommand } from './commands/diff';
import { searchCommand } from './commands/search';

export interface Command {
  usage: string;
  summary: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  run(args: { positionals: string[]; values: Record<string, string | boolean | undefined> }, out: Output): Promise<number>;
}

const commands: Record<string, Command> = {
  show: showCommand,
  json: jsonCommand,
  verify: verifyCommand,
  pages: pagesCommand,
  diff: diffCommand,
  search: searchCommand,
};

function usage(): string {
  const lines = ['usage: ckpt-inspect <command> [options]', '', 'commands:'];
  for (const c of Object.values(commands)) lines.push(`  ${c.usage.padEnd(44)} ${c.summary}`);
  lines.push('', 'IMAGE is a .ckpt image, a CRIU checkpoint folder (or its inventory.img), or a checkpoint archive (.tar, .tar.gz, .tar.zst)');
  lines.push('exit status: 0 success, 1 problems or differences found, 2 error');
  return lines.join('\n');
}

export async function main(argv: string[], out: Output = new Output()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    out.line(usage());
    return name ? 0 : EXIT_ERROR;
  }
  const cmd = commands[name];
  if (!cmd) {
    out.error(`ckpt-inspect: unknown command '${name}'\n${usage()}`);
    return EXIT_ERROR;
  }
  try {
    const parsed = parseArgs({ args: rest, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (parsed.values.help) {
      out.line(`usage: ckpt-inspect ${cmd.usage}\n${cmd.summary}`);
      return 0;
    }
    return await cmd.run(parsed as { positionals: string[]; values: Record<string, string | boolean | undefined> }, out);
  } catch (e) {
    if (e instanceof ImageError || e instanceof CliError) {
      out.error(`ckpt-inspect: ${e.message}`);
    } else if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      out.error(`ckpt-inspect ${name}: ${(e as Error).message}\nusage: ckpt-inspect ${cmd.usage}`);
    } else if ((e as NodeJS.ErrnoException).syscall) {
      out.error(`ckpt-inspect: ${(e as Error).message}`);
    } else {
      throw e;
    }
    return EXIT_ERROR;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exitCode = code,
    (e) => {
      console.error(`ckpt-inspect: internal error: ${(e as Error).stack ?? e}`);
      process.exitCode = EXIT_ERROR;
    },
  );
}
