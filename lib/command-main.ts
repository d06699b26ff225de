/**
 * The `meshtap` process around one command: picks the command from argv, runs it with the
 * process's streams and environment, and turns its result into the exit code. Shared by the
 * full CLI (`bin/meshtap.ts`) and the pod's compiled entry (`bin/meshtap-pod.ts`).
 */
import { commandFailure, type CommandRun } from './cli.ts';
import { cliErrors, describeError, isMeshtapError } from './errors.ts';

export interface CommandEntry {
  summary: string;
  /** Loaded only when used: a command pays for its own modules alone. */
  load: () => Promise<{ run: CommandRun }>;
}

function usage(commands: Record<string, CommandEntry>): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: meshtap <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun "meshtap <command> --help" for a command's options.\n`;
}

/** The exit code for what a command threw: its catalog's (usage errors 2), else 1. */
const failureExitCode = (err: unknown): number => (isMeshtapError(err) && cliErrors.exitCode(err.code)) || 1;

async function main(commands: Record<string, CommandEntry>, argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // No command is a usage error: the usage goes to stderr, like every other one.
    process.stderr.write(usage(commands));
    return 2;
  }
  if (name === 'help' && rest.length > 0) {
    // `meshtap help tap` is `meshtap tap --help`.
    if (commands[rest[0]] === undefined) {
      process.stderr.write(`meshtap: unknown command "${rest[0]}"\n\n${usage(commands)}`);
      return 2;
    }
    return (await commands[rest[0]].load()).run(['--help'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage(commands));
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`meshtap: unknown command "${name}"\n\n${usage(commands)}`);
    return 2;
  }
  const mod = await command.load();
  try {
    return await mod.run(rest, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
  } catch (err) {
    process.stderr.write(commandFailure(name, err));
    return failureExitCode(err);
  }
}

/**
 * A reader that went away (`meshtap lab status | head -3`, `meshtap inject … 2>&1 | head -1`) is
 * not the command's failure: what is still written goes nowhere (a command that streams, like
 * `tap`, also ends itself on it), and a sidecar whose log reader is gone goes on forwarding.
 * Any other error on stdout or stderr stays fatal.
 */
export function ignoreClosedPipe(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
}

/** Runs the command named by `argv[0]` and sets the process's exit code from it. */
export function runCommandMain(commands: Record<string, CommandEntry>, argv: string[]): void {
  process.stdout.on('error', ignoreClosedPipe);
  process.stderr.on('error', ignoreClosedPipe);
  main(commands, argv).then(
    (code) => {
      process.exitCode = code;
      // The command is done: a handle still open (a socket to a peer that vanished without FIN)
      // must not keep the process alive. Unref'd, so a clean exit is not delayed.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err: unknown) => {
      process.stderr.write(`meshtap: ${describeError(err)}\n`);
      process.exitCode = failureExitCode(err);
    },
  );
}
