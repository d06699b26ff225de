/**
 * Collector ingest throughput: records per second per core a real `meshtap collector` (a child
 * process, SQLite store in a file, full-text index on, a file inventory naming both ends) takes
 * over its real gRPC ingest, first with the store alone, then with both exports on (OTLP/gRPC to
 * `@elastic/mockotlpserver`, Loki push to a local HTTP receiver; both run in this process, so
 * their cost is not the collector's).
 *
 * The load is recorded batches: one batch of realistic records (1 KiB JSON bodies both ways,
 * headers, both ends) encoded once with the shipper's encoder; each send copies it and writes
 * fresh record and trace ids into the copy, so every record is new to the store: record ids as
 * a sidecar writes them for a connection of its own (its start second, then random digits:
 * `benchIdPrefix`), trace ids scattered as a cluster's random ones are, so the trace index's
 * entries land all over. Several streams (as several
 * sidecars) keep a few batches in flight each; the collector's own backpressure paces them.
 * CPU is the child's utime+stime from /proc/PID/stat over the measured window (after a
 * warm-up), so records/s/core does not depend on how busy the rest of the machine is.
 *
 * `node bench/collector-ingest.ts` prints a short table and one JSON line. Environment:
 * BENCH_INGEST_SECONDS (default 8), BENCH_INGEST_STREAMS (4), BENCH_INGEST_BATCH (256),
 * BENCH_INGEST_PROFILE_DIR (write a CPU profile of the collector per phase there),
 * BENCH_INGEST_STORE_ONLY=1 (only the store-alone phase: quicker A/B runs of the store).
 * `MESHTAP_COLLECTOR_*` variables in the environment reach the collector (its ingest rate limit
 * is always off). Each phase also reports the bytes the collector wrote per record.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { MockOtlpServer } from '@elastic/mockotlpserver';
import { loadCollectorProto, recordBatchEncoder, recordToProto, type ShipAckMessage } from '../record/codec.ts';
import type { CallRecord, Endpoint } from '../record/record.ts';
import { connectionIdAt } from '../sidecar/proxy/connection-id.ts';
import { ioCounters } from './proc-stats.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const MESHTAP = join(REPO, 'bin/meshtap.ts');
const CLK_TCK = 100;
const WARMUP_MS = 1500;
/** Hex digits of a send's number for a record (`scattered`). */
const ID_COUNTER_CHARS = 12;
/**
 * Record ids start as the sidecar's connection ids do (`sidecar/proxy/connection-id.ts`): the
 * connection's Unix second (8 hex digits), then 16 random-looking ones; each record is its own
 * connection here (a request per connection, a DNS query), the worst case for the id index.
 */
const ID_PREFIX_CHARS = 24;
/** The bench's notional clock for the ids' time part: records per second, about the ingest rate. */
const RECORDS_PER_ID_SECOND = 8000;
const ID_EPOCH_SECONDS = 1_800_000_000;
/** The connection-id part of record n's id, as a sidecar would have written it for a connection of its own. */
export const benchIdPrefix = (n: number): string => connectionIdAt(ID_EPOCH_SECONDS + Math.floor(n / RECORDS_PER_ID_SECOND), scattered(n).padStart(16, '0'));
/** Hex characters at the end of each record's trace id rewritten per send. */
const TRACE_COUNTER_CHARS = 16;
/**
 * Each send's number for a record, scattered: multiplying by an odd constant modulo 2^48 is a
 * bijection, so ids stay unique while consecutive sends land all over the id and trace indexes,
 * as the random connection ids and trace ids of a real cluster do (a plain counter would only
 * append to them, and flatter the store).
 */
const SCATTER = 0x9e3779b97f4an | 1n;
const MASK_48 = (1n << 48n) - 1n;
export const scattered = (n: number): string => ((BigInt(n) * SCATTER) & MASK_48).toString(16).padStart(ID_COUNTER_CHARS, '0');

export interface CollectorIngestBenchOptions {
  /** Measured seconds per phase (after a warm-up). */
  seconds?: number;
  /** Records per batch (the shipper's default is 256). */
  records?: number;
  /** Concurrent ingest streams, as that many sidecars. */
  streams?: number;
  /** Batches each stream keeps unacknowledged. */
  inFlight?: number;
  /** Write a CPU profile of the collector for each phase into this directory. */
  profileDir?: string;
  /** Only the store-alone phase. */
  storeOnly?: boolean;
}

export interface IngestPhaseResult {
  /** Records the collector acknowledged during the measured window. */
  records: number;
  seconds: number;
  recordsPerSec: number;
  /** Cores the collector process used (all its threads) over the window. */
  cpuCores: number;
  recordsPerSecPerCore: number;
  rssMiB: number;
  /** Records the collector refused (must be 0). */
  rejected: number;
  /**
   * Bytes the collector passed to write-like syscalls per record over the window
   * (`/proc/PID/io` wchar): the store's WAL and checkpoints, plus its sockets (acks, and the
   * exports' pushes in that phase). Unlike CPU it does not move with the machine's speed.
   */
  bytesWrittenPerRecord: number;
  /** Cores by thread name over the window (`main` runs ingest and SQLite; the rest are V8 and libuv helpers). */
  threadCores: Record<string, number>;
  /** With exports: what the receivers got and what the collector counted as dropped. */
  exports?: { spansReceived: number; lokiEntriesPushed: number; spansDropped: number; lokiDropped: number };
}

export interface CollectorIngestBenchResult {
  batchRecords: number;
  recordBytes: number;
  streams: number;
  storeOnly: IngestPhaseResult;
  withExports?: IngestPhaseResult;
}

// ---- the recorded batch

function jsonBody(seed: number, bytes: number): Uint8Array {
  const items: unknown[] = [];
  let text = '';
  for (let i = 0; text.length < bytes - 40; i++) {
    items.push({ sku: `SKU-${seed}-${i}`, name: `item ${i} of order ${seed}`, qty: (i % 5) + 1, price: 9.99 + i, tags: ['new', 'sale'] });
    text = JSON.stringify({ order: `order-${seed}`, customer: 'c-77812', items });
  }
  return new TextEncoder().encode(text.slice(0, bytes));
}

const frontend = { ip: '10.244.0.11', port: 40000, pod: 'frontend-7d9f-abcde', namespace: 'shop', identity: 'spiffe://cluster.local/ns/shop/sa/frontend' };
const payment = { ip: '10.244.0.21', port: 8080, identity: 'spiffe://cluster.local/ns/shop/sa/payment' };

/** Record i's trace id before a send rewrites its last TRACE_COUNTER_CHARS characters (the first half names the record). */
const benchTraceId = (i: number): string => `${(i + 1).toString(16).padStart(32 - TRACE_COUNTER_CHARS, '0')}${'0'.repeat(TRACE_COUNTER_CHARS)}`;

export function benchRecord(i: number): CallRecord {
  const start = 1_800_000_000_000_000_000n + BigInt(i) * 1_000_000n;
  const outbound = i % 2 === 0;
  const src: Endpoint = outbound ? { ...frontend } : { ip: frontend.ip, port: frontend.port, identity: frontend.identity };
  const dst: Endpoint = outbound ? { ...payment } : { ...payment, pod: 'payment-5c4b-xyz12', namespace: 'shop' };
  const body = jsonBody(i, 1024);
  return {
    // Rewritten per send: the first ID_PREFIX_CHARS characters (`benchIdPrefix`).
    id: `${'0'.repeat(ID_PREFIX_CHARS)}-${outbound ? 'o' : 'i'}${String(i).padStart(5, '0')}`,
    protocol: 'http',
    observer: outbound ? 'outbound' : 'inbound',
    connection_id: `conn-${i >> 4}`,
    ordinal: i & 15,
    start,
    request_end: start + 120_000n,
    response_start: start + 900_000n,
    end: start + 1_000_000n,
    elapsed_us: 1000,
    src,
    dst,
    tls: { mesh: true },
    method: 'POST',
    path: `/api/orders/${i}`,
    authority: 'payment.shop.svc.cluster.local:8080',
    status_code: i % 50 === 0 ? 503 : 200,
    request: {
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.byteLength),
        'user-agent': 'shop-frontend/2.3.1',
        accept: 'application/json',
        traceparent: `00-${benchTraceId(i)}-${(i + 1).toString(16).padStart(16, '0')}-01`,
        authorization: '****',
      },
      body,
      body_size: body.byteLength,
      truncated: false,
      content_type: 'application/json',
    },
    response: {
      headers: { 'content-type': 'application/json', 'content-length': String(body.byteLength), server: 'payment/1.0', date: 'Tue, 01 Dec 2026 10:00:00 GMT' },
      body: jsonBody(i + 7, 1024),
      body_size: 1024,
      truncated: false,
      content_type: 'application/json',
    },
    bytes_in: 1300,
    bytes_out: 1250,
    trace_id: benchTraceId(i),
    span_id: (i + 1).toString(16).padStart(16, '0'),
    redacted: ['request.headers.authorization'],
    sensitive: [],
  };
}

interface RecordedBatch {
  bytes: Buffer;
  /** Offset of each record's id counter in `bytes`. */
  idOffsets: number[];
  /** Offsets of each record's trace id counter in `bytes` (the trace id field and `traceparent`). */
  traceOffsets: number[][];
  records: number;
}

function recordBatch(records: number): RecordedBatch {
  const list = Array.from({ length: records }, (_, i) => benchRecord(i));
  const bytes = recordBatchEncoder()({
    seq: 1,
    sidecar: { pod: 'frontend-7d9f-abcde', namespace: 'shop', pod_ip: frontend.ip, node: 'node-a', service_account: 'frontend', sidecar_version: 'bench' },
    records: list.map(recordToProto),
  });
  const idOffsets = list.map((r) => {
    const at = bytes.indexOf(Buffer.from(r.id));
    if (at < 0) throw new Error(`record id ${r.id} not found in the encoded batch`);
    return at;
  });
  const traceOffsets = list.map((r) => {
    const needle = Buffer.from(r.trace_id!);
    const at: number[] = [];
    for (let from = bytes.indexOf(needle); from >= 0; from = bytes.indexOf(needle, from + 1)) at.push(from + needle.length - TRACE_COUNTER_CHARS);
    if (at.length !== 2) throw new Error(`record trace id ${r.trace_id} found ${at.length} times in the encoded batch, not 2`);
    return at;
  });
  return { bytes, idOffsets, traceOffsets, records };
}

// ---- the receivers

interface LokiSink {
  url: string;
  pushes: number;
  close(): Promise<void>;
}

/** Accepts every push (Loki answers 204); the collector's work is what is measured. */
async function startLokiSink(): Promise<LokiSink> {
  const sink: LokiSink = { url: '', pushes: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/loki/api/v1/push') sink.pushes++;
      res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}

function countSpans(request: unknown): number {
  let n = 0;
  for (const rs of (request as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: unknown[] }> }> }).resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) n += ss.spans?.length ?? 0;
  }
  return n;
}

// ---- the collector child

class CollectorChild {
  readonly child: ChildProcess;
  grpcPort = 0;
  httpPort = 0;
  private output = '';

  constructor(dir: string, env: Record<string, string>, profileDir?: string) {
    const nodeArgs = profileDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
    this.child = spawn(
      process.execPath,
      [
        ...nodeArgs,
        MESHTAP,
        'collector',
        '--host',
        '127.0.0.1',
        '--grpc-port',
        '0',
        '--http-port',
        '0',
        '--db',
        join(dir, 'collector.db'),
        '--inventory-file',
        join(dir, 'inventory.json'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } },
    );
    this.child.stdout!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000)));
    this.child.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000)));
  }

  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.output.split('\n').find((l) => l.includes('"collector listening"'));
      if (line !== undefined) {
        const info = JSON.parse(line) as { grpcPort: number; httpPort: number };
        this.grpcPort = info.grpcPort;
        this.httpPort = info.httpPort;
        return;
      }
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`collector did not start:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  cpuTicks(): number {
    const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  }

  /** CPU ticks of each thread, by thread name (V8 and libuv helpers, SQLite runs on the main one). */
  threadTicks(): Map<string, number> {
    const out = new Map<string, number>();
    for (const tid of readdirSync(`/proc/${this.child.pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${this.child.pid}/task/${tid}/stat`, 'utf8');
        const name = tid === String(this.child.pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(name, (out.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
      } catch {
        // The thread ended between listing and reading.
      }
    }
    return out;
  }

  rssMiB(): number {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'))?.[1] ?? 'NaN');
    return Math.round(kb / 1024);
  }

  /** Sum of the samples of `name` whose labels contain `labelPart`. */
  async metric(name: string, labelPart: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.httpPort}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name}{`) && line.includes(labelPart)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await once(this.child, 'exit');
    clearTimeout(timer);
  }
}

// ---- the load

type RawShipCall = grpc.ClientDuplexStream<Buffer, ShipAckMessage>;
type RawClient = grpc.Client & { Ship(): RawShipCall };

function rawClientConstructor(): new (address: string, credentials: grpc.ChannelCredentials) => RawClient {
  const definition = loadCollectorProto();
  const service = definition['meshtap.v1.Collector'] as grpc.ServiceDefinition;
  // The batches are already encoded: send their bytes as they are.
  const collector = { ...service, Ship: { ...service.Ship, requestSerialize: (b: Buffer) => b } };
  const loaded = grpc.loadPackageDefinition({ ...definition, 'meshtap.v1.Collector': collector }) as unknown as {
    meshtap: { v1: { Collector: new (address: string, credentials: grpc.ChannelCredentials) => RawClient } };
  };
  return loaded.meshtap.v1.Collector;
}

interface Load {
  acked(): number;
  rejected(): number;
  stop(): Promise<void>;
}

function startLoad(address: string, batch: RecordedBatch, streams: number, inFlight: number, counterStart: number): Load {
  const Client = rawClientConstructor();
  let counter = counterStart;
  let acked = 0;
  let rejected = 0;
  let stopping = false;
  const finished: Promise<void>[] = [];
  const clients: RawClient[] = [];
  let failure: Error | undefined;

  const nextBatch = (): Buffer => {
    const bytes = Buffer.from(batch.bytes);
    for (let r = 0; r < batch.idOffsets.length; r++) {
      const n = scattered(counter);
      bytes.write(benchIdPrefix(counter++), batch.idOffsets[r], ID_PREFIX_CHARS, 'latin1');
      for (const offset of batch.traceOffsets[r]) bytes.write(n.padStart(TRACE_COUNTER_CHARS, '0'), offset, TRACE_COUNTER_CHARS, 'latin1');
    }
    return bytes;
  };

  for (let s = 0; s < streams; s++) {
    const client = new Client(address, grpc.credentials.createInsecure());
    clients.push(client);
    const call = client.Ship();
    let pending = 0;
    const pump = (): void => {
      while (!stopping && pending < inFlight) {
        pending++;
        call.write(nextBatch());
      }
      if (stopping && pending === 0) call.end();
    };
    call.on('data', (ack: ShipAckMessage) => {
      pending--;
      if (ack.error) failure ??= new Error(`collector refused a batch: ${ack.error}`);
      acked += ack.accepted;
      rejected += ack.rejected;
      pump();
    });
    finished.push(
      new Promise<void>((resolve) => {
        call.on('error', (err) => {
          if (!stopping) failure ??= err;
          resolve();
        });
        call.on('end', () => resolve());
      }),
    );
    pump();
  }
  return {
    acked: () => {
      if (failure) throw failure;
      return acked;
    },
    rejected: () => rejected,
    async stop() {
      stopping = true;
      await Promise.race([Promise.all(finished), new Promise((r) => setTimeout(r, 10_000))]);
      for (const c of clients) c.close();
    },
  };
}

// ---- one phase

function inventoryFile(): string {
  const pod = (name: string, ip: string, app: string, node: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      labels: { app },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-rs`, uid: `uid-${app}-rs`, controller: true }],
    },
    spec: { nodeName: node, serviceAccountName: app, containers: [{ name: app, image: `${app}:1` }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  });
  const service = (name: string, ip: string) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'shop', uid: `uid-svc-${name}` },
    spec: { clusterIP: ip, clusterIPs: [ip], selector: { app: name }, ports: [{ port: 8080, targetPort: 8080, protocol: 'TCP' }] },
  });
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      pod('frontend-7d9f-abcde', frontend.ip, 'frontend', 'node-a'),
      pod('payment-5c4b-xyz12', payment.ip, 'payment', 'node-b'),
      service('frontend', '10.96.0.11'),
      service('payment', '10.96.0.21'),
    ],
  });
}

async function runPhase(
  name: 'store-only' | 'with-exports',
  batch: RecordedBatch,
  options: Required<Omit<CollectorIngestBenchOptions, 'profileDir' | 'storeOnly'>> & { profileDir?: string },
): Promise<IngestPhaseResult> {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-ingest-bench-'));
  writeFileSync(join(dir, 'inventory.json'), inventoryFile());
  let otlp: MockOtlpServer | undefined;
  let loki: LokiSink | undefined;
  let spansReceived = 0;
  // Every stream of the bench comes from one address: the per-sidecar rate limit is not what is measured.
  // The collector's own settings from this environment (to compare one in interleaved runs,
  // e.g. MESHTAP_COLLECTOR_GROUP_COMMIT_MS), then what the bench needs.
  const env: Record<string, string> = {
    ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('MESHTAP_COLLECTOR_') && e[1] !== undefined)),
    MESHTAP_COLLECTOR_MAX_INGEST_RATE: '0',
  };
  if (name === 'with-exports') {
    otlp = new MockOtlpServer({ logLevel: 'warn', services: ['grpc'], grpcHostname: '127.0.0.1', grpcPort: 0, onTrace: (r) => (spansReceived += countSpans(r)) });
    await otlp.start();
    loki = await startLokiSink();
    env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${otlp.grpcUrl!.port}`;
    env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
    env.MESHTAP_LOKI_URL = loki.url;
  }
  let profileDir: string | undefined;
  if (options.profileDir !== undefined) {
    profileDir = join(options.profileDir, name);
    mkdirSync(profileDir, { recursive: true });
  }
  const collector = new CollectorChild(dir, env, profileDir);
  try {
    await collector.ready();
    const load = startLoad(`127.0.0.1:${collector.grpcPort}`, batch, options.streams, options.inFlight, name === 'store-only' ? 0 : 36 ** 10);
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const acked0 = load.acked();
    const ticks0 = collector.cpuTicks();
    const threads0 = collector.threadTicks();
    const io0 = ioCounters(collector.pid);
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, options.seconds * 1000));
    const acked1 = load.acked();
    const ticks1 = collector.cpuTicks();
    const threads1 = collector.threadTicks();
    const io1 = ioCounters(collector.pid);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const rssMiB = collector.rssMiB();
    await load.stop();
    const records = acked1 - acked0;
    const cpuCores = (ticks1 - ticks0) / CLK_TCK / seconds;
    const result: IngestPhaseResult = {
      records,
      seconds: round(seconds, 2),
      recordsPerSec: Math.round(records / seconds),
      cpuCores: round(cpuCores, 2),
      recordsPerSecPerCore: Math.round(records / seconds / cpuCores),
      rssMiB,
      rejected: load.rejected(),
      bytesWrittenPerRecord: records > 0 ? Math.round((io1.wchar - io0.wchar) / records) : 0,
      threadCores: Object.fromEntries(
        [...threads1].map(([thread, t]) => [thread, round((t - (threads0.get(thread) ?? 0)) / CLK_TCK / seconds, 2)] as const).filter(([, c]) => c >= 0.01),
      ),
    };
    if (name === 'with-exports') {
      // Let the exports drain what they queued before reading their counters.
      await new Promise((r) => setTimeout(r, 2000));
      result.exports = {
        spansReceived,
        lokiEntriesPushed: await collector.metric('meshtap_collector_loki_entries', 'outcome="pushed"'),
        spansDropped: await collector.metric('meshtap_collector_spans', 'outcome="dropped_'),
        lokiDropped: await collector.metric('meshtap_collector_loki_entries', 'outcome="dropped_'),
      };
    }
    return result;
  } finally {
    await collector.stop();
    await otlp?.close();
    await loki?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits;

export async function runCollectorIngestBench(options: CollectorIngestBenchOptions = {}): Promise<CollectorIngestBenchResult> {
  const resolved = {
    seconds: options.seconds ?? 8,
    records: options.records ?? 256,
    streams: options.streams ?? 4,
    inFlight: options.inFlight ?? 4,
    profileDir: options.profileDir,
  };
  const batch = recordBatch(resolved.records);
  const result: CollectorIngestBenchResult = {
    batchRecords: batch.records,
    recordBytes: Math.round(batch.bytes.byteLength / batch.records),
    streams: resolved.streams,
    storeOnly: await runPhase('store-only', batch, resolved),
  };
  if (!options.storeOnly) result.withExports = await runPhase('with-exports', batch, resolved);
  return result;
}

function printTable(r: CollectorIngestBenchResult): void {
  const rows: Array<[string, IngestPhaseResult | undefined]> = [
    ['store only (SQLite + FTS, enrichment)', r.storeOnly],
    ['+ OTLP and Loki exports', r.withExports],
  ];
  console.log(`collector ingest: ${r.batchRecords} records/batch, ${r.recordBytes} B/record on the wire, ${r.streams} streams`);
  console.log(`${'phase'.padEnd(40)}${'records/s'.padStart(11)}${'cores'.padStart(8)}${'records/s/core'.padStart(16)}${'RSS MiB'.padStart(9)}${'B written/record'.padStart(18)}`);
  for (const [label, p] of rows) {
    if (p === undefined) continue;
    console.log(`${label.padEnd(40)}${String(p.recordsPerSec).padStart(11)}${p.cpuCores.toFixed(2).padStart(8)}${String(p.recordsPerSecPerCore).padStart(16)}${String(p.rssMiB).padStart(9)}${String(p.bytesWrittenPerRecord).padStart(18)}`);
  }
  if (r.withExports?.exports) {
    const e = r.withExports.exports;
    console.log(`exports: ${e.spansReceived} spans received, ${e.lokiEntriesPushed} Loki entries pushed, dropped: spans ${e.spansDropped}, Loki ${e.lokiDropped}`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const env = process.env;
  const result = await runCollectorIngestBench({
    seconds: env.BENCH_INGEST_SECONDS ? Number(env.BENCH_INGEST_SECONDS) : undefined,
    streams: env.BENCH_INGEST_STREAMS ? Number(env.BENCH_INGEST_STREAMS) : undefined,
    records: env.BENCH_INGEST_BATCH ? Number(env.BENCH_INGEST_BATCH) : undefined,
    profileDir: env.BENCH_INGEST_PROFILE_DIR,
    storeOnly: env.BENCH_INGEST_STORE_ONLY === '1',
  });
  printTable(result);
  console.log(JSON.stringify(result));
}
