import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CLI_ERR_USAGE, MeshtapError, isMeshtapError } from './errors.ts';

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

/**
 * What parseArgs said, for someone who mistyped: an unknown flag without its advice about
 * positional arguments (which commands taking them got), a value starting with '-' (such as
 * a negative number) with how to give it.
 */
function usageText(err: NodeJS.ErrnoException): string {
  const message = err.message;
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return message.replace(/\. To specify a positional argument[\s\S]*$/, '');
  const ambiguous = /^Option '([^']+)' argument is ambiguous\./.exec(message);
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && ambiguous) {
    const flag = ambiguous[1].split(' ')[0];
    return `${flag} got a value starting with '-': give it as ${flag}=VALUE (a flag's value that starts with '-' is read as another flag otherwise)`;
  }
  return message;
}

/**
 * `node:util` parseArgs with its errors turned into usage errors. The message does not name the
 * command: whoever prints it does (`commandFailure`), once.
 */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new MeshtapError(CLI_ERR_USAGE, usageText(err as NodeJS.ErrnoException), { cause: err });
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
 * another code as one the user fixes on the command line (it gets the hint too).
 */
export function commandFailure(name: string, err: unknown, usage = isMeshtapError(err, CLI_ERR_USAGE)): string {
  const prefix = `meshtap ${name}: `;
  const message = err instanceof Error ? err.message : String(err);
  const said = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  const line = err instanceof MeshtapError ? `${prefix}${err.code}: ${said}\n` : `${prefix}${said}\n`;
  return usage ? `${line}Run "meshtap ${name} --help" for its options.\n` : line;
}
