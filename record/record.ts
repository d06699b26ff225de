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
export type RecordError = 'reset' | 'timeout' | 'unpaired' | 'parse' | 'closed' | 'upstream_unreachable' | 'capture_overflow' | 'server_error';

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

export interface HttpMessage {
  /** Lower-case names; repeated headers joined with ", " (set-cookie with "\n"). */
  headers: Record<string, string>;
  trailers?: Record<string, string>;
  /** Captured body bytes (decoded when content-encoding was gzip/deflate/br), at most the body limit. */
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
  request?: HttpMessage;
  response?: HttpMessage;
  bytes_in: number;
  bytes_out: number;
  error?: RecordError;
  /** Free text detail for `error` (e.g. the parser's message). */
  error_detail?: string;
  /** For opaque connections: how the connection ended (`fin`, `reset`, `error`, `drain`). */
  close_reason?: string;
  trace_id?: string;
  span_id?: string;
  parent_span_id?: string;
  /**
   * Set by the collector on HTTP, HTTP/2 and gRPC calls: 1 for a first attempt, 2, 3, … for a
   * repeat of a call that failed (same client, method, target and request body, within the
   * retry window), with `first_attempt_id` naming the chain's first call.
   */
  attempt?: number;
  first_attempt_id?: string;
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
