import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closestMatch } from './edit-distance.ts';
import { CLI_ERR_USAGE, MeshtapError, USAGE_EXIT_CODE, isMeshtapError } from './errors.ts';

/** The signature every `meshtap <command>` module exports as `run`. Returns the exit code. */
export type CommandRun = (argv: string[], io: CommandIO) => Promise<number>;

export interface CommandIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** Kept here too: every command's CLI imports it with the helpers below. */
export { CLI_ERR_USAGE };

type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** How far a mistyped name may be from the one meant: a few edits, fewer than the name is long. */
function typoDistance(name: string): number {
  return Math.min(name.length - 1, Math.max(2, Math.floor(name.length / 3)));
}

/** The long option (`--name`) a mistyped `--nmae` or `-name` (without its dashes) most likely meant. */
function nearestLongOption(typed: string, options: CommandOptions): string | undefined {
  const names = Object.keys(options);
  const nearest =
    closestMatch(typed, names, { maxDistance: typoDistance(typed), ignoreCase: true }) ??
    // A start of the name: `--lim` for `--limit`, when only one name starts so.
    (typed.length >= 2 ? singleOrNone(names.filter((n) => n.toLowerCase().startsWith(typed.toLowerCase()))) : undefined);
  return nearest === undefined ? undefined : `--${nearest}`;
}

function singleOrNone<T>(items: readonly T[]): T | undefined {
  return items.length === 1 ? items[0] : undefined;
}

/**
 * The option an unknown one most likely meant. `--fliter`: the nearest long option. `-F`: the
 * short option of that letter in the other case. `-limit` (one dash; parseArgs names only its
 * first letter, `-l`): the long option it spells. `-l` alone: the only long option starting
 * with that letter, when it has no short form. Every other letter is one edit from every
 * short option, so nearness says nothing there.
 */
function nearestOption(unknown: string, argv: readonly string[], options: CommandOptions): string | undefined {
  if (unknown.startsWith('--')) {
    const typed = unknown.slice(2);
    const short = typed.length === 1 ? Object.entries(options).find(([, o]) => o.short === typed) : undefined;
    return short !== undefined ? `--${short[0]}` : nearestLongOption(typed, options);
  }
  const letter = unknown.slice(1);
  const dash = argv.indexOf('--');
  const word = (dash === -1 ? argv : argv.slice(0, dash)).find((a) => /^-[^-]/.test(a) && a.split('=')[0].length > 2 && a.split('=')[0].includes(letter));
  const spelt = word === undefined ? undefined : nearestLongOption(word.split('=')[0].slice(1), options);
  if (spelt !== undefined) return spelt;
  const otherCase = Object.values(options).find((o) => o.short !== undefined && o.short !== letter && o.short.toLowerCase() === letter.toLowerCase());
  if (otherCase !== undefined) return `-${otherCase.short}`;
  const starting = singleOrNone(Object.entries(options).filter(([name]) => name[0]?.toLowerCase() === letter.toLowerCase()));
  return starting !== undefined && starting[1].short === undefined ? `--${starting[0]}` : undefined;
}

/**
 * What parseArgs said, for someone who mistyped: an unknown flag without its advice about
 * positional arguments (which commands taking them got) and with the option it most likely
 * meant, a value starting with '-' (such as a negative number) with how to give it.
 */
function usageText(err: NodeJS.ErrnoException, argv: readonly string[], options: CommandOptions, dashValue?: DashValueAdvice): string {
  const message = err.message;
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const said = message.replace(/\. To specify a positional argument[\s\S]*$/, '');
    const unknown = /^Unknown option '([^']+)'$/.exec(said)?.[1];
    const meant = unknown === undefined ? undefined : nearestOption(unknown, argv, options);
    return meant === undefined ? said : `${said} (did you mean '${meant}'?)`;
  }
  const ambiguous = /^Option '([^']+)' argument is ambiguous\./.exec(message);
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && ambiguous) {
    const flag = ambiguous[1].split(' ')[0];
    const advice = dashValue === undefined ? undefined : dashValue(longName(flag, options), valueAfter(flag, argv) ?? '');
    return advice ?? `${flag} got a value starting with '-': give it as ${flag}=VALUE (a flag's value that starts with '-' is read as another flag otherwise)`;
  }
  return message;
}

/**
 * What to say instead of the `--flag=VALUE` advice when a flag's value starts with '-' (`flag`
 * is the long option's name, `--since`; `value` as given): a value that is a mistake either way,
 * such as `--since -5m`, gets an answer that fixes it. Undefined keeps the advice.
 */
export type DashValueAdvice = (flag: string, value: string) => string | undefined;

/** `--since` for `-s` when that is its short form; a long flag as it is. */
function longName(flag: string, options: CommandOptions): string {
  if (flag.startsWith('--')) return flag;
  const long = Object.entries(options).find(([, o]) => o.short !== undefined && `-${o.short}` === flag);
  return long === undefined ? flag : `--${long[0]}`;
}

/** The word after the first `flag` that is followed by a word starting with '-' (before `--`). */
function valueAfter(flag: string, argv: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < argv.length && argv[i] !== '--'; i++) {
    if (argv[i] === flag && argv[i + 1].startsWith('-')) return argv[i + 1];
  }
  return undefined;
}

/**
 * `node:util` parseArgs with its errors turned into usage errors. The message does not name the
 * command: whoever prints it does (`commandFailure`), once. `dashValue` may answer a flag's value
 * that starts with '-' better than the generic advice.
 */
export function parseCommandArgs<T extends CommandOptions>(
  argv: string[],
  options: T,
  allowPositionals = false,
  dashValue?: DashValueAdvice,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new MeshtapError(CLI_ERR_USAGE, usageText(err as NodeJS.ErrnoException, argv, options, dashValue), { cause: err });
  }
}

/**
 * A string flag's value: `undefined` when the flag is absent (the caller's default applies); a
 * value given but empty (`--flag ''`, or only blanks) is a usage error naming the flag, never
 * "not given". `what` says what the flag takes.
 */
export function flagValue(name: string, value: string | undefined, what: string): string | undefined {
  if (value !== undefined && value.trim() === '') {
    throw new MeshtapError(CLI_ERR_USAGE, `${name} needs a value (${what}), got "${value}"`);
  }
  return value;
}

/**
 * Parses a TCP port given on the command line or in the environment. `undefined` (absent) gives
 * `fallback`, or is an error without one; an empty value is an error ("needs a value"), not the
 * fallback. `allowZero: false` for a port that must be a real one (0 picks a free port only
 * where this process listens).
 */
/**
 * Checks that name every bad flag at once: `check(fn)` runs one, and a usage error it throws
 * (`CLI_ERR_USAGE`) is recorded in `problems` (less a leading `prefix`, such as "meshtap
 * controller: ") instead of ending the parse; any other error is thrown. The caller throws one
 * usage error with all of them (`problems.join('; ')`).
 */
export function usageProblems(prefix = ''): { problems: string[]; check: <T>(fn: () => T) => T | undefined } {
  const problems: string[] = [];
  const check = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (!isMeshtapError(err, CLI_ERR_USAGE)) throw err;
      problems.push(prefix !== '' && err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message);
      return undefined;
    }
  };
  return { problems, check };
}

export function parsePort(name: string, value: string | undefined, fallback?: number, options: { allowZero?: boolean } = {}): number {
  const min = options.allowZero === false ? 1 : 0;
  if (value === undefined) {
    if (fallback === undefined) throw new MeshtapError(CLI_ERR_USAGE, `${name} is required (a port number ${min}-65535)`);
    return fallback;
  }
  flagValue(name, value, `a port number ${min}-65535`);
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > 65535 || !/^\d+$/.test(value.trim())) {
    throw new MeshtapError(CLI_ERR_USAGE, `${name} must be a port number ${min}-65535, got "${value}"`);
  }
  return n;
}

/**
 * What a command that failed says on stderr, one shape for every command and subcommand:
 * `meshtap NAME: CODE: message` (a message that already starts with `meshtap NAME: ` is not
 * prefixed twice), and after a usage error where the options are. `usage` marks an error of
 * another code as one the user fixes on the command line (it gets the hint too). An empty `name`
 * is `meshtap` itself (no command, or not one).
 */
export function commandFailure(name: string, err: unknown, usage = isMeshtapError(err, CLI_ERR_USAGE)): string {
  const prefix = name === '' ? 'meshtap: ' : `meshtap ${name}: `;
  const message = err instanceof Error ? err.message : String(err);
  const said = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  const line = err instanceof MeshtapError ? `${prefix}${err.code}: ${said}\n` : `${prefix}${said}\n`;
  if (!usage) return line;
  return `${line}${name === '' ? 'Run "meshtap --help" for the commands.' : `Run "meshtap ${name} --help" for its options.`}\n`;
}

/**
 * The exit code of a command that failed, one rule for every command: a usage error
 * (`CLI_ERR_USAGE`, or an error the command marks as one, as for `commandFailure`) exits 2,
 * any other failure 1.
 */
export function failureExitCode(err: unknown, usage = isMeshtapError(err, CLI_ERR_USAGE)): number {
  return usage ? USAGE_EXIT_CODE : 1;
}

/** Prints a command's failure (`commandFailure`) and gives its exit code (`failureExitCode`). */
export function reportFailure(stderr: NodeJS.WritableStream, name: string, err: unknown, usage = isMeshtapError(err, CLI_ERR_USAGE)): number {
  stderr.write(commandFailure(name, err, usage));
  return failureExitCode(err, usage);
}

/** Up to this many commands are listed in an "unknown command" line; more are the help's to list. */
const LISTED_COMMANDS = 6;

/**
 * The usage error for a word that is not a command (or, starting with '-', not an option) of
 * `commands`/`options`: with the nearest one when it looks like a typo, else with the commands
 * when they are few. A long list is in the help, which the failure's hint points at.
 */
export function unknownCommand(word: string, commands: readonly string[], options: readonly string[] = ['-h', '--help']): MeshtapError {
  const isOption = word.startsWith('-');
  // A typo is a few edits away, and fewer than the word is long ("ls" is not a typo of "lab").
  const nearest = closestMatch(word, isOption ? options : commands, { maxDistance: typoDistance(word) });
  if (isOption) return new MeshtapError(CLI_ERR_USAGE, `Unknown option '${word}'${nearest === undefined ? '' : ` (did you mean '${nearest}'?)`}`);
  const hint = nearest !== undefined ? ` (did you mean "${nearest}"?)` : commands.length <= LISTED_COMMANDS ? ` (${commands.join(', ')})` : '';
  return new MeshtapError(CLI_ERR_USAGE, `unknown command "${word}"${hint}`);
}

/** Whether argv asks for help: `-h` or `--help` before a `--` (what follows `--` is someone else's). */
export function asksForHelp(argv: readonly string[]): boolean {
  const dash = argv.indexOf('--');
  return (dash === -1 ? argv : argv.slice(0, dash)).some((a) => a === '-h' || a === '--help');
}

/**
 * Whether a command's first word asks for that command's own help: `-h`, `--help`, or `help`
 * alone or before an option (`help SUB` asks for SUB's).
 */
export function asksForOwnHelp(word: string, rest: readonly string[]): boolean {
  return word === '-h' || word === '--help' || (word === 'help' && (rest.length === 0 || rest[0].startsWith('-')));
}

/** One subcommand of a command made of them (`meshtap lab up`, `meshtap certs init`). */
export interface Subcommand {
  /** Its own help, for `meshtap PARENT SUB --help` and `meshtap PARENT help SUB`. */
  usage: string;
  /** Runs it with the arguments after its name; what it throws is printed as `meshtap PARENT SUB: …`. */
  run: CommandRun;
}

/**
 * A command made of subcommands, in one rule for all of them. No subcommand is a usage error:
 * the command's help on stderr, exit 2, as `meshtap` alone. `--help`, `-h` and `help` print
 * the command's help; `SUB --help` and `help SUB` the subcommand's. An unknown subcommand is a
 * usage error naming the command (`meshtap lab: …`), a failure of a subcommand names both.
 */
export async function runSubcommands(
  parent: string,
  usage: string,
  subcommands: Readonly<Record<string, Subcommand>>,
  argv: string[],
  io: CommandIO,
): Promise<number> {
  const [word, ...rest] = argv;
  if (word === undefined) {
    io.stderr.write(usage);
    return USAGE_EXIT_CODE;
  }
  const names = Object.keys(subcommands);
  const find = (name: string): Subcommand | undefined => (Object.hasOwn(subcommands, name) ? subcommands[name] : undefined);
  if (asksForOwnHelp(word, rest)) {
    io.stdout.write(usage);
    return 0;
  }
  const sub = find(word === 'help' ? rest[0] : word);
  if (sub === undefined) return reportFailure(io.stderr, parent, unknownCommand(word === 'help' ? rest[0] : word, names));
  if (word === 'help' || asksForHelp(rest)) {
    io.stdout.write(sub.usage);
    return 0;
  }
  try {
    return await sub.run(rest, io);
  } catch (err) {
    return reportFailure(io.stderr, `${parent} ${word}`, err);
  }
}
