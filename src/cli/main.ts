import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebannoloError } from '../errors.js';
import { type CliIo, type Command, flagHelp, parseArgs, println, UsageError } from './args.js';
import { benchCommand } from './bench.js';
import { buildCommand } from './build.js';
import { addCommand, removeCommand } from './change.js';
import { demoMnistCommand } from './demo-mnist.js';
import { evalCommand } from './eval.js';
import { infoCommand } from './info.js';
import { searchCommand } from './search.js';
import { serveCommand } from './serve.js';

/**
 * The `webannolo` command line: dispatch and error handling. `main` takes the arguments after
 * `node webannolo` and where to write, and returns the exit code, so tests run it in-process.
 * Errors become one line `webannolo: error: <message>` on stderr: exit code 2 for a wrong
 * call (unknown flag, missing value), 1 for anything else (bad data, damaged files). A stack
 * trace only with WEBANNOLO_DEBUG=1.
 */

export const COMMANDS: readonly Command[] = [
  buildCommand,
  searchCommand,
  serveCommand,
  addCommand,
  removeCommand,
  evalCommand,
  infoCommand,
  demoMnistCommand,
  benchCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = [
    'usage: webannolo <command> [flags]',
    '',
    'Approximate nearest-neighbour search (HNSW) over dense and sparse vectors.',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  this text, or \`webannolo help <command>\` for a command's flags`,
    '',
    'global flags: --help, --version',
    '',
  ];
  for (const c of COMMANDS) {
    if (c.flags.length === 0) continue;
    lines.push(usageLine(c), flagHelp(c.flags), '');
  }
  lines.push('Dataset formats (from the extension, or --format): fvecs, bvecs, npy, csr, bin, idx.');
  lines.push('Set WEBANNOLO_DEBUG=1 for stack traces on errors.');
  return lines.join('\n');
}

/**
 * `webannolo NAME SYNOPSIS`, with any flag the synopsis leaves out appended as `[--flag VALUE]`,
 * so that the usage line names every flag the command takes.
 */
export function usageLine(c: Command): string {
  const missing = c.flags
    .filter((f) => !new RegExp(`--${f.name}(?![\\w-])`).test(c.synopsis))
    .map(
      (f) => `[--${f.name}${f.type === 'boolean' ? '' : ` ${f.placeholder ?? (f.type === 'enum' ? (f.values ?? []).join('|') : 'N')}`}]`,
    );
  return [`webannolo ${c.name}`, c.synopsis, ...missing].filter((part) => part !== '').join(' ');
}

const HELP_USAGE = [
  'usage: webannolo help [COMMAND]',
  '',
  "Prints the commands and every command's flags, or with COMMAND that command's usage line, flags and notes.",
  'The same as `webannolo --help`, and `webannolo COMMAND --help`.',
].join('\n');

function commandUsage(c: Command): string {
  const lines = [`usage: ${usageLine(c)}`, '', `${c.summary}.`];
  if (c.flags.length > 0) lines.push('', 'flags:', flagHelp(c.flags));
  if (c.notes) lines.push('', c.notes);
  return lines.join('\n');
}

/** The version in webannolo's package.json (found from src/cli or dist/src/cli). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'webannolo' && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // Not ours or unreadable: keep looking upwards.
      }
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Runs the CLI; returns the process exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: readonly string[], ioOverrides: Partial<CliIo> = {}): Promise<number> {
  const io: CliIo = { ...defaultIo(), ...ioOverrides };
  try {
    return await dispatch(argv, io);
  } catch (err) {
    return reportError(err, io);
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (first === 'help' && rest.length > 1)
      throw new UsageError(`help takes one command at most, got ${rest.length} arguments; see \`webannolo help help\``);
    if (topic === 'help' || topic === '--help' || topic === '-h') {
      println(io.stdout, HELP_USAGE);
    } else if (topic !== undefined) {
      const c = COMMANDS.find((x) => x.name === topic);
      if (!c) throw new UsageError(`unknown command '${topic}'; commands: ${COMMANDS.map((x) => x.name).join(', ')}, help`);
      println(io.stdout, commandUsage(c));
    } else {
      println(io.stdout, usage());
    }
    return 0;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    println(io.stdout, packageVersion());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    const what = first.startsWith('-') ? `unknown flag '${first}' (flags go after the command)` : `unknown command '${first}'`;
    throw new UsageError(`${what}; commands: ${COMMANDS.map((c) => c.name).join(', ')}, help`);
  }
  const args = parseArgs(command.name, rest, command.flags);
  if (args.help) {
    println(io.stdout, commandUsage(command));
    return 0;
  }
  return await command.run(args, io);
}

function reportError(err: unknown, io: CliIo): number {
  const debug = io.env['WEBANNOLO_DEBUG'] === '1';
  const usageError = err instanceof UsageError;
  let message: string;
  if (usageError || err instanceof WebannoloError) {
    message = err.message;
  } else if (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string') {
    // System errors (disk full, permission denied while writing): their message is readable.
    message = err.message;
  } else {
    const text = err instanceof Error ? err.message : String(err);
    message = `internal error: ${text}${debug ? '' : ' (set WEBANNOLO_DEBUG=1 for details)'}`;
  }
  // One line, whatever the message holds.
  println(io.stderr, `webannolo: error: ${message.replace(/\s*\n\s*/g, ' ')}`);
  if (debug && err instanceof Error && err.stack) println(io.stderr, err.stack);
  return usageError ? 2 : 1;
}
