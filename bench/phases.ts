/**
 * The load phases run against one setup: the fixed rate (latency, CPU per proxy, RSS, records
 * lost), saturation (throughput), and the stress shapes a real cluster sends (64 KiB bodies,
 * 256 connections, pipelined requests). Records lost = requests × 2 observers − records the
 * collector stored in the meantime.
 */
import type { PodNetns } from '../lab/netns.ts';
import type { Collector } from './collector-process.ts';
import { runLoad } from './load-runner.ts';
import { startProcessCpu, type ThreadMeasure } from './proc-stats.ts';
import type { ProxyPair } from './proxy-pair.ts';
import type { LoadResult, Pair, RecordAccount, SetupResult, StressResult } from './results.ts';
import { recordAccount } from './sidecar-counters.ts';
import { log, type BenchSettings } from './settings.ts';

export interface PhaseTarget {
  settings: BenchSettings;
  client: PodNetns;
  url: string;
  /** Absent for the direct run. */
  proxies?: ProxyPair;
  /** Present where sidecars ship records, so records lost can be counted. */
  collector?: Collector;
}

/**
 * Records lost while `run` sends requests: 2 per request issued (both observers); with the
 * sidecars' counters read before and after, also where they went.
 */
async function countingLost<T extends LoadResult>(
  collector: Collector | undefined,
  proxies: ProxyPair | undefined,
  run: () => Promise<T>,
): Promise<{ load: T; lost?: number; account?: RecordAccount }> {
  const before = collector ? await collector.stored() : 0;
  const countersBefore = collector ? await proxies?.counters?.() : undefined;
  const load = await run();
  if (!collector) return { load };
  const expected = 2 * load.total;
  const stored = (await collector.settle(before + expected)) - before;
  const countersAfter = countersBefore ? await proxies?.counters?.() : undefined;
  const account = countersBefore && countersAfter ? recordAccount(countersBefore, countersAfter, expected, stored) : undefined;
  return { load, lost: Math.max(0, expected - stored), account };
}

/** Runs a load; the proxies' and the collector's CPU over its measured part, RSS right after it. */
interface Measured {
  load: LoadResult;
  cpu?: Pair;
  threads?: ThreadMeasure;
  rssMiB?: Pair;
  rssFileMiB?: Pair;
  collectorCpu?: number;
  lost?: number;
  account?: RecordAccount;
}

async function measured(target: PhaseTarget, args: string[]): Promise<Measured> {
  let stopCpu: (() => Pair) | undefined;
  let stopThreadCpu: (() => ThreadMeasure) | undefined;
  let stopCollectorCpu: (() => number) | undefined;
  let cpu: Pair | undefined;
  let threads: ThreadMeasure | undefined;
  let rssMiB: Pair | undefined;
  let rssFileMiB: Pair | undefined;
  let collectorCpu: number | undefined;
  const collectorPid = target.collector?.child.pid;
  const { load, lost, account } = await countingLost(target.collector, target.proxies, async () => {
    const load = await runLoad(target.client, args, () => {
      stopCpu = target.proxies?.stats.startCpu();
      stopThreadCpu = target.proxies?.stats.startThreadCpu();
      stopCollectorCpu = collectorPid ? startProcessCpu(collectorPid) : undefined;
    });
    // Sampled before waiting for the collector: that wait is idle time for the proxies.
    cpu = stopCpu?.();
    threads = stopThreadCpu?.();
    rssMiB = target.proxies?.stats.rssMiB();
    rssFileMiB = target.proxies?.stats.rssFileMiB();
    collectorCpu = stopCollectorCpu?.();
    return load;
  });
  return { load, cpu, threads, rssMiB, rssFileMiB, collectorCpu, lost, account };
}

export async function runSetup(name: string, target: PhaseTarget, afterFixed: (fixed: LoadResult) => Promise<void> = async () => undefined): Promise<SetupResult> {
  const { seconds, rate, connections, bodyBytes, warmupSeconds } = target.settings;
  log(`${name}: fixed ${rate} req/s for ${warmupSeconds} s warm-up + ${seconds} s`);
  const fixed = await measured(target, ['fixed', target.url, String(rate), String(connections), String(seconds), String(bodyBytes), String(warmupSeconds)]);
  const result: SetupResult = { name, fixed: fixed.load, saturate: fixed.load };
  if (fixed.cpu) result.cpu = fixed.cpu;
  if (fixed.threads) {
    result.cpuThreads = fixed.threads.cores;
    result.pageFaults = fixed.threads.faults;
    result.cpuWaitMs = fixed.threads.waitMs;
  }
  if (fixed.rssMiB) result.rssMiB = fixed.rssMiB;
  if (fixed.rssFileMiB) result.rssFileMiB = fixed.rssFileMiB;
  if (target.proxies) {
    if (target.proxies.rssIdleMiB) result.rssIdleMiB = target.proxies.rssIdleMiB;
    if (target.proxies.startupMs) result.startupMs = target.proxies.startupMs;
  }
  if (fixed.lost !== undefined) result.recordsLostFixed = fixed.lost;
  if (fixed.account) result.recordsAccountFixed = fixed.account;
  await afterFixed(fixed.load);

  log(`${name}: saturation, ${connections} connections, 1 s warm-up + ${seconds} s`);
  const sat = await measured(target, ['saturate', target.url, String(connections), String(seconds), String(bodyBytes), '1']);
  result.saturate = sat.load;
  if (sat.cpu) result.cpuSaturated = sat.cpu;
  if (fixed.collectorCpu !== undefined && sat.collectorCpu !== undefined) result.collectorCpu = [fixed.collectorCpu, sat.collectorCpu];
  if (sat.lost !== undefined) result.recordsLostSaturated = sat.lost;
  if (sat.account) result.recordsAccountSaturated = sat.account;
  return result;
}

/** The stress shapes, each a saturation run: name → load generator arguments after the URL. */
export function stressShapes(settings: BenchSettings): Array<{ name: string; args: (url: string) => string[] }> {
  const s = String(settings.seconds);
  return [
    { name: '64 KiB bodies', args: (url) => ['saturate', url, String(settings.connections), s, String(64 * 1024), '1'] },
    { name: '256 connections', args: (url) => ['saturate', url, '256', s, String(settings.bodyBytes), '1'] },
    { name: 'pipelined, depth 8', args: (url) => ['pipeline', url, String(settings.connections), '8', s, String(settings.bodyBytes), '1'] },
  ];
}

export async function runStress(name: string, target: PhaseTarget): Promise<Record<string, StressResult>> {
  const out: Record<string, StressResult> = {};
  for (const shape of stressShapes(target.settings)) {
    log(`${name}: stress, ${shape.name}, 1 s warm-up + ${target.settings.seconds} s`);
    const run = await measured(target, shape.args(target.url));
    const result: StressResult = { load: run.load };
    if (run.cpu) result.cpu = run.cpu;
    if (run.rssMiB) result.rssMiB = run.rssMiB;
    if (run.lost !== undefined) result.recordsLost = run.lost;
    if (run.account) result.recordsAccount = run.account;
    out[shape.name] = result;
  }
  return out;
}

/** Saturation only, for the profiled runs. */
export async function runSaturation(name: string, target: PhaseTarget): Promise<LoadResult> {
  const { seconds, connections, bodyBytes } = target.settings;
  log(`${name}: saturation, profiled, 1 s warm-up + ${seconds} s`);
  return (await measured(target, ['saturate', target.url, String(connections), String(seconds), String(bodyBytes), '1'])).load;
}
