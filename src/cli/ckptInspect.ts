// ckpt-inspect: read .ckpt images from a terminal, in the manner of `crit` and `checkpointctl`.
// One module per subcommand under commands/. Exit codes: 0 success, 1 the answer is "no"
// (verify found problems, diff found differences), 2 an error (usage, unreadable image). Every
// error is one line on standard error, naming the file; never a stack trace (unless
// CKPT_INSPECT_DEBUG is set, for an internal error).

import { parseArgs } from 'util';
import { ImageError, SourceError } from '../image';
import { CliError, EXIT_ERROR, Output } from './output';
import { showCommand } from './commands/show';
import { jsonCommand } from './commands/json';
import { verifyCommand } from './commands/verify';
import { pagesCommand } from './commands/pages';
import { diffCommand } from './commands/diff';
import { searchCommand } from './commands/search';
import { convertCommand } from './commands/convert';
import { exportCriuCommand } from './commands/exportCriu';
import { coreCommand } from './commands/core';
import type { Command } from './commands/command';

const commands: Record<string, Command> = {
  show: showCommand,
  json: jsonCommand,
  verify: verifyCommand,
  pages: pagesCommand,
  diff: diffCommand,
  search: searchCommand,
  convert: convertCommand,
  'export-criu': exportCriuCommand,
  core: coreCommand,
};

function usage(): string {
  const lines = ['usage: ckpt-inspect <command> [options]', '', 'commands:'];
  for (const c of Object.values(commands)) lines.push(`  ${c.usage.padEnd(44)} ${c.summary}`);
  lines.push('', 'IMAGE is a .ckpt image, a CRIU checkpoint folder (or its inventory.img), or a checkpoint archive (.tar, .tar.gz, .tar.zst)');
  lines.push('exit status: 0 success, 1 problems or differences found, 2 error');
  return lines.join('\n');
}

export async function main(argv: string[], out: Output = new Output()): Promise<number> {
  try {
    return await run(argv, out);
  } finally {
    out.flush();
  }
}

async function run(argv: string[], out: Output): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    out.error(usage()); // a usage error: the help goes where errors go
    return EXIT_ERROR;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    out.line(usage());
    return 0;
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
    out.error(errorLine(e, name, cmd));
    return EXIT_ERROR;
  }
}

/** The one line an error is told in. */
function errorLine(e: unknown, name: string, cmd: Command): string {
  if (e instanceof CliError) return `ckpt-inspect: ${e.message}`;
  if (e instanceof SourceError) return `ckpt-inspect: ${e.file}: ${e.message}`;
  if (e instanceof ImageError) return `ckpt-inspect: ${e.message}`;
  const err = e as NodeJS.ErrnoException;
  // Node's own message can run to three lines; the first says what is wrong, the usage the rest.
  if (err?.code?.startsWith('ERR_PARSE_ARGS')) return `ckpt-inspect ${name}: ${err.message.split('\n')[0]}\nusage: ckpt-inspect ${cmd.usage}`;
  // An error from the system (ENOENT, EACCES, EIO): the file, then what is wrong, in words.
  if (err?.syscall) return `ckpt-inspect: ${err.path ? `${err.path}: ` : ''}${systemErrorWords(err)}`;
  return internalError(e);
}

const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a folder, not an image',
  ENOTDIR: 'a part of the path is not a folder',
  ELOOP: 'too many symbolic links',
  EIO: 'input/output error (a failing disk?)',
  EMFILE: 'too many open files',
};

/** What a system error means, without the call's name and the errno code (Node's "ENOENT: ..., open 'x'"). */
function systemErrorWords(err: NodeJS.ErrnoException): string {
  return ERRNO_WORDS[err.code ?? ''] ?? err.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
}

/** A bug here, not a problem with the input: one line, and the stack only when asked for. */
function internalError(e: unknown): string {
  const detail = process.env.CKPT_INSPECT_DEBUG ? ((e as Error)?.stack ?? String(e)) : `${(e as Error)?.message ?? e} (CKPT_INSPECT_DEBUG=1 shows where)`;
  return `ckpt-inspect: internal error: ${detail}`;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`${internalError(e)}\n`);
      process.exitCode = EXIT_ERROR;
    },
  );
}
