/**
 * The startup phase of a PostgreSQL connection: the startup packet, authentication, and the
 * backend's answers up to the first ReadyForQuery (or the ErrorResponse that ends it).
 *
 * This file exists because authentication is where secrets cross the wire: every
 * PasswordMessage (cleartext or MD5 password, SASL initial response and responses, GSS/SSPI
 * tokens) is replaced by a label and `MASK` before anything is kept, and only the SASL
 * mechanism name is ever read from one (`passwordKeep`). The method recorded is the first
 * authentication request that is not a continuation. The CancelRequest (its own record, its
 * secret key dropped) and the SSLRequest/GSSENCRequest (which hand the answer to
 * `encryption.ts`) arrive where a startup packet would, so they are recognised here too.
 *
 * A StartupMessage of a protocol version other than 3.x is a startup like any other: the
 * server refuses it with an ErrorResponse (a FATAL `unsupported frontend protocol`, in the older
 * text form below 3.0) and closes, and that failed connection is the record an SRE looks for.
 * Nothing the client sends after it is read.
 */
import { type Call, type Conn, type StartupState, newCall, safeEmit, startupCallOf, stopParsing } from './conn.ts';
import { decodeAuth, decodeFields, decodeLegacyError, decodeSaslMechanism, decodeStartup } from './decode.ts';
import { base } from './exchange.ts';
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, type PgMessage, SSL_REQUEST_CODE } from './messages.ts';
import { emitReady, enqueue, pushItem, shift } from './pending.ts';
import { toPgError } from './result.ts';
import { stopWith } from './stop.ts';

/** What replaces every secret the client sends during authentication. */
export const MASK = '****';

/** GSS / SASL continuations: not a new method. */
const AUTH_CONTINUATIONS = new Set([0, 8, 11, 12]);

export function onStartupPacket(conn: Conn, msg: PgMessage): void {
  const packet = decodeStartup(msg.body);
  if (packet === undefined) return stopWith(conn, 'client', 'malformed startup packet');
  if (packet.code === SSL_REQUEST_CODE || packet.code === GSSENC_REQUEST_CODE) {
    if (msg.size !== 4) return stopWith(conn, 'client', `${packet.code === SSL_REQUEST_CODE ? 'SSLRequest' : 'GSSENCRequest'} of ${msg.size + 4} bytes`);
    startupCallOf(conn).bytesOut += msg.wireSize;
    conn.awaitingAnswer = packet.code === SSL_REQUEST_CODE ? 'ssl' : 'gss';
    conn.holding = true;
    conn.clientFramer.paused = true;
    conn.serverFramer.mode = 'answer';
    return;
  }
  if (packet.code === CANCEL_REQUEST_CODE) {
    if (msg.size !== 12) return stopWith(conn, 'client', `CancelRequest of ${msg.size + 4} bytes`);
    const call = newCall(conn, 'batch');
    const out = base(conn, call, conn.nextOrdinal++);
    delete out.path;
    out.method = 'CANCEL';
    out.end = conn.now;
    out.request_end = conn.now;
    out.bytes_out = msg.wireSize;
    out.request = { headers: { backend_pid: String(packet.pid) }, body: Buffer.alloc(0), body_size: msg.wireSize, truncated: false };
    safeEmit(conn, out);
    // Nothing follows a CancelRequest on its connection.
    stopParsing(conn);
    return;
  }
  const call = startupCallOf(conn);
  const st = call.startup as StartupState;
  st.params = packet.params;
  call.bytesOut += msg.wireSize;
  call.requestSize += msg.wireSize;
  call.requestEnd = conn.now;
  const major = packet.code >>> 16;
  const minor = packet.code & 0xffff;
  if (major !== 3) {
    st.unsupported = `${major}.${minor}`;
    call.notes.push(`protocol ${st.unsupported} requested`);
    // What the client sends next is of a protocol not parsed here; the server's refusal is read.
    conn.clientFramer.paused = true;
    if (major < 3) conn.serverFramer.mode = 'legacy';
  } else {
    if (minor !== 0) call.notes.push(`protocol 3.${minor} requested`);
    conn.clientFramer.mode = 'typed';
  }
  if (!enqueue(conn, call)) return;
  pushItem(conn, 'startup', call);
}

/** How much of a PasswordMessage is kept: only a SASLInitialResponse, for its mechanism name. */
export function passwordKeep(conn: Conn, size: number): number {
  return conn.lastAuthRequest === 10 ? Math.min(size, 256) : 0;
}

export function onPasswordMessage(conn: Conn, msg: PgMessage): void {
  const call = conn.startupCall;
  const st = call?.startup;
  if (call === undefined || st === undefined || call.emitted) {
    // Not during authentication: nothing to attach it to, and it may still hold a secret.
    return;
  }
  call.bytesOut += msg.wireSize;
  call.requestSize += msg.wireSize;
  call.requestEnd = conn.now;
  switch (conn.lastAuthRequest) {
    case 10: {
      const mechanism = decodeSaslMechanism(msg.body);
      if (mechanism !== undefined) st.mechanism = mechanism;
      st.secrets.push(`sasl ${mechanism ?? '?'} ${MASK}`);
      break;
    }
    case 11:
      st.secrets.push(`sasl-response ${MASK}`);
      break;
    case 7:
    case 8:
    case 9:
      st.secrets.push(`gss-response ${MASK}`);
      break;
    case 5:
      st.secrets.push(`md5-password ${MASK}`);
      break;
    default:
      st.secrets.push(`password ${MASK}`);
  }
}

/** A backend message while the startup is the head of the queue. */
export function onStartupAnswer(conn: Conn, call: Call, msg: PgMessage, unexpected: () => void): void {
  const st = call.startup as StartupState;
  if (st.unsupported !== undefined && msg.type !== 'E' && !(msg.type === 'legacy' && msg.body[0] === 0x45)) {
    // A server that speaks that version: what follows is not protocol 3.
    return stopWith(conn, 'server', `protocol ${st.unsupported} accepted by the server: not parsed`);
  }
  switch (msg.type) {
    case 'R': {
      const a = decodeAuth(msg.body);
      if (a === undefined) return stopWith(conn, 'server', 'malformed Authentication message');
      conn.lastAuthRequest = a.code;
      if (a.code === 0) st.authOk = true;
      if (!AUTH_CONTINUATIONS.has(a.code)) st.authCode ??= a.code;
      if (a.code === 10) st.mechanisms = a.mechanisms;
      return;
    }
    case 'K':
      if (msg.body.length >= 4) st.pid = msg.body.readUInt32BE(0);
      return;
    case 'v':
      call.notes.push('server negotiated a protocol version (NegotiateProtocolVersion)');
      return;
    case 'E':
    case 'legacy':
      st.error = toPgError(msg.type === 'E' ? decodeFields(msg.body) : decodeLegacyError(msg.body));
      call.end = conn.now;
      shift(conn);
      return;
    case 'Z':
      call.end = conn.now;
      shift(conn);
      return;
    default:
      return unexpected();
  }
}

/**
 * An ErrorResponse while the StartupMessage is not yet read: the server refused the SSLRequest
 * or GSSENCRequest outright, or the client's next packet before it was whole. It is fatal, so
 * it ends the startup (its record at once) and the connection's capture.
 */
export function onStartupRefused(conn: Conn, call: Call, msg: PgMessage): void {
  call.bytesIn += msg.wireSize;
  call.responseStart ??= conn.now;
  (call.startup as StartupState).error = toPgError(decodeFields(msg.body));
  call.end = conn.now;
  if (!enqueue(conn, call)) return;
  emitReady(conn);
  stopParsing(conn);
}
