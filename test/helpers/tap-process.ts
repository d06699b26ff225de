/** `meshtap tap` run as a child process for the tap tests: its output collected, killed at the test's end. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const NODE = `${repo}node_modules/.bin/node`;

export interface TapProcess {
  child: ChildProcess;
  stdout: () => string;
  lines: () => string[];
  stderr: () => string;
  exit: Promise<[number | null, NodeJS.Signals | null]>;
}

/**
 * Runs `meshtap tap ARGS` with the pinned Node, no colours and no token from the environment
 * (a developer's own must not reach the test's collector); `env` adds to or overrides that.
 */
export function spawnTap(t: Test, args: string[], env: NodeJS.ProcessEnv = {}): TapProcess {
  const child = spawn(NODE, ['bin/meshtap.ts', 'tap', ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', MESHTAP_COLLECTOR_TOKEN: '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, stdout: () => out, lines: () => out.split('\n').filter(Boolean), stderr: () => err, exit };
}
