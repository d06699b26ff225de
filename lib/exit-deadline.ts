/**
 * A server command that was told to stop must stop. Draining is graceful only up to a
 * deadline: peers that vanished without FIN or RST (a deleted network namespace, a dead node)
 * can keep sockets, streams and retries alive forever, and a process that keeps running after
 * SIGTERM burns CPU until the kubelet kills it. Once armed, the deadline ends the process with
 * a logged reason; a second signal ends it at once.
 */
export interface ExitDeadlineOptions {
  /** Time from arming to the forced exit. */
  ms: number;
  /** Says why the process is exiting now (one line to the command's log). */
  log: (message: string, fields: Record<string, unknown>) => void;
  /** Exit code when the deadline or a second signal forces the exit (default 1). */
  code?: number;
  /** Replaced in tests; `process.exit` by default. */
  exit?: (code: number) => void;
  /** Listens for a second SIGTERM/SIGINT (default true). */
  secondSignal?: boolean;
}

export interface ExitDeadline {
  /** The graceful stop finished in time: nothing is forced. */
  disarm(): void;
}

export function armExitDeadline(options: ExitDeadlineOptions): ExitDeadline {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const code = options.code ?? 1;
  const started = Date.now();
  const timer = setTimeout(() => {
    options.log('shutdown deadline reached: exiting without finishing the drain', { deadline_ms: options.ms });
    exit(code);
  }, options.ms);
  // A clean stop must not wait for the deadline.
  timer.unref();
  const again = (signal: NodeJS.Signals): void => {
    options.log('second signal during shutdown: exiting now', { signal, after_ms: Date.now() - started });
    exit(code);
  };
  if (options.secondSignal !== false) {
    process.once('SIGTERM', again);
    process.once('SIGINT', again);
  }
  return {
    disarm() {
      clearTimeout(timer);
      process.off('SIGTERM', again);
      process.off('SIGINT', again);
    },
  };
}
