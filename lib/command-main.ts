/**
 * The `meshtap` process around one command: picks the command from argv, runs it with the
 * process's streams and environment, and turns its result into the exit code. Shared by the
 * full CLI (`bin/meshtap.ts`) and the pod's compiled entry (`bin/meshtap-pod.ts`).
 */
import { asksForOwnHelp, reportFailure, unknownCommand, type CommandIO, type CommandRun } from './cli.ts';
import { USAGE_EXIT_CODE } from './errors.ts';

export interface CommandEntry {
  summary: string;
  /** Loaded only when used: a command pays for its own modules alone. */
  load: () => Promise<{ run: CommandRun }>;
}

/** `meshtap`'s own options, besides the commands. */
const OPTIONS = ['-h', '--help', '-V', '--version'];

function usage(commands: Record<string, CommandEntry>): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'usage: meshtap <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'options:',
    '  -h, --help     show this help',
    "  -V, --version  print meshtap's version",
    '',
    'Run "meshtap <command> --help" for a command\'s options.',
    '',
  ].join('\n');
}

/** The version in package.json: compiled into the pod entry too, and loaded only when asked for. */
async function version(): Promise<string> {
  const { default: pkg } = await import('../package.json', { with: { type: 'json' } });
  return pkg.version;
}

async function main(commands: Record<string, CommandEntry>, argv: string[]): Promise<number> {
  const io: CommandIO = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
  const [name, ...rest] = argv;
  if (name === undefined) {
    // No command is a usage error: the usage goes to stderr, like every other one.
    process.stderr.write(usage(commands));
    return USAGE_EXIT_CODE;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`meshtap ${await version()}\n`);
    return 0;
  }
  if (asksForOwnHelp(name, rest)) {
    process.stdout.write(usage(commands));
    return 0;
  }
  // `meshtap help tap` is `meshtap tap --help`.
  const wanted = name === 'help' ? rest[0] : name;
  const command = Object.hasOwn(commands, wanted) ? commands[wanted] : undefined;
  if (command === undefined) return reportFailure(process.stderr, '', unknownCommand(wanted, Object.keys(commands), OPTIONS));
  const mod = await command.load();
  try {
    return await mod.run(name === 'help' ? ['--help'] : rest, io);
  } catch (err) {
    return reportFailure(process.stderr, wanted, err);
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
      process.exitCode = reportFailure(process.stderr, '', err);
    },
  );
}
