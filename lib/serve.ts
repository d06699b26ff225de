import type { CommandIO } from './cli.ts';
import { reportFailure } from './cli.ts';
import { describeError } from './errors.ts';
import { armExitDeadline } from './exit-deadline.ts';

/** After the drain time, how long closing may take before the process exits regardless. */
export const SERVE_CLOSE_DEADLINE_MS = 10_000;

export interface ServedProcess {
  close(): Promise<void>;
}

export interface ServeUntilSignalOptions<O, R extends ServedProcess> {
  /** The command's name in messages (`webhook`, `controller`). */
  name: string;
  usage: string;
  /** Parses argv; throws with a message for a usage error. */
  parse(argv: string[]): O | 'help';
  start(options: O, io: CommandIO): Promise<R>;
  /** How long to keep serving after SIGTERM/SIGINT before closing (endpoints leave Services asynchronously). */
  drainMs(options: O): number;
  onSignal(running: R, signal: NodeJS.Signals): void;
  onStopped(running: R): void;
}

/**
 * The life of a long-running server command: parse (usage error → 2), start (failure → 1),
 * serve until SIGTERM or SIGINT, keep answering for the drain time, close (0, or 1 when
 * closing failed).
 */
export async function serveUntilSignal<O, R extends ServedProcess>(argv: string[], io: CommandIO, command: ServeUntilSignalOptions<O, R>): Promise<number> {
  let options: O | 'help';
  try {
    options = command.parse(argv);
  } catch (err) {
    return reportFailure(io.stderr, command.name, err, true);
  }
  if (options === 'help') {
    io.stdout.write(command.usage);
    return 0;
  }
  let running: R;
  try {
    running = await command.start(options, io);
  } catch (err) {
    return reportFailure(io.stderr, command.name, err);
  }
  const drainMs = command.drainMs(options);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      command.onSignal(running, signal);
      // Draining and closing are bounded: a server stuck on peers that vanished must still exit.
      const deadline = armExitDeadline({
        ms: drainMs + SERVE_CLOSE_DEADLINE_MS,
        log: (message, fields) => io.stderr.write(`meshtap ${command.name}: ${message} ${JSON.stringify(fields)}\n`),
      });
      setTimeout(() => {
        running.close().then(
          () => {
            deadline.disarm();
            command.onStopped(running);
            resolve(0);
          },
          (err: unknown) => {
            io.stderr.write(`meshtap ${command.name}: error while shutting down: ${describeError(err)}\n`);
            resolve(1);
          },
        );
      }, drainMs);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
