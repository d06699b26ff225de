/**
 * Starting the lab's processes: detached (their own session, so a Ctrl-C meant for `lab up`
 * does not reach them and they outlive a `lab up` that returned), output appended to a log
 * file, optionally inside a pod's namespace and as another user. The caller `unref()`s them
 * once it no longer waits for them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface StartOptions {
  argv: string[];
  env: Record<string, string>;
  log: string;
  netns?: string;
  uid?: number;
  gid?: number;
  cwd?: string;
}

/** The command line that runs `argv` in a namespace as a user (what `lab exec` uses too). */
export function wrapArgv(argv: string[], netns: string | undefined, uid: number | undefined, gid: number | undefined): string[] {
  const user = uid !== undefined && uid !== 0 ? ['setpriv', `--reuid=${uid}`, `--regid=${gid ?? uid}`, '--clear-groups'] : [];
  return netns ? ['ip', 'netns', 'exec', netns, ...user, ...argv] : [...user, ...argv];
}

export function startProcess(options: StartOptions): ChildProcess {
  const argv = wrapArgv(options.argv, options.netns, options.uid, options.gid);
  const fd = openSync(options.log, 'a', 0o644);
  try {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd ?? '/',
      env: options.env,
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    return child;
  } finally {
    closeSync(fd);
  }
}

/** The last lines of a log, for error messages. */
export function tailLog(path: string, lines = 15): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

/** The command line of a running process, or undefined when it is gone. */
export function processCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return undefined;
    return raw.split('\0').filter((a) => a !== '');
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  return processCmdline(pid) !== undefined;
}
