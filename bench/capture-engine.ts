/**
 * Micro-benchmark of the capture worker's core, run alone (`node bench/capture-engine.ts`, no
 * root, not part of `npm run bench`): the `CaptureEngine` wired as the worker wires it (the
 * default masking policy, the hand-written encoder) is fed the ops the forwarding thread posts
 * for keep-alive HTTP/1.1 calls, and the time per call is reported: what one captured call costs
 * the worker thread, without sockets, threads or the machine's other load in the figure.
 *
 * Two loads: the `npm run bench` request (POST, `application/octet-stream`, 1 KiB of `b`,
 * echoed back) and a JSON API call (1 KiB JSON bodies both ways, a bearer token, a cookie).
 * Environment: CAPTURE_BENCH_CALLS (default 200 000 per load), CAPTURE_BENCH_CONNECTIONS (16),
 * CAPTURE_BENCH_LOAD (`bench` or `json`: that load only).
 * Add `--cpu-prof` to Node's own arguments to see where the time goes. Also reports the bytes
 * the worker's core allocates per call (`allocation.ts`): garbage is what its scavenges and
 * V8's helper threads pay for, and unlike the time it does not move with the machine's load.
 */
import { CaptureEngine } from '../sidecar/capture-worker/capture-engine.ts';
import { OP_CLIENT_DATA, OP_CLOSE, OP_OPEN, OP_SERVER_DATA } from '../sidecar/capture-worker/ops.ts';
import { createCaptureFactory } from '../sidecar/proxy/capture-factory.ts';
import { createRecordMasker } from '../sidecar/proxy/masking.ts';
import { resolveMaskPolicy } from '../sidecar/mask/policy.ts';
import { encodeCallRecord } from '../record/record-writer.ts';
import { bytesAllocatedPerUnit } from './allocation.ts';
import { benchCall, benchConnectionMeta, jsonCall, type BenchCall } from './capture-calls.ts';

const CALLS = Number(process.env.CAPTURE_BENCH_CALLS ?? 200_000);
const CONNECTIONS = Number(process.env.CAPTURE_BENCH_CONNECTIONS ?? 16);

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function run(load: BenchCall): { usPerCall: number; records: number; bytes: number; allocatedPerCall: number } {
  let records = 0;
  let bytes = 0;
  const engine = new CaptureEngine({
    factory: createCaptureFactory({}),
    maxBodyBytes: 64 * 1024,
    detectTimeoutMs: 1000,
    local: { pod: 'server-0', namespace: 'bench' },
    timeBaseNs: 1_764_000_000_000_000_000n,
    mask: createRecordMasker(resolveMaskPolicy({})),
    encode: encodeCallRecord,
    shipping: true,
    onRecord(b) {
      records++;
      bytes += b.byteLength;
      return true;
    },
  });
  for (let c = 0; c < CONNECTIONS; c++) {
    engine.op(OP_OPEN, c, 0, enc(JSON.stringify(benchConnectionMeta(c))));
  }
  const started = performance.now();
  let t = 1;
  for (let i = 0; i < CALLS; i++) {
    const c = i % CONNECTIONS;
    engine.op(OP_CLIENT_DATA, c, t, load.request);
    engine.op(OP_SERVER_DATA, c, t + 0.5, load.response);
    t += 0.5; // 2000 calls a second of op time
  }
  const elapsed = performance.now() - started;
  let c = 0;
  const allocatedPerCall = bytesAllocatedPerUnit(() => {
    engine.op(OP_CLIENT_DATA, c, t, load.request);
    engine.op(OP_SERVER_DATA, c, t + 0.5, load.response);
    c = (c + 1) % CONNECTIONS;
    t += 0.5;
  }, 1);
  for (let k = 0; k < CONNECTIONS; k++) engine.op(OP_CLOSE, k, t, enc('fin'));
  return { usPerCall: (elapsed * 1000) / CALLS, records, bytes, allocatedPerCall };
}

const results = [];
const only = process.env.CAPTURE_BENCH_LOAD; // `bench` or `json`: one load only
for (const load of [benchCall(), jsonCall()].filter((_, i) => only === undefined || only === ['bench', 'json'][i])) {
  run({ ...load }); // warm-up
  const r = run(load);
  results.push({ load: load.name, us_per_call: Number(r.usPerCall.toFixed(2)), allocated_bytes_per_call: Math.round(r.allocatedPerCall), records: r.records, record_bytes: Math.round(r.bytes / r.records) });
  console.log(`${load.name}: ${r.usPerCall.toFixed(2)} µs and ${Math.round(r.allocatedPerCall)} B allocated per call (${r.records} records, ${Math.round(r.bytes / r.records)} B each)`);
}
console.log(JSON.stringify({ capture_engine: results, calls: CALLS, connections: CONNECTIONS }));
