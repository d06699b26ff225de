/**
 * The filter language's variables: their static types (what the checker knows) and the
 * activation that binds them to one call record (what the evaluator reads).
 *
 * Absent fields stay absent: an optional record field that is not set (`status_code` of an
 * opaque TCP record, `src.pod` of an unknown peer, `request` of a DNS exchange) is not bound
 * at all, never replaced by 0 or "". In CEL, reading it is an error value, which behaves
 * like SQL's NULL: `status_code >= 500` is not true for such a record (and neither is its
 * negation), `false && x` is false and `true || x` is true whatever `x` is, and a filter
 * whose result is such an error does not match. `has(src.pod)` / `has(call.status_code)`
 * test presence without error.
 */
import { create } from '@bufbuild/protobuf';
import { TimestampSchema, type Timestamp } from '@bufbuild/protobuf/wkt';
import type { CallRecord, ConnectionFacts, Endpoint, HttpMessage } from '../../record/record.ts';
import { T, listOf, mapOf, structOf, type FilterType } from './cel-types.ts';

const STRING_MAP = mapOf(T.string, T.string);

/**
 * A header or trailer name: a string, stored lower-case. Its own instance, so the checker can
 * tell `request.headers["X-A"]` (which never matches) from an index of any other map.
 */
export const HEADER_NAME: FilterType = Object.freeze({ kind: 'primitive', name: 'string' });
const HEADER_MAP = mapOf(HEADER_NAME, T.string);

export const ENDPOINT_TYPE = structOf('endpoint', {
  ip: T.string,
  port: T.int,
  identity: T.string,
  pod: T.string,
  namespace: T.string,
  workload: T.string,
  workload_kind: T.string,
  service: T.string,
  node: T.string,
  labels: STRING_MAP,
});

export const MESSAGE_TYPE = structOf('message', {
  headers: HEADER_MAP,
  trailers: HEADER_MAP,
  body: T.string,
  body_size: T.int,
  truncated: T.bool,
  content_type: T.string,
  content_encoding: T.string,
});

export const APP_TLS_TYPE = structOf('app_tls', {
  sni: T.string,
  alpn: listOf(T.string),
  version: T.string,
  cipher: T.string,
  handshake_us: T.int,
  error: T.string,
});

/** Part `i` of a gRPC path `/package.Service/Method` (1: service, 2: method); '' otherwise. */
function grpcPathPart(r: CallRecord, i: 1 | 2): string {
  if (r.protocol !== 'grpc' || r.path === undefined) return '';
  const m = /^\/([^/?]+)\/([^/?]+)/.exec(r.path);
  return m === null ? '' : m[i];
}

export const TLS_TYPE = structOf('tls', { mesh: T.bool, app_tls: APP_TLS_TYPE });

/** The TCP connection the exchange travelled on (see `ConnectionFacts` in record/record.ts). */
export const CONNECTION_TYPE = structOf('connection', {
  connect_us: T.int,
  tls_handshake_us: T.int,
  reset_by: T.string,
  half_closed_by: T.string,
  exchanges: T.int,
});

/** Protocols that get a boolean shorthand (`http` is `protocol == "http"`). */
export const PROTOCOL_FLAGS = ['http', 'http2', 'grpc', 'ws', 'redis', 'postgres', 'mysql', 'dns', 'tcp'] as const;

/** Every top-level field of the record as the filter sees it; `call` exposes these as one object. */
const RECORD_FIELDS: Record<string, FilterType> = {
  id: T.string,
  protocol: T.string,
  observer: T.string,
  connection_id: T.string,
  ordinal: T.int,
  start: T.timestamp,
  request_end: T.timestamp,
  response_start: T.timestamp,
  end: T.timestamp,
  elapsed_us: T.int,
  src: ENDPOINT_TYPE,
  dst: ENDPOINT_TYPE,
  tls: TLS_TYPE,
  tls_app: T.bool,
  mesh: T.bool,
  method: T.string,
  path: T.string,
  authority: T.string,
  status_code: T.int,
  grpc_status: T.int,
  grpc_message: T.string,
  grpc_service: T.string,
  attempt: T.int,
  first_attempt_id: T.string,
  // Retries, timeouts, rate limits (collector-set fields and shorthands over them).
  retry: T.bool,
  retry_after_honoured: T.bool,
  client_timeout: T.bool,
  grpc_method: T.string,
  request: MESSAGE_TYPE,
  response: MESSAGE_TYPE,
  bytes_in: T.int,
  bytes_out: T.int,
  error: T.string,
  error_detail: T.string,
  connection: CONNECTION_TYPE,
  queue_us: T.int,
  link_confidence: T.double,
  trace_id: T.string,
  span_id: T.string,
  parent_span_id: T.string,
  caused_by_trace_id: T.string,
  caused_by_span_id: T.string,
  redacted: listOf(T.string),
  sensitive: listOf(T.string),
  // DNS: the response code by name (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, …); absent on other records.
  dns_rcode: T.string,
};

export const CALL_TYPE = structOf('call', RECORD_FIELDS);

/** The declared variables: name → type. Anything else is an unknown identifier. */
export const FILTER_VARIABLES: Readonly<Record<string, FilterType>> = Object.freeze({
  ...Object.fromEntries(PROTOCOL_FLAGS.map((p) => [p, T.bool])),
  ...RECORD_FIELDS,
  call: CALL_TYPE,
});

export interface ActivationOptions {
  /**
   * Decode request/response bodies into `body` (default true). The compiler turns it off
   * for filters that provably never read a body, which saves a UTF-8 decode per record.
   */
  decodeBodies?: boolean;
}

/** What the evaluator reads: variable name → CEL input value, `undefined` when absent. */
export type FilterActivation = Record<string, unknown>;

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** A JS number → CEL int (bigint); absent when not a finite number. */
function toInt(n: number | undefined): bigint | undefined {
  if (typeof n !== 'number' || !Number.isFinite(n)) return undefined;
  return BigInt(Math.trunc(n));
}

function toTimestamp(ns: bigint | undefined): Timestamp | undefined {
  if (typeof ns !== 'bigint') return undefined;
  const billion = 1_000_000_000n;
  let seconds = ns / billion;
  let nanos = ns % billion;
  if (nanos < 0n) {
    nanos += billion;
    seconds -= 1n;
  }
  return create(TimestampSchema, { seconds, nanos: Number(nanos) });
}

function setIfPresent(map: Map<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined && value !== null) map.set(key, value);
}

function stringMap(record: Record<string, string> | undefined): Map<string, string> {
  const map = new Map<string, string>();
  if (record === undefined || record === null) return map;
  for (const [name, value] of Object.entries(record)) {
    const key = name.toLowerCase();
    const text = String(value);
    const previous = map.get(key);
    map.set(key, previous === undefined ? text : `${previous}, ${text}`);
  }
  return map;
}

function endpointValue(endpoint: Endpoint | undefined): Map<string, unknown> {
  const map = new Map<string, unknown>();
  if (endpoint === undefined || endpoint === null) return map;
  setIfPresent(map, 'ip', endpoint.ip);
  setIfPresent(map, 'port', toInt(endpoint.port));
  setIfPresent(map, 'identity', endpoint.identity);
  setIfPresent(map, 'pod', endpoint.pod);
  setIfPresent(map, 'namespace', endpoint.namespace);
  setIfPresent(map, 'workload', endpoint.workload);
  setIfPresent(map, 'workload_kind', endpoint.workload_kind);
  setIfPresent(map, 'service', endpoint.service);
  setIfPresent(map, 'node', endpoint.node);
  map.set('labels', stringMap(endpoint.labels));
  return map;
}

function messageValue(message: HttpMessage | undefined, decodeBodies: boolean): Map<string, unknown> | undefined {
  if (message === undefined || message === null) return undefined;
  const map = new Map<string, unknown>();
  map.set('headers', stringMap(message.headers));
  map.set('trailers', stringMap(message.trailers));
  if (decodeBodies) map.set('body', message.body instanceof Uint8Array ? decoder.decode(message.body) : '');
  setIfPresent(map, 'body_size', toInt(message.body_size));
  map.set('truncated', message.truncated === true);
  setIfPresent(map, 'content_type', message.content_type);
  setIfPresent(map, 'content_encoding', message.content_encoding);
  return map;
}

function tlsValue(record: CallRecord): Map<string, unknown> {
  const map = new Map<string, unknown>();
  map.set('mesh', record.tls?.mesh === true);
  const app = record.tls?.app_tls;
  if (app !== undefined && app !== null) {
    const appMap = new Map<string, unknown>();
    setIfPresent(appMap, 'sni', app.sni);
    setIfPresent(appMap, 'alpn', Array.isArray(app.alpn) ? app.alpn.map(String) : undefined);
    setIfPresent(appMap, 'version', app.version);
    setIfPresent(appMap, 'cipher', app.cipher);
    setIfPresent(appMap, 'handshake_us', toInt(app.handshake_us));
    setIfPresent(appMap, 'error', app.error);
    map.set('app_tls', appMap);
  }
  return map;
}

/** Always a map (empty when the record has no facts), like an endpoint: absent fields stay unbound. */
function connectionValue(facts: ConnectionFacts | undefined): Map<string, unknown> {
  const map = new Map<string, unknown>();
  if (facts === undefined || facts === null) return map;
  setIfPresent(map, 'connect_us', toInt(facts.connect_us));
  setIfPresent(map, 'tls_handshake_us', toInt(facts.tls_handshake_us));
  setIfPresent(map, 'reset_by', facts.reset_by);
  setIfPresent(map, 'half_closed_by', facts.half_closed_by);
  setIfPresent(map, 'exchanges', toInt(facts.exchanges));
  return map;
}

function stringList(list: readonly string[] | undefined): string[] {
  return Array.isArray(list) ? list.map(String) : [];
}

/**
 * Record → activation. Every variable is a getter, so a filter pays only for what it reads;
 * nested values (maps, timestamps, decoded bodies) are built once per record on first read.
 */
class RecordActivation {
  readonly #r: CallRecord;
  readonly #decodeBodies: boolean;
  #src: Map<string, unknown> | undefined;
  #dst: Map<string, unknown> | undefined;
  #tls: Map<string, unknown> | undefined;
  #connection: Map<string, unknown> | undefined;
  #request: Map<string, unknown> | undefined | null = null;
  #response: Map<string, unknown> | undefined | null = null;
  #call: Map<string, unknown> | undefined;

  constructor(record: CallRecord, decodeBodies: boolean) {
    this.#r = record;
    this.#decodeBodies = decodeBodies;
  }

  get http() {
    return this.#r.protocol === 'http';
  }
  get http2() {
    return this.#r.protocol === 'http2';
  }
  get grpc() {
    return this.#r.protocol === 'grpc';
  }
  get ws() {
    return this.#r.protocol === 'ws';
  }
  get redis() {
    return this.#r.protocol === 'redis';
  }
  get postgres() {
    return this.#r.protocol === 'postgres';
  }
  get mysql() {
    return this.#r.protocol === 'mysql';
  }
  get dns() {
    return this.#r.protocol === 'dns';
  }
  get tcp() {
    return this.#r.protocol === 'tcp';
  }
  get id() {
    return this.#r.id ?? undefined;
  }
  get protocol() {
    return this.#r.protocol ?? undefined;
  }
  get observer() {
    return this.#r.observer ?? undefined;
  }
  get connection_id() {
    return this.#r.connection_id ?? undefined;
  }
  get ordinal() {
    return toInt(this.#r.ordinal);
  }
  get start() {
    return toTimestamp(this.#r.start);
  }
  get request_end() {
    return toTimestamp(this.#r.request_end);
  }
  get response_start() {
    return toTimestamp(this.#r.response_start);
  }
  get end() {
    return toTimestamp(this.#r.end);
  }
  get elapsed_us() {
    return toInt(this.#r.elapsed_us);
  }
  get src() {
    return (this.#src ??= endpointValue(this.#r.src));
  }
  get dst() {
    return (this.#dst ??= endpointValue(this.#r.dst));
  }
  get tls() {
    return (this.#tls ??= tlsValue(this.#r));
  }
  get tls_app() {
    return this.#r.tls?.app_tls !== undefined && this.#r.tls?.app_tls !== null;
  }
  get mesh() {
    return this.#r.tls?.mesh === true;
  }
  get method() {
    return this.#r.method ?? undefined;
  }
  get path() {
    return this.#r.path ?? undefined;
  }
  get authority() {
    return this.#r.authority ?? undefined;
  }
  get status_code() {
    return toInt(this.#r.status_code);
  }
  get grpc_status() {
    return toInt(this.#r.grpc_status);
  }

  get grpc_message() {
    return this.#r.grpc_message ?? '';
  }

  /** `shop.Inventory` of a gRPC call's `/shop.Inventory/Reserve`; empty for other records. */
  get grpc_service() {
    return grpcPathPart(this.#r, 1);
  }

  /** `Reserve` of a gRPC call's `/shop.Inventory/Reserve`; empty for other records. */
  get grpc_method() {
    return grpcPathPart(this.#r, 2);
  }
  get request() {
    if (this.#request === null) this.#request = messageValue(this.#r.request, this.#decodeBodies);
    return this.#request;
  }
  get response() {
    if (this.#response === null) this.#response = messageValue(this.#r.response, this.#decodeBodies);
    return this.#response;
  }
  get bytes_in() {
    return toInt(this.#r.bytes_in);
  }
  get bytes_out() {
    return toInt(this.#r.bytes_out);
  }
  get error() {
    return this.#r.error ?? undefined;
  }
  get error_detail() {
    return this.#r.error_detail ?? undefined;
  }
  get connection() {
    return (this.#connection ??= connectionValue(this.#r.connection));
  }
  /** HTTP/1 pipelining: µs the request waited behind earlier ones; absent when it did not wait. */
  get queue_us() {
    return toInt(this.#r.queue_us);
  }
  /** A CEL double (0..1); absent unless the sidecar linked the call by timing alone. */
  get link_confidence() {
    const v = this.#r.link_confidence;
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  }
  get trace_id() {
    return this.#r.trace_id ?? undefined;
  }
  /** 1 for a first attempt, 2, 3, … for retries (HTTP, HTTP/2, gRPC); absent otherwise. */
  get attempt() {
    return toInt(this.#r.attempt);
  }
  get first_attempt_id() {
    return this.#r.first_attempt_id ?? undefined;
  }
  /** `attempt > 1`: false on a first attempt and on records the retry rules do not cover. */
  get retry() {
    return typeof this.#r.attempt === 'number' && this.#r.attempt > 1;
  }
  /** Set only on a retry of a 429/503 that carried `Retry-After`; absent otherwise (use `has(retry_after_honoured)`). */
  get retry_after_honoured() {
    return typeof this.#r.retry_after_honoured === 'boolean' ? this.#r.retry_after_honoured : undefined;
  }
  /** `error == "client_timeout"`: the client gave up before the whole response arrived. */
  get client_timeout() {
    return this.#r.error === 'client_timeout';
  }
  get span_id() {
    return this.#r.span_id ?? undefined;
  }
  get parent_span_id() {
    return this.#r.parent_span_id ?? undefined;
  }
  /** Set on a call whose app started a new trace for a request without context: that request's trace (and SERVER span). */
  get caused_by_trace_id() {
    return this.#r.caused_by_trace_id ?? undefined;
  }
  get caused_by_span_id() {
    return this.#r.caused_by_span_id ?? undefined;
  }
  get redacted() {
    return stringList(this.#r.redacted);
  }
  get sensitive() {
    return stringList(this.#r.sensitive);
  }
  /** A DNS record's response code (`NXDOMAIN`, …); absent on other records and on unanswered queries. */
  get dns_rcode() {
    return this.#r.dns_rcode ?? undefined;
  }
  get call() {
    if (this.#call === undefined) {
      const map = new Map<string, unknown>();
      const self = this as unknown as FilterActivation;
      for (const name of Object.keys(RECORD_FIELDS)) setIfPresent(map, name, self[name]);
      this.#call = map;
    }
    return this.#call;
  }
}

export function buildActivation(record: CallRecord, options: ActivationOptions = {}): FilterActivation {
  return new RecordActivation(record, options.decodeBodies !== false) as unknown as FilterActivation;
}
