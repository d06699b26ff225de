/**
 * `meshtap lab down`: removes everything a lab made, from its state file and, because a
 * crashed `lab up` may have created something it had no time to record, also by name: every
 * network namespace, link and /etc/netns directory starting with the lab's prefix, and every
 * process whose command line mentions the state directory.
 */
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BRIDGE, NAME_PREFIX } from './addresses.ts';
import { listNetns, sh } from './netns.ts';
import { removeLink, removeNodeRules, removePodNetns, stopNetnsProcesses } from './node-network.ts';
import { isAlive, processCmdline } from './processes.ts';
import { readState, saveState, type LabState } from './state.ts';

export interface DownResult {
  /** What was removed, one short line each. */
  removed: string[];
  /** What could not be removed. */
  problems: string[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Host processes the lab started: recorded ones and any whose command line names the state directory. */
function labHostProcesses(state: LabState | undefined, stateDir: string): number[] {
  const pids = new Set<number>();
  for (const p of state?.hostProcesses ?? []) {
    if (p.pid !== undefined && processCmdline(p.pid)?.join(' ').includes(stateDir)) pids.add(p.pid);
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmd = processCmdline(pid);
    if (cmd && cmd.some((a) => a === stateDir || a.startsWith(`${stateDir}/`))) pids.add(pid);
  }
  return [...pids];
}

async function stopPids(pids: number[], graceMs: number): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(isAlive)) await sleep(100);
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL');
  for (let i = 0; i < 50 && pids.some(isAlive); i++) await sleep(100);
}

/** The `lab up` that owns the state, if it is still running and is not us. */
function runningUp(state: LabState | undefined): number | undefined {
  if (!state || state.pid === process.pid) return undefined;
  const cmd = processCmdline(state.pid);
  return cmd && cmd.includes('lab') && cmd.includes('up') ? state.pid : undefined;
}

async function labLinks(): Promise<string[]> {
  const { stdout } = await sh('ip', ['-o', 'link', 'show']);
  return stdout
    .split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0])
    .filter((n): n is string => n !== undefined && n.startsWith(NAME_PREFIX));
}

function labEtcDirs(): string[] {
  try {
    return readdirSync('/etc/netns')
      .filter((n) => n.startsWith(`${NAME_PREFIX}-`))
      .map((n) => join('/etc/netns', n));
  } catch {
    return [];
  }
}

/** True when anything of a lab exists: state, namespaces, links, /etc/netns entries or processes. */
export async function labExists(stateDir: string): Promise<boolean> {
  let stateThere = true;
  try {
    readFileSync(join(stateDir, 'state.json'));
  } catch {
    stateThere = false;
  }
  if (stateThere) return true;
  if ((await listNetns(`${NAME_PREFIX}-`)).length > 0) return true;
  if ((await labLinks()).length > 0) return true;
  if (labEtcDirs().length > 0) return true;
  try {
    readdirSync(stateDir);
    return true;
  } catch {
    return false;
  }
}

export interface DownOptions {
  stateDir: string;
  /** How long processes get between SIGTERM and SIGKILL. */
  graceMs?: number;
  progress?: (line: string) => void;
}

export async function labDown(options: DownOptions): Promise<DownResult> {
  const { stateDir } = options;
  const graceMs = options.graceMs ?? 3000;
  const say = options.progress ?? (() => undefined);
  const removed: string[] = [];
  const problems: string[] = [];
  let state: LabState | undefined;
  try {
    state = readState(stateDir);
  } catch (err) {
    problems.push((err as Error).message);
  }

  // A `lab up` still working would keep creating things: stop it first.
  const up = runningUp(state);
  if (up !== undefined) {
    await stopPids([up], graceMs);
    removed.push(`lab up process ${up}`);
    say(`stopped lab up (pid ${up})`);
  }
  if (state) {
    state.phase = 'stopping';
    try {
      saveState(state);
    } catch {
      // the directory may be half gone; removal goes on by names
    }
  }

  // Pods: processes first (sidecars drain on SIGTERM), then namespaces, links, /etc/netns.
  const pods = new Map<string, { hostIf?: string; etcDir?: string }>();
  for (const p of state?.pods ?? []) pods.set(p.netns, { hostIf: p.hostIf, etcDir: p.etcDir });
  for (const ns of await listNetns(`${NAME_PREFIX}-`)) if (!pods.has(ns)) pods.set(ns, {});
  const existing = new Set(await listNetns(`${NAME_PREFIX}-`));
  await Promise.all(
    [...pods.entries()].map(async ([netns, p]) => {
      if (existing.has(netns)) await stopNetnsProcesses(netns, graceMs);
      await removePodNetns(netns, p.hostIf, p.etcDir);
      if (existing.has(netns)) removed.push(`namespace ${netns}`);
    }),
  );
  if (existing.size > 0) say(`removed ${existing.size} pod namespace(s)`);

  // Host processes: controller, collector, anything started with the state directory.
  const hostPids = labHostProcesses(state, stateDir);
  if (hostPids.length > 0) {
    await stopPids(hostPids, graceMs);
    for (const pid of hostPids) removed.push(`process ${pid}`);
    say(`stopped ${hostPids.length} host process(es)`);
  }

  // The node's service rules, by chain name (a crashed lab up may not have recorded them).
  const chains = await removeNodeRules().catch((err: Error) => (problems.push(`iptables: ${err.message}`), 0));
  if (chains > 0) {
    removed.push(`${chains} iptables chain(s)`);
    say(`removed the node's service rules (${chains} chains)`);
  }

  // Links: pod veths left by a crash, then the bridge.
  for (const link of await labLinks()) {
    if (link === BRIDGE) continue;
    await removeLink(link);
    removed.push(`link ${link}`);
  }
  if ((await labLinks()).includes(BRIDGE)) {
    await removeLink(BRIDGE);
    removed.push(`bridge ${BRIDGE}`);
    say(`removed bridge ${BRIDGE}`);
  }
  for (const dir of labEtcDirs()) {
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }

  if (state?.createdEtcNetns) {
    try {
      if (readdirSync('/etc/netns').length === 0) rmdirSync('/etc/netns');
    } catch {
      // already gone, or someone else put something there
    }
  }
  await rm(stateDir, { recursive: true, force: true });
  removed.push(stateDir);

  for (const ns of await listNetns(`${NAME_PREFIX}-`)) problems.push(`namespace ${ns} is still there`);
  for (const link of await labLinks()) problems.push(`link ${link} is still there`);
  if ((await removeNodeRules().catch(() => 1)) > 0) problems.push('iptables rules of the lab are still there');
  for (const pid of labHostProcesses(undefined, stateDir)) problems.push(`process ${pid} is still running`);
  return { removed, problems };
}
