/**
 * Call record → OpenTelemetry span, as a hand-built `ReadableSpan` the SDK's span processors
 * and OTLP exporters accept as if a tracer had produced it.
 *
 * An `outbound` record (the caller's sidecar) becomes the CLIENT span, an `inbound` record (the
 * callee's sidecar) the SERVER span; ids come from `ids.ts`, so the two halves of one call join
 * without the collector remembering anything. Attribute names follow the stable HTTP, RPC,
 * network and Kubernetes semantic conventions; what the conventions have no name for is
 * prefixed `meshtap.`.
 */
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import { TraceState, type InstrumentationScope } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { dnsErrorType, dnsSpanName, dnsTransport, isDns, putDnsAttributes } from './dns-span.ts';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_CLIENT_PORT,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_K8S_CLUSTER_NAME,
  ATTR_K8S_CRONJOB_NAME,
  ATTR_K8S_DAEMONSET_NAME,
  ATTR_K8S_DEPLOYMENT_NAME,
  ATTR_K8S_JOB_NAME,
  ATTR_K8S_NAMESPACE_NAME,
  ATTR_K8S_NODE_NAME,
  ATTR_K8S_POD_NAME,
  ATTR_K8S_POD_UID,
  ATTR_K8S_REPLICASET_NAME,
  ATTR_K8S_STATEFULSET_NAME,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_NAME,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_NETWORK_TRANSPORT,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_NAMESPACE,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { CallRecord, Endpoint, HttpMessage } from '../../record/record.ts';
import { dbStatusCode } from '../../record/db-status.ts';
import { grpcStatusName } from '../../record/grpc-status.ts';
import { templateRoute } from '../loki/route-template.ts';
import { deriveSpanIds } from './ids.ts';

// Still "development" in the conventions: copied rather than imported from the package's
// incubating entry point, which may rename them in any minor release.
export const ATTR_HTTP_REQUEST_BODY_SIZE = 'http.request.body.size';
export const ATTR_HTTP_RESPONSE_BODY_SIZE = 'http.response.body.size';

export const ATTR_MESHTAP_CALL_ID = 'meshtap.call_id';
export const ATTR_MESHTAP_CONNECTION_ID = 'meshtap.connection_id';
export const ATTR_MESHTAP_ORDINAL = 'meshtap.ordinal';
export const ATTR_MESHTAP_PROTOCOL = 'meshtap.protocol';
export const ATTR_MESHTAP_TRACE_CONTEXT = 'meshtap.trace_context';
/** How sure the sidecar's timing link to the parent is (1/n of the requests in flight). */
export const ATTR_MESHTAP_LINK_CONFIDENCE = 'meshtap.link_confidence';
/** On a span link: why the span points there (`caused_by`: the request whose work started this span's new trace). */
export const ATTR_MESHTAP_LINK = 'meshtap.link';
export const ATTR_MESHTAP_TLS_MESH = 'meshtap.tls.mesh';
export const ATTR_MESHTAP_PEER_IDENTITY = 'meshtap.peer.identity';
export const ATTR_MESHTAP_PEER_NAMESPACE = 'meshtap.peer.k8s.namespace.name';
export const ATTR_MESHTAP_PEER_POD = 'meshtap.peer.k8s.pod.name';
export const ATTR_MESHTAP_PEER_WORKLOAD = 'meshtap.peer.k8s.workload.name';
export const ATTR_MESHTAP_PEER_WORKLOAD_KIND = 'meshtap.peer.k8s.workload.kind';
export const ATTR_MESHTAP_PEER_SERVICE = 'meshtap.peer.k8s.service.name';
export const ATTR_MESHTAP_PEER_NODE = 'meshtap.peer.k8s.node.name';
export const ATTR_MESHTAP_ERROR_DETAIL = 'meshtap.error.detail';
export const ATTR_MESHTAP_CLOSE_REASON = 'meshtap.close_reason';
export const ATTR_MESHTAP_BYTES_IN = 'meshtap.bytes_in';
export const ATTR_MESHTAP_BYTES_OUT = 'meshtap.bytes_out';
export const ATTR_MESHTAP_OPERATION = 'meshtap.operation';
export const ATTR_MESHTAP_APP_TLS_SNI = 'meshtap.tls.app.sni';
export const ATTR_MESHTAP_APP_TLS_VERSION = 'meshtap.tls.app.version';
export const ATTR_MESHTAP_APP_TLS_CIPHER = 'meshtap.tls.app.cipher';
export const ATTR_MESHTAP_APP_TLS_ALPN = 'meshtap.tls.app.alpn';
export const ATTR_MESHTAP_APP_TLS_ERROR = 'meshtap.tls.app.error';

export const EVENT_BODY_TRUNCATED = 'meshtap.body_truncated';
export const EVENT_MASKED = 'meshtap.masked';
export const EVENT_SENSITIVE = 'meshtap.sensitive';

export const SCOPE_NAME = 'meshtap';
/** Longer attribute values are cut: a URL or user agent must not make a span megabytes big. */
export const MAX_ATTRIBUTE_CHARS = 4096;
export const DEFAULT_MAX_RESOURCES = 10_000;
export const UNKNOWN_SERVICE = 'unknown';

/** An endpoint as the collector's enrichment may extend it. */
export type ResourceEndpoint = Endpoint & { pod_uid?: string };

export interface SpanMapperOptions {
  /** meshtap's version, reported as the instrumentation scope version. */
  readonly version: string;
  /** Bound on cached Resource objects (one per workload/pod); least recently used go first. */
  readonly maxResources?: number;
  /** `k8s.cluster.name` on every resource, when known. */
  readonly clusterName?: string;
}

export interface SpanMapper {
  toSpan(record: CallRecord): ReadableSpan;
  /** Resource objects currently cached. */
  resourceCount(): number;
}

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

/** Codes that mean the server failed, per the gRPC conventions; any non-OK code fails a client. */
const GRPC_SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);

const WORKLOAD_KIND_ATTR: Readonly<Record<string, string>> = {
  deployment: ATTR_K8S_DEPLOYMENT_NAME,
  statefulset: ATTR_K8S_STATEFULSET_NAME,
  daemonset: ATTR_K8S_DAEMONSET_NAME,
  replicaset: ATTR_K8S_REPLICASET_NAME,
  job: ATTR_K8S_JOB_NAME,
  cronjob: ATTR_K8S_CRONJOB_NAME,
};

export function hrTimeFromNs(ns: bigint): HrTime {
  const n = ns < 0n ? 0n : ns;
  return [Number(n / 1_000_000_000n), Number(n % 1_000_000_000n)];
}

function cap(value: string): string {
  return value.length > MAX_ATTRIBUTE_CHARS ? value.slice(0, MAX_ATTRIBUTE_CHARS) : value;
}

function isHttpFamily(record: CallRecord): boolean {
  // A WebSocket record is one message (`method` is its opcode), not an HTTP request.
  return (record.protocol === 'http' || record.protocol === 'http2') && record.method !== undefined;
}

/** `db.system.name` of the database protocols meshtap decodes. */
const DB_SYSTEMS: Partial<Record<CallRecord['protocol'], string>> = { redis: 'redis', postgres: 'postgresql', mysql: 'mysql' };

function dbSystem(record: CallRecord): string | undefined {
  return DB_SYSTEMS[record.protocol];
}

/** The statement as captured (and masked): PostgreSQL's JSON body holds it under `query`. */
function dbQueryText(record: CallRecord): string | undefined {
  const body = record.request?.body;
  if (body === undefined || body.length === 0) return undefined;
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (record.protocol !== 'postgres' && record.protocol !== 'mysql') return text;
  try {
    const parsed = JSON.parse(text) as { query?: unknown };
    return typeof parsed.query === 'string' ? parsed.query : undefined;
  } catch {
    return undefined;
  }
}

function isGrpc(record: CallRecord): boolean {
  return record.protocol === 'grpc';
}

/** `Service/Method` out of a gRPC path (`/pkg.Service/Method`). */
function grpcMethod(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const p = path.split('?')[0].replace(/^\/+/, '');
  return p === '' ? undefined : p;
}

interface SplitTarget {
  path: string;
  query?: string;
}

/** Request target → path and query (fragment dropped; absolute-form targets reduced to the path). */
export function splitTarget(target: string): SplitTarget {
  let t = target;
  const hash = t.indexOf('#');
  if (hash >= 0) t = t.slice(0, hash);
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i.exec(t);
  if (absolute) t = t.slice(absolute[0].length);
  const q = t.indexOf('?');
  const path = q >= 0 ? t.slice(0, q) : t;
  const query = q >= 0 ? t.slice(q + 1) : undefined;
  return { path: path === '' ? '/' : path, ...(query !== undefined && query !== '' ? { query } : {}) };
}

/** `host[:port]` / `[v6][:port]` → parts; undefined for anything else. */
export function parseAuthority(authority: string | undefined): { host: string; port?: number } | undefined {
  if (authority === undefined) return undefined;
  const a = authority.trim();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]\s/@]+)(?::(\d{1,5}))?$/i.exec(a);
  if (m === null) return undefined;
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  const port = m[2] !== undefined ? Number(m[2]) : undefined;
  return { host, ...(port !== undefined && port > 0 && port < 65536 ? { port } : {}) };
}

function normalizedMethod(method: string): { method: string; original?: string } {
  if (HTTP_METHODS.has(method)) return { method };
  const upper = method.toUpperCase();
  // Case variants are the same method to a reader, but the conventions keep the original.
  if (HTTP_METHODS.has(upper)) return { method: upper, original: method };
  return { method: '_OTHER', original: method };
}

/** `{method} {route}` for HTTP, `Service/Method` for gRPC, the protocol otherwise. Never a raw id. */
export function buildSpanName(record: CallRecord): string {
  return spanName(record, templateRoute(record.path));
}

function spanName(record: CallRecord, route: string | undefined): string {
  if (isDns(record)) return dnsSpanName(record);
  if (isGrpc(record)) {
    const m = grpcMethod(record.path);
    return m !== undefined ? (templateRoute(`/${m}`) ?? '/').slice(1) : 'grpc';
  }
  if (isHttpFamily(record)) {
    const { method } = normalizedMethod(record.method!);
    const name = method === '_OTHER' ? 'HTTP' : method;
    return route !== undefined ? `${name} ${route}` : name;
  }
  if (dbSystem(record) !== undefined && record.method !== undefined) {
    // `{operation} {target}`: the database for SQL; Redis keys are data, not a target.
    return record.protocol === 'redis' || record.path === undefined ? record.method : `${record.method} ${record.path}`;
  }
  return record.protocol;
}

interface Outcome {
  errorType?: string;
  description?: string;
}

function outcome(record: CallRecord, client: boolean): Outcome {
  if (record.error !== undefined) {
    return { errorType: record.error, description: record.error_detail !== undefined ? cap(record.error_detail) : record.error };
  }
  if (isDns(record)) return { errorType: dnsErrorType(record) };
  if (isGrpc(record) && record.grpc_status !== undefined) {
    const code = record.grpc_status;
    if (code !== 0 && (client || GRPC_SERVER_ERRORS.has(code))) return { errorType: grpcStatusName(code) };
    if (record.status_code === undefined || record.status_code < 400) return {};
  }
  if (record.status_code !== undefined && (isHttpFamily(record) || isGrpc(record))) {
    const sc = record.status_code;
    // Server spans: 4xx is the caller's mistake, not a server failure. Client spans: both fail.
    if (sc >= 500 || (client && sc >= 400)) return { errorType: String(sc) };
    return {};
  }
  if (!isHttpFamily(record) && !isGrpc(record) && (record.close_reason === 'reset' || record.close_reason === 'error')) {
    return { errorType: record.close_reason };
  }
  return {};
}

function putString(attrs: Attributes, key: string, value: string | undefined): void {
  if (value !== undefined && value !== '') attrs[key] = cap(value);
}

function putPeer(attrs: Attributes, peer: Endpoint): void {
  putString(attrs, ATTR_MESHTAP_PEER_IDENTITY, peer.identity);
  putString(attrs, ATTR_MESHTAP_PEER_NAMESPACE, peer.namespace);
  putString(attrs, ATTR_MESHTAP_PEER_POD, peer.pod);
  putString(attrs, ATTR_MESHTAP_PEER_WORKLOAD, peer.workload);
  putString(attrs, ATTR_MESHTAP_PEER_WORKLOAD_KIND, peer.workload_kind);
  putString(attrs, ATTR_MESHTAP_PEER_SERVICE, peer.service);
  putString(attrs, ATTR_MESHTAP_PEER_NODE, peer.node);
}

function putBodySizes(attrs: Attributes, record: CallRecord): void {
  if (record.request !== undefined) attrs[ATTR_HTTP_REQUEST_BODY_SIZE] = record.request.body_size;
  if (record.response !== undefined) attrs[ATTR_HTTP_RESPONSE_BODY_SIZE] = record.response.body_size;
}

function buildAttributes(record: CallRecord, client: boolean, source: string, failure: Outcome, route: string | undefined): Attributes {
  const attrs: Attributes = {};
  const http = isHttpFamily(record);
  const grpc = isGrpc(record);
  const authority = parseAuthority(record.authority ?? record.request?.headers.host);

  if (http) {
    const m = normalizedMethod(record.method!);
    attrs[ATTR_HTTP_REQUEST_METHOD] = m.method;
    if (m.original !== undefined) attrs[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = cap(m.original);
    if (record.status_code !== undefined) attrs[ATTR_HTTP_RESPONSE_STATUS_CODE] = record.status_code;
    if (record.path !== undefined) {
      const target = splitTarget(record.path);
      attrs[ATTR_URL_PATH] = cap(target.path);
      // Values the sidecar masked arrive masked: the query is passed on exactly as captured.
      if (target.query !== undefined) attrs[ATTR_URL_QUERY] = cap(target.query);
      if (route !== undefined) attrs[ATTR_HTTP_ROUTE] = route;
    }
    // The application spoke plaintext HTTP to its sidecar; mesh mTLS is below it.
    attrs[ATTR_URL_SCHEME] = 'http';
    putString(attrs, ATTR_USER_AGENT_ORIGINAL, record.request?.headers['user-agent']);
    putBodySizes(attrs, record);
  } else if (grpc) {
    attrs[ATTR_RPC_SYSTEM_NAME] = 'grpc';
    const method = grpcMethod(record.path);
    if (method !== undefined) attrs[ATTR_RPC_METHOD] = cap(method);
    if (record.grpc_status !== undefined) attrs[ATTR_RPC_STATUS_CODE] = grpcStatusName(record.grpc_status);
    if (record.status_code !== undefined) attrs[ATTR_HTTP_RESPONSE_STATUS_CODE] = record.status_code;
    putString(attrs, ATTR_USER_AGENT_ORIGINAL, record.request?.headers['user-agent']);
    putBodySizes(attrs, record);
  } else if (dbSystem(record) !== undefined) {
    attrs[ATTR_DB_SYSTEM_NAME] = dbSystem(record)!;
    putString(attrs, ATTR_DB_OPERATION_NAME, record.method);
    putString(attrs, ATTR_DB_QUERY_TEXT, dbQueryText(record));
    if (record.protocol !== 'redis') putString(attrs, ATTR_DB_NAMESPACE, record.path);
    putString(attrs, ATTR_DB_RESPONSE_STATUS_CODE, dbStatusCode(record));
  } else if (isDns(record)) {
    putDnsAttributes(attrs, record);
  } else if (record.method !== undefined) {
    putString(attrs, ATTR_MESHTAP_OPERATION, record.method);
  }

  if (http || grpc || record.protocol === 'ws') {
    attrs[ATTR_NETWORK_PROTOCOL_NAME] = 'http';
    attrs[ATTR_NETWORK_PROTOCOL_VERSION] = record.protocol === 'http' || record.protocol === 'ws' ? '1.1' : '2';
  } else {
    attrs[ATTR_NETWORK_PROTOCOL_NAME] = record.protocol;
  }
  attrs[ATTR_NETWORK_TRANSPORT] = (isDns(record) ? dnsTransport(record) : undefined) ?? 'tcp';

  // The server the client meant: the authority it addressed, else the service or address it dialled.
  const serverAddress = authority?.host ?? record.dst.service ?? record.dst.ip;
  const serverPort = authority?.port ?? record.dst.port;
  if (client) {
    attrs[ATTR_SERVER_ADDRESS] = cap(serverAddress);
    attrs[ATTR_SERVER_PORT] = serverPort;
    attrs[ATTR_NETWORK_PEER_ADDRESS] = record.dst.ip;
    attrs[ATTR_NETWORK_PEER_PORT] = record.dst.port;
    putPeer(attrs, record.dst);
  } else {
    if (authority !== undefined) {
      attrs[ATTR_SERVER_ADDRESS] = cap(authority.host);
      if (authority.port !== undefined) attrs[ATTR_SERVER_PORT] = authority.port;
    }
    attrs[ATTR_CLIENT_ADDRESS] = record.src.ip;
    attrs[ATTR_CLIENT_PORT] = record.src.port;
    attrs[ATTR_NETWORK_PEER_ADDRESS] = record.src.ip;
    attrs[ATTR_NETWORK_PEER_PORT] = record.src.port;
    putPeer(attrs, record.src);
  }

  if (failure.errorType !== undefined) attrs[ATTR_ERROR_TYPE] = failure.errorType;
  putString(attrs, ATTR_MESHTAP_ERROR_DETAIL, record.error_detail);

  attrs[ATTR_MESHTAP_CALL_ID] = record.id;
  attrs[ATTR_MESHTAP_CONNECTION_ID] = record.connection_id;
  attrs[ATTR_MESHTAP_ORDINAL] = record.ordinal;
  attrs[ATTR_MESHTAP_PROTOCOL] = record.protocol;
  attrs[ATTR_MESHTAP_TRACE_CONTEXT] = source;
  if (record.link_confidence !== undefined) attrs[ATTR_MESHTAP_LINK_CONFIDENCE] = record.link_confidence;
  attrs[ATTR_MESHTAP_TLS_MESH] = record.tls.mesh;
  const app = record.tls.app_tls;
  if (app !== undefined) {
    putString(attrs, ATTR_MESHTAP_APP_TLS_SNI, app.sni);
    putString(attrs, ATTR_MESHTAP_APP_TLS_VERSION, app.version);
    putString(attrs, ATTR_MESHTAP_APP_TLS_CIPHER, app.cipher);
    if (app.alpn !== undefined && app.alpn.length > 0) attrs[ATTR_MESHTAP_APP_TLS_ALPN] = app.alpn.map(cap);
    putString(attrs, ATTR_MESHTAP_APP_TLS_ERROR, app.error);
  }
  if (!http && !grpc) {
    attrs[ATTR_MESHTAP_BYTES_IN] = record.bytes_in;
    attrs[ATTR_MESHTAP_BYTES_OUT] = record.bytes_out;
    putString(attrs, ATTR_MESHTAP_CLOSE_REASON, record.close_reason);
  }
  return attrs;
}

function truncatedEvent(side: 'request' | 'response', message: HttpMessage, at: bigint): TimedEvent {
  return {
    name: EVENT_BODY_TRUNCATED,
    time: hrTimeFromNs(at),
    attributes: { 'meshtap.body.side': side, 'meshtap.body.captured_size': message.body.length, 'meshtap.body.size': message.body_size },
  };
}

/** Message events per span at most (a long stream keeps its first ones). */
export const MAX_MESSAGE_EVENTS = 128;

/**
 * gRPC messages as span events, the RPC conventions' `message` event: `rpc.message.type`
 * SENT or RECEIVED as the span's side sees it, `rpc.message.id` counting from 1 per direction,
 * `rpc.message.compressed_size`, at the time the message's first byte arrived.
 */
function grpcMessageEvents(record: CallRecord, start: bigint, client: boolean): TimedEvent[] {
  const events: TimedEvent[] = [];
  for (const [side, message] of [['request', record.request], ['response', record.response]] as const) {
    if (message === undefined || message.body.length === 0) continue;
    let parsed: { messages?: Array<{ size?: number; at_us?: number }> };
    try {
      parsed = JSON.parse(Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength).toString('utf8')) as typeof parsed;
    } catch {
      continue;
    }
    const sent = (side === 'request') === client;
    const fallback = side === 'request' ? start : (record.response_start ?? start);
    (parsed.messages ?? []).forEach((m, i) => {
      if (events.length >= MAX_MESSAGE_EVENTS) return;
      const at = typeof m.at_us === 'number' ? start + BigInt(Math.round(m.at_us)) * 1000n : fallback;
      const attributes: Attributes = { 'rpc.message.type': sent ? 'SENT' : 'RECEIVED', 'rpc.message.id': i + 1 };
      if (typeof m.size === 'number') attributes['rpc.message.compressed_size'] = m.size;
      events.push({ name: 'message', time: hrTimeFromNs(at), attributes });
    });
  }
  return events.sort((a, b) => a.time[0] - b.time[0] || a.time[1] - b.time[1]);
}

function buildEvents(record: CallRecord, start: bigint, end: bigint, client: boolean): TimedEvent[] {
  const events: TimedEvent[] = isGrpc(record) ? grpcMessageEvents(record, start, client) : [];
  if (record.request?.truncated) events.push(truncatedEvent('request', record.request, record.request_end ?? start));
  if (record.response?.truncated) events.push(truncatedEvent('response', record.response, end));
  if (record.redacted.length > 0) events.push({ name: EVENT_MASKED, time: hrTimeFromNs(start), attributes: { 'meshtap.redacted': record.redacted.map(cap) } });
  if (record.sensitive.length > 0) events.push({ name: EVENT_SENSITIVE, time: hrTimeFromNs(start), attributes: { 'meshtap.sensitive': [...record.sensitive] } });
  return events;
}

/** Resource attributes for the workload a span belongs to. */
export function buildResourceAttributes(endpoint: ResourceEndpoint, clusterName?: string): Attributes {
  const attrs: Attributes = {};
  attrs[ATTR_SERVICE_NAME] = endpoint.workload ?? endpoint.pod ?? UNKNOWN_SERVICE;
  if (endpoint.namespace !== undefined) {
    attrs[ATTR_SERVICE_NAMESPACE] = endpoint.namespace;
    attrs[ATTR_K8S_NAMESPACE_NAME] = endpoint.namespace;
  }
  if (endpoint.pod !== undefined) attrs[ATTR_K8S_POD_NAME] = endpoint.pod;
  if (endpoint.pod_uid !== undefined) attrs[ATTR_K8S_POD_UID] = endpoint.pod_uid;
  if (endpoint.node !== undefined) attrs[ATTR_K8S_NODE_NAME] = endpoint.node;
  if (endpoint.workload !== undefined && endpoint.workload_kind !== undefined) {
    const key = WORKLOAD_KIND_ATTR[endpoint.workload_kind.toLowerCase()];
    if (key !== undefined) attrs[key] = endpoint.workload;
  }
  if (clusterName !== undefined) attrs[ATTR_K8S_CLUSTER_NAME] = clusterName;
  return attrs;
}

/**
 * One Resource object per distinct attribute set: the OTLP transformer groups spans by Resource
 * object identity, so equal-but-distinct objects would repeat the resource once per span.
 */
function createResourceCache(max: number, clusterName: string | undefined) {
  const cache = new Map<string, Resource>();
  return {
    get(endpoint: ResourceEndpoint): Resource {
      const attrs = buildResourceAttributes(endpoint, clusterName);
      // Attributes are built in a fixed order, so equal sets serialize equally.
      const key = JSON.stringify(attrs);
      const hit = cache.get(key);
      if (hit !== undefined) {
        // Refresh recency: Map iteration order is insertion order.
        cache.delete(key);
        cache.set(key, hit);
        return hit;
      }
      const resource = resourceFromAttributes(attrs);
      cache.set(key, resource);
      if (cache.size > max) cache.delete(cache.keys().next().value!);
      return resource;
    },
    size: () => cache.size,
  };
}

function parseTraceState(value: string | undefined): TraceState | undefined {
  if (value === undefined) return undefined;
  try {
    return new TraceState(value);
  } catch {
    return undefined;
  }
}

export function createSpanMapper(options: SpanMapperOptions): SpanMapper {
  const resources = createResourceCache(Math.max(1, options.maxResources ?? DEFAULT_MAX_RESOURCES), options.clusterName);
  const scope: InstrumentationScope = { name: SCOPE_NAME, version: options.version };

  return {
    toSpan(record: CallRecord): ReadableSpan {
      const client = record.observer === 'outbound';
      const ids = deriveSpanIds(record);
      const traceState = parseTraceState(ids.traceState);
      // Every captured call is exported: the app's sampling decision is not the capture's.
      const spanContext: SpanContext = {
        traceId: ids.traceId,
        spanId: ids.spanId,
        traceFlags: TraceFlags.SAMPLED,
        ...(traceState !== undefined ? { traceState } : {}),
      };
      const parentSpanContext: SpanContext | undefined =
        ids.parentSpanId !== undefined ? { traceId: ids.traceId, spanId: ids.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true } : undefined;
      const start = record.start;
      const end = record.end >= record.start ? record.end : record.start;
      const failure = outcome(record, client);
      const status: SpanStatus =
        failure.errorType !== undefined
          ? { code: SpanStatusCode.ERROR, ...(failure.description !== undefined ? { message: failure.description } : {}) }
          : { code: SpanStatusCode.UNSET };
      const route = isGrpc(record) ? undefined : templateRoute(record.path);
      return {
        name: spanName(record, route),
        kind: client ? SpanKind.CLIENT : SpanKind.SERVER,
        spanContext: () => spanContext,
        ...(parentSpanContext !== undefined ? { parentSpanContext } : {}),
        startTime: hrTimeFromNs(start),
        endTime: hrTimeFromNs(end),
        duration: hrTimeFromNs(end - start),
        status,
        attributes: buildAttributes(record, client, ids.source, failure, route),
        // An app's new trace, started for a request that came without one: the span points at
        // that request's SERVER span, in the trace the request is exported under.
        links:
          record.caused_by_trace_id !== undefined && record.caused_by_span_id !== undefined
            ? [{ context: { traceId: record.caused_by_trace_id, spanId: record.caused_by_span_id, traceFlags: TraceFlags.SAMPLED, isRemote: true }, attributes: { [ATTR_MESHTAP_LINK]: 'caused_by' } }]
            : [],
        events: buildEvents(record, start, end, client),
        ended: true,
        resource: resources.get(client ? record.src : record.dst),
        instrumentationScope: scope,
        droppedAttributesCount: 0,
        droppedEventsCount: 0,
        droppedLinksCount: 0,
      };
    },
    resourceCount: () => resources.size(),
  };
}
