/**
 * The ClientHello as a passive observer reads it from the first bytes a client sends:
 * server name (SNI), ALPN offer, offered versions and cipher suites. Pure and total: any
 * input gives a value, never an exception.
 */
import { isGrease, versionName } from './names.ts';
import {
  type ParseFailure,
  Reader,
  RECORD_HANDSHAKE,
  checkRecordHeader,
  latin1,
  malformed,
  needMore,
  notTls,
  readPlaintextFlight,
} from './record-layer.ts';

export const HANDSHAKE_CLIENT_HELLO = 1;
export const EXT_SERVER_NAME = 0;
export const EXT_ALPN = 16;
export const EXT_SUPPORTED_VERSIONS = 43;

export interface ClientHelloInfo {
  ok: true;
  /** The host_name entry of server_name, when the client sent one. */
  sni?: string;
  /** Protocols offered, in the client's order (empty when no ALPN extension). */
  alpn: string[];
  /** supported_versions without GREASE, in the client's order; else the legacy version alone. */
  versions: string[];
  /** Cipher suites as offered, GREASE and signalling values included. */
  cipherSuites: number[];
}

export type ClientHelloResult = ClientHelloInfo | ParseFailure;

/** A host name as SNI carries it: printable ASCII only. */
const SNI_BYTE = (c: number): boolean => c > 0x20 && c < 0x7f;

function parseServerName(r: Reader): string | undefined | ParseFailure {
  const listLen = r.u16();
  if (listLen === undefined) return malformed('server_name: truncated list length');
  const list = r.sub(listLen);
  if (list === undefined || r.remaining !== 0) return malformed('server_name: list length does not match the extension');
  let host: string | undefined;
  while (list.remaining > 0) {
    const type = list.u8();
    const len = list.u16();
    const name = len === undefined ? undefined : list.bytes(len);
    if (type === undefined || name === undefined) return malformed('server_name: truncated entry');
    if (type !== 0 || host !== undefined) continue;
    if (name.length === 0 || !name.every(SNI_BYTE)) return malformed('server_name: host_name is not printable ASCII');
    host = latin1(name);
  }
  return host;
}

function parseAlpn(r: Reader): string[] | ParseFailure {
  const listLen = r.u16();
  if (listLen === undefined) return malformed('alpn: truncated list length');
  const list = r.sub(listLen);
  if (list === undefined || r.remaining !== 0) return malformed('alpn: list length does not match the extension');
  const out: string[] = [];
  while (list.remaining > 0) {
    const len = list.u8();
    const name = len === undefined ? undefined : list.bytes(len);
    if (name === undefined || len === 0) return malformed('alpn: empty or truncated protocol name');
    out.push(latin1(name));
  }
  if (out.length === 0) return malformed('alpn: empty list');
  return out;
}

function parseSupportedVersions(r: Reader): string[] | ParseFailure {
  const len = r.u8();
  if (len === undefined || len % 2 !== 0 || len !== r.remaining || len === 0) {
    return malformed('supported_versions: bad list length');
  }
  const out: string[] = [];
  while (r.remaining > 0) {
    const v = r.u16() as number;
    if (!isGrease(v)) out.push(versionName(v));
  }
  return out;
}

/** Parses a ClientHello body (the handshake message without its 4-byte header). */
export function parseClientHelloBody(body: Uint8Array): ClientHelloResult {
  const r = new Reader(body);
  const legacyVersion = r.u16();
  if (legacyVersion === undefined || !r.skip(32)) return malformed('truncated version or random');
  const sidLen = r.u8();
  if (sidLen === undefined || sidLen > 32 || !r.skip(sidLen)) return malformed('bad legacy_session_id');
  const csLen = r.u16();
  if (csLen === undefined || csLen < 2 || csLen % 2 !== 0) return malformed('bad cipher_suites length');
  const cs = r.sub(csLen);
  if (cs === undefined) return malformed('truncated cipher_suites');
  const cipherSuites: number[] = [];
  while (cs.remaining > 0) cipherSuites.push(cs.u16() as number);
  const compLen = r.u8();
  if (compLen === undefined || compLen < 1 || !r.skip(compLen)) return malformed('bad legacy_compression_methods');

  const info: ClientHelloInfo = { ok: true, alpn: [], versions: [versionName(legacyVersion)], cipherSuites };
  if (r.remaining === 0) return info; // a hello without extensions (SSLv3 / early TLS style)
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
    if (type === EXT_SERVER_NAME) {
      const sni = parseServerName(data);
      if (typeof sni === 'object') return sni;
      if (sni !== undefined) info.sni = sni;
    } else if (type === EXT_ALPN) {
      const alpn = parseAlpn(data);
      if (!Array.isArray(alpn)) return alpn;
      info.alpn = alpn;
    } else if (type === EXT_SUPPORTED_VERSIONS) {
      const versions = parseSupportedVersions(data);
      if (!Array.isArray(versions)) return versions;
      if (versions.length > 0) info.versions = versions;
    }
  }
  return info;
}

/**
 * Reads the ClientHello from the first bytes of a connection (client → server), which may
 * be split across records and chunks. `need-more` until the whole message is there.
 */
export function parseClientHello(bytes: Uint8Array): ClientHelloResult {
  try {
    if (bytes.length === 0) return needMore();
    if (bytes[0] !== RECORD_HANDSHAKE) {
      return notTls(bytes[0] & 0x80 ? 'SSLv2-style hello or not TLS' : `first byte 0x${bytes[0].toString(16)} is not a handshake record`);
    }
    if (bytes.length >= 2 && bytes[1] !== 3) return notTls('record version is not 3.x');
    if (bytes.length >= 5) {
      const h = checkRecordHeader(bytes, 0);
      if (typeof h === 'string') return notTls(h);
    }
    if (bytes.length >= 6 && (bytes[3] | bytes[4]) !== 0 && bytes[5] !== HANDSHAKE_CLIENT_HELLO) {
      return malformed(`first handshake message is type ${bytes[5]}, not a ClientHello`);
    }
    const flight = readPlaintextFlight(bytes);
    const first = flight.items[0];
    if (first !== undefined) {
      if (first.kind !== 'handshake') return malformed(`a ${first.kind} record before the ClientHello`);
      return parseClientHelloBody(first.message.body);
    }
    if (flight.error !== undefined) return malformed(flight.error);
    return needMore();
  } catch (err) {
    // Unreachable by construction; kept so a bug can never reach the forwarding path.
    return malformed(`internal: ${String(err)}`);
  }
}
