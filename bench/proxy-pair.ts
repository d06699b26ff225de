/**
 * What every proxy setup hands the measuring code: the processes of its two proxies (client
 * pod, server pod) and how to stop them. Proxies run under `ip netns exec`, which forks, so
 * stopping signals the program below the wrapper and waits for the wrapper to end.
 */
import type { ChildProcess } from 'node:child_process';
import { containerMains, descendants, type PairStats } from './proc-stats.ts';
import type { Pair } from './results.ts';
import type { SidecarCounters } from './sidecar-counters.ts';

export interface ProxyPair {
  stats: PairStats;
  /** RSS of each proxy once ready, before any load. */
  rssIdleMiB?: Pair;
  /** Milliseconds from spawn to ready, for the sidecars. */
  startupMs?: Pair;
  /** The sidecars' record counters, both summed; only for sidecar pairs. */
  counters?: () => Promise<SidecarCounters>;
  stop: () => Promise<void>;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM to the program the wrapper started (it stops its own children), SIGKILL to the whole tree after `timeoutMs`. */
export async function stopInNetns(wrapper: ChildProcess, timeoutMs: number): Promise<void> {
  if (wrapper.exitCode !== null || wrapper.signalCode !== null) return;
  const exited = new Promise((r) => wrapper.once('exit', r));
  const root = wrapper.pid!;
  signalAll(containerMains(root), 'SIGTERM');
  const timer = setTimeout(() => signalAll([...descendants(root), root], 'SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}
