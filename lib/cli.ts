import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CLI_ERR_USAGE, MeshtapError } from './errors.ts';

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

/** `node:util` parseArgs with errors turned into usage errors that name the command. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  argv: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new MeshtapError(CLI_ERR_USAGE, `meshtap ${command}: ${(err as Error).message}`, { cause: err });
  }
}

/** Parses a TCP port given on the command line or in the environment. */
export function parsePort(name: string, value: string | undefined, fallback?: number): number {
  if (value === undefined || value === '') {
    if (fallback === undefined) throw new MeshtapError(CLI_ERR_USAGE, `${name} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535 || !/^\d+$/.test(value.trim())) {
    throw new MeshtapError(CLI_ERR_USAGE, `${name} must be a port number 0-65535, got "${value}"`);
  }
  return n;
}
