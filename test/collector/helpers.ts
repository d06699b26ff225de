import type { CallRecord, Endpoint } from '../../record/record.ts';
import { resolveCollectorOptions } from '../../collector/config.ts';
import { startCollector, type RunningCollector } from '../../collector/collector.ts';
import { createMemoryStore } from '../../collector/memory-store.ts';
import type { RecordStore } from '../../collector/record-store.ts';
import * as grpc from '@grpc/grpc-js';
import { loadCollectorProto, recordToProto, type RecordBatchMessage, type ShipAckMessage } from '../../record/codec.ts';

export { waitFor } from '../helpers/wait-for.ts';

type ShipClientType = grpc.Client & { Ship(): grpc.ClientDuplexStream<RecordBatchMessage, ShipAckMessage> };

/** A client of the collector's `Ship` stream, built from the official proto. */
export function shipClient(address: string): ShipClientType {
  const definition = loadCollectorProto()['meshtap.v1.Collector'] as grpc.ServiceDefinition;
  const ship = definition.Ship as grpc.MethodDefinition<RecordBatchMessage, ShipAckMessage>;
  const Client = grpc.makeGenericClientConstructor({ Ship: ship } as unknown as grpc.ServiceDefinition, 'Collector') as unknown as new (
    addr: string,
    creds: grpc.ChannelCredentials,
  ) => ShipClientType;
  return new Client(address, grpc.credentials.createInsecure());
}

/** Ships one batch through a collector's real gRPC ingest (plaintext) and returns its ack. */
export async function shipBatch(collector: RunningCollector, records: readonly CallRecord[], seq = 1): Promise<ShipAckMessage> {
  const client = shipClient(`127.0.0.1:${collector.grpcPort}`);
  try {
    const call = client.Ship();
    const ack = new Promise<ShipAckMessage>((resolve, reject) => {
      call.once('data', resolve);
      call.once('error', reject);
    });
    call.write({ seq: String(seq), sidecar: { pod: 'p', namespace: 'ns', pod_ip: '10.0.0.1', node: 'n', service_account: 'sa', sidecar_version: 'v' }, records: records.map((r) => recordToProto(r)) });
    const answer = await ack;
    call.end();
    return answer;
  } finally {
    client.close();
  }
}

/** A collector on loopback; port 0 picks free ports. */
export function startTestCollector(options: { grpcPort?: number; store?: RecordStore; maxRecords?: number } = {}): Promise<RunningCollector> {
  const config = resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: options.grpcPort ?? 0, httpPort: 0, maxRecords: options.maxRecords ?? 100_000 });
  return startCollector(config, { store: options.store });
}

/** A memory store whose every add() waits `delayMs` first: a collector that acks slowly. */
export function slowStore(delayMs: number): RecordStore & { adds: number } {
  const inner = createMemoryStore({ maxRecords: 100_000 });
  const store = {
    ...inner,
    adds: 0,
    async add(records: Parameters<RecordStore['add']>[0]) {
      store.adds++;
      await new Promise((r) => setTimeout(r, delayMs));
      return inner.add(records);
    },
  };
  return store;
}

export async function metricValue(collector: RunningCollector, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await collector.metrics.registry.getSingleMetric(name)?.get();
  const hit = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

export interface CallSpec {
  id: string;
  observer?: 'outbound' | 'inbound';
  protocol?: CallRecord['protocol'];
  /** ms after T0 */
  at?: number;
  elapsedMs?: number;
  src?: Partial<Endpoint>;
  dst?: Partial<Endpoint>;
  method?: string;
  path?: string;
  status?: number;
  grpcStatus?: number;
  error?: CallRecord['error'];
  requestBody?: string;
  responseBody?: string;
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  connectionId?: string;
  ordinal?: number;
  mesh?: boolean;
}

export const T0_NS = 1_764_000_000_000_000_000n;

/** A record built from the few fields a test cares about. */
export function callRecord(spec: CallSpec): CallRecord {
  const start = T0_NS + BigInt(Math.round((spec.at ?? 0) * 1e6));
  const elapsedUs = Math.round((spec.elapsedMs ?? 1) * 1000);
  const message = (body: string | undefined) =>
    body === undefined ? undefined : { headers: { 'content-type': 'application/json' }, body: new TextEncoder().encode(body), body_size: Buffer.byteLength(body), truncated: false };
  const r: CallRecord = {
    id: spec.id,
    protocol: spec.protocol ?? 'http',
    observer: spec.observer ?? 'outbound',
    connection_id: spec.connectionId ?? `conn-${spec.id}`,
    ordinal: spec.ordinal ?? 0,
    start,
    end: start + BigInt(elapsedUs) * 1000n,
    elapsed_us: elapsedUs,
    src: { ip: '10.244.0.5', port: 40000, ...spec.src },
    dst: { ip: '10.244.0.9', port: 8080, ...spec.dst },
    tls: { mesh: spec.mesh ?? false },
    bytes_in: 10,
    bytes_out: 20,
    redacted: [],
    sensitive: [],
  };
  if (spec.method !== undefined) r.method = spec.method;
  if (spec.path !== undefined) r.path = spec.path;
  if (spec.status !== undefined) r.status_code = spec.status;
  if (spec.grpcStatus !== undefined) r.grpc_status = spec.grpcStatus;
  if (spec.error !== undefined) r.error = spec.error;
  const request = message(spec.requestBody);
  const response = message(spec.responseBody);
  if (request) r.request = request;
  if (response) r.response = response;
  if (spec.traceId !== undefined) r.trace_id = spec.traceId;
  if (spec.spanId !== undefined) r.span_id = spec.spanId;
  if (spec.parentSpanId !== undefined) r.parent_span_id = spec.parentSpanId;
  return r;
}

/** A varied set of calls between shop workloads: filters have something to tell apart. */
export function shopDataset(n: number): CallRecord[] {
  const workloads = ['frontend', 'gateway', 'auth', 'catalog', 'payment'];
  const namespaces = ['shop', 'shop', 'shop', 'infra'];
  const out: CallRecord[] = [];
  for (let i = 0; i < n; i++) {
    const src = workloads[i % 5];
    const dst = workloads[(i * 7 + 1) % 5];
    out.push(
      callRecord({
        id: `d-${i}`,
        at: i,
        observer: i % 3 === 0 ? 'inbound' : 'outbound',
        protocol: i % 11 === 0 ? 'grpc' : i % 13 === 0 ? 'tcp' : 'http',
        elapsedMs: (i % 50) + 0.5,
        src: { workload: src, namespace: namespaces[i % 4], pod: `${src}-${i % 3}` },
        dst: i % 17 === 0 ? { service: 'external' } : { workload: dst, namespace: 'shop', pod: `${dst}-0` },
        method: i % 13 === 0 ? undefined : i % 4 === 0 ? 'POST' : 'GET',
        path: i % 13 === 0 ? undefined : `/api/${dst}/${i % 9}`,
        status: i % 13 === 0 ? undefined : [200, 201, 404, 500, 503, 200, 302][i % 7],
        grpcStatus: i % 11 === 0 ? i % 2 : undefined,
        error: i % 19 === 0 ? 'timeout' : undefined,
        requestBody: i % 13 === 0 ? undefined : JSON.stringify({ order: `order-${i}`, note: i % 6 === 0 ? 'gift wrap' : 'none' }),
        responseBody: i % 13 === 0 ? undefined : JSON.stringify({ ok: i % 5 < 2, ref: `ref-${i * 3}` }),
        traceId: `trace-${i % 10}`,
        mesh: i % 2 === 0,
      }),
    );
  }
  return out;
}
