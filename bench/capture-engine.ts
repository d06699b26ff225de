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
 * Add `--cpu-prof` to Node's own arguments to see where the time goes.
 */
import { CaptureEngine } from '../sidecar/capture-worker/capture-engine.ts';
import { OP_CLIENT_DATA, OP_CLOSE, OP_OPEN, OP_SERVER_DATA } from '../sidecar/capture-worker/ops.ts';
import { createCaptureFactory } from '../sidecar/proxy/capture-factory.ts';
import { createRecordMasker } from '../sidecar/proxy/masking.ts';
import { resolveMaskPolicy } from '../sidecar/mask/policy.ts';
import type { ConnectionMeta } from '../sidecar/proxy/connection.ts';
import { encodeCallRecord } from '../record/record-writer.ts';

const CALLS = Number(process.env.CAPTURE_BENCH_CALLS ?? 200_000);
const CONNECTIONS = Number(process.env.CAPTURE_BENCH_CONNECTIONS ?? 16);

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

interface Load {
  name: string;
  request: Uint8Array;
  response: Uint8Array;
}

function benchLoad(): Load {
  const body = 'b'.repeat(1024);
  return {
    name: 'bench request (octet-stream, 1 KiB echoed)',
    request: enc(`POST /echo HTTP/1.1\r\ncontent-type: application/octet-stream\r\ncontent-length: 1024\r\nhost: 10.0.2.2:8080\r\nconnection: keep-alive\r\n\r\n${body}`),
    response: enc(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 1024\r\ndate: Fri, 04 Dec 2026 12:00:00 GMT\r\nconnection: keep-alive\r\nkeep-alive: timeout=5\r\n\r\n${body}`),
  };
}

function jsonLoad(): Load {
  const item = '{"sku":"A-1","qty":1,"price":12.5}';
  const body = `{"order":42,"customer":"c-1093","email":"ana@example.com","items":[${Array(28).fill(item).join(',')}]}`;
  const head = (extra: string): string => `content-type: application/json\r\ncontent-length: ${body.length}\r\n${extra}`;
  return {
    name: 'JSON API call (1 KiB both ways, token, cookie)',
    request: enc(
      `POST /api/orders?page=2 HTTP/1.1\r\nhost: orders.shop.svc.cluster.local:8080\r\nuser-agent: frontend/2.3.1\r\naccept: application/json\r\n` +
        `authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjLTEwOTMifQ.c2lnbmF0dXJl\r\ncookie: session=9f8e7d6c5b4a\r\n` +
        `x-request-id: 2f1c9a4e-8b7d-4c3a-9e1f-5a6b7c8d9e0f\r\n${head('')}\r\n${body}`,
    ),
    response: enc(`HTTP/1.1 201 Created\r\n${head('date: Fri, 04 Dec 2026 12:00:00 GMT\r\ncache-control: no-store\r\n')}\r\n${body}`),
  };
}

function run(load: Load): { usPerCall: number; records: number; bytes: number } {
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
    },
  });
  for (let c = 0; c < CONNECTIONS; c++) {
    const meta: ConnectionMeta = {
      connectionId: `conn-${c}`,
      observer: 'inbound',
      client: { ip: '10.0.1.2', port: 40000 + c },
      dst: { ip: '10.0.2.2', port: 8080 },
      mesh: true,
    };
    engine.op(OP_OPEN, c, 0, enc(JSON.stringify(meta)));
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
  for (let c = 0; c < CONNECTIONS; c++) engine.op(OP_CLOSE, c, t, enc('fin'));
  return { usPerCall: (elapsed * 1000) / CALLS, records, bytes };
}

const results = [];
const only = process.env.CAPTURE_BENCH_LOAD; // `bench` or `json`: one load only
for (const load of [benchLoad(), jsonLoad()].filter((_, i) => only === undefined || only === ['bench', 'json'][i])) {
  run({ ...load }); // warm-up
  const r = run(load);
  results.push({ load: load.name, us_per_call: Number(r.usPerCall.toFixed(2)), records: r.records, record_bytes: Math.round(r.bytes / r.records) });
  console.log(`${load.name}: ${r.usPerCall.toFixed(2)} µs per call (${r.records} records, ${Math.round(r.bytes / r.records)} B each)`);
}
console.log(JSON.stringify({ capture_engine: results, calls: CALLS, connections: CONNECTIONS }));
