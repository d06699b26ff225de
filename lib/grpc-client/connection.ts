/**
 * One HTTP/2 connection to a gRPC server (the IO shell): `http2.connect` over plaintext or TLS
 * (the server verified with the caller's roots only, optionally presenting a client
 * certificate), a connect timeout, and keepalive pings that destroy a connection whose peer
 * stopped answering. No reconnection: each caller decides when to try again (the shipper's and
 * the membership client's backoff), so a connection lives as long as its calls.
 */
import * as http2 from 'node:http2';
import { GRPC_STATUS, GrpcCallError } from './status.ts';

export interface GrpcTlsOptions {
  /** The roots the server's certificate must chain to (PEM; a bundle may hold several). */
  ca: string | Buffer;
  /** A client certificate and its key (PEM), for mTLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The name the server's certificate is checked for (and sent as SNI), instead of the address's host. */
  servername?: string;
}

export interface GrpcConnectOptions {
  /** `host:port`; an IPv6 literal in brackets. */
  address: string;
  /** Plaintext (h2c) when absent. */
  tls?: GrpcTlsOptions;
  /** `:authority` of every call; the address by default. */
  authority?: string;
  /** Until the connection is up (TCP, TLS, HTTP/2 preface). */
  connectTimeoutMs: number;
  /** Status code a connect timeout fails with: UNAVAILABLE unless the caller's deadline is what ran out. */
  timeoutCode?: number;
  /** An HTTP/2 PING every `intervalMs`; no answer within `timeoutMs` destroys the connection. */
  keepalive?: { intervalMs: number; timeoutMs: number };
}

export interface GrpcConnection {
  readonly session: http2.ClientHttp2Session;
  readonly authority: string;
  /** Why the connection can take no new calls (closed, failed, GOAWAY), or undefined while it can. */
  readonly unusable: string | undefined;
  /** Graceful: open calls finish, no new ones. */
  close(): void;
  /** Now: open calls end UNAVAILABLE with `reason`. */
  destroy(reason?: string): void;
}

/** Host and port of `host:port` (`[::1]:80` → `::1`, `80`). */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  if (colon <= 0 || address.endsWith(']')) throw new Error(`${JSON.stringify(address)} is not host:port`);
  const rawHost = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`${JSON.stringify(address)}: the port must be 1-65535`);
  const host = rawHost.startsWith('[') && rawHost.endsWith(']') ? rawHost.slice(1, -1) : rawHost;
  if (host === '') throw new Error(`${JSON.stringify(address)} has no host`);
  return { host, port };
}

const unavailable = (details: string, cause?: unknown): GrpcCallError => new GrpcCallError({ code: GRPC_STATUS.UNAVAILABLE, details }, { cause });

/**
 * Resolves once the connection is up (after the TLS handshake); rejects with a `GrpcCallError`
 * (UNAVAILABLE, or `timeoutCode` at the connect timeout) carrying the underlying error's message.
 */
export function connectGrpc(options: GrpcConnectOptions): Promise<GrpcConnection> {
  let host: string;
  let port: number;
  try {
    ({ host, port } = splitAddress(options.address));
  } catch (err) {
    return Promise.reject(unavailable((err as Error).message, err));
  }
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const url = `${options.tls ? 'https' : 'http'}://${hostInUrl}:${port}`;
  const authority = options.authority ?? `${hostInUrl}:${port}`;
  const tls = options.tls;
  const connectOptions: http2.SecureClientSessionOptions = tls
    ? { ca: tls.ca, cert: tls.cert, key: tls.key, ...(tls.servername ? { servername: tls.servername } : {}) }
    : {};

  return new Promise((resolve, reject) => {
    let session: http2.ClientHttp2Session;
    try {
      session = http2.connect(url, connectOptions);
    } catch (err) {
      reject(unavailable((err as Error).message, err));
      return;
    }
    let up = false;
    let unusable: string | undefined;
    let keepaliveTimer: NodeJS.Timeout | undefined;
    let pingTimer: NodeJS.Timeout | undefined;
    let lastError: Error | undefined;

    const connectTimer = setTimeout(() => {
      const details = `no connection to ${options.address} within ${options.connectTimeoutMs} ms`;
      session.destroy();
      reject(new GrpcCallError({ code: options.timeoutCode ?? GRPC_STATUS.UNAVAILABLE, details }));
    }, options.connectTimeoutMs);

    const stopTimers = (): void => {
      clearTimeout(connectTimer);
      clearInterval(keepaliveTimer);
      clearTimeout(pingTimer);
    };

    session.on('error', (err: Error) => {
      lastError = err;
      unusable ??= err.message;
      if (!up) {
        stopTimers();
        reject(unavailable(err.message, err));
      }
    });
    session.on('goaway', (code: number) => {
      unusable ??= `the server sent GOAWAY (HTTP/2 code ${code})`;
    });
    session.on('close', () => {
      stopTimers();
      unusable ??= 'the connection closed';
      if (!up) reject(unavailable(lastError?.message ?? `the connection to ${options.address} closed before it was up`, lastError));
    });
    // The streams report their own failures; the session's frame errors need no throw.
    session.on('frameError', () => {});

    session.once('connect', () => {
      up = true;
      clearTimeout(connectTimer);
      const keepalive = options.keepalive;
      if (keepalive) {
        keepaliveTimer = setInterval(() => {
          if (pingTimer !== undefined || session.destroyed) return;
          pingTimer = setTimeout(() => {
            session.destroy(new Error(`keepalive: the server did not answer a ping within ${keepalive.timeoutMs} ms`));
          }, keepalive.timeoutMs);
          pingTimer.unref();
          try {
            session.ping((err) => {
              if (err) return; // the session is going away; 'close' handles it
              clearTimeout(pingTimer);
              pingTimer = undefined;
            });
          } catch {
            // ERR_HTTP2_PING_CANCEL / too many outstanding pings: the timeout decides.
          }
        }, keepalive.intervalMs);
        keepaliveTimer.unref();
      }
      resolve({
        session,
        authority,
        get unusable() {
          return unusable ?? (session.destroyed || session.closed ? 'the connection closed' : undefined);
        },
        close() {
          unusable ??= 'the connection was closed by the client';
          stopTimers();
          if (!session.closed) session.close();
        },
        destroy(reason) {
          unusable ??= reason ?? 'the connection was closed by the client';
          stopTimers();
          if (!session.destroyed) session.destroy(reason === undefined ? undefined : new Error(reason));
        },
      });
    });
  });
}
