/**
 * Just enough of a TLS ClientHello to answer "does it offer ALPN `meshtap/1`?": the inbound
 * listener must tell a meshtap sidecar (terminate) from an application's own TLS (pass
 * through untouched) before it forwards a byte. Pure; reads at most the first record.
 *
 * A ClientHello split over several records (only huge hellos are) is treated as not ours:
 * meshtap's own client always fits one record, and "not ours" means byte-exact passthrough.
 */

export const MESH_ALPN = 'meshtap/1';

export type HelloAlpnResult =
  /** Not a TLS handshake record starting with a ClientHello. */
  | 'not-tls'
  /** A ClientHello that does not offer the protocol (app TLS). */
  | 'app-tls'
  /** A ClientHello offering the protocol. */
  | 'mesh'
  | 'need-more';

const RECORD_HEADER = 5;
const ALPN_EXTENSION = 0x0010;

/** Reads the first record's ClientHello and looks for `protocol` in its ALPN list. */
export function classifyClientHello(bytes: Uint8Array, protocol: string = MESH_ALPN): HelloAlpnResult {
  if (bytes.length === 0) return 'need-more';
  if (bytes[0] !== 0x16) return 'not-tls';
  if (bytes.length > 1 && bytes[1] !== 0x03) return 'not-tls';
  if (bytes.length < RECORD_HEADER + 1) return 'need-more';
  if (bytes[RECORD_HEADER] !== 0x01) return 'not-tls';
  const recordLength = (bytes[3] << 8) | bytes[4];
  if (bytes.length < RECORD_HEADER + recordLength) return 'need-more';
  const record = bytes.subarray(RECORD_HEADER, RECORD_HEADER + recordLength);
  if (record.length < 4) return 'app-tls';
  const helloLength = (record[1] << 16) | (record[2] << 8) | record[3];
  // Spread over more records: not something meshtap sends.
  if (helloLength + 4 > record.length) return 'app-tls';
  const hello = record.subarray(4, 4 + helloLength);
  return findAlpn(hello, protocol) ? 'mesh' : 'app-tls';
}

function findAlpn(hello: Uint8Array, protocol: string): boolean {
  const wanted = Buffer.from(protocol, 'latin1');
  let p = 2 + 32; // client_version, random
  if (p >= hello.length) return false;
  p += 1 + hello[p]; // session_id
  if (p + 2 > hello.length) return false;
  p += 2 + ((hello[p] << 8) | hello[p + 1]); // cipher_suites
  if (p >= hello.length) return false;
  p += 1 + hello[p]; // compression_methods
  if (p + 2 > hello.length) return false;
  const end = Math.min(hello.length, p + 2 + ((hello[p] << 8) | hello[p + 1]));
  p += 2;
  while (p + 4 <= end) {
    const type = (hello[p] << 8) | hello[p + 1];
    const length = (hello[p + 2] << 8) | hello[p + 3];
    p += 4;
    if (p + length > end) return false;
    if (type === ALPN_EXTENSION) {
      let q = p + 2;
      const listEnd = Math.min(p + length, p + 2 + ((hello[p] << 8) | hello[p + 1]));
      while (q < listEnd) {
        const n = hello[q];
        if (q + 1 + n > listEnd) return false;
        if (n === wanted.length && Buffer.compare(Buffer.from(hello.buffer, hello.byteOffset + q + 1, n), wanted) === 0) return true;
        q += 1 + n;
      }
      return false;
    }
    p += length;
  }
  return false;
}
