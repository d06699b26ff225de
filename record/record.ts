/**
 * The call record: one per request/response exchange (or per connection for opaque TCP).
 * Field names are shared by the filter language, the API, spans and Loki lines.
 * Times are nanoseconds since the Unix epoch as bigint (int64 in proto, decimal strings in JSON).
 */

export type Protocol = 'http' | 'http2' | 'grpc' | 'ws' | 'redis' | 'postgres' | 'mysql' | 'dns' | 'tls' | 'tcp';
export type Observer = 'outbound' | 'inbound';

/** Why an exchange did not complete normally. Absent when it did. */
/**
 * `capture_overflow`: capture fell behind forwarding and this connection's capture was cut
 * there (the bytes were forwarded; what the record holds ends where capture stopped).
 */
/**
 * `server_error`: the server answered with an error in a protocol that has no status code of
 * its own (a Redis error reply, a PostgreSQL ErrorResponse); `error_detail` holds its text.
 */
/**
 * `client_timeout`: the client gave up on the call — it reset or closed the connection after
 * sending the request and before the whole response arrived.
 */
export type RecordError =
  | 'reset'
  | 'timeout'
  | 'unpaired'
  | 'parse'
  | 'closed'
  | 'upstream_unreachable'
  | 'capture_overflow'
  | 'server_error'
  | 'client_timeout';

export interface Endpoint {
  ip: string;
  port: number;
  /** SPIFFE id when known from mTLS. */
  identity?: string;
  pod?: string;
  namespace?: string;
  workload?: string;
  workload_kind?: string;
  service?: string;
  node?: string;
  labels?: Record<string, string>;
}

export interface AppTlsInfo {
  sni?: string;
  alpn?: string[];
  version?: string;
  cipher?: string;
  handshake_us?: number;
  error?: string;
}

export interface TlsInfo {
  /** True when the hop between sidecars was meshtap mTLS. */
  mesh: boolean;
  app_tls?: AppTlsInfo;
}

/** Which end of a connection did something (sent a reset, half-closed first). */
export type ConnectionSide = 'client' | 'server';

/**
 * Facts about the TCP connection an exchange travelled on, as this record's sidecar saw it.
 * The opening facts (`connect_us`, `tls_handshake_us`) sit only on the exchange that opened the
 * connection (ordinal 0); how it ended (`reset_by`, `half_closed_by`) on the exchanges the end
 * affected and on the connection's own record (opaque TCP).
 */
export interface ConnectionFacts {
  /**
   * Time from starting the upstream connect to its completion, in µs: the TCP handshake to the
   * destination (outbound: the server or its sidecar; inbound: the app in the pod).
   */
  connect_us?: number;
  /** The meshtap mTLS handshake on this hop, in µs (meshed connections only). */
  tls_handshake_us?: number;
  /** Who sent a TCP reset, when one ended the connection. */
  reset_by?: ConnectionSide;
  /** Who half-closed (FIN) first, when one did before the connection ended. */
  half_closed_by?: ConnectionSide;
  /** Exchanges carried by the connection up to and including this one (the reuse count). */
  exchanges?: number;
}

export interface HttpMessage {
  /** Lower-case names; repeated headers joined with ", " (set-cookie with "\n"). */
  headers: Record<string, string>;
  trailers?: Record<string, string>;
  /** Captured body bytes (freed of HTTP/1 transfer codings and of gzip/deflate/br/zstd content codings), at most the body limit. */
  body: Uint8Array;
  /** True size of the body on the wire, in bytes. */
  body_size: number;
  /** True when `body` holds less than the whole (decoded) body. */
  truncated: boolean;
  content_type?: string;
  content_encoding?: string;
}

export interface CallRecord {
  id: string;
  protocol: Protocol;
  observer: Observer;
  connection_id: string;
  /** Position of the exchange on its connection, from 0. */
  ordinal: number;
  start: bigint;
  request_end?: bigint;
  response_start?: bigint;
  end: bigint;
  elapsed_us: number;
  src: Endpoint;
  dst: Endpoint;
  tls: TlsInfo;
  method?: string;
  path?: string;
  authority?: string;
  status_code?: number;
  grpc_status?: number;
  /** gRPC: the status message (`grpc-message` trailer, percent-decoded). */
  grpc_message?: string;
  /** DNS: the response code by name (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, …). */
  dns_rcode?: string;
  request?: HttpMessage;
  response?: HttpMessage;
  bytes_in: number;
  bytes_out: number;
  error?: RecordError;
  /** Free text detail for `error` (e.g. the parser's message). */
  error_detail?: string;
  /** For opaque connections: how the connection ended (`fin`, `reset`, `error`, `drain`). */
  close_reason?: string;
  /** The connection this exchange travelled on: how it opened, how it ended, how often it was reused. */
  connection?: ConnectionFacts;
  /**
   * How long the request waited behind earlier requests on the same connection before the
   * server could answer it (HTTP/1 pipelining), in µs; absent when it did not wait.
   */
  queue_us?: number;
  trace_id?: string;
  span_id?: string;
  parent_span_id?: string;
  /**
   * Set when the sidecar linked this outbound call to the inbound call of its pod that caused it
   * by timing alone (the app propagated no trace context): 1 when exactly one inbound call was
   * in flight, less when several overlapped and the most recent one was chosen.
   */
  link_confidence?: number;
  /**
   * Set by the sidecar on an outbound call that carries a trace context of its own made while
   * exactly one inbound call of its pod was in flight, and that inbound call carried none: the
   * app started a new trace for the work the request caused. The inbound call's trace id (derived,
   * or from its `x-request-id`); the collector joins the two traces into one.
   */
  caused_by_trace_id?: string;
  /** With `caused_by_trace_id`: that inbound call's SERVER span id (the parent of this call's work in that trace). */
  caused_by_span_id?: string;
  /**
   * Set by the collector on HTTP, HTTP/2 and gRPC calls: 1 for a first attempt, 2, 3, … for a
   * repeat of a call that failed (same client, method, target and request body, within the
   * retry window), with `first_attempt_id` naming the chain's first call.
   */
  attempt?: number;
  first_attempt_id?: string;
  /**
   * Set by the collector (never shipped by a sidecar, not in the proto) on a retry of a 429 or
   * 503 that carried `Retry-After`: whether the retry started no earlier than it asked.
   */
  retry_after_honoured?: boolean;
  /** Field paths whose values were masked, e.g. `request.headers.authorization`, `response.body.$.password`. */
  redacted: string[];
  /** Kinds of sensitive data detected: `jwt`, `card`, `email`, `password`, `api_key`, ... */
  sensitive: string[];
  /**
   * What the parser noticed that is not an error but explains the record (`100-continue`, a
   * body that could not be content-decoded, a request cut short after its response, a TLS
   * alert). Free text for people, never matched on; absent when there is nothing to say.
   */
  notes?: string[];
}
