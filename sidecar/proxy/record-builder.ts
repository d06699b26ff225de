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

export function buildCallRecord(exchange: Exchange, meta: ConnectionMeta, local: LocalPod): CallRecord {
  const outbound = meta.observer === 'outbound';
  const src: Endpoint = outbound ? localEndpoint(meta.client.ip, meta.client.port, local) : { ip: meta.client.ip, port: meta.client.port };
  const dst: Endpoint = outbound ? { ip: meta.dst.ip, port: meta.dst.port } : localEndpoint(meta.dst.ip, meta.dst.port, local);
  if (meta.mesh) {
    // Our identity on our end, the verified peer's on theirs.
    (outbound ? src : dst).identity = meta.localIdentity;
    (outbound ? dst : src).identity = meta.peerIdentity;
  }
  const { tls_info: appTls, redacted, sensitive, body_arrivals: _arrivals, ...fields } = exchange;
  const elapsedNs = exchange.end - exchange.start;
  return {
    ...fields,
    id: recordId(meta, exchange.ordinal),
    observer: meta.observer,
    connection_id: meta.connectionId,
    elapsed_us: elapsedNs > 0n ? Number(elapsedNs / 1000n) : 0,
    src,
    dst,
    tls: appTls ? { mesh: meta.mesh, app_tls: appTls } : { mesh: meta.mesh },
    ...(meta.meshFallback ? { notes: [...(fields.notes ?? []), MESH_FALLBACK_NOTE] } : {}),
    redacted: redacted ? [...redacted] : [],
    sensitive: sensitive ? [...sensitive] : [],
  };
}
