/**
 * Protocol sniffing from the first bytes a client sent. Pure: the proxy decides how long to
 * wait for them (and picks `tcp` at once when the server speaks first).
 *
 * Order: the HTTP/2 preface, a TLS ClientHello, a PostgreSQL startup packet (it starts with a
 * zero byte, which no text protocol does), a RESP array (`*`), then HTTP/1; a line that is not
 * HTTP/1 may still be an inline Redis command (`PING`, `SET k v`). HTTP/1 wins a line both
 * could be (`GET k` waits for its line end only when it is not a request line).
 */
import { detectMysqlGreeting } from '../mysql/detect.ts';
import { detectPostgres } from '../postgres/detect.ts';
import { detectRedis } from '../redis/detect.ts';
import { serverControlFrame } from '../http2/server-frame.ts';

export type DetectedProtocol = 'http1' | 'http2' | 'tls' | 'redis' | 'postgres' | 'tcp' | 'need-more';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Methods recognised from their first bytes (RFC 9110, WebDAV, and common extensions). */
const KNOWN_METHODS = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
  'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH',
  'MKCALENDAR', 'MKACTIVITY', 'CHECKOUT', 'MERGE', 'PURGE', 'LINK', 'UNLINK', 'QUERY',
].map((m) => Buffer.from(`${m} `, 'latin1'));

/** Longest first line we wait for when the method is not a known one. */
const MAX_GENERIC_LINE = 8 * 1024;
const GENERIC_METHOD_BYTE = /[A-Z_-]/;
const GENERIC_REQUEST_LINE = /^[A-Z][A-Z_-]{0,31} [\x21-\x7e]+ HTTP\/1\.[01]\r?$/;

/** -1: `prefix` diverges from `full`; 0: `prefix` is a proper prefix of it; 1: it starts with it. */
function compare(prefix: Uint8Array, full: Uint8Array): -1 | 0 | 1 {
  const n = Math.min(prefix.length, full.length);
  for (let i = 0; i < n; i++) if (prefix[i] !== full[i]) return -1;
  return prefix.length >= full.length ? 1 : 0;
}

function detectTls(b: Uint8Array): DetectedProtocol | undefined {
  if (b[0] !== 0x16) return undefined;
  // Record: type 0x16 (handshake), version 0x03 0x00..0x04, 2-byte length, then handshake type 1.
  if (b.length > 1 && b[1] !== 0x03) return undefined;
  if (b.length > 2 && b[2] > 0x04) return undefined;
  if (b.length < 6) return 'need-more';
  return b[5] === 0x01 ? 'tls' : undefined;
}

function detectHttp1(b: Uint8Array): DetectedProtocol | undefined {
  let prefixOfKnown = false;
  for (const m of KNOWN_METHODS) {
    const c = compare(b, m);
    if (c === 1) return 'http1';
    if (c === 0) prefixOfKnown = true;
  }
  // Unknown methods: only a complete "TOKEN target HTTP/1.x" line counts.
  const lf = b.indexOf(0x0a);
  const lineEnd = lf === -1 ? Math.min(b.length, MAX_GENERIC_LINE) : lf;
  const line = Buffer.from(b.buffer, b.byteOffset, lineEnd).toString('latin1');
  if (lf !== -1) return GENERIC_REQUEST_LINE.test(line) ? 'http1' : undefined;
  if (prefixOfKnown) return 'need-more';
  if (b.length >= MAX_GENERIC_LINE) return undefined;
  // Still a plausible "TOKEN target HTTP/1.x" in the making?
  const sp = line.indexOf(' ');
  const token = sp === -1 ? line : line.slice(0, sp);
  if (token.length === 0 || token.length > 32) return undefined;
  for (let i = 0; i < token.length; i++) if (!GENERIC_METHOD_BYTE.test(token[i])) return undefined;
  if (sp !== -1 && /[\x00-\x1f\x7f]/.test(line.replace(/\r$/, ''))) return undefined;
  return 'need-more';
}

export function detectProtocol(firstBytes: Uint8Array): DetectedProtocol {
  const b = firstBytes;
  if (b.length === 0) return 'need-more';
  const h2 = compare(b, H2_PREFACE);
  if (h2 === 1) return 'http2';
  if (h2 === 0) return 'need-more';
  const tls = detectTls(b);
  if (tls !== undefined) return tls;
  if (b[0] === 0) return detectPostgres(b) ?? 'tcp';
  if (b[0] === 0x2a /* * */) return detectRedis(b) ?? 'tcp';
  const http = detectHttp1(b);
  if (http === 'http1') return 'http1';
  const redis = detectRedis(b);
  if (redis === 'redis') return 'redis';
  if (http === 'need-more' || redis === 'need-more') return 'need-more';
  return 'tcp';
}

/** An HTTP/2 server's SETTINGS frame (9-byte header: type 4, stream 0, no flags but ACK). */
function h2ServerSettings(b: Uint8Array): 'client-decides' | 'need-more' | undefined {
  if (b.length < 9) return b.length >= 4 && b[3] !== 0x04 ? undefined : 'need-more';
  return serverControlFrame(b) === 'SETTINGS' ? 'client-decides' : undefined;
}

/**
 * The server spoke first. A MySQL/MariaDB greeting names its protocol. An HTTP/2 server sends
 * its SETTINGS frame as soon as the connection opens, often before the client's preface has
 * crossed the proxy: then the client's first bytes decide. Anything else (SMTP, SSH banners)
 * is opaque.
 */
export function detectServerFirst(firstBytes: Uint8Array): 'mysql' | 'client-decides' | 'need-more' | undefined {
  const mysql = detectMysqlGreeting(firstBytes);
  if (mysql === 'mysql') return 'mysql';
  const h2 = h2ServerSettings(firstBytes);
  if (h2 === 'client-decides') return h2;
  return mysql === 'need-more' || h2 === 'need-more' ? 'need-more' : undefined;
}
