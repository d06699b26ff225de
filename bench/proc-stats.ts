/**
 * CPU and memory of a proxy "container" from /proc: every process descended from the process
 * the bench spawned (the `ip netns exec` wrapper, which is not counted itself). A worker
 * thread is part of its process (its time is in the process's utime/stime, its memory in the
 * process's RSS); a child process — say a sidecar that re-executes itself or forks a helper —
 * is counted as its own process and summed, as a container's accounting would.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Pair, ThreadCpu } from './results.ts';

const CLK_TCK = 100;

interface Stat {
  ppid: number;
  /** utime + stime of the process (all its threads) + cutime + cstime of children it reaped. */
  ticks: number;
}

/**
 * A `/proc/.../stat` line: the command name and the fields after it (index 0 is the state; the
 * name may hold spaces and parentheses, so it ends at the last `)`).
 */
function statFields(path: string): { comm: string; fields: string[] } {
  const stat = readFileSync(path, 'utf8');
  const end = stat.lastIndexOf(')');
  return { comm: stat.slice(stat.indexOf('(') + 1, end), fields: stat.slice(end + 2).split(' ') };
}

function readStat(pid: number): Stat | undefined {
  try {
    const { fields } = statFields(`/proc/${pid}/stat`);
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) };
  } catch {
    return undefined;
  }
}

function childMap(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  return children;
}

/** Every live process below `root` (not `root` itself). */
export function descendants(root: number): number[] {
  const children = childMap();
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

const WRAPPERS = new Set(['ip', 'setpriv']);

/**
 * The processes of the container started as `root`: below the `ip netns exec`/`setpriv`
 * wrapper if `root` is one (it forks), or `root` and its descendants if it exec'd in place.
 */
export function containerPids(root: number): number[] {
  let comm = '';
  try {
    comm = readFileSync(`/proc/${root}/comm`, 'utf8').trim();
  } catch {
    return [];
  }
  const below = descendants(root);
  if (!WRAPPERS.has(comm)) return [root, ...below];
  return below.filter((pid) => {
    try {
      return !WRAPPERS.has(readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
    } catch {
      return false;
    }
  });
}

/** The topmost non-wrapper processes of the container started as `root`: the ones to signal. */
export function containerMains(root: number): number[] {
  const pids = new Set(containerPids(root));
  return [...pids].filter((pid) => !pids.has(readStat(pid)?.ppid ?? -1));
}

export function cpuTicks(pids: number[]): number {
  return pids.reduce((total, pid) => total + (readStat(pid)?.ticks ?? 0), 0);
}

/** A `/proc/PID/status` memory field (kB) summed over `pids`, in MiB. */
function statusMiB(pids: number[], field: 'VmRSS' | 'RssFile'): number {
  const pattern = new RegExp(`^${field}:\\s+(\\d+)`, 'm');
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(pattern.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0');
    } catch {
      // exited between listing and reading
    }
  }
  return kb / 1024;
}

export const rssMiB = (pids: number[]): number => statusMiB(pids, 'VmRSS');

/**
 * The file-backed part of the RSS: pages of mapped files (for a Node process, mostly the `node`
 * binary's own code), shared through the page cache with every process mapping the same file.
 */
export const rssFileMiB = (pids: number[]): number => statusMiB(pids, 'RssFile');

/** What `threadCounts` reads per thread group: CPU ticks, minor page faults, ns spent runnable but waiting for a CPU. */
export interface ThreadCounts {
  ticks: ThreadCpu;
  faults: ThreadCpu;
  waitNs: ThreadCpu;
}

const noThreads = (): ThreadCpu => ({ forwarding: 0, capture: 0, v8: 0, other: 0 });

/**
 * Summed over `pids`' threads, by thread group: a process's main thread forwards, Node names
 * worker threads `WorkerThread` (the capture worker), V8's helpers start with `V8`. `ticks`
 * counts user and system time, or only one of them.
 */
export function threadCounts(pids: number[], ticksOf: 'all' | 'user' | 'sys' = 'all'): ThreadCounts {
  const ticks = noThreads();
  const faults = noThreads();
  const waitNs = noThreads();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const { comm, fields } = statFields(`/proc/${pid}/task/${tid}/stat`);
        const group: keyof ThreadCpu = tid === String(pid) ? 'forwarding' : comm === 'WorkerThread' ? 'capture' : comm.startsWith('V8') ? 'v8' : 'other';
        ticks[group] += (ticksOf === 'sys' ? 0 : Number(fields[11])) + (ticksOf === 'user' ? 0 : Number(fields[12]));
        faults[group] += Number(fields[7]);
        // schedstat: ns on a CPU, ns runnable but waiting for one, timeslices.
        waitNs[group] += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]) || 0;
      } catch {
        // the thread ended between listing and reading
      }
    }
  }
  return { ticks, faults, waitNs };
}

const GROUPS = ['forwarding', 'capture', 'v8', 'other'] as const;

/** Per proxy (client, server), by thread group: cores, minor page faults per second, ms per second waiting for a CPU. */
export interface ThreadMeasure {
  cores: [ThreadCpu, ThreadCpu];
  faults: [ThreadCpu, ThreadCpu];
  waitMs: [ThreadCpu, ThreadCpu];
}

/** The processes of two proxies (client pod, server pod), each given by the pid the bench spawned. */
export class PairStats {
  private readonly roots: Pair;

  constructor(roots: Pair) {
    this.roots = roots;
  }

  private trees(): [number[], number[]] {
    return [containerPids(this.roots[0]), containerPids(this.roots[1])];
  }

  /** Starts a CPU measurement; the returned function gives cores used per proxy since then. */
  startCpu(): () => Pair {
    const ticks0 = this.trees().map(cpuTicks);
    const t0 = performance.now();
    return () => {
      const seconds = (performance.now() - t0) / 1000;
      const ticks1 = this.trees().map(cpuTicks);
      return [0, 1].map((i) => (ticks1[i] - ticks0[i]) / CLK_TCK / seconds) as Pair;
    };
  }

  /**
   * Starts a per-thread measurement (see `ThreadCpu`); the returned function gives, per proxy
   * since then and by thread group: cores used, minor page faults per second (first touches of
   * memory: a proxy that allocates fresh buffers for each batch shows here), and milliseconds per
   * second its threads were ready to run but waited for a CPU (`/proc/.../schedstat`: time a
   * forwarding thread waits is latency its requests wait). Threads that ended meanwhile are not
   * counted.
   */
  startThreadCpu(): () => ThreadMeasure {
    const before = this.trees().map((pids) => threadCounts(pids));
    const t0 = performance.now();
    return () => {
      const seconds = (performance.now() - t0) / 1000;
      const now = this.trees().map((pids) => threadCounts(pids));
      const per = (i: number, f: (c: ThreadCounts) => ThreadCpu, scale: number): ThreadCpu => {
        const out = noThreads();
        for (const k of GROUPS) out[k] = Math.max(0, f(now[i])[k] - f(before[i])[k]) / scale / seconds;
        return out;
      };
      return {
        cores: [per(0, (c) => c.ticks, CLK_TCK), per(1, (c) => c.ticks, CLK_TCK)],
        faults: [per(0, (c) => c.faults, 1), per(1, (c) => c.faults, 1)],
        waitMs: [per(0, (c) => c.waitNs, 1e6), per(1, (c) => c.waitNs, 1e6)],
      };
    };
  }

  rssMiB(): Pair {
    return this.trees().map(rssMiB) as Pair;
  }

  rssFileMiB(): Pair {
    return this.trees().map(rssFileMiB) as Pair;
  }
}

/** Cores used by one container (the collector) between this call and the returned function's call. */
export function startProcessCpu(root: number): () => number {
  const ticks0 = cpuTicks(containerPids(root));
  const t0 = performance.now();
  return () => (cpuTicks(containerPids(root)) - ticks0) / CLK_TCK / ((performance.now() - t0) / 1000);
}

/** A process's I/O counters (`/proc/PID/io`): bytes and calls through read/write-like syscalls. */
export interface IoCounters {
  /** Bytes passed to write-like syscalls (page cache or not). */
  wchar: number;
  /** Bytes returned by read-like syscalls. */
  rchar: number;
  /** Write-like and read-like syscalls. */
  syscw: number;
  syscr: number;
}

/** Parses the text of `/proc/PID/io`; a counter missing from it is an error, not a zero. */
export function parseIo(text: string): IoCounters {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)$/.exec(line.trim());
    if (m) values.set(m[1], Number(m[2]));
  }
  const get = (key: keyof IoCounters): number => {
    const v = values.get(key);
    if (v === undefined) throw new Error(`/proc io counters: no ${key} in ${JSON.stringify(text.slice(0, 200))}`);
    return v;
  };
  return { wchar: get('wchar'), rchar: get('rchar'), syscw: get('syscw'), syscr: get('syscr') };
}

/** This process's I/O counters, or another's by pid. */
export function ioCounters(pid: number | 'self' = 'self'): IoCounters {
  return parseIo(readFileSync(`/proc/${pid}/io`, 'utf8'));
}
