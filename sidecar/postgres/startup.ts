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
 */
import { type Call, type Conn, type StartupState, newCall, safeEmit, stopParsing } from './conn.ts';
import { decodeAuth, decodeFields, decodeSaslMechanism, decodeStartup } from './decode.ts';
import { base } from './exchange.ts';
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, type PgMessage, SSL_REQUEST_CODE } from './messages.ts';
import { enqueue, pushItem, shift } from './pending.ts';
import { toPgError } from './result.ts';
import { stopWith } from './stop.ts';

/** What replaces every secret the client sends during authentication. */
export const MASK = '****';

/** GSS / SASL continuations: not a new method. */
const AUTH_CONTINUATIONS = new Set([0, 8, 11, 12]);

function startupCallOf(conn: Conn): Call {
  conn.startupCall ??= { ...newCall(conn, 'startup'), startup: { params: {}, mechanisms: [], secrets: [], server: {} } };
  return conn.startupCall;
}

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
  if (packet.code >>> 16 !== 3) {
    return stopWith(conn, 'client', `unsupported protocol version ${packet.code >>> 16}.${packet.code & 0xffff}`);
  }
  const call = startupCallOf(conn);
  (call.startup as StartupState).params = packet.params;
  call.bytesOut += msg.wireSize;
  call.requestSize += msg.wireSize;
  call.requestEnd = conn.now;
  if ((packet.code & 0xffff) !== 0) call.notes.push(`protocol 3.${packet.code & 0xffff} requested`);
  conn.clientFramer.mode = 'typed';
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
      st.error = toPgError(decodeFields(msg.body));
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
