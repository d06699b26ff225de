/**
 * "Does this ClientHello offer ALPN `meshtap/1`?": the inbound listener must tell a meshtap
 * sidecar (terminate) from an application's own TLS (pass through untouched) before it
 * forwards a byte. A view over the one ClientHello parser (`../tls/client-hello.ts`); pure.
 *
 * A hello the parser finds malformed is treated as not ours: "not ours" means byte-exact
 * passthrough, and meshtap's own client always sends a well-formed one.
 */
import { parseClientHello } from '../tls/client-hello.ts';

export const MESH_ALPN = 'meshtap/1';

export type HelloAlpnResult =
  /** Not a TLS handshake record starting with a ClientHello. */
  | 'not-tls'
  /** A ClientHello that does not offer the protocol (app TLS). */
  | 'app-tls'
  /** A ClientHello offering the protocol. */
  | 'mesh'
  | 'need-more';

export function classifyClientHello(bytes: Uint8Array, protocol: string = MESH_ALPN): HelloAlpnResult {
  const hello = parseClientHello(bytes);
  if (hello.ok) return hello.alpn.includes(protocol) ? 'mesh' : 'app-tls';
  if (hello.reason === 'malformed') return 'app-tls';
  return hello.reason;
}
