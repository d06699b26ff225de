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
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCaptureHandOff } from '../sidecar/capture-worker/hand-off.ts';
import { createSidecarStats } from '../sidecar/stats.ts';
import { benchCall, benchConnectionMeta } from './capture-calls.ts';

const RATE = Number(process.env.HANDOFF_BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.HANDOFF_BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.HANDOFF_BENCH_CONNECTIONS ?? 16);
const WARMUP_SECONDS = 2;
const CLK_TCK = 100;

const { request, response } = benchCall();

interface ThreadCounts {
  ticks: Record<string, number>;
  /** Minor page faults: first touches of memory the process had not used (or gave back). */
  faults: Record<string, number>;
}

/** CPU ticks and minor page faults by thread group: this (main) thread, the capture worker, V8 helpers, the rest. */
function threadCounts(): ThreadCounts {
  const out: Record<string, number> = { main: 0, worker: 0, v8: 0, other: 0 };
  const faults: Record<string, number> = { main: 0, worker: 0, v8: 0, other: 0 };
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    let comm: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // HANDOFF_BENCH_TICKS=user or =sys: only user or only system time.
    const mode = process.env.HANDOFF_BENCH_TICKS;
    const ticks = (mode === 'sys' ? 0 : Number(fields[11])) + (mode === 'user' ? 0 : Number(fields[12]));
    const group = tid === String(process.pid) ? 'main' : comm === 'WorkerThread' ? 'worker' : comm.startsWith('V8') ? 'v8' : 'other';
    out[group]! += ticks;
    faults[group]! += Number(fields[7]);
  }
  return { ticks: out, faults };
}

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
    if (measureFrom === undefined && performance.now() - t0 >= WARMUP_SECONDS * 1000) measureFrom = { at: performance.now(), counts: threadCounts(), sent };
    await sleep(1);
  }
  const counts = threadCounts();
  const rssMiB = Number((process.memoryUsage.rss() / 1048576).toFixed(1));
  const seconds = (performance.now() - measureFrom!.at) / 1000;
  const calls = sent - measureFrom!.sent;
  await handOff.flush(10_000);
  for (const c of captures) c.close('fin');
  await handOff.close(10_000);
  const msPer1000 = (group: string): number => Number((((counts.ticks[group]! - measureFrom!.counts.ticks[group]!) / CLK_TCK) * 1000 * (1000 / calls)).toFixed(1));
  const faultsPer1000 = (group: string): number => Math.round((counts.faults[group]! - measureFrom!.counts.faults[group]!) * (1000 / calls));
  const result = {
    rate: RATE,
    seconds: Number(seconds.toFixed(1)),
    calls,
    records,
    record_bytes: Math.round(recordBytes / Math.max(1, records)),
    rss_mib: rssMiB,
    cpu_ms_per_1000_calls: { main: msPer1000('main'), worker: msPer1000('worker'), v8: msPer1000('v8'), other: msPer1000('other') },
    page_faults_per_1000_calls: { main: faultsPer1000('main'), worker: faultsPer1000('worker'), v8: faultsPer1000('v8'), other: faultsPer1000('other') },
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
