/**
 * The server's first flight as a passive observer reads it: the ServerHello (negotiated
 * version, cipher suite, and in TLS 1.2 the ALPN selection) or a plaintext alert.
 *
 * In TLS 1.3 everything after the ServerHello is encrypted, including EncryptedExtensions
 * where the ALPN selection lives: `alpn` is then absent and the caller keeps the client's offer.
 */
import { alertName, cipherSuiteName, versionName } from './names.ts';
import { type ParseFailure, Reader, RECORD_ALERT, RECORD_HANDSHAKE, checkRecordHeader, latin1, malformed, needMore, notTls, readPlaintextFlight } from './record-layer.ts';
import { EXT_ALPN, EXT_SUPPORTED_VERSIONS } from './client-hello.ts';

export const HANDSHAKE_SERVER_HELLO = 2;

/** The ServerHello.random that marks a HelloRetryRequest (RFC 8446 §4.1.3). */
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

export interface TlsAlert {
  level: 'warning' | 'fatal' | `level_${number}`;
  description: number;
  /** `handshake_failure`, `unknown_ca`, `bad_certificate`, `protocol_version`... */
  name: string;
}

export interface ServerHelloInfo {
  ok: true;
  kind: 'server-hello';
  /** Negotiated version: supported_versions when present (TLS 1.3), else legacy_version. */
  version: string;
  cipherSuite: number;
  /** IANA name (or hex when unknown). */
  cipher: string;
  /** Selected protocol; only visible in TLS 1.2 and older. */
  alpn?: string;
  /** True when a HelloRetryRequest came first (the values are the real ServerHello's). */
  helloRetryRequest: boolean;
}

export interface ServerAlertInfo {
  ok: true;
  kind: 'alert';
  alert: TlsAlert;
  /** True when a HelloRetryRequest came before the alert. */
  helloRetryRequest: boolean;
}

export type ServerHelloResult = ServerHelloInfo | ServerAlertInfo | ParseFailure;

export function describeAlert(level: number, description: number): TlsAlert {
  const lv: TlsAlert['level'] = level === 1 ? 'warning' : level === 2 ? 'fatal' : `level_${level}`;
  return { level: lv, description, name: alertName(description) };
}

type Hello = Omit<ServerHelloInfo, 'helloRetryRequest'> & { retry: boolean };

/** Parses a ServerHello body (without its 4-byte header). */
export function parseServerHelloBody(body: Uint8Array): Hello | ParseFailure {
  const r = new Reader(body);
  const legacyVersion = r.u16();
  const random = r.bytes(32);
  if (legacyVersion === undefined || random === undefined) return malformed('truncated version or random');
  const sidLen = r.u8();
  if (sidLen === undefined || sidLen > 32 || !r.skip(sidLen)) return malformed('bad legacy_session_id_echo');
  const cipherSuite = r.u16();
  const compression = r.u8();
  if (cipherSuite === undefined || compression === undefined) return malformed('truncated cipher_suite or compression');
  const hello: Hello = {
    ok: true,
    kind: 'server-hello',
    version: versionName(legacyVersion),
    cipherSuite,
    cipher: cipherSuiteName(cipherSuite),
    retry: Buffer.from(random).equals(HRR_RANDOM),
  };
  if (r.remaining === 0) return hello;
  const extLen = r.u16();
  if (extLen === undefined || extLen !== r.remaining) return malformed('extensions length does not match the message');
  const seen = new Set<number>();
  while (r.remaining > 0) {
    const type = r.u16();
    const len = type === undefined ? undefined : r.u16();
    const data = len === undefined ? undefined : r.sub(len);
    if (type === undefined || data === undefined) return malformed('truncated extension');
    if (seen.has(type)) return malformed(`duplicate extension ${type}`);
    seen.add(type);
    if (type === EXT_SUPPORTED_VERSIONS) {
      const v = data.u16();
      if (v === undefined || data.remaining !== 0) return malformed('supported_versions: not one version');
      hello.version = versionName(v);
    } else if (type === EXT_ALPN) {
      const listLen = data.u16();
      const nameLen = data.u8();
      const name = nameLen === undefined ? undefined : data.bytes(nameLen);
      if (listLen === undefined || listLen !== 1 + (nameLen ?? 0) || !name || name.length === 0 || data.remaining !== 0) {
        return malformed('alpn: the server must select exactly one protocol');
      }
      hello.alpn = latin1(name);
    }
  }
  return hello;
}

/**
 * Reads the server's first flight (server → client bytes from the start): the ServerHello
 * after any HelloRetryRequest, or the plaintext alert the server sent instead.
 */
export function parseServerHello(bytes: Uint8Array): ServerHelloResult {
  try {
    if (bytes.length === 0) return needMore();
    if (bytes[0] !== RECORD_HANDSHAKE && bytes[0] !== RECORD_ALERT) {
      return notTls(`first byte 0x${bytes[0].toString(16)} is neither a handshake nor an alert record`);
    }
    if (bytes.length >= 5) {
      const h = checkRecordHeader(bytes, 0);
      if (typeof h === 'string') return notTls(h);
    }
    const flight = readPlaintextFlight(bytes);
    let retried = false;
    for (const item of flight.items) {
      if (item.kind === 'alert') {
        return { ok: true, kind: 'alert', alert: describeAlert(item.level, item.description), helloRetryRequest: retried };
      }
      if (item.kind === 'change-cipher-spec') {
        if (!retried) return malformed('ChangeCipherSpec before the ServerHello');
        continue;
      }
      if (item.kind === 'encrypted') return malformed(`encrypted record (type ${item.type}) before the ServerHello`);
      if (item.message.type !== HANDSHAKE_SERVER_HELLO) {
        return malformed(`handshake message type ${item.message.type} before the ServerHello`);
      }
      const hello = parseServerHelloBody(item.message.body);
      if (!hello.ok) return hello;
      if (hello.retry) {
        if (retried) return malformed('a second HelloRetryRequest');
        retried = true;
        continue;
      }
      const { retry: _retry, ...rest } = hello;
      return { ...rest, helloRetryRequest: retried };
    }
    if (flight.error !== undefined) return malformed(flight.error);
    return needMore();
  } catch (err) {
    return malformed(`internal: ${String(err)}`);
  }
}
