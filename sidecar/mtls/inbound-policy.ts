/**
 * What the inbound listener does with a connection, from its first client bytes. Pure.
 *
 * - a ClientHello offering ALPN `meshtap/1` → terminate mTLS (only with an identity: without
 *   a certificate there is nothing to terminate with, so the connection is refused and
 *   counted: the proxy answers with a TLS alert before any ServerHello, and the client
 *   sidecar retries in plaintext);
 * - any other ClientHello → the application's own TLS: passed through byte for byte (in
 *   `strict`, only where plaintext would be accepted);
 * - anything else (or the server speaking first) → plaintext: accepted in `permissive`, in
 *   `strict` refused unless it is a kubelet probe: a probe port (`MESHTAP_PROBE_PORTS`) from
 *   the node's address (`HOST_IP`) — and on a port probed only over plain HTTP
 *   (`MESHTAP_PROBE_PATHS`), only a `GET` or `HEAD` of one of the probes' paths (the request
 *   line is read from the bytes held for classification; a line that does not come within them
 *   is refused).
 */
import type { MtlsMode } from '../config.ts';
import { classifyClientHello } from './client-hello-alpn.ts';

export interface InboundPolicyConfig {
  mode: MtlsMode;
  probePorts: readonly number[];
  /** The node's IP (kubelet probes come from it); undefined: probe ports accept any source. */
  hostIp: string | undefined;
  /** Ports probed over plain HTTP only → the paths the probes ask. Absent port: port-only exemption. */
  probePaths?: Readonly<Record<number, readonly string[]>>;
}

export type InboundDecision =
  | { kind: 'need-more' }
  | { kind: 'mesh' }
  | { kind: 'app-tls' }
  | { kind: 'plaintext'; probe: boolean }
  | { kind: 'refuse'; reason: 'strict_plaintext_refused' | 'strict_probe_path_refused' | 'mesh_without_identity' };

export interface InboundFacts {
  /** The client's bytes so far; empty when the server spoke first. */
  bytes: Uint8Array;
  serverFirst: boolean;
  hasIdentity: boolean;
  srcIp: string;
  dstPort: number;
}

const PROBE_REQUEST_LINE = /^(?:GET|HEAD) (\/[^ ?#]*)(?:\?[^ ]*)? HTTP\/1\.[01]\r?$/;

/** The probe's request line, when `bytes` hold one: need-more until its end, then allowed or not. */
function probePathAllowed(paths: readonly string[], bytes: Uint8Array, final: boolean): boolean | 'need-more' {
  const lf = bytes.indexOf(10);
  if (lf === -1) return final ? false : 'need-more';
  const line = Buffer.from(bytes.buffer, bytes.byteOffset, lf).toString('latin1');
  const m = PROBE_REQUEST_LINE.exec(line);
  return m !== null && paths.includes(m[1]);
}

function plaintext(config: InboundPolicyConfig, facts: InboundFacts): InboundDecision {
  if (config.mode !== 'strict') return { kind: 'plaintext', probe: false };
  const probe = config.probePorts.includes(facts.dstPort) && (config.hostIp === undefined || config.hostIp === facts.srcIp);
  if (!probe) return { kind: 'refuse', reason: 'strict_plaintext_refused' };
  const paths = config.probePaths?.[facts.dstPort];
  if (paths === undefined) return { kind: 'plaintext', probe: true };
  // `serverFirst` here also means "no more bytes will come" (the gate's bound or the client's end).
  const allowed = probePathAllowed(paths, facts.bytes, facts.serverFirst);
  if (allowed === 'need-more') return { kind: 'need-more' };
  return allowed ? { kind: 'plaintext', probe: true } : { kind: 'refuse', reason: 'strict_probe_path_refused' };
}

export function decideInbound(config: InboundPolicyConfig, facts: InboundFacts): InboundDecision {
  if (facts.serverFirst) return plaintext(config, facts);
  const hello = classifyClientHello(facts.bytes);
  if (hello === 'need-more') return { kind: 'need-more' };
  if (hello === 'mesh') return facts.hasIdentity ? { kind: 'mesh' } : { kind: 'refuse', reason: 'mesh_without_identity' };
  const decision = plaintext(config, facts);
  // Strict admits only mesh peers: an unmeshed client's own TLS is refused like its plaintext.
  if (hello === 'app-tls' && decision.kind === 'plaintext') return { kind: 'app-tls' };
  return decision;
}
