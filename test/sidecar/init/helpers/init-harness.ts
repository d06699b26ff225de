/**
 * Shared by the init tests that run for real: the pinned Node and the bin file (so that `init`
 * runs inside a namespace, where `npx` cannot take us), and a normalised view of the nat table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { once } from 'node:events';
import { execInNetns, spawnInNetns } from '../../../../lab/netns.ts';

export const REPO = path.resolve(import.meta.dirname, '../../../..');
export const NODE = path.join(REPO, 'node_modules/.bin/node');
export const BIN = path.join(REPO, 'bin/meshtap.ts');
const HELPERS = import.meta.dirname;

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion without rejecting on a non-zero exit. */
export function runCommand(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: REPO });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface AsUser {
  uid?: number;
  gid?: number;
}

function userPrefix(user: AsUser): string[] {
  if (user.uid === undefined) return [];
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid ?? user.uid}`, '--clear-groups'];
}

/** `meshtap init <args>` inside a namespace, optionally as another user or with another env. */
export function runInitIn(netns: string, args: string[], options: AsUser & { env?: NodeJS.ProcessEnv } = {}): Promise<Exit> {
  return runCommand('ip', ['netns', 'exec', netns, ...userPrefix(options), NODE, BIN, 'init', ...args], { env: options.env });
}

export type Backend = 'nft' | 'legacy';

/**
 * `iptables-save -t nat` of a namespace without the timestamped comment lines and with counters
 * zeroed (the legacy backend counts packets on the built-in chains' policies).
 */
export async function natState(netns: string, backend: Backend): Promise<string> {
  const { stdout } = await execInNetns(netns, `iptables-${backend}-save`, ['-t', 'nat']);
  return stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]$/, '[0:0]'))
    .join('\n');
}

/** `ip6tables-save -t filter` of a namespace, normalised like `natState`. */
export async function ip6FilterState(netns: string, backend: Backend, table = 'filter'): Promise<string> {
  const { stdout } = await execInNetns(netns, `ip6tables-${backend}-save`, ['-t', table]);
  return stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]$/, '[0:0]'))
    .join('\n');
}

/** Runs an iptables command of one backend inside a namespace. */
export async function iptablesIn(netns: string, backend: Backend, args: string[]): Promise<void> {
  await execInNetns(netns, `iptables-${backend}`, args);
}

export interface Answer {
  server?: string;
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  error?: string;
}

/** Starts report-server.ts in a namespace and waits for it to listen. */
export async function startReportServers(netns: string, specs: string[]): Promise<ChildProcess> {
  const child = spawnInNetns(netns, NODE, [path.join(HELPERS, 'report-server.ts'), ...specs], { cwd: REPO });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', () => out.includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`report servers in ${netns} exited ${code}: ${err}`)));
  });
  const timer = setTimeout(() => child.emit('error', new Error('timeout')), 10_000);
  try {
    await Promise.race([ready, once(child, 'error').then(([e]) => Promise.reject(e as Error))]);
  } finally {
    clearTimeout(timer);
  }
  return child;
}

export interface Target {
  host: string;
  port: number;
  localAddress?: string;
}

/** Connections from inside `netns` as `user` (one client process), answers in target order. */
export async function connectFrom(netns: string, user: AsUser, targets: Target[]): Promise<Answer[]> {
  const exit = await runCommand('ip', ['netns', 'exec', netns, ...userPrefix(user), NODE, path.join(HELPERS, 'report-client.ts'), JSON.stringify(targets)]);
  const line = exit.stdout.trim();
  if (exit.code !== 0 || line === '') return targets.map(() => ({ error: `client exited ${exit.code}: ${exit.stderr.trim()}` }));
  return JSON.parse(line) as Answer[];
}
