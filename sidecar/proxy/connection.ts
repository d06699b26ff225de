/**
 * One proxied connection: the accepted client socket, the upstream socket to the original
 * destination, and the capture tap on the side.
 *
 * Forwarding rules (the tap never changes them):
 * - bytes go through exactly and in order; a chunk is written to the other side before the
 *   tap sees it, and the tap only reads it (Node never reuses a chunk it handed to 'data');
 * - backpressure: a side stops reading while the other side's write buffer is full;
 * - half-close: a FIN from one side becomes `end()` on the other after its pending writes;
 * - reset: an RST (or any socket error) on one side resets the other;
 * - upstream connect failure: the client is reset, and an `upstream_unreachable` record made;
 * - no idle timeout: long-lived quiet connections are the application's business.
 */
import { connect, type Socket } from 'node:net';
import type { CaptureEvent, CloseReason, Exchange, NsClock } from '../capture/session.ts';
import type { Observer } from '../record.ts';
import type { OriginalDst } from '../original-dst.ts';
import type { DirectionStats, SidecarStats } from '../metrics.ts';
import { CaptureTap, type CaptureFactory } from './capture-tap.ts';

/** What a record needs to know about the connection an exchange came from. */
export interface ConnectionMeta {
  readonly connectionId: string;
  readonly observer: Observer;
  readonly client: { readonly ip: string; readonly port: number };
  readonly dst: OriginalDst;
}

export interface ConnectionEnv {
  observer: Observer;
  clock: NsClock;
  stats: SidecarStats;
  direction: DirectionStats;
  /** Absent when capture is off: forwarding only. */
  capture: CaptureFactory | undefined;
  maxBodyBytes: number;
  detectTimeoutMs: number;
  /** Local address to bind the upstream socket to (inbound: the passthrough source). */
  upstreamLocalAddress: string | undefined;
  newConnectionId: () => string;
  /** A completed exchange (or a connection failure) of this connection. Must not throw. */
  onExchange: (exchange: Exchange, meta: ConnectionMeta) => void;
  /** Both sockets are closed. */
  onClosed: (connection: ProxyConnection) => void;
}

function isReset(err: NodeJS.ErrnoException | undefined): boolean {
  return err?.code === 'ECONNRESET' || err?.code === 'EPIPE';
}

export class ProxyConnection {
  readonly meta: ConnectionMeta;
  readonly acceptedAt: bigint;
  private readonly env: ConnectionEnv;
  private readonly client: Socket;
  private readonly upstream: Socket;
  private readonly tap: CaptureTap | undefined;
  private connected = false;
  private closedSockets = 0;
  private reason: CloseReason | undefined;
  private bytesFromClient = 0;
  private bytesFromServer = 0;

  constructor(client: Socket, dst: OriginalDst, env: ConnectionEnv) {
    this.env = env;
    this.client = client;
    this.acceptedAt = env.clock();
    this.meta = {
      connectionId: env.newConnectionId(),
      observer: env.observer,
      client: { ip: client.remoteAddress ?? '', port: client.remotePort ?? 0 },
      dst,
    };
    env.direction.active++;
    if (env.capture) {
      this.tap = new CaptureTap({
        factory: env.capture,
        clock: env.clock,
        maxBodyBytes: env.maxBodyBytes,
        detectTimeoutMs: env.detectTimeoutMs,
        onExchange: (exchange) => env.onExchange(exchange, this.meta),
        onEvent: (event) => this.captureEvent(event),
        onProtocol: (protocol) => this.countProtocol(protocol),
        onFault: () => env.stats.parserErrors.exception++,
      });
    }

    client.setNoDelay(true);
    const upstream = connect({
      host: dst.ip,
      port: dst.port,
      localAddress: env.upstreamLocalAddress,
      allowHalfOpen: true,
      noDelay: true,
    });
    // Small request/response exchanges must not wait for Nagle (the proxy never coalesces).
    upstream.setNoDelay(true);
    this.upstream = upstream;

    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    upstream.on('data', (chunk: Buffer) => this.fromServer(chunk));
    upstream.on('drain', () => client.resume());
    client.on('drain', () => upstream.resume());
    client.on('end', () => this.clientEnded());
    upstream.on('end', () => this.serverEnded());
    upstream.once('connect', () => {
      this.connected = true;
    });
    client.on('error', (err) => this.failed('client', err));
    upstream.on('error', (err) => this.failed('server', err));
    client.on('close', () => this.socketClosed());
    upstream.on('close', () => this.socketClosed());
  }

  /** Ends the connection now (drain deadline): both sides closed, capture flushed as `drain`. */
  abort(): void {
    this.reason ??= 'drain';
    this.client.destroy();
    this.upstream.destroy();
  }

  private fromClient(chunk: Buffer): void {
    this.bytesFromClient += chunk.length;
    this.env.direction.bytesFromClient += chunk.length;
    const upstream = this.upstream;
    if (!upstream.destroyed && !upstream.write(chunk)) this.client.pause();
    if (this.tap) this.tap.clientData(chunk);
  }

  private fromServer(chunk: Buffer): void {
    this.bytesFromServer += chunk.length;
    this.env.direction.bytesFromServer += chunk.length;
    const client = this.client;
    if (!client.destroyed && !client.write(chunk)) this.upstream.pause();
    if (this.tap) this.tap.serverData(chunk);
  }

  private clientEnded(): void {
    if (!this.upstream.destroyed) this.upstream.end();
    if (this.tap) this.tap.clientEnd();
  }

  private serverEnded(): void {
    if (!this.client.destroyed) this.client.end();
    if (this.tap) this.tap.serverEnd();
  }

  private failed(side: 'client' | 'server', err: NodeJS.ErrnoException): void {
    if (side === 'server' && !this.connected) {
      this.upstreamUnreachable(err);
      return;
    }
    this.reason ??= isReset(err) ? 'reset' : 'error';
    const other = side === 'client' ? this.upstream : this.client;
    if (other.destroyed) return;
    if (other.connecting) other.destroy();
    else other.resetAndDestroy();
  }

  private upstreamUnreachable(err: NodeJS.ErrnoException): void {
    this.reason ??= 'error';
    this.env.direction.upstreamConnectFailures++;
    const tap = this.tap;
    if (tap) {
      const protocol = tap.protocol ?? 'tcp';
      tap.disable();
      const now = this.env.clock();
      this.env.onExchange(
        {
          protocol,
          ordinal: 0,
          start: this.acceptedAt,
          end: now,
          error: 'upstream_unreachable',
          error_detail: err.code ?? err.message,
          bytes_out: this.bytesFromClient,
          bytes_in: 0,
        },
        this.meta,
      );
    }
    if (!this.client.destroyed) this.client.resetAndDestroy();
  }

  private captureEvent(event: CaptureEvent): void {
    if (event.kind === 'parse_error') this.env.stats.parserErrors.parse_error++;
  }

  private countProtocol(protocol: string): void {
    const totals = this.env.direction.connectionsByProtocol;
    totals[protocol] = (totals[protocol] ?? 0) + 1;
  }

  private socketClosed(): void {
    if (++this.closedSockets < 2) return;
    this.env.direction.active--;
    if (this.tap) {
      this.tap.close(this.reason ?? 'fin');
      if (this.tap.protocol === undefined) this.countProtocol('none');
    } else {
      this.countProtocol('uncaptured');
    }
    this.env.onClosed(this);
  }
}
