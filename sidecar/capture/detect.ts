/**
 * Protocol sniffing from the first bytes a client sent. Pure: the proxy decides how long to
 * wait for them (and picks `tcp` at once when the server speaks first).
 */
export type DetectedProtocol = 'http1' | 'http2' | 'tls' | 'tcp' | 'need-more';

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
  return detectHttp1(b) ?? 'tcp';
}
