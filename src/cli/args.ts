import { accessSync, constants, type Stats, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs as tokenize } from 'node:util';
import { WebannoloError } from '../errors.js';

/**
 * The CLI's flag handling and the plumbing every command shares: where output goes (so tests
 * can run `main` in-process and read what it printed), the usage-error type, and a few
 * formatting helpers. Node's util.parseArgs splits the command line; flags are `--name value`,
 * `--name=value`, or a bare `--name` for booleans.
 */

/** Anything text can be written to: process.stdout, or a test's collector. */
export interface OutStream {
  write(chunk: string): unknown;
  /** True when the stream is a terminal (progress bars only go to terminals). */
  isTTY?: boolean;
  /** Terminal width, when known. */
  columns?: number;
}

export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
}

/** A mistake in how the CLI was called (exit code 2), as opposed to a problem with the data (1). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagType = 'string' | 'int' | 'number' | 'boolean' | 'enum';

export interface FlagSpec {
  /** Kebab-case name without the dashes, e.g. 'ef-construction'. */
  name: string;
  type: FlagType;
  /** What to show for the value in help texts, e.g. 'FILE'. */
  placeholder?: string;
  help: string;
  required?: boolean;
  default?: string | number | boolean;
  /** Allowed values of an 'enum' flag. */
  values?: readonly string[];
  /** Bounds of an 'int' or 'number' flag (inclusive). */
  min?: number;
  max?: number;
}

export type FlagValue = string | number | boolean;

export interface ParsedArgs {
  /** Every flag that has a value (given, or its default), by kebab-case name. */
  values: Map<string, FlagValue>;
  /** The flags the user actually gave. */
  given: Set<string>;
  /** True when --help / -h was given (nothing else is validated then). */
  help: boolean;
}

const INT_RE = /^[+-]?\d+$/;
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function validList(specs: readonly FlagSpec[]): string {
  return specs.length === 0 ? '(this command takes no flags)' : specs.map((s) => `--${s.name}`).join(', ');
}

/** Parses argv (after the command name) against `specs`; throws UsageError on any mistake. */
export function parseArgs(command: string, argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  // Node's own tokenizer (util.parseArgs) splits the command line; this file keeps what it does
  // not do: typed values with ranges, required flags, `--switch true|false`, and the messages.
  const { tokens } = tokenize({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(specs.map((s) => [s.name, { type: s.type === 'boolean' ? 'boolean' : 'string' }] as const)),
  });
  const raw = new Map<string, string | true>();
  let help = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'option-terminator')
      throw new UsageError(`${command}: unexpected argument '--' (flags look like --name value; valid flags: ${validList(specs)})`);
    if (t.kind === 'positional' || !t.rawName.startsWith('--')) {
      const arg = t.kind === 'positional' ? t.value : t.rawName;
      if (arg === '-h') {
        help = true;
        continue;
      }
      throw new UsageError(`${command}: unexpected argument '${arg}' (flags look like --name value; valid flags: ${validList(specs)})`);
    }
    const name = t.name;
    if (name === 'help' && !byName.has('help')) {
      help = true;
      continue;
    }
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`${command}: unknown flag --${name}; valid flags: ${validList(specs)}`);
    if (raw.has(name)) throw new UsageError(`${command}: --${name} is given more than once`);
    if (t.inlineValue) {
      raw.set(name, t.value ?? '');
    } else if (spec.type === 'boolean') {
      // `--name true|false` also works (a bare --name means true).
      const next = tokens[i + 1];
      if (next?.kind === 'positional' && (next.value === 'true' || next.value === 'false')) {
        raw.set(name, next.value);
        i++;
      } else {
        raw.set(name, true);
      }
    } else {
      if (t.value === undefined || (t.value.startsWith('--') && t.value.length > 2)) {
        throw new UsageError(`${command}: --${name} needs a value${spec.placeholder ? ` (${spec.placeholder})` : ''}`);
      }
      raw.set(name, t.value);
    }
  }
  const values = new Map<string, FlagValue>();
  const given = new Set(raw.keys());
  if (help) return { values, given, help };
  for (const spec of specs) {
    const r = raw.get(spec.name);
    if (r === undefined) {
      if (spec.required) {
        throw new UsageError(
          `${command}: missing required flag --${spec.name}${spec.placeholder ? ` ${spec.placeholder}` : ''} (see \`webannolo help ${command}\`)`,
        );
      }
      if (spec.default !== undefined) values.set(spec.name, spec.default);
      continue;
    }
    values.set(spec.name, convert(command, spec, r));
  }
  return { values, given, help };
}

function convert(command: string, spec: FlagSpec, r: string | true): FlagValue {
  const flag = `${command}: --${spec.name}`;
  if (spec.type === 'boolean') {
    if (r === true || r === 'true' || r === '1') return true;
    if (r === 'false' || r === '0') return false;
    throw new UsageError(`${flag} is a switch: give it alone, or as --${spec.name}=true / --${spec.name}=false`);
  }
  const s = r as string;
  if (spec.type === 'string') {
    if (s === '') throw new UsageError(`${flag} needs a non-empty value`);
    return s;
  }
  if (spec.type === 'enum') {
    const v = s.toLowerCase();
    const allowed = spec.values ?? [];
    if (!allowed.includes(v)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got '${s}'`);
    return v;
  }
  const isInt = spec.type === 'int';
  const range = rangeText(spec);
  if (!(isInt ? INT_RE : NUMBER_RE).test(s.trim())) {
    throw new UsageError(`${flag} must be ${isInt ? 'an integer' : 'a number'}${range}, got '${s}'`);
  }
  const v = Number(s);
  if (!Number.isFinite(v) || (isInt && !Number.isSafeInteger(v))) throw new UsageError(`${flag} is out of range, got '${s}'`);
  if ((spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)) {
    throw new UsageError(`${flag} must be ${isInt ? 'an integer' : 'a number'}${range}, got ${s}`);
  }
  return v;
}

function rangeText(spec: FlagSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) return ` in [${spec.min}, ${spec.max}]`;
  if (spec.min !== undefined) return ` >= ${spec.min}`;
  if (spec.max !== undefined) return ` <= ${spec.max}`;
  return '';
}

/** Typed accessors for parsed values (the specs guarantee the type). */
export function str(a: ParsedArgs, name: string): string;
export function str(a: ParsedArgs, name: string, optional: true): string | undefined;
export function str(a: ParsedArgs, name: string, optional?: true): string | undefined {
  const v = a.values.get(name);
  if (v === undefined && !optional) throw new UsageError(`missing --${name}`);
  return v === undefined ? undefined : String(v);
}

export function num(a: ParsedArgs, name: string): number;
export function num(a: ParsedArgs, name: string, optional: true): number | undefined;
export function num(a: ParsedArgs, name: string, optional?: true): number | undefined {
  const v = a.values.get(name);
  if (v === undefined && !optional) throw new UsageError(`missing --${name}`);
  return v === undefined ? undefined : Number(v);
}

export function bool(a: ParsedArgs, name: string): boolean {
  return a.values.get(name) === true;
}

/** The flags of a command as help lines. */
export function flagHelp(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const left = `--${s.name}${s.type === 'boolean' ? '' : ` ${s.placeholder ?? (s.type === 'enum' ? (s.values ?? []).join('|') : 'N')}`}`;
    let right = s.help;
    if (s.required) right += ' (required)';
    else if (s.default !== undefined && s.type !== 'boolean') right += ` (default ${String(s.default)})`;
    return [left, right] as const;
  });
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`).join('\n');
}

// ---------- shared helpers of the commands ----------

/** One CLI command: its flags, its help, and what it does. Returns the exit code. */
export interface Command {
  name: string;
  summary: string;
  /** The synopsis after `webannolo <name>`. */
  synopsis: string;
  flags: readonly FlagSpec[];
  /** Extra help text after the flag list. */
  notes?: string;
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

/** Writes one line to a stream. */
export function println(stream: OutStream, line = ''): void {
  stream.write(`${line}\n`);
}

/**
 * Fails fast, before any long work, when `path` cannot be written: its directory is missing,
 * or the path itself is a directory. (The write itself goes through writeFileAtomic.)
 */
export function checkWritable(flag: string, path: string): void {
  const dir = dirname(resolve(path));
  let dirStat: Stats;
  try {
    dirStat = statSync(dir);
  } catch {
    throw new UsageError(`--${flag} ${path}: the directory ${dir} does not exist`);
  }
  if (!dirStat.isDirectory()) throw new UsageError(`--${flag} ${path}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UsageError(`--${flag} ${path}: the directory ${dir} is not writable`);
  }
  try {
    if (statSync(path).isDirectory()) throw new UsageError(`--${flag} ${path} is a directory: give a file name`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // Does not exist yet: fine.
  }
}

/**
 * Runs fn; a WebannoloError it throws gets `path: ` in front of its message unless it
 * already names the file, so that every error line says which file is at fault.
 */
export async function aboutFile<T>(path: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WebannoloError && !err.message.includes(path)) err.message = `${path}: ${err.message}`;
    throw err;
  }
}

/**
 * Runs fn, which writes `path` (or its lock); a system error (disk full, permission
 * denied...) becomes one line naming `path` instead of the temporary or lock file in use.
 */
export async function writingFile<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    // Our own errors (a lock held, a file replaced) already say what happened to `path`.
    if (typeof code !== 'string' || err instanceof WebannoloError) throw err;
    const reasons: Record<string, string> = {
      ENOENT: 'cannot create a file there (no such file or directory)',
      EACCES: 'permission denied',
      EPERM: 'permission denied',
      ENOSPC: 'no space left on the device',
      EROFS: 'the file system is read-only',
      EISDIR: 'it is a directory',
      EDQUOT: 'disk quota exceeded',
    };
    throw new WebannoloError('INVALID_ARGUMENT', `cannot write ${path}: ${reasons[code] ?? (err as Error).message}`);
  }
}

/** Seconds since `start` (a performance.now() value). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

/** Rounds to `digits` significant digits (for JSON output that stays readable). */
export function round(x: number, digits = 4): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}

/** Human-readable byte count: 512 B, 12.3 KiB, 45.6 MiB, 1.23 GiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

/** Seconds as text: 0.0123 s, 1.23 s, 12.3 s, 2 min 05 s. */
export function formatSeconds(s: number): string {
  if (s >= 120) return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
  if (s >= 10) return `${s.toFixed(1)} s`;
  if (s >= 1) return `${s.toFixed(2)} s`;
  return `${s.toPrecision(3)} s`;
}

/** Queries per second, guarding a zero-length measurement. */
export function qpsOf(queries: number, seconds: number): number {
  return Math.round(queries / Math.max(seconds, 1e-9));
}
