/**
 * SSLRequest and GSSENCRequest: holding the client's bytes until the server's one-byte answer,
 * then going on in plaintext or handing the connection to another session.
 *
 * This file exists because the answer decides what every later byte is: `N` means the protocol
 * goes on in plaintext (the held client bytes are replayed through the framer with their own
 * times), `S` means TLS (`../tls/session.ts` takes the connection, the held bytes first) and
 * `G` GSS encryption (one opaque record). A direct TLS ClientHello with no SSLRequest is handed
 * off the same way. While the answer is awaited the client is held, not parsed, and only up to
 * `maxHeld` bytes.
 */
import { createOpaqueSession } from '../capture/opaque.ts';
import { createAppTlsSession } from '../tls/session.ts';
import type { Conn } from './conn.ts';
import type { PgMessage } from './messages.ts';
import { emitReady } from './pending.ts';
import { stopWith } from './stop.ts';

function hold(conn: Conn, data: Uint8Array): void {
  conn.heldBytes += data.byteLength;
  if (conn.heldBytes > conn.config.maxHeld) return;
  conn.held.push({ data: Buffer.from(data), now: conn.now });
}

/** Client bytes in plaintext: framed, or held while an encryption request awaits its answer. */
export function feedClient(conn: Conn, data: Uint8Array): void {
  if (data.byteLength > 0) conn.clientStart ??= conn.now;
  if (conn.holding) {
    hold(conn, data);
    return;
  }
  conn.clientSeen += data.byteLength;
  const n = conn.clientFramer.push(data);
  if (conn.mode === 'pg' && conn.holding && n < data.byteLength) hold(conn, data.subarray(n));
  emitReady(conn);
}

/** Plaintext goes on: the held client bytes are parsed, each chunk at its own time. */
export function releaseHeld(conn: Conn): void {
  const maxHeld = conn.config.maxHeld;
  if (conn.heldBytes > maxHeld) {
    stopWith(conn, 'client', `more than ${maxHeld} bytes sent before the answer to an encryption request`);
    return;
  }
  const chunks = conn.held;
  const outer = conn.now;
  conn.held = [];
  conn.heldBytes = 0;
  conn.holding = false;
  conn.clientFramer.paused = false;
  for (const c of chunks) {
    if (conn.mode !== 'pg') break;
    conn.now = c.now;
    feedClient(conn, c.data);
  }
  conn.now = outer;
}

/** Another session takes the connection; the held client bytes are its first. */
export function handOff(conn: Conn, what: 'ssl' | 'gss' | 'direct'): void {
  const { ctx, startupCall, now } = conn;
  conn.mode = 'tail';
  conn.clientFramer.paused = true;
  conn.serverFramer.paused = true;
  const tail =
    what === 'gss'
      ? createOpaqueSession(ctx, 'postgres', { start: startupCall?.start ?? now, ordinal: conn.nextOrdinal, bytesOut: startupCall?.bytesOut ?? 0, bytesIn: 1 })
      : createAppTlsSession(ctx);
  conn.tail = tail;
  const chunks = conn.held;
  conn.held = [];
  conn.holding = false;
  for (const c of chunks) tail.clientData(c.data, c.now);
}

/** The server's one-byte answer to an SSLRequest or GSSENCRequest. */
export function onAnswer(conn: Conn, msg: PgMessage): void {
  const answer = String.fromCharCode(msg.body[0]);
  const what = conn.awaitingAnswer ?? 'ssl';
  conn.awaitingAnswer = undefined;
  const call = conn.startupCall;
  if (call !== undefined) {
    call.bytesIn += 1;
    call.responseStart ??= conn.now;
  }
  if (answer === 'N') {
    call?.notes.push(`${what === 'ssl' ? 'SSLRequest' : 'GSSENCRequest'} refused (N): plaintext`);
    releaseHeld(conn);
    return;
  }
  if ((what === 'ssl' && answer === 'S') || (what === 'gss' && answer === 'G')) {
    handOff(conn, what);
    return;
  }
  stopWith(conn, 'server', `answer '${answer}' to ${what === 'ssl' ? 'SSLRequest' : 'GSSENCRequest'}`);
}
