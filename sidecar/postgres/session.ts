/**
 * PostgreSQL (protocol v3) capture session: frames both directions, pairs what the server
 * answers with what the client asked, and emits one `Exchange` per statement result.
 *
 * Pairing follows the protocol's own ordering: every frontend message that the server answers
 * pushes an expectation (startup, simple query, Parse, Bind, Describe, Execute, Close, Sync,
 * FunctionCall) and the server answers them strictly in order, so the head of that queue owns
 * each backend message. Asynchronous messages (NoticeResponse, ParameterStatus,
 * NotificationResponse) may come at any time and are placed where they land.
 *
 * Records: the startup (authentication method, never a password), one per statement of a
 * simple query (the text split at its statement boundaries when that is certain), one per
 * Execute of the extended protocol (statement text and bound parameters), one per
 * notification. After an ErrorResponse in the extended protocol the server discards everything
 * up to the next Sync; the Executes so discarded are recorded as not executed.
 *
 * An SSLRequest answered `S` (or a GSSENCRequest answered `G`) hands the connection to the TLS
 * (or opaque) session: nothing after it is readable. A stream that stops looking like the
 * protocol is a parse error: the session reports it and stops observing (bytes still flow).
 *
 * This file exists as the session's entry point: it resolves the options, builds the
 * connection's state and its two framers, and routes the `CaptureSession` calls. The work is
 * done by one file per concern (see README.md): `pending.ts` (pairing), `startup.ts`,
 * `encryption.ts`, `simple-query.ts`, `extended.ts`, `result-feed.ts`, `exchange.ts`
 * (records), `stop.ts` (parse errors, skip, resync, close), with `client-messages.ts` and
 * `server-messages.ts` routing each direction's messages and `conn.ts` the shared state.
 */
import type { CaptureContext, CaptureSession } from '../capture/session.ts';
import { DEFAULT_MASK_POLICY, type MaskPolicy } from '../mask/policy.ts';
import { onClientMessage, clientKeep } from './client-messages.ts';
import { type Conn, type ConnConfig, initialConn } from './conn.ts';
import { feedClient, handOff } from './encryption.ts';
import { PgFramer } from './messages.ts';
import { emitReady } from './pending.ts';
import { onServerMessage, serverKeep } from './server-messages.ts';
import { close, guard, resync, skipClient, skipServer, stopWith } from './stop.ts';

export { MASK } from './startup.ts';

export interface PostgresSessionOptions {
  /**
   * Calls awaiting the server at most (pipelining). Beyond it the connection's capture is cut:
   * the waiting calls become `capture_overflow` records. Default 128.
   */
  maxPendingExchanges?: number;
  /** Rows kept per result (all are counted). Default 100. */
  maxRows?: number;
  /** Client bytes kept while an SSLRequest/GSSENCRequest awaits its answer. Default 64 KiB. */
  maxHeldBytes?: number;
  /** Prepared statements and portals remembered per connection (oldest forgotten). Default 1000. */
  maxPrepared?: number;
  /**
   * The masking policy (resolved once per sidecar): which column names hold secrets in
   * statements, and whether to mask them. Default `DEFAULT_MASK_POLICY`.
   */
  maskPolicy?: MaskPolicy;
}

export const DEFAULT_MAX_PENDING_EXCHANGES = 128;
export const DEFAULT_MAX_ROWS = 100;

export function createPostgresSession(ctx: CaptureContext, options: PostgresSessionOptions = {}): CaptureSession {
  const maxBody = Math.max(0, ctx.maxBodyBytes);
  const maxPending = options.maxPendingExchanges ?? DEFAULT_MAX_PENDING_EXCHANGES;
  const config: ConnConfig = {
    maxBody,
    maxPending,
    maxItems: maxPending * 8,
    maxHeld: options.maxHeldBytes ?? 64 * 1024,
    maxPrepared: options.maxPrepared ?? 1000,
    limits: { maxRows: options.maxRows ?? DEFAULT_MAX_ROWS, maxBodyBytes: maxBody },
    queryKeep: maxBody + 4096,
    maskPolicy: options.maskPolicy ?? DEFAULT_MASK_POLICY,
  };

  const conn: Conn = {
    ...initialConn(ctx, config),
    clientFramer: new PgFramer('frontend', 'untyped', {
      keep: (type, size) => clientKeep(conn, type, size),
      message: (m) => onClientMessage(conn, m),
      error: (detail) => stopWith(conn, 'client', detail),
    }),
    serverFramer: new PgFramer('backend', 'typed', {
      keep: (type, size) => serverKeep(conn, type, size),
      message: (m) => {
        onServerMessage(conn, m);
        emitReady(conn);
      },
      error: (detail) => stopWith(conn, 'server', detail),
    }),
  };

  return {
    clientData(chunk, t) {
      if (conn.mode === 'tail') return conn.tail?.clientData(chunk, t);
      if (conn.mode !== 'pg') return;
      conn.now = t;
      guard(conn, 'client', () => {
        // Direct TLS (no SSLRequest first): a ClientHello where the startup packet would be.
        if (conn.clientSeen === 0 && !conn.holding && chunk.byteLength > 0 && chunk[0] === 0x16 && conn.startupCall === undefined) {
          handOff(conn, 'direct');
          conn.tail?.clientData(chunk, t);
          return;
        }
        feedClient(conn, chunk);
      });
    },
    serverData(chunk, t) {
      if (conn.mode === 'tail') return conn.tail?.serverData(chunk, t);
      if (conn.mode !== 'pg') return;
      conn.now = t;
      guard(conn, 'server', () => {
        const n = conn.serverFramer.push(chunk);
        if (conn.mode === 'tail' && n < chunk.byteLength) conn.tail?.serverData(chunk.subarray(n), t);
      });
    },
    skipClient: (n, t) => skipClient(conn, n, t),
    skipServer: (n, t) => skipServer(conn, n, t),
    resync: (t) => resync(conn, t),
    clientEnd(t) {
      if (conn.mode === 'tail') return conn.tail?.clientEnd(t);
    },
    serverEnd(t) {
      if (conn.mode === 'tail') return conn.tail?.serverEnd(t);
    },
    close: (t, reason) => close(conn, t, reason),
  };
}
