/**
 * One enriched call record → one Loki entry: stream labels, structured metadata, timestamp
 * and line. Pure.
 *
 * Labels name the side whose sidecar observed the record: the server (`dst`) for inbound
 * records, the client (`src`) for outbound ones. That side is always a meshed pod the
 * collector can name, so its labels are never "unknown"; and it matches Kubernetes' own log
 * model, where a log belongs to the pod that wrote it. The other side goes to structured
 * metadata (`peer_namespace`, `peer_workload`), so "calls to payment as its callers saw them"
 * is one metadata filter away.
 *
 * Labels stay few and bounded (cluster, namespace, workload, protocol): every distinct label
 * set is a Loki stream, and pod names, paths or ids would make one per pod or per call.
 * Everything per call goes to structured metadata or the line.
 */
import { dbStatusCode } from '../../record/db-status.ts';
import { Buffer } from 'node:buffer';
import type { CallRecord, Endpoint } from '../../record/record.ts';
import { buildLokiLine, DEFAULT_MAX_LINE_BYTES } from './line.ts';
import { templateRoute } from './route-template.ts';

export const LOKI_LABEL_NAMES = ['cluster', 'namespace', 'workload', 'protocol'] as const;
export type LokiLabelName = (typeof LOKI_LABEL_NAMES)[number];
export type LokiLabels = Readonly<Record<LokiLabelName, string>>;

/** Structured metadata keys, in the order they are written. */
export const LOKI_METADATA_NAMES = [
  'observer',
  'call_id',
  'trace_id',
  'pod',
  'method',
  'route',
  'status_code',
  'grpc_status',
  'error',
  'db_status',
  'dns_rcode',
  'peer_namespace',
  'peer_workload',
] as const;

/** The label value used when the observed side could not be named. */
export const UNKNOWN_LABEL_VALUE = 'unknown';
const MAX_LABEL_VALUE_LENGTH = 128;
const MAX_METADATA_VALUE_LENGTH = 256;

export interface LokiEntry {
  labels: LokiLabels;
  /** The labels in Loki's selector form, `{cluster="meshtap", namespace="shop", ...}`: the stream key. */
  stream: string;
  /** Nanoseconds since the Unix epoch, decimal. */
  timestampNs: string;
  line: string;
  /** Key/value pairs in `LOKI_METADATA_NAMES` order; absent values are left out. */
  metadata: ReadonlyArray<readonly [string, string]>;
  /** Approximate bytes this entry adds to a push (line, metadata, timestamp), for batching and queue bounds. */
  bytes: number;
  truncated: boolean;
}

export interface LokiEntryOptions {
  cluster: string;
  maxLineBytes?: number;
}

/**
 * Kubernetes names are DNS labels/subdomains, so a clean value needs no change; anything else
 * (an IP-derived name, a hand-set cluster name) is folded to the same safe alphabet and bounded.
 */
export function sanitizeLabelValue(value: string | undefined): string {
  if (value === undefined) return UNKNOWN_LABEL_VALUE;
  let v = value.trim().replace(/[^A-Za-z0-9._\-/:]/g, '_');
  if (v.length > MAX_LABEL_VALUE_LENGTH) v = v.slice(0, MAX_LABEL_VALUE_LENGTH);
  return v === '' ? UNKNOWN_LABEL_VALUE : v;
}

function sanitizeMetadataValue(value: string): string {
  let v = value.replace(/[\u0000-\u001f\u007f]/g, '_');
  if (v.length > MAX_METADATA_VALUE_LENGTH) v = v.slice(0, MAX_METADATA_VALUE_LENGTH);
  return v;
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** `{a="x", b="y"}` in the given key order: the form Loki parses for a stream's labels. */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return `{${parts.join(', ')}}`;
}

/** The side whose sidecar produced the record, and the other one. */
export function observedSides(record: CallRecord): { own: Endpoint; peer: Endpoint } {
  return record.observer === 'inbound' ? { own: record.dst, peer: record.src } : { own: record.src, peer: record.dst };
}

export function buildLokiLabels(record: CallRecord, cluster: string): LokiLabels {
  const { own } = observedSides(record);
  return Object.freeze({
    cluster: sanitizeLabelValue(cluster),
    namespace: sanitizeLabelValue(own.namespace),
    workload: sanitizeLabelValue(own.workload),
    protocol: sanitizeLabelValue(record.protocol),
  });
}

export function buildLokiMetadata(record: CallRecord): Array<[string, string]> {
  const { own, peer } = observedSides(record);
  const values: Record<(typeof LOKI_METADATA_NAMES)[number], string | undefined> = {
    observer: record.observer,
    call_id: record.id,
    trace_id: record.trace_id,
    pod: own.pod,
    method: record.method,
    route: templateRoute(record.path),
    status_code: record.status_code === undefined ? undefined : String(record.status_code),
    grpc_status: record.grpc_status === undefined ? undefined : String(record.grpc_status),
    error: record.error,
    db_status: dbStatusCode(record),
    // DNS: NOERROR, NXDOMAIN, SERVFAIL…, so `| dns_rcode="NXDOMAIN"` finds failed lookups.
    dns_rcode: record.dns_rcode,
    peer_namespace: peer.namespace,
    peer_workload: peer.workload,
  };
  const out: Array<[string, string]> = [];
  for (const name of LOKI_METADATA_NAMES) {
    const v = values[name];
    if (v !== undefined && v !== '') out.push([name, sanitizeMetadataValue(v)]);
  }
  return out;
}

/** Fixed per-entry cost on the wire besides line and metadata (timestamp, framing). */
const ENTRY_OVERHEAD_BYTES = 32;

export function buildLokiEntry(record: CallRecord, options: LokiEntryOptions): LokiEntry {
  const labels = buildLokiLabels(record, options.cluster);
  const metadata = buildLokiMetadata(record);
  const { line, bytes: lineBytes, truncated } = buildLokiLine(record, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  let bytes = lineBytes + ENTRY_OVERHEAD_BYTES;
  for (const [k, v] of metadata) bytes += k.length + Buffer.byteLength(v) + 4;
  return {
    labels,
    stream: formatLabels(labels),
    timestampNs: record.start.toString(),
    line,
    metadata,
    bytes,
    truncated,
  };
}
