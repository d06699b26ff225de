/**
 * A database server the tests start themselves, stopped when the test ends: asked to shut down
 * with `signal`, killed if it has not exited within `graceMs`.
 */
import type { ChildProcess } from 'node:child_process';

export function stopOnTeardown(t: { teardown(fn: () => unknown): void }, server: ChildProcess, signal: NodeJS.Signals, graceMs: number): void {
  t.teardown(async () => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((r) => server.once('exit', r));
    server.kill(signal);
    await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await exited;
    }
  });
}
