/**
 * Micro-benchmark of capture's whole cost to a sidecar process, run alone (`node
 * bench/capture-hand-off.ts`, no root, not part of `npm run bench`): the real hand-off and capture
 * worker thread (as `meshtap sidecar` starts them: default masking, shipping on) fed the chunks of
 * keep-alive HTTP/1.1 calls — the `npm run bench` request, POST of 1 KiB echoed — at a fixed
 * rate from this thread, as the forwarding thread would hand them off, without sockets.
 *
 * Reports CPU per 1000 calls by thread — this thread (the hand-off's share of forwarding), the
 * capture worker, V8's helper threads (garbage collection, compilation) — from
 * /proc/self/task/* over the measured window, after a warm-up, the minor page faults each took
 * (first touches of fresh memory: on this project's VM each costs about 13 µs, so a buffer
 * allocated afresh for every batch shows up here before it shows in the noisy CPU figures),
 * and the process's RSS. Environment:
 * HANDOFF_BENCH_RATE (calls/s, default 1000), HANDOFF_BENCH_SECONDS (default 8),
 * HANDOFF_BENCH_CONNECTIONS (16); HANDOFF_BENCH_NOOP=1 runs the same loop handing nothing off (its
 * own cost, to subtract), HANDOFF_BENCH_TICKS=user|sys splits the CPU, HANDOFF_BENCH_YOUNG_MB
 * sets the worker's young generation. Run it with the sidecar's NODE_OPTIONS
 * (`lib/pod-entry.ts`) to match a sidecar.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createCaptureHandOff } from '../sidecar/capture-worker/hand-off.ts';
import { createSidecarStats } from '../sidecar/stats.ts';
import { benchCall, benchConnectionMeta } from './capture-calls.ts';
import { threadCounts, type ThreadCounts } from './proc-stats.ts';
import type { ThreadCpu } from './results.ts';

const RATE = Number(process.env.HANDOFF_BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.HANDOFF_BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.HANDOFF_BENCH_CONNECTIONS ?? 16);
const WARMUP_SECONDS = 2;
const CLK_TCK = 100;

const { request, response } = benchCall();

/** This process's threads by group, `HANDOFF_BENCH_TICKS=user` or `=sys` counting only that part of the CPU. */
const counts = (): ThreadCounts => threadCounts([process.pid], (process.env.HANDOFF_BENCH_TICKS as 'user' | 'sys' | undefined) ?? 'all');

async function main(): Promise<void> {
  let records = 0;
  let recordBytes = 0;
  const stats = createSidecarStats();
  const handOff = createCaptureHandOff({
    worker: { maxBodyBytes: 64 * 1024, detectTimeoutMs: 1000, local: { pod: 'server-0', namespace: 'bench' }, mask: {}, shipping: true },
    clock: () => BigInt(Date.now()) * 1_000_000n,
    stats,
    ...(process.env.HANDOFF_BENCH_YOUNG_MB ? { resourceLimits: { maxYoungGenerationSizeMb: Number(process.env.HANDOFF_BENCH_YOUNG_MB), maxOldGenerationSizeMb: 96 } } : {}),
    onRecords: (batch) => {
      records += batch.length;
      for (const r of batch) recordBytes += r.byteLength;
    },
  });
  await handOff.ready();
  const captures = Array.from({ length: CONNECTIONS }, (_, c) => {
    // HANDOFF_BENCH_NOOP=1: the same loop with nothing handed off, to subtract the loop's own cost.
    return process.env.HANDOFF_BENCH_NOOP === '1' ? { clientData() {}, serverData() {}, close() {} } : handOff.open(benchConnectionMeta(c), stats.inbound);
  });

  // Open loop: each tick hands off the calls due by now, request then (next turn) response,
  // as forwarding would see them.
  let sent = 0;
  const t0 = performance.now();
  let measureFrom: { at: number; counts: ThreadCounts; sent: number } | undefined;
  const end = t0 + (WARMUP_SECONDS + SECONDS) * 1000;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
    const batch: number[] = [];
    while (sent < due) {
      const c = sent % CONNECTIONS;
      captures[c]!.clientData(Buffer.from(request));
      batch.push(c);
      sent++;
    }
    await sleep(0);
    for (const c of batch) captures[c]!.serverData(Buffer.from(response));
    if (measureFrom === undefined && performance.now() - t0 >= WARMUP_SECONDS * 1000) measureFrom = { at: performance.now(), counts: counts(), sent };
    await sleep(1);
  }
  const after = counts();
  const rssMiB = Number((process.memoryUsage.rss() / 1048576).toFixed(1));
  const seconds = (performance.now() - measureFrom!.at) / 1000;
  const calls = sent - measureFrom!.sent;
  await handOff.flush(10_000);
  for (const c of captures) c.close('fin');
  await handOff.close(10_000);
  // This thread is the one that hands off, as forwarding does in a sidecar.
  const msPer1000 = (group: keyof ThreadCpu): number => Number((((after.ticks[group] - measureFrom!.counts.ticks[group]) / CLK_TCK) * 1000 * (1000 / calls)).toFixed(1));
  const faultsPer1000 = (group: keyof ThreadCpu): number => Math.round((after.faults[group] - measureFrom!.counts.faults[group]) * (1000 / calls));
  const result = {
    rate: RATE,
    seconds: Number(seconds.toFixed(1)),
    calls,
    records,
    record_bytes: Math.round(recordBytes / Math.max(1, records)),
    rss_mib: rssMiB,
    cpu_ms_per_1000_calls: { main: msPer1000('forwarding'), worker: msPer1000('capture'), v8: msPer1000('v8'), other: msPer1000('other') },
    page_faults_per_1000_calls: { main: faultsPer1000('forwarding'), worker: faultsPer1000('capture'), v8: faultsPer1000('v8'), other: faultsPer1000('other') },
  };
  console.log(
    `${calls} calls at ${RATE}/s: CPU ms per 1000 calls — this thread ${result.cpu_ms_per_1000_calls.main}, capture worker ${result.cpu_ms_per_1000_calls.worker}, ` +
      `V8 helpers ${result.cpu_ms_per_1000_calls.v8}, other ${result.cpu_ms_per_1000_calls.other} (${records} records); RSS ${rssMiB} MiB\n` +
      `minor page faults per 1000 calls — this thread ${result.page_faults_per_1000_calls.main}, capture worker ${result.page_faults_per_1000_calls.worker}, ` +
      `V8 helpers ${result.page_faults_per_1000_calls.v8}, other ${result.page_faults_per_1000_calls.other}`,
  );
  console.log(JSON.stringify({ capture_hand_off: result }));
}

await main();
