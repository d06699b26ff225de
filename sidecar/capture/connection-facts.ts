/**
 * Facts about one TCP connection, put on the records of the exchanges it carried: how it opened
 * (connect and mesh handshake times), how it ended (who reset it, who half-closed first), how
 * often it was reused, how long pipelined HTTP/1 requests queued — and whether the client gave
 * up on a call (`client_timeout`).
 *
 * The forwarding thread only takes timestamps and notices resets (`ForwardingFact`); the FINs
 * reach capture as they always did (`clientEnd`/`serverEnd`). This tracker sits between a
 * connection's protocol session and its records and is fed in the connection's own order, so
 * "the exchanges an end affected" are simply those emitted after it: a session emits an
 * exchange once it is complete, so those are the ones still pending when the end came.
 *
 * Pure: no clock, no sockets; it reads the times the exchanges already carry.
 */
import type { ConnectionFacts, ConnectionSide } from '../../record/record.ts';
import type { Exchange } from './session.ts';

/** What the forwarding thread tells capture about a connection, once each. */
export type ForwardingFact =
  /** The upstream TCP connect took `us` µs (from starting to dial to the connection being up). */
  | { kind: 'connect'; us: number }
  /** The meshtap mTLS handshake on this hop took `us` µs. */
  | { kind: 'tls_handshake'; us: number }
  /** A side sent a TCP reset (ECONNRESET/EPIPE on its socket), which ended the connection. */
  | { kind: 'reset'; by: ConnectionSide };

/** Errors a connection's end gives the exchanges still waiting (see the sessions' close paths). */
const ENDED_BY_CLOSE = new Set(['reset', 'closed', 'unpaired']);

/** `client_timeout`'s detail: why the call is the client's giving up and not the server's failure. */
function gaveUpDetail(how: 'reset' | 'fin'): string {
  return how === 'reset'
    ? 'the client reset the connection before the whole response came'
    : 'the client closed the connection before the whole response came';
}

const usBetween = (from: bigint, to: bigint): number => Number((to - from) / 1000n);

export class ConnectionFactsTracker {
  private connectUs: number | undefined;
  private tlsUs: number | undefined;
  private resetBy: ConnectionSide | undefined;
  private halfClosedBy: ConnectionSide | undefined;
  /** Who ended first, by FIN or reset: the client giving up, or the server going away. */
  private firstEnd: { by: ConnectionSide; how: 'reset' | 'fin'; at?: bigint } | undefined;
  /** The connection is being flushed: what is emitted now never completed. */
  private closing = false;
  private emitted = 0;
  /** When the last HTTP/1 response on the connection ended (the server was free for the next request). */
  private lastResponseEnd: bigint | undefined;

  fact(fact: ForwardingFact): void {
    if (fact.kind === 'connect') this.connectUs ??= Math.max(0, fact.us);
    else if (fact.kind === 'tls_handshake') this.tlsUs ??= Math.max(0, fact.us);
    else if (this.resetBy === undefined) {
      this.resetBy = fact.by;
      this.firstEnd ??= { by: fact.by, how: 'reset' };
    }
  }

  /** A FIN from `side` at `at` (called before the session hears of it). */
  ended(side: ConnectionSide, at?: bigint): void {
    if (this.resetBy !== undefined) return;
    this.halfClosedBy ??= side;
    this.firstEnd ??= at === undefined ? { by: side, how: 'fin' } : { by: side, how: 'fin', at };
  }

  /** The connection is gone and its session is about to flush what is pending. */
  closed(): void {
    this.closing = true;
  }

  /** Puts the connection's facts on an exchange (in place) and returns it. */
  apply(e: Exchange): Exchange {
    this.emitted++;
    const facts: ConnectionFacts = { exchanges: this.emitted };
    if (e.ordinal === 0) {
      if (this.connectUs !== undefined) facts.connect_us = this.connectUs;
      if (this.tlsUs !== undefined) facts.tls_handshake_us = this.tlsUs;
    }
    if (this.resetBy !== undefined) facts.reset_by = this.resetBy;
    if (this.halfClosedBy !== undefined) facts.half_closed_by = this.halfClosedBy;
    e.connection = facts;
    this.classify(e);
    if (e.protocol === 'http') this.queue(e);
    return e;
  }

  /**
   * The client gave up: it ended the connection first (FIN or reset) after sending the whole
   * request, and the response never completed. A server reset stays `reset`, and a client that
   * half-closed and then got its whole response has no error at all (it was never flushed).
   */
  private classify(e: Exchange): void {
    const first = this.firstEnd;
    if (!this.closing || first === undefined || first.by !== 'client' || this.resetBy === 'server') return;
    if (e.error === undefined || !ENDED_BY_CLOSE.has(e.error) || e.request_end === undefined) return;
    e.error = 'client_timeout';
    e.error_detail = gaveUpDetail(first.how);
    // The call lasted until the client gave up, not until the connection was gone: a hung server
    // holds the half-closed connection open as long as it hangs. Unless an answer had begun
    // after that (then the end is when capture last saw it).
    const gaveUpAt = first.at;
    if (gaveUpAt !== undefined && gaveUpAt >= e.start && gaveUpAt < e.end && (e.response_start === undefined || e.response_start <= gaveUpAt)) e.end = gaveUpAt;
  }

  /**
   * HTTP/1 answers in order: a request that ended before the previous response did waited for
   * the server to get to it (pipelining). Only answered requests are measured, and the wait is
   * counted from the previous answered exchange's end (its response's last byte).
   */
  private queue(e: Exchange): void {
    if (e.response_start === undefined) return;
    const previous = this.lastResponseEnd;
    this.lastResponseEnd = e.end;
    if (previous === undefined || e.request_end === undefined) return;
    const us = usBetween(e.request_end, previous);
    if (us > 0) e.queue_us = us;
  }
}
