/**
 * CallRecord <-> the `meshtap.v1.CallRecord` proto message, as @grpc/proto-loader hands it over
 * with `protoLoaderOptions(String)` (keepCase, 64-bit integers as decimal strings, bytes as Buffer,
 * absent optional scalars absent, absent sub-messages null).
 *
 * 64-bit integers travel as decimal strings because protobufjs parses and prints those exactly;
 * the ns times become bigint here and nowhere lose precision. The other 64-bit counters
 * (sizes, microseconds) are JS numbers in the record and stay exact up to 2^53.
 *
 * The proto files are loaded through `proto-loader.ts` with int64 as strings, the very
 * representation this codec expects.
 */
import type * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { loadProto, PROTO_ROOT } from './proto-loader.ts';
import type {
  AppTlsInfo,
  CallRecord,
  ConnectionFacts,
  Endpoint,
  HttpMessage,
  Observer,
  Protocol,
  RecordError,
  TlsInfo,
} from './record.ts';

/** The package definition of `meshtap/v1/collector.proto` (and what it imports), loaded once. */
export function loadCollectorProto(): protoLoader.PackageDefinition {
  return loadProto('meshtap/v1/collector.proto', String);
}

let cachedRoot: protobuf.Root | undefined;

/**
 * A message type of `meshtap/v1/collector.proto` (and what it imports) as a protobufjs reflection
 * type, field names as written (keepCase). The root is loaded once and shared.
 */
export function collectorMessageType(name: string): protobuf.Type {
  if (cachedRoot === undefined) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : `${PROTO_ROOT}/${target}`);
    root.loadSync('meshtap/v1/collector.proto', { keepCase: true });
    cachedRoot = root;
  }
  return cachedRoot.lookupType(name);
}

let cachedBatchEncoder: ((batch: RecordBatchMessage) => Buffer) | undefined;

/**
 * Serialises a `RecordBatch` straight from the plain message objects `recordToProto` builds.
 * proto-loader's serialiser first copies every message into a protobufjs instance
 * (`fromObject`), which for a batch of records costs about as much as encoding it; the encoder
 * reads plain objects just as well (no enums in these messages, 64-bit values as decimal
 * strings or numbers), so the bytes are the same without the copy.
 */
export function recordBatchEncoder(): (batch: RecordBatchMessage) => Buffer {
  if (cachedBatchEncoder === undefined) {
    const type = collectorMessageType('meshtap.v1.RecordBatch');
    cachedBatchEncoder = (batch) => {
      const bytes = type.encode(batch).finish();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    };
  }
  return cachedBatchEncoder;
}

/** A 64-bit integer as protobufjs accepts it on encode and (with `longs: String`) returns it on decode. */
export type Int64Value = string | number;

export interface StringMapMessage {
  entries: Record<string, string>;
}

export interface StringListMessage {
  values: string[];
}

export interface EndpointMessage {
  ip: string;
  port: number;
  identity?: string;
  pod?: string;
  namespace?: string;
  workload?: string;
  workload_kind?: string;
  service?: string;
  node?: string;
  labels?: StringMapMessage | null;
}

export interface AppTlsInfoMessage {
  sni?: string;
  alpn?: StringListMessage | null;
  version?: string;
  cipher?: string;
  handshake_us?: Int64Value;
  error?: string;
}

export interface TlsInfoMessage {
  mesh: boolean;
  app_tls?: AppTlsInfoMessage | null;
}

export interface HttpMessageMessage {
  headers: Record<string, string>;
  trailers?: StringMapMessage | null;
  body: Uint8Array;
  body_size: Int64Value;
  truncated: boolean;
  content_type?: string;
  content_encoding?: string;
}

export interface ConnectionFactsMessage {
  connect_us?: Int64Value;
  tls_handshake_us?: Int64Value;
  reset_by?: string;
  half_closed_by?: string;
  exchanges?: number;
}

export interface CallRecordMessage {
  id: string;
  protocol: string;
  observer: string;
  connection_id: string;
  ordinal: number;
  start: Int64Value;
  request_end?: Int64Value;
  response_start?: Int64Value;
  end: Int64Value;
  elapsed_us: Int64Value;
  src: EndpointMessage | null;
  dst: EndpointMessage | null;
  tls: TlsInfoMessage | null;
  method?: string;
  path?: string;
  authority?: string;
  status_code?: number;
  grpc_status?: number;
  grpc_message?: string;
  request?: HttpMessageMessage | null;
  response?: HttpMessageMessage | null;
  bytes_in: Int64Value;
  bytes_out: Int64Value;
  error?: string;
  error_detail?: string;
  close_reason?: string;
  trace_id?: string;
  span_id?: string;
  parent_span_id?: string;
  redacted: string[];
  sensitive: string[];
  notes?: string[];
  dns_rcode?: string;
  connection?: ConnectionFactsMessage | null;
  queue_us?: Int64Value;
  link_confidence?: number;
  caused_by_trace_id?: string;
  caused_by_span_id?: string;
}

export interface SidecarInfoMessage {
  pod: string;
  namespace: string;
  pod_ip: string;
  node: string;
  service_account: string;
  sidecar_version: string;
}

export interface RecordBatchMessage {
  seq: Int64Value;
  sidecar: SidecarInfoMessage | null;
  records: CallRecordMessage[];
}

export interface RejectionMessage {
  index: number;
  reason: string;
}

export interface ShipAckMessage {
  seq: Int64Value;
  accepted: number;
  rejected: number;
  rejections: RejectionMessage[];
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// encode

function endpointToProto(e: Endpoint): EndpointMessage {
  return {
    ip: e.ip,
    port: e.port,
    identity: e.identity,
    pod: e.pod,
    namespace: e.namespace,
    workload: e.workload,
    workload_kind: e.workload_kind,
    service: e.service,
    node: e.node,
    labels: e.labels === undefined ? null : { entries: e.labels },
  };
}

function appTlsToProto(a: AppTlsInfo): AppTlsInfoMessage {
  return {
    sni: a.sni,
    alpn: a.alpn === undefined ? null : { values: a.alpn },
    version: a.version,
    cipher: a.cipher,
    handshake_us: a.handshake_us,
    error: a.error,
  };
}

function connectionToProto(c: ConnectionFacts): ConnectionFactsMessage {
  return {
    connect_us: c.connect_us,
    tls_handshake_us: c.tls_handshake_us,
    reset_by: c.reset_by,
    half_closed_by: c.half_closed_by,
    exchanges: c.exchanges,
  };
}

function httpMessageToProto(m: HttpMessage): HttpMessageMessage {
  return {
    headers: m.headers,
    trailers: m.trailers === undefined ? null : { entries: m.trailers },
    body: m.body,
    body_size: m.body_size,
    truncated: m.truncated,
    content_type: m.content_type,
    content_encoding: m.content_encoding,
  };
}

/** The proto message for a record. Undefined optionals are left undefined (protobufjs skips them). */
export function recordToProto(r: CallRecord): CallRecordMessage {
  return {
    id: r.id,
    protocol: r.protocol,
    observer: r.observer,
    connection_id: r.connection_id,
    ordinal: r.ordinal,
    start: r.start.toString(),
    request_end: r.request_end?.toString(),
    response_start: r.response_start?.toString(),
    end: r.end.toString(),
    elapsed_us: r.elapsed_us,
    src: endpointToProto(r.src),
    dst: endpointToProto(r.dst),
    tls: { mesh: r.tls.mesh, app_tls: r.tls.app_tls === undefined ? null : appTlsToProto(r.tls.app_tls) },
    method: r.method,
    path: r.path,
    authority: r.authority,
    status_code: r.status_code,
    grpc_status: r.grpc_status,
    request: r.request === undefined ? null : httpMessageToProto(r.request),
    response: r.response === undefined ? null : httpMessageToProto(r.response),
    bytes_in: r.bytes_in,
    bytes_out: r.bytes_out,
    error: r.error,
    error_detail: r.error_detail,
    close_reason: r.close_reason,
    trace_id: r.trace_id,
    span_id: r.span_id,
    parent_span_id: r.parent_span_id,
    redacted: r.redacted,
    sensitive: r.sensitive,
    notes: r.notes,
    grpc_message: r.grpc_message,
    dns_rcode: r.dns_rcode,
    connection: r.connection === undefined ? null : connectionToProto(r.connection),
    queue_us: r.queue_us,
    link_confidence: r.link_confidence,
    caused_by_trace_id: r.caused_by_trace_id,
    caused_by_span_id: r.caused_by_span_id,
  };
}

// ---------------------------------------------------------------------------------------------
// decode

/** Why a received record was refused. Stable: these are metric label values. */
export type RecordRejectReason =
  | 'missing_id'
  | 'bad_protocol'
  | 'bad_observer'
  | 'bad_time'
  | 'missing_endpoint'
  | 'missing_field'
  | 'bad_value'
  /** Valid, but its observing end is not the workload of the mTLS stream it came on (collector-side check). */
  | 'identity_mismatch'
  /** Valid, but its sidecar sent more records per second than the collector takes from one (collector-side). */
  | 'rate_limited';

export type RecordDecodeResult =
  | { ok: true; record: CallRecord }
  | { ok: false; reason: RecordRejectReason; detail: string };


class Reject extends Error {
  readonly reason: RecordRejectReason;
  constructor(reason: RecordRejectReason, detail: string) {
    super(detail);
    this.reason = reason;
  }
}

const INT64 = /^-?\d{1,19}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const TOKEN = /^[a-z0-9][a-z0-9_.-]{0,31}$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const MAX_ID_LENGTH = 256;

function toBigInt(field: string, v: unknown): bigint {
  const s = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v;
  if (typeof s !== 'string' || !INT64.test(s)) throw new Reject('bad_time', `${field} is not an int64: ${String(v)}`);
  const n = BigInt(s);
  if (n < INT64_MIN || n > INT64_MAX) throw new Reject('bad_time', `${field} is out of the int64 range: ${s}`);
  return n;
}

function toNumber(field: string, v: unknown): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new Reject('bad_value', `${field} is not a number: ${String(v)}`);
  return n;
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

function stringMap(field: string, v: unknown): Record<string, string> {
  if (v === null || typeof v !== 'object') throw new Reject('bad_value', `${field} is not a map`);
  for (const value of Object.values(v)) {
    if (!isString(value)) throw new Reject('bad_value', `${field} holds a non-string value`);
  }
  return v as Record<string, string>;
}

function stringList(field: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.every(isString)) throw new Reject('bad_value', `${field} is not a list of strings`);
  return v;
}

/** Copies the optional string keys that are present, so absent stays absent (not `undefined`). */
function copyOptionalStrings<K extends string>(target: Partial<Record<K, string>>, source: object, keys: readonly K[], where: string): void {
  const src = source as Record<string, unknown>;
  for (const key of keys) {
    const v = src[key];
    if (v === undefined || v === null) continue;
    if (!isString(v)) throw new Reject('bad_value', `${where}${key} is not a string`);
    target[key] = v;
  }
}

const ENDPOINT_OPTIONAL = ['identity', 'pod', 'namespace', 'workload', 'workload_kind', 'service', 'node'] as const;

function endpointFromProto(field: string, m: EndpointMessage | null | undefined): Endpoint {
  if (m === null || m === undefined) throw new Reject('missing_endpoint', `${field} is missing`);
  if (!isString(m.ip) || m.ip === '') throw new Reject('missing_endpoint', `${field}.ip is missing`);
  const port = toNumber(`${field}.port`, m.port);
  const e: Endpoint = { ip: m.ip, port };
  copyOptionalStrings(e, m, ENDPOINT_OPTIONAL, `${field}.`);
  if (m.labels !== null && m.labels !== undefined) e.labels = stringMap(`${field}.labels`, m.labels.entries);
  return e;
}

function appTlsFromProto(m: AppTlsInfoMessage): AppTlsInfo {
  const a: AppTlsInfo = {};
  copyOptionalStrings(a, m, ['sni', 'version', 'cipher', 'error'] as const, 'tls.app_tls.');
  if (m.alpn !== null && m.alpn !== undefined) a.alpn = stringList('tls.app_tls.alpn', m.alpn.values);
  if (m.handshake_us !== undefined && m.handshake_us !== null) a.handshake_us = toNumber('tls.app_tls.handshake_us', m.handshake_us);
  return a;
}

function tlsFromProto(m: TlsInfoMessage | null | undefined): TlsInfo {
  if (m === null || m === undefined) throw new Reject('missing_field', 'tls is missing');
  const t: TlsInfo = { mesh: m.mesh === true };
  if (m.app_tls !== null && m.app_tls !== undefined) t.app_tls = appTlsFromProto(m.app_tls);
  return t;
}

function bytesView(field: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new Reject('bad_value', `${field} is not bytes`);
  // A plain Uint8Array over the same memory: no copy, and the type the record promises.
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function httpMessageFromProto(field: string, m: HttpMessageMessage): HttpMessage {
  const h: HttpMessage = {
    headers: stringMap(`${field}.headers`, m.headers ?? {}),
    body: bytesView(`${field}.body`, m.body ?? new Uint8Array(0)),
    body_size: toNumber(`${field}.body_size`, m.body_size ?? 0),
    truncated: m.truncated === true,
  };
  if (m.trailers !== null && m.trailers !== undefined) h.trailers = stringMap(`${field}.trailers`, m.trailers.entries);
  copyOptionalStrings(h, m, ['content_type', 'content_encoding'] as const, `${field}.`);
  return h;
}

const SIDES = new Set(['client', 'server']);

function sideFromProto(field: string, v: string | undefined): 'client' | 'server' | undefined {
  if (v === undefined || v === null) return undefined;
  if (!SIDES.has(v)) throw new Reject('bad_value', `${field} "${v}" is neither client nor server`);
  return v as 'client' | 'server';
}

function connectionFromProto(m: ConnectionFactsMessage): ConnectionFacts {
  const c: ConnectionFacts = {};
  if (m.connect_us !== undefined && m.connect_us !== null) c.connect_us = toNumber('connection.connect_us', m.connect_us);
  if (m.tls_handshake_us !== undefined && m.tls_handshake_us !== null) c.tls_handshake_us = toNumber('connection.tls_handshake_us', m.tls_handshake_us);
  const resetBy = sideFromProto('connection.reset_by', m.reset_by);
  if (resetBy !== undefined) c.reset_by = resetBy;
  const halfClosedBy = sideFromProto('connection.half_closed_by', m.half_closed_by);
  if (halfClosedBy !== undefined) c.half_closed_by = halfClosedBy;
  if (m.exchanges !== undefined && m.exchanges !== null) c.exchanges = toNumber('connection.exchanges', m.exchanges);
  return c;
}

const RECORD_OPTIONAL_STRINGS_A = ['method', 'path', 'authority'] as const;
const RECORD_OPTIONAL_STRINGS_B = ['error', 'error_detail', 'close_reason', 'trace_id', 'span_id', 'parent_span_id', 'grpc_message', 'dns_rcode', 'caused_by_trace_id', 'caused_by_span_id'] as const;

function decode(m: CallRecordMessage): CallRecord {
  if (m === null || typeof m !== 'object') throw new Reject('missing_field', 'record is not a message');
  if (!isString(m.id) || m.id === '') throw new Reject('missing_id', 'id is missing');
  if (m.id.length > MAX_ID_LENGTH) throw new Reject('missing_id', `id is longer than ${MAX_ID_LENGTH} characters`);
  if (!isString(m.protocol) || !TOKEN.test(m.protocol)) throw new Reject('bad_protocol', `protocol "${String(m.protocol)}" is not a protocol name`);
  if (m.observer !== 'outbound' && m.observer !== 'inbound') throw new Reject('bad_observer', `observer "${String(m.observer)}" is neither outbound nor inbound`);
  if (!isString(m.connection_id)) throw new Reject('missing_field', 'connection_id is missing');

  const r: Partial<CallRecord> = {
    id: m.id,
    protocol: m.protocol as Protocol,
    observer: m.observer as Observer,
    connection_id: m.connection_id,
    ordinal: toNumber('ordinal', m.ordinal ?? 0),
    start: toBigInt('start', m.start),
  };
  if (m.request_end !== undefined && m.request_end !== null) r.request_end = toBigInt('request_end', m.request_end);
  if (m.response_start !== undefined && m.response_start !== null) r.response_start = toBigInt('response_start', m.response_start);
  r.end = toBigInt('end', m.end);
  r.elapsed_us = toNumber('elapsed_us', m.elapsed_us ?? 0);
  r.src = endpointFromProto('src', m.src);
  r.dst = endpointFromProto('dst', m.dst);
  r.tls = tlsFromProto(m.tls);
  copyOptionalStrings(r, m, RECORD_OPTIONAL_STRINGS_A, '');
  if (m.status_code !== undefined && m.status_code !== null) r.status_code = toNumber('status_code', m.status_code);
  if (m.grpc_status !== undefined && m.grpc_status !== null) r.grpc_status = toNumber('grpc_status', m.grpc_status);
  if (m.request !== undefined && m.request !== null) r.request = httpMessageFromProto('request', m.request);
  if (m.response !== undefined && m.response !== null) r.response = httpMessageFromProto('response', m.response);
  r.bytes_in = toNumber('bytes_in', m.bytes_in ?? 0);
  r.bytes_out = toNumber('bytes_out', m.bytes_out ?? 0);
  const optionalB: Partial<Record<(typeof RECORD_OPTIONAL_STRINGS_B)[number], string>> = {};
  copyOptionalStrings(optionalB, m, RECORD_OPTIONAL_STRINGS_B, '');
  if (optionalB.error !== undefined) {
    if (!TOKEN.test(optionalB.error)) throw new Reject('bad_value', `error "${optionalB.error}" is not an error code`);
    r.error = optionalB.error as RecordError;
  }
  if (optionalB.error_detail !== undefined) r.error_detail = optionalB.error_detail;
  if (optionalB.close_reason !== undefined) r.close_reason = optionalB.close_reason;
  if (optionalB.trace_id !== undefined) r.trace_id = optionalB.trace_id;
  if (optionalB.span_id !== undefined) r.span_id = optionalB.span_id;
  if (optionalB.parent_span_id !== undefined) r.parent_span_id = optionalB.parent_span_id;
  if (optionalB.grpc_message !== undefined) r.grpc_message = optionalB.grpc_message;
  if (optionalB.dns_rcode !== undefined) r.dns_rcode = optionalB.dns_rcode;
  if (optionalB.caused_by_trace_id !== undefined) {
    if (!TRACE_ID.test(optionalB.caused_by_trace_id)) throw new Reject('bad_value', `caused_by_trace_id "${optionalB.caused_by_trace_id}" is not 32 lower-case hexadecimal digits`);
    r.caused_by_trace_id = optionalB.caused_by_trace_id;
  }
  if (optionalB.caused_by_span_id !== undefined) {
    if (!SPAN_ID.test(optionalB.caused_by_span_id)) throw new Reject('bad_value', `caused_by_span_id "${optionalB.caused_by_span_id}" is not 16 lower-case hexadecimal digits`);
    r.caused_by_span_id = optionalB.caused_by_span_id;
  }
  if (m.connection !== undefined && m.connection !== null) r.connection = connectionFromProto(m.connection);
  if (m.queue_us !== undefined && m.queue_us !== null) r.queue_us = toNumber('queue_us', m.queue_us);
  if (m.link_confidence !== undefined && m.link_confidence !== null) {
    const confidence = toNumber('link_confidence', m.link_confidence);
    if (!(confidence > 0 && confidence <= 1)) throw new Reject('bad_value', `link_confidence ${confidence} is not in (0, 1]`);
    r.link_confidence = confidence;
  }
  r.redacted = stringList('redacted', m.redacted ?? []);
  r.sensitive = stringList('sensitive', m.sensitive ?? []);
  // proto3 cannot tell an empty list from none; the record leaves `notes` out when empty.
  if (m.notes !== undefined && m.notes !== null) {
    const notes = stringList('notes', m.notes);
    if (notes.length > 0) r.notes = notes;
  }
  return r as CallRecord;
}

/** Validates and converts a received message. Malformed input is a value, never an exception. */
export function decodeRecord(m: CallRecordMessage): RecordDecodeResult {
  try {
    return { ok: true, record: decode(m) };
  } catch (err) {
    if (err instanceof Reject) return { ok: false, reason: err.reason, detail: err.message };
    return { ok: false, reason: 'bad_value', detail: err instanceof Error ? err.message : String(err) };
  }
}
