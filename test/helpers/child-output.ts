/** What a child process printed and how it ended, for tests that run commands to completion. */
import type { ChildProcess } from 'node:child_process';

export interface ChildOutput {
  /** The exit code; null when it was killed by a signal or could not be started. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Collects `child`'s stdout and stderr (both piped) until it closes. Never rejects: a child
 * that cannot be started ends with code null and the reason in `stderr`; one still running
 * after `timeoutMs` is killed (SIGKILL) and ends the same way.
 */
export function childOutput(child: ChildProcess, timeoutMs = 60_000): Promise<ChildOutput> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${err.message}\n` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
