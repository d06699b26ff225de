/**
 * What one bench run measures, as plain data: the load generator's summary, one setup's figures
 * per round, and the median over rounds. The last line the bench prints is an array of rounds
 * of `SetupResult`s, so field names and shapes here are a contract (see bench/README.md,
 * "Output"): add fields, never reshape the existing ones.
 */

export interface LatencyMs {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** One run of the load generator (`bench/load.ts`). */
export interface LoadResult {
  mode?: string;
  seconds?: number;
  sent: number;
  /** Requests issued including the warm-up: what the proxies saw. */
  total: number;
  ok: number;
  errors: number;
  throughput: number;
  latency_ms: LatencyMs;
}

/** Client pod's proxy, then server pod's. */
export type Pair = [number, number];

/**
 * Where a proxy's CPU goes, by thread: `forwarding` is each process's main thread (for a
 * sidecar, the event loop that forwards), `capture` the worker threads (Node names them
 * `WorkerThread`), `v8` V8's helper threads (garbage collection, optimising compilers), `other`
 * the rest (libuv's pool, and every thread of a program that is not Node).
 */
export interface ThreadCpu {
  forwarding: number;
  capture: number;
  v8: number;
  other: number;
}

/** A heavier shape of traffic run against a pair at saturation (64 KiB bodies, many connections, pipelining). */
export interface StressResult {
  load: LoadResult;
  /** Cores each proxy used while it ran. */
  cpu?: Pair;
  rssMiB?: Pair;
  /** Requests × 2 observers − records stored; only where a collector receives records. */
  recordsLost?: number;
  /** Where the records went, from the sidecars' counters; only for sidecar pairs. */
  recordsAccount?: RecordAccount;
}

/** A run's records lost, split into what the sidecars counted and what nothing explains (`sidecar-counters.ts`). */
export interface RecordAccount {
  /** Requests × 2 observers. */
  expected: number;
  /** Records the collector stored meanwhile. */
  stored: number;
  /** expected − stored. */
  lost: number;
  /** Records the sidecars completed (`meshtap_sidecar_records_emitted_total`). */
  emitted: number;
  /** expected − emitted: calls never made into records. */
  notMade: number;
  /** Records the sidecars dropped, by reason (`meshtap_sidecar_records_dropped_total`). */
  dropped: Record<string, number>;
  /** Captures cut, by reason (`meshtap_sidecar_capture_overflow_total`). */
  cut: Record<string, number>;
  /** Bytes forwarded without capture (`meshtap_sidecar_capture_skipped_bytes_total`). */
  skippedBytes: number;
  /** Lost records no counter explains: not made with nothing cut or skipped, or made, not dropped and not stored. */
  unaccounted: number;
}

export interface SetupResult {
  name: string;
  fixed: LoadResult;
  saturate: LoadResult;
  /** Cores used by each proxy (all processes of its container) during the fixed-rate run. */
  cpu?: Pair;
  cpuSaturated?: Pair;
  /** RSS summed over each proxy's processes after the fixed-rate run. */
  rssMiB?: Pair;
  /** The file-backed part of `rssMiB` (mapped files: for Node, mostly the binary's own code). */
  rssFileMiB?: Pair;
  /** RSS of each proxy once ready, before any load. */
  rssIdleMiB?: Pair;
  /** `cpu` by thread group, per proxy. */
  cpuThreads?: [ThreadCpu, ThreadCpu];
  /** Minor page faults per second at the fixed rate by thread group, per proxy. */
  pageFaults?: [ThreadCpu, ThreadCpu];
  /** Milliseconds per second the threads were runnable but waited for a CPU, at the fixed rate, per proxy. */
  cpuWaitMs?: [ThreadCpu, ThreadCpu];
  /** Milliseconds from spawning each sidecar to its admin `/ready` answering 200. */
  startupMs?: Pair;
  /** Cores the collector used during the fixed-rate and the saturation run. */
  collectorCpu?: Pair;
  recordsLostFixed?: number;
  recordsLostSaturated?: number;
  recordsAccountFixed?: RecordAccount;
  recordsAccountSaturated?: RecordAccount;
  /** Stress phases by name; present on the round that ran them. */
  stress?: Record<string, StressResult>;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function medianLoad(all: LoadResult[]): LoadResult {
  const m = (get: (l: LoadResult) => number) => median(all.map(get));
  return {
    sent: m((l) => l.sent),
    total: m((l) => l.total),
    ok: m((l) => l.ok),
    errors: Math.max(...all.map((l) => l.errors)),
    throughput: Math.round(m((l) => l.throughput)),
    latency_ms: {
      p50: m((l) => l.latency_ms.p50),
      p90: m((l) => l.latency_ms.p90),
      p99: m((l) => l.latency_ms.p99),
      p999: m((l) => l.latency_ms.p999),
      max: m((l) => l.latency_ms.max),
      mean: m((l) => l.latency_ms.mean),
    },
  };
}

function medianPair<T>(rounds: T[], pick: (r: T) => Pair | undefined): Pair | undefined {
  const all = rounds.map(pick).filter((p): p is Pair => p !== undefined);
  return all.length ? [median(all.map((p) => p[0])), median(all.map((p) => p[1]))] : undefined;
}

function worst<T>(rounds: T[], pick: (r: T) => number | undefined): number | undefined {
  const all = rounds.map(pick).filter((n): n is number => n !== undefined);
  return all.length ? Math.max(...all) : undefined;
}

/** The account that explains least: the most unaccounted, then the most lost. */
function worstAccount<T>(rounds: T[], pick: (r: T) => RecordAccount | undefined): RecordAccount | undefined {
  let out: RecordAccount | undefined;
  for (const a of rounds.map(pick)) {
    if (a !== undefined && (out === undefined || a.unaccounted > out.unaccounted || (a.unaccounted === out.unaccounted && a.lost > out.lost))) out = a;
  }
  return out;
}

function medianStress(rounds: SetupResult[]): Record<string, StressResult> | undefined {
  const names = [...new Set(rounds.flatMap((r) => Object.keys(r.stress ?? {})))];
  if (names.length === 0) return undefined;
  return Object.fromEntries(
    names.map((name) => {
      const all = rounds.map((r) => r.stress?.[name]).filter((s): s is StressResult => s !== undefined);
      const result: StressResult = { load: medianLoad(all.map((s) => s.load)) };
      const cpu = medianPair(all, (s) => s.cpu);
      const rss = medianPair(all, (s) => s.rssMiB);
      const lost = worst(all, (s) => s.recordsLost);
      if (cpu) result.cpu = cpu;
      if (rss) result.rssMiB = rss;
      if (lost !== undefined) result.recordsLost = lost;
      const account = worstAccount(all, (s) => s.recordsAccount);
      if (account) result.recordsAccount = account;
      return [name, result];
    }),
  );
}

/** Each figure's median over the rounds of one setup; errors and records lost: the worst round. */
export function medianResult(rounds: SetupResult[]): SetupResult {
  if (rounds.length === 1) return rounds[0];
  const result: SetupResult = {
    name: rounds[0].name,
    fixed: medianLoad(rounds.map((r) => r.fixed)),
    saturate: medianLoad(rounds.map((r) => r.saturate)),
  };
  const pairs = ['cpu', 'cpuSaturated', 'rssMiB', 'rssFileMiB', 'rssIdleMiB', 'startupMs', 'collectorCpu'] as const;
  for (const key of pairs) {
    const p = medianPair(rounds, (r) => r[key]);
    if (p) result[key] = p;
  }
  for (const key of ['cpuThreads', 'pageFaults', 'cpuWaitMs'] as const) {
    const threads = rounds.map((r) => r[key]).filter((t) => t !== undefined);
    if (threads.length === 0) continue;
    const side = (i: 0 | 1): ThreadCpu => {
      const m = (k: keyof ThreadCpu) => median(threads.map((t) => t[i][k]));
      return { forwarding: m('forwarding'), capture: m('capture'), v8: m('v8'), other: m('other') };
    };
    result[key] = [side(0), side(1)];
  }
  const lostFixed = worst(rounds, (r) => r.recordsLostFixed);
  const lostSaturated = worst(rounds, (r) => r.recordsLostSaturated);
  if (lostFixed !== undefined) result.recordsLostFixed = lostFixed;
  if (lostSaturated !== undefined) result.recordsLostSaturated = lostSaturated;
  const accountFixed = worstAccount(rounds, (r) => r.recordsAccountFixed);
  const accountSaturated = worstAccount(rounds, (r) => r.recordsAccountSaturated);
  if (accountFixed) result.recordsAccountFixed = accountFixed;
  if (accountSaturated) result.recordsAccountSaturated = accountSaturated;
  const stress = medianStress(rounds);
  if (stress) result.stress = stress;
  return result;
}

/** Rounds are arrays of setups in the same order; the result holds one median setup per position. */
export function medianOverRounds(rounds: SetupResult[][]): SetupResult[] {
  return rounds[0].map((first, i) => medianResult(rounds.map((r) => r.find((s) => s.name === first.name) ?? r[i])));
}

/** Setup names the last line keeps (the contract), and the extra plaintext pairs. */
export const SETUP = {
  direct: 'direct',
  haproxyTcp: 'haproxy pair (tcp)',
  haproxyMtls: 'haproxy mTLS pair',
  meshtapCapture: 'meshtap pair, capture on',
  meshtapOff: 'meshtap pair, capture off',
  meshtapMtlsOff: 'meshtap mTLS pair, capture off',
  meshtapFull: 'meshtap mTLS pair, full capture',
} as const;
