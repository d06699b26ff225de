/**
 * The seam between the forwarding path and protocol capture.
 *
 * The proxy forwards bytes itself and hands a *copy* of every chunk to a `CaptureSession`.
 * A session never throws, never blocks and never touches the sockets: it parses, pairs and
 * emits `Exchange`s; the proxy completes them into `CallRecord`s (ids, endpoints, observer, TLS),
 * masks them and offers them to the shipper.
 */
import type { AppTlsInfo, CallRecord } from '../../record/record.ts';
import type { RequestStartInfo } from './flow-links.ts';

export type { RequestStartInfo } from './flow-links.ts';

/** Monotonic-free wall clock in ns since the epoch (supplied by the IO shell). */
export type NsClock = () => bigint;

/** What a protocol session knows about one exchange (or one opaque connection). */
export type Exchange = Pick<
  CallRecord,
  | 'protocol'
  | 'ordinal'
  | 'start'
  | 'request_end'
  | 'response_start'
  | 'end'
  | 'method'
  | 'path'
  | 'authority'
  | 'status_code'
  | 'grpc_status'
  | 'grpc_message'
  | 'request'
  | 'response'
  | 'error'
  | 'error_detail'
  | 'close_reason'
  | 'connection'
  | 'queue_us'
  | 'trace_id'
  | 'span_id'
  | 'parent_span_id'
  | 'link_confidence'
  | 'caused_by_trace_id'
  | 'caused_by_span_id'
> & {
  /** Bytes of this exchange from client to server and back (headers + bodies as on the wire). */
  bytes_out: number;
  bytes_in: number;
  /**
   * Optional remarks that are not errors: interim responses seen (`100-continue`), a body that
   * could not be content-decoded, a request cut short after its response.
   */
  notes?: string[];
  /** App TLS handshake metadata, for connections captured as `tls` (passed through, not terminated). */
  tls_info?: AppTlsInfo;
  /**
   * What the session masked itself because only it understands where the secret sits (a Redis
   * `AUTH` argument, a PostgreSQL password message): field paths and kinds, merged into the
   * record's `redacted` and `sensitive` before the general masking policy runs.
   */
  redacted?: string[];
  sensitive?: string[];
  /**
   * Where each piece of a body arrived (offset into the body, time), for protocols that frame
   * messages inside bodies (gRPC): read by the gRPC decoding, never part of a record.
   */
  body_arrivals?: { request?: BodyArrival[]; response?: BodyArrival[] };
};

/** `[offset into the body, when that byte arrived]`. */
export type BodyArrival = readonly [number, bigint];

/** Events worth counting (metrics) that are not exchanges. */
export type CaptureEvent =
  | { kind: 'parse_error'; side: 'client' | 'server'; detail: string }
  | { kind: 'upgraded'; protocol: string }
  | { kind: 'body_truncated' }
  /**
   * The session cut its own capture (e.g. too many pipelined requests awaiting responses); with
   * `reason: "ws_message_rate"`, one WebSocket message not recorded (one event per message).
   */
  | { kind: 'capture_overflow'; reason: string };

export interface CaptureContext {
  /** Body capture limit per message (request or response), in bytes. */
  maxBodyBytes: number;
  /** Receives every completed exchange, in order. */
  emit: (exchange: Exchange) => void;
  /** Receives countable events. */
  event: (event: CaptureEvent) => void;
  /**
   * A request's head was read (its exchange is now in flight). The capture worker uses it on
   * inbound connections to link the pod's outbound calls to the request that caused them
   * (`flow-links.ts`). Optional: sessions call it when they can, and it must not throw.
   * Called by HTTP/1, HTTP/2 and gRPC sessions.
   */
  requestStarted?: (info: RequestStartInfo) => void;
}

/** `capture_overflow`: the connection goes on, but its capture was cut (capture fell behind). */
export type CloseReason = 'fin' | 'reset' | 'error' | 'drain' | 'timeout' | 'capture_overflow';

export interface CaptureSession {
  /** A copy of bytes the client sent towards the server. */
  clientData(chunk: Uint8Array, now: bigint): void;
  /** A copy of bytes the server sent towards the client. */
  serverData(chunk: Uint8Array, now: bigint): void;
  /**
   * `n` bytes passed from the client unseen (capture fell behind forwarding). True when the
   * session absorbed them without losing its framing (inside a body: the record says the body
   * was cut); false, or absent, when it cannot — the tap then cuts the capture.
   */
  skipClient?(n: number, now: bigint): boolean;
  /** The same from the server. */
  skipServer?(n: number, now: bigint): boolean;
  /**
   * Framing was lost to a gap (a skip the session could not absorb): flush what is pending as
   * `capture_overflow` (or one marker record when nothing was) and find the next message
   * boundary itself. Absent: the tap cuts the capture for the rest of the connection.
   */
  resync?(now: bigint, reason: string): void;
  /** The client half-closed (FIN) its direction. */
  clientEnd(now: bigint): void;
  /** The server half-closed (FIN) its direction. */
  serverEnd(now: bigint): void;
  /** The connection is gone: flush what is pending (unpaired requests become error records). */
  close(now: bigint, reason: CloseReason): void;
}
