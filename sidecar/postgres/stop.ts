/**
 * Where capture of a PostgreSQL connection stops or is cut short: a parse error, an internal
 * failure, bytes that passed unseen (skip and resync), and the connection's close.
 *
 * This file exists because every way out follows the same rule and must never throw into the
 * proxy: what is pending is flushed as records (the first unfinished call with the reason, the
 * others `unpaired` or `capture_overflow`, or one marker record when nothing was pending) and
 * the session stops observing while bytes still flow. A gap can be absorbed only inside a body
 * whose content is merely cut (DataRow, CopyData, Query, Parse, Bind, FunctionCall); anywhere
 * else the framing of a byte stream cannot be found again reliably. A close in the startup
 * phase always leaves the startup's record, whatever point it cut: a login that failed or was
 * cut off is what an SRE looks for.
 */
import type { RecordError } from '../../record/record.ts';
import type { CloseReason } from '../capture/session.ts';
import { describeError } from '../../lib/errors.ts';
import { type Conn, safeEvent, startupCallOf, stopParsing } from './conn.ts';
import { flushPending, marker, nothingPending } from './pending.ts';

const SKIPPABLE_CLIENT = new Set(['Q', 'P', 'B', 'F', 'd']);
const SKIPPABLE_SERVER = new Set(['D', 'd']);

/** The stream stopped looking like the protocol: report it, flush, stop observing. */
export function stopWith(conn: Conn, side: 'client' | 'server', detail: string): void {
  if (conn.mode !== 'pg') return;
  const text = `postgres: ${detail}`;
  safeEvent(conn, { kind: 'parse_error', side, detail: text });
  if (nothingPending(conn)) marker(conn, 'parse', text);
  else flushPending(conn, 'parse', 'unpaired', text);
  stopParsing(conn);
}

/** Runs `fn`; a bug in parsing becomes a parse error of the connection, never an exception. */
export function guard(conn: Conn, side: 'client' | 'server', fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (conn.mode !== 'pg') return;
    try {
      stopWith(conn, side, `internal: ${describeError(err)}`);
    } catch {
      conn.mode = 'stopped';
    }
  }
}

export function skipClient(conn: Conn, n: number, t: bigint): boolean {
  if (conn.mode === 'tail') return conn.tail?.skipClient?.(n, t) ?? false;
  if (conn.mode !== 'pg') return true;
  if (conn.holding) return false;
  conn.now = t;
  const type = conn.clientFramer.bodyType;
  if (type === undefined || !SKIPPABLE_CLIENT.has(type)) return false;
  let ok = false;
  guard(conn, 'client', () => {
    ok = conn.clientFramer.skip(n);
  });
  return ok;
}

export function skipServer(conn: Conn, n: number, t: bigint): boolean {
  if (conn.mode === 'tail') return conn.tail?.skipServer?.(n, t) ?? false;
  if (conn.mode !== 'pg') return true;
  conn.now = t;
  const type = conn.serverFramer.bodyType;
  if (type === undefined || !SKIPPABLE_SERVER.has(type)) return false;
  let ok = false;
  guard(conn, 'server', () => {
    ok = conn.serverFramer.skip(n);
  });
  return ok;
}

export function resync(conn: Conn, t: bigint): void {
  // Framing cannot be found again in the middle of a stream: flush and stop (the caller counts the cut).
  if (conn.mode !== 'pg') return;
  conn.now = t;
  try {
    const detail = 'capture fell behind forwarding: bytes of this connection were not captured';
    if (nothingPending(conn)) marker(conn, 'capture_overflow', detail);
    else flushPending(conn, 'capture_overflow', 'capture_overflow', detail);
  } catch {
    // Nothing more can be done for this connection's records.
  }
  stopParsing(conn);
}

/**
 * The connection closes before its startup finished: the bytes no message delivered (a packet
 * or PasswordMessage cut short, client bytes held awaiting the answer to an SSLRequest, a
 * server message cut short) are counted into the startup, which `flushPending` then records
 * with the close's error. Cut inside the very first packet, the startup call is made here.
 */
function startupCutShort(conn: Conn): void {
  if (conn.startupCall?.emitted) return;
  const { clientFramer, serverFramer } = conn;
  // Until the startup finished the client sends only startup packets and authentication messages.
  const clientCut = clientFramer.partialBytes;
  if (conn.startupCall === undefined && clientCut + conn.heldBytes === 0) return;
  const call = startupCallOf(conn, conn.clientStart);
  call.bytesOut += clientCut + conn.heldBytes;
  if (clientCut > 0) call.notes.push(`request cut short: ${clientCut} bytes of an incomplete message`);
  if (conn.heldBytes > 0) call.notes.push(`${conn.heldBytes} client bytes awaiting the answer to the encryption request, not read`);
  if (conn.items[0]?.call === call) call.bytesIn += serverFramer.partialBytes;
}

export function close(conn: Conn, t: bigint, reason: CloseReason): void {
  if (conn.mode === 'tail') {
    conn.mode = 'closed';
    return conn.tail?.close(t, reason);
  }
  if (conn.mode !== 'pg') {
    conn.mode = 'closed';
    return;
  }
  conn.now = t;
  try {
    startupCutShort(conn);
    const head = conn.items[0]?.call;
    const partial = conn.serverFramer.partialBytes;
    if (head !== undefined && partial > 0) {
      head.notes.push(`response cut short: ${partial} bytes of an incomplete message`);
      // They crossed the wire: `bytes_in` counts them (a startup's were counted above); a simple
      // query's records count per statement, and the cut message is its last one's.
      if (head !== conn.startupCall) {
        head.bytesIn += partial;
        const last = head.kind === 'simple' ? head.results[head.results.length - 1] : undefined;
        if (last !== undefined) last.bytesIn += partial;
      }
    }
    const first: RecordError =
      reason === 'reset' || reason === 'error' ? 'reset' : reason === 'timeout' ? 'timeout' : reason === 'capture_overflow' ? 'capture_overflow' : 'closed';
    flushPending(conn, first, reason === 'capture_overflow' ? 'capture_overflow' : 'unpaired');
  } catch {
    // Nothing more can be done for this connection's records.
  }
  conn.mode = 'closed';
}
