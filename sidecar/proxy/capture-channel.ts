/**
 * What a proxied connection hands its bytes to: a `ConnectionCapture` per connection, opened
 * from the sidecar's `CaptureChannel`.
 *
 * The connection calls these right after forwarding each chunk; they must return at once and
 * never throw. Two channels exist: the capture worker's (sidecar/capture-worker/hand-off.ts:
 * a bounded copy to another thread, the sidecar's own) and the inline one (inline-capture.ts:
 * the tap on the calling thread, for tests of the proxy and the parsers).
 */
import type { ForwardingFact } from '../capture/connection-facts.ts';
import type { CloseReason } from '../capture/session.ts';
import type { DirectionStats } from '../metrics.ts';
import type { ConnectionMeta } from './connection.ts';

export interface ConnectionCapture {
  /**
   * `seenAt`: `performance.now()` when the chunk was read, before it was forwarded (a peer's
   * sidecar may record the forwarded bytes before this call returns); now when absent.
   */
  clientData(chunk: Buffer, seenAt?: number): void;
  serverData(chunk: Buffer, seenAt?: number): void;
  clientEnd(): void;
  serverEnd(): void;
  /** The connection is gone (both sockets closed): flush what is pending. */
  close(reason: CloseReason): void;
  /** Stop without flushing: the proxy refused the connection and reports its fate itself. */
  disable(): void;
  /** The upstream could not be reached: one `upstream_unreachable` record, then nothing. */
  unreachable(detail: string, bytesOut: number): void;
  /** `meta` changed (mesh identities, the connection id learnt inbound, a plaintext fallback). */
  metaChanged(): void;
  /** A connection fact only forwarding sees (connect and handshake times, who reset): a few per connection. */
  fact(fact: ForwardingFact): void;
}

export interface CaptureChannel {
  /** `meta` is the connection's own object: the channel reads it when records are made (inline) or on `metaChanged` (worker). */
  open(meta: ConnectionMeta, direction: DirectionStats): ConnectionCapture;
}
