/**
 * Exchange (what a parser knows) + connection (what the proxy knows) → CallRecord.
 *
 * Record ids are `<connection_id>-<o|i><ordinal>`: deterministic, so a record resent after a
 * reconnect is recognised as the same record by the collector, and unique across both
 * observers of a call even once both sidecars share a connection id (the mTLS work).
 */
import type { Exchange } from '../capture/session.ts';
import type { CallRecord, Endpoint } from '../../record/record.ts';
import type { ConnectionMeta } from './connection.ts';

/** The pod this sidecar runs in: fills the local end of every record. */
export interface LocalPod {
  readonly pod: string;
  readonly namespace: string;
  readonly node?: string;
}

export function recordId(meta: Pick<ConnectionMeta, 'connectionId' | 'observer'>, ordinal: number): string {
  return `${meta.connectionId}-${meta.observer === 'outbound' ? 'o' : 'i'}${ordinal}`;
}

/** On a call sent in plaintext because the meshed peer had no identity yet (permissive fallback). */
export const MESH_FALLBACK_NOTE = 'mtls fallback: the meshed peer had no certificate, sent in plaintext';

function localEndpoint(ip: string, port: number, local: LocalPod): Endpoint {
  const endpoint: Endpoint = { ip, port, pod: local.pod, namespace: local.namespace };
  if (local.node !== undefined) endpoint.node = local.node;
  return endpoint;
}

/**
 * The exchange's own fields a record carries as they are (everything but `tls_info`,
 * `redacted`, `sensitive` and `body_arrivals`, which the builder turns into record fields).
 */
const EXCHANGE_FIELDS = [
  'request_end',
  'response_start',
  'method',
  'path',
  'authority',
  'status_code',
  'grpc_status',
  'grpc_message',
  'request',
  'response',
  'error',
  'error_detail',
  'close_reason',
  'connection',
  'queue_us',
  'trace_id',
  'span_id',
  'parent_span_id',
  'link_confidence',
  'caused_by_trace_id',
  'caused_by_span_id',
  'notes',
] as const satisfies ReadonlyArray<keyof CallRecord>;

/**
 * One record per captured call, so built field by field: an object literal in one shape plus
 * the exchange's optional fields copied by name, not rest and spread (which copy generically
 * and cost the capture worker a kilobyte of garbage per record).
 */
export function buildCallRecord(exchange: Exchange, meta: ConnectionMeta, local: LocalPod): CallRecord {
  const outbound = meta.observer === 'outbound';
  const src: Endpoint = outbound ? localEndpoint(meta.client.ip, meta.client.port, local) : { ip: meta.client.ip, port: meta.client.port };
  const dst: Endpoint = outbound ? { ip: meta.dst.ip, port: meta.dst.port } : localEndpoint(meta.dst.ip, meta.dst.port, local);
  if (meta.mesh) {
    // Our identity on our end, the verified peer's on theirs.
    (outbound ? src : dst).identity = meta.localIdentity;
    (outbound ? dst : src).identity = meta.peerIdentity;
  }
  const elapsedNs = exchange.end - exchange.start;
  const appTls = exchange.tls_info;
  const record: CallRecord = {
    id: recordId(meta, exchange.ordinal),
    protocol: exchange.protocol,
    observer: meta.observer,
    connection_id: meta.connectionId,
    ordinal: exchange.ordinal,
    start: exchange.start,
    end: exchange.end,
    elapsed_us: elapsedNs > 0n ? Number(elapsedNs / 1000n) : 0,
    src,
    dst,
    tls: appTls ? { mesh: meta.mesh, app_tls: appTls } : { mesh: meta.mesh },
    bytes_in: exchange.bytes_in,
    bytes_out: exchange.bytes_out,
    redacted: exchange.redacted ? [...exchange.redacted] : [],
    sensitive: exchange.sensitive ? [...exchange.sensitive] : [],
  };
  const from = exchange as Partial<Record<(typeof EXCHANGE_FIELDS)[number], unknown>>;
  const to = record as unknown as Record<string, unknown>;
  for (let i = 0; i < EXCHANGE_FIELDS.length; i++) {
    const key = EXCHANGE_FIELDS[i];
    if (key in from) to[key] = from[key];
  }
  if (meta.meshFallback) record.notes = [...(exchange.notes ?? []), MESH_FALLBACK_NOTE];
  return record;
}
