/**
 * The connection phase: the server's Initial Handshake (protocol 10), the client's
 * HandshakeResponse (4.1 and the old 3.20 form) or SSLRequest, COM_CHANGE_USER and the
 * server's AuthSwitchRequest. The authentication data these carry is stepped over, never
 * returned: the caller cannot leak what it never gets.
 */
import { CLIENT } from './constants.ts';
import { Reader } from './packets.ts';

export interface Greeting {
  serverVersion: string;
  connectionId: number;
  /** Capabilities, MariaDB's extended ones in bits 32..63 (as a bigint-free pair). */
  capabilities: number;
  mariadbCapabilities: number;
  authPlugin?: string;
}

export function parseGreeting(body: Buffer): Greeting | undefined {
  const r = new Reader(body);
  if (r.u8() !== 0x0a) return undefined;
  const serverVersion = r.nulString();
  const connectionId = r.u32();
  if (serverVersion === undefined || connectionId === undefined) return undefined;
  // Scramble part 1 (8) and the filler.
  if (r.bytes(9) === undefined) return undefined;
  const low = r.u16();
  if (low === undefined) return { serverVersion, connectionId, capabilities: 0, mariadbCapabilities: 0 };
  const g: Greeting = { serverVersion, connectionId, capabilities: low, mariadbCapabilities: 0 };
  // charset (1), status (2), capabilities upper (2), scramble length (1), reserved (6 + 4).
  if (r.u8() === undefined || r.u16() === undefined) return g;
  const high = r.u16();
  if (high === undefined) return g;
  g.capabilities = (low | (high << 16)) >>> 0;
  const scrambleLen = r.u8() ?? 0;
  const reserved = r.bytes(10);
  if (reserved === undefined) return g;
  if ((g.capabilities & CLIENT.LONG_PASSWORD) === 0) g.mariadbCapabilities = reserved.readUInt32LE(6);
  if (g.capabilities & CLIENT.SECURE_CONNECTION) r.upTo(Math.max(13, scrambleLen - 8));
  if (g.capabilities & CLIENT.PLUGIN_AUTH) {
    const plugin = r.nulString(true);
    if (plugin) g.authPlugin = plugin;
  }
  return g;
}

export interface LoginRequest {
  /** An SSLRequest: the client asks for TLS, everything after is encrypted. */
  ssl: boolean;
  capabilities: number;
  mariadbCapabilities: number;
  user?: string;
  /** Bytes of authentication data sent (the data itself is never kept). */
  authLength: number;
  database?: string;
  authPlugin?: string;
  attributes: Record<string, string>;
  /** The packet was cut before its end (what follows is unknown). */
  incomplete: boolean;
}

/** Attributes kept from a handshake at most (a client may send any number). */
const MAX_ATTRIBUTES = 64;

/** `cut`: the body is a prefix of the packet. */
export function parseHandshakeResponse(body: Buffer, cut: boolean): LoginRequest | undefined {
  const r = new Reader(body);
  const out: LoginRequest = { ssl: false, capabilities: 0, mariadbCapabilities: 0, authLength: 0, attributes: {}, incomplete: cut };
  const low = r.u16();
  if (low === undefined) return undefined;
  if ((low & CLIENT.PROTOCOL_41) === 0) {
    // HandshakeResponse320: flags (2), max packet (3), user NUL, auth NUL, database NUL.
    out.capabilities = low;
    if (r.u24() === undefined) return undefined;
    if (r.left === 0 && !cut) {
      out.ssl = (low & CLIENT.SSL) !== 0;
      return out.ssl ? out : undefined;
    }
    out.user = r.nulString(true);
    const authEnd = body.indexOf(0, r.off);
    out.authLength = (authEnd === -1 ? body.length : authEnd) - r.off;
    r.off = authEnd === -1 ? body.length : authEnd + 1;
    if (low & CLIENT.CONNECT_WITH_DB) out.database = r.nulString(true) || undefined;
    return out;
  }
  const high = r.u16();
  if (high === undefined || r.u32() === undefined || r.u8() === undefined) return undefined;
  out.capabilities = (low | (high << 16)) >>> 0;
  const filler = r.bytes(23);
  if (filler === undefined) return undefined;
  out.mariadbCapabilities = filler.readUInt32LE(19);
  if (r.left === 0 && !cut) {
    out.ssl = (out.capabilities & CLIENT.SSL) !== 0;
    return out.ssl ? out : undefined;
  }
  out.user = r.nulString(cut);
  if (out.user === undefined) return undefined;
  let authLength: number | null | undefined;
  if (out.capabilities & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA) authLength = r.lenenc();
  else if (out.capabilities & CLIENT.SECURE_CONNECTION) authLength = r.u8();
  else {
    const end = body.indexOf(0, r.off);
    authLength = (end === -1 ? body.length : end) - r.off;
  }
  if (authLength === undefined || authLength === null) return cut ? out : undefined;
  out.authLength = authLength;
  r.off = Math.min(body.length, r.off + authLength + ((out.capabilities & (CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT.SECURE_CONNECTION)) === 0 ? 1 : 0));
  readTail(r, out, out.capabilities, cut);
  return out;
}

/** Database, plugin and attributes: the end of a HandshakeResponse41 and of COM_CHANGE_USER. */
function readTail(r: Reader, out: LoginRequest, caps: number, cut: boolean): void {
  if (caps & CLIENT.CONNECT_WITH_DB) {
    const db = r.nulString(cut);
    if (db) out.database = db;
  }
  if (r.left === 0) return;
  if (caps & CLIENT.PLUGIN_AUTH) {
    const plugin = r.nulString(cut);
    if (plugin) out.authPlugin = plugin;
  }
  if (caps & CLIENT.CONNECT_ATTRS && r.left > 0) {
    const total = r.lenenc();
    if (typeof total !== 'number') return;
    const end = Math.min(r.buf.length, r.off + total);
    let n = 0;
    while (r.off < end && n < MAX_ATTRIBUTES) {
      const key = r.lenencString();
      const value = r.lenencString();
      if (key === undefined || value === undefined) break;
      out.attributes[key] = value;
      n++;
    }
  }
}

/** COM_CHANGE_USER's payload after the command byte; capabilities are the connection's. */
export function parseChangeUser(body: Buffer, caps: number, cut: boolean): LoginRequest | undefined {
  const r = new Reader(body, 1);
  const out: LoginRequest = { ssl: false, capabilities: caps, mariadbCapabilities: 0, authLength: 0, attributes: {}, incomplete: cut };
  out.user = r.nulString(cut);
  if (out.user === undefined) return undefined;
  if (caps & CLIENT.SECURE_CONNECTION) {
    const n = r.u8();
    if (n === undefined) return cut ? out : undefined;
    out.authLength = n;
    r.off = Math.min(body.length, r.off + n);
  } else {
    const end = body.indexOf(0, r.off);
    out.authLength = (end === -1 ? body.length : end) - r.off;
    r.off = end === -1 ? body.length : end + 1;
  }
  const db = r.nulString(cut);
  if (db) out.database = db;
  if (r.left === 0) return out;
  // Character set (2), then plugin and attributes as in the handshake.
  if (r.u16() === undefined) return out;
  readTail(r, out, caps & ~CLIENT.CONNECT_WITH_DB, cut);
  return out;
}

/** AuthSwitchRequest (0xfe): the plugin the server switches to (its scramble is not kept). */
export function parseAuthSwitch(body: Buffer): string | undefined {
  const r = new Reader(body, 1);
  // A bare 0xfe is the old "use the pre-4.1 password hash" request.
  if (r.left === 0) return 'mysql_old_password';
  return r.nulString(true);
}
