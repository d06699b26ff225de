/**
 * The capture side of one connection: sees copies of the bytes the proxy forwards, picks a
 * protocol from the first client bytes and feeds a `CaptureSession`.
 *
 * Detection never holds bytes back: the proxy forwards every chunk before the tap sees it,
 * and while the protocol is still unknown the tap only keeps its own references to the chunks
 * (replayed into the session once one is chosen). Rules, in order:
 * - the server speaks before the client: its greeting names the protocol (MySQL) or the
 *   connection is opaque `tcp` (SMTP, SSH, ...);
 * - the detector answers from the client's first bytes → that protocol;
 * - the client has spoken but the detector still wants more after the detect timeout, or more
 *   than `MAX_PROBE_BYTES`, or a side ended → opaque `tcp`.
 * A silent connection is never timed out: nothing is known and nothing is held.
 *
 * Every call into the session is guarded: a parser that throws is counted and dropped for the
 * rest of the connection, the connection itself carries on.
 *
 * The connection's facts (connect and handshake times, resets, half-closes, reuse) are tracked
 * here too, because the tap is where the forwarding side's signals and the session's exchanges
 * meet in the connection's order (`capture/connection-facts.ts`).
 */
import { ConnectionFactsTracker, type ForwardingFact } from '../capture/connection-facts.ts';
import type { CaptureContext, CaptureEvent, CaptureSession, CloseReason, Exchange, NsClock } from '../capture/session.ts';

export type DetectResult = 'http1' | 'http2' | 'tls' | 'redis' | 'postgres' | 'mysql' | 'tcp' | 'need-more';
/** Protocol labels of captured connections, named like the record's `protocol`. */
export type CapturedProtocol = 'http' | 'http2' | 'tls' | 'redis' | 'postgres' | 'mysql' | 'tcp';
/**
 * What a server that speaks first can be recognised as: its greeting names the protocol
 * (`mysql`), or it is a protocol whose client speaks too and decides (`client-decides`: an
 * HTTP/2 server sends its SETTINGS before it has read the client's preface).
 */
export type ServerFirstResult = 'mysql' | 'client-decides' | 'need-more' | undefined;

/** The parsers, injected so the tap can be tested without them and swapped without touching it. */
export interface CaptureFactory {
  detect(firstBytes: Uint8Array): DetectResult;
  /** Optional: recognise a server-first protocol from the server's first bytes (else opaque). */
  detectServerFirst?(firstBytes: Uint8Array): ServerFirstResult;
  createSession(protocol: CapturedProtocol, ctx: CaptureContext): CaptureSession;
}

export interface CaptureTapOptions {
  factory: CaptureFactory;
  clock: NsClock;
  maxBodyBytes: number;
  detectTimeoutMs: number;
  /**
   * How late bytes may reach this tap after forwarding saw them (ms, default 0): the capture
   * worker is handed them in batches. The detect timeout is judged on the bytes' own times (the
   * clock): bytes seen within it still decide, however late they arrive. Only the timer that
   * ends a detection no more bytes came for waits this much longer.
   */
  detectGraceMs?: number;
  onExchange: (exchange: Exchange) => void;
  onEvent: (event: CaptureEvent) => void;
  /** A request's head was read (see `CaptureContext.requestStarted`); absent: not asked for. */
  onRequestStarted?: CaptureContext['requestStarted'];
  /** The protocol was chosen (once per connection). */
  onProtocol: (protocol: CapturedProtocol) => void;
  /** The session (or the detector) threw: it is dropped for the rest of the connection. */
  onFault: (err: unknown) => void;
}

/** Beyond this many client bytes without an answer from the detector, the stream is opaque. */
export const MAX_PROBE_BYTES = 16 * 1024;

const DETECTING = 0;
const CAPTURING = 1;
const OFF = 2;

const CLIENT_DATA = 0;
const SERVER_DATA = 1;
const CLIENT_END = 2;
const SERVER_END = 3;

interface Pending {
  kind: number;
  chunk: Uint8Array | undefined;
  at: bigint;
}

const DETECTED: Record<Exclude<DetectResult, 'need-more'>, CapturedProtocol> = {
  http1: 'http',
  http2: 'http2',
  tls: 'tls',
  redis: 'redis',
  postgres: 'postgres',
  mysql: 'mysql',
  tcp: 'tcp',
};

export class CaptureTap {
  private state = DETECTING;
  private session: CaptureSession | undefined;
  private pending: Pending[] = [];
  private probe: Buffer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sawBytes = false;
  /** The server spoke first: its bytes so far, while its greeting is still incomplete. */
  private serverProbe: Buffer | undefined;
  private sawClient = false;
  /** When detection began to wait for more bytes (the clock's time), if it has. */
  private detectFrom: bigint | undefined;
  /** The server's first bytes said: let the client's first bytes decide. */
  private clientDecides = false;
  private chosen: CapturedProtocol | undefined;
  private readonly options: CaptureTapOptions;
  private readonly facts = new ConnectionFactsTracker();
  /** While `unreachable` flushes the session: why the upstream was not reached, and what it flushed. */
  private failing: { detail: string; flushed: number } | undefined;

  constructor(options: CaptureTapOptions) {
    this.options = options;
  }

  /** The chosen protocol, once detection is over. */
  get protocol(): CapturedProtocol | undefined {
    return this.chosen;
  }

  clientData(chunk: Uint8Array): void {
    if (this.state === CAPTURING) {
      const session = this.session!;
      try {
        session.clientData(chunk, this.options.clock());
      } catch (err) {
        this.fault(err);
      }
      return;
    }
    if (this.state === OFF) return;
    this.sawBytes = true;
    this.sawClient = true;
    const at = this.options.clock();
    this.pending.push({ kind: CLIENT_DATA, chunk, at });
    if (this.pastDetectTimeout(at)) {
      this.choose('tcp');
      return;
    }
    if (this.serverProbe !== undefined) {
      // The client answers a greeting the detector has not placed yet: opaque.
      this.choose('tcp');
      return;
    }
    const probe = this.probe ? Buffer.concat([this.probe, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.probe = probe;
    let result: DetectResult;
    try {
      result = this.options.factory.detect(probe);
    } catch (err) {
      this.fault(err);
      return;
    }
    if (result !== 'need-more') this.choose(DETECTED[result]);
    else if (probe.length >= MAX_PROBE_BYTES) this.choose('tcp');
    else this.armTimer();
  }

  /** Detection that still wants bytes gives up after the detect timeout: opaque. */
  private armTimer(): void {
    this.detectFrom ??= this.options.clock();
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.state === DETECTING) this.choose('tcp');
    }, this.options.detectTimeoutMs + (this.options.detectGraceMs ?? 0));
    this.timer.unref();
  }

  /** Bytes seen at `at` came after the detect timeout ran out: detection gave up before them. */
  private pastDetectTimeout(at: bigint): boolean {
    return this.detectFrom !== undefined && at - this.detectFrom > BigInt(this.options.detectTimeoutMs) * 1_000_000n;
  }

  serverData(chunk: Uint8Array): void {
    if (this.state === CAPTURING) {
      const session = this.session!;
      try {
        session.serverData(chunk, this.options.clock());
      } catch (err) {
        this.fault(err);
      }
      return;
    }
    if (this.state === OFF) return;
    this.sawBytes = true;
    const at = this.options.clock();
    this.pending.push({ kind: SERVER_DATA, chunk, at });
    if (this.pastDetectTimeout(at)) {
      this.choose('tcp');
      return;
    }
    // A server answering bytes the detector could not place: opaque.
    const detect = this.options.factory.detectServerFirst;
    if (this.clientDecides && !this.sawClient) return;
    if (this.sawClient || detect === undefined) {
      this.choose('tcp');
      return;
    }
    // Server first: its greeting may name the protocol.
    const probe = this.serverProbe ? Buffer.concat([this.serverProbe, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let result: ServerFirstResult;
    try {
      result = detect(probe);
    } catch (err) {
      this.fault(err);
      return;
    }
    if (result === 'mysql') this.choose('mysql');
    else if (result === 'client-decides') {
      this.clientDecides = true;
      this.serverProbe = undefined;
      this.armTimer();
    } else if (result === 'need-more' && probe.length < MAX_PROBE_BYTES) {
      this.serverProbe = probe;
      this.armTimer();
    } else this.choose('tcp');
  }

  /**
   * `n` client bytes passed unseen (the hand-off to capture was full). True when the session
   * absorbed them; otherwise the capture is cut here (`capture_overflow`) and false returned.
   */
  clientSkip(n: number): boolean {
    return this.skip(n, true);
  }

  serverSkip(n: number): boolean {
    return this.skip(n, false);
  }

  clientEnd(): void {
    this.facts.ended('client', this.options.clock());
    this.endOf(CLIENT_END);
  }

  serverEnd(): void {
    this.facts.ended('server', this.options.clock());
    this.endOf(SERVER_END);
  }

  /** A fact only the forwarding side knows (timings, who reset): it goes on the records. */
  fact(fact: ForwardingFact): void {
    this.facts.fact(fact);
  }

  /** The connection is gone. A connection that never carried a byte yields nothing. */
  close(reason: CloseReason): void {
    if (this.state === DETECTING) {
      if (!this.sawBytes) {
        this.stop();
        return;
      }
      this.choose('tcp');
    }
    if (this.state !== CAPTURING) return;
    const session = this.session!;
    this.stop();
    this.facts.closed();
    try {
      session.close(this.options.clock(), reason);
    } catch (err) {
      this.options.onFault(err);
    }
  }

  /** Stops capturing without flushing (the proxy reports the connection's fate itself). */
  disable(): void {
    this.stop();
  }

  /**
   * The upstream could not be reached (`detail`: why). What the session read of the client's
   * bytes is flushed as calls that failed with `upstream_unreachable`, so the record keeps the
   * request (method, path, headers, the statement…) that was sent; a connection whose bytes made
   * no call, or none at all, is one such record with the protocol and the client's byte count.
   */
  unreachable(detail: string, bytesOut: number, openedAt: bigint): void {
    const failing = { detail, flushed: 0 };
    this.failing = failing;
    try {
      this.close('error');
    } finally {
      this.failing = undefined;
    }
    this.stop();
    if (failing.flushed > 0) return;
    const protocol = this.chosen ?? 'tcp';
    this.options.onExchange({ protocol, ordinal: 0, start: openedAt, end: this.options.clock(), error: 'upstream_unreachable', error_detail: detail, bytes_out: bytesOut, bytes_in: 0 });
  }

  /** An exchange flushed by `unreachable` failed for that reason, whatever the session said. */
  private failed(exchange: Exchange): Exchange {
    const failing = this.failing;
    if (failing === undefined) return exchange;
    failing.flushed++;
    exchange.error = 'upstream_unreachable';
    exchange.error_detail = failing.detail;
    exchange.bytes_in = 0;
    return exchange;
  }

  private skip(n: number, client: boolean): boolean {
    if (this.state === OFF) return true;
    if (this.state === CAPTURING) {
      const session = this.session!;
      let ok = false;
      try {
        ok = (client ? session.skipClient?.(n, this.options.clock()) : session.skipServer?.(n, this.options.clock())) ?? false;
      } catch (err) {
        this.fault(err);
        return true;
      }
      if (ok) return true;
      if (session.resync) {
        try {
          session.resync(this.options.clock(), 'gap');
        } catch (err) {
          this.fault(err);
        }
        return false;
      }
    }
    this.close('capture_overflow');
    return false;
  }

  private endOf(kind: number): void {
    if (this.state === CAPTURING) {
      const session = this.session!;
      try {
        if (kind === CLIENT_END) session.clientEnd(this.options.clock());
        else session.serverEnd(this.options.clock());
      } catch (err) {
        this.fault(err);
      }
      return;
    }
    if (this.state === OFF) return;
    this.pending.push({ kind, chunk: undefined, at: this.options.clock() });
    if (this.sawBytes) this.choose('tcp');
  }

  private choose(protocol: CapturedProtocol): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.chosen = protocol;
    this.probe = undefined;
    this.serverProbe = undefined;
    this.options.onProtocol(protocol);
    const ctx: CaptureContext = {
      maxBodyBytes: this.options.maxBodyBytes,
      emit: (exchange) => this.options.onExchange(this.failed(this.facts.apply(exchange))),
      event: this.options.onEvent,
      ...(this.options.onRequestStarted !== undefined ? { requestStarted: this.options.onRequestStarted } : {}),
    };
    let session: CaptureSession;
    try {
      session = this.options.factory.createSession(protocol, ctx);
    } catch (err) {
      this.fault(err);
      return;
    }
    this.session = session;
    this.state = CAPTURING;
    const pending = this.pending;
    this.pending = [];
    try {
      for (const p of pending) {
        if (p.kind === CLIENT_DATA) session.clientData(p.chunk!, p.at);
        else if (p.kind === SERVER_DATA) session.serverData(p.chunk!, p.at);
        else if (p.kind === CLIENT_END) session.clientEnd(p.at);
        else session.serverEnd(p.at);
      }
    } catch (err) {
      this.fault(err);
    }
  }

  private fault(err: unknown): void {
    this.stop();
    this.options.onFault(err);
  }

  private stop(): void {
    this.state = OFF;
    this.session = undefined;
    this.pending = [];
    this.probe = undefined;
    this.serverProbe = undefined;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
