/**
 * Coverage in words: a few short sentences per workload saying what meshtap does not see of
 * it and why, for the dashboard panel and the MCP tool. Only what applies is said; a workload
 * seen in full gets one sentence saying so. Pure.
 */
import type { CaptureExclusions, CoverageCounts, ExclusionsKnown, UnmeshedPeer } from './coverage.ts';

const percent = (n: number, of: number): string => {
  const p = (n / of) * 100;
  return p >= 10 || p === 0 ? `${Math.round(p)}%` : p >= 1 ? `${p.toFixed(1)}%` : '<1%';
};

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

export function describeExclusions(e: CaptureExclusions): string {
  const parts = [
    e.inbound_ports.length > 0 ? `inbound ports ${e.inbound_ports.join(', ')}` : '',
    e.outbound_ports.length > 0 ? `outbound ports ${e.outbound_ports.join(', ')}` : '',
    e.outbound_cidrs.length > 0 ? `outbound CIDRs ${e.outbound_cidrs.join(', ')}` : '',
  ].filter((p) => p !== '');
  return parts.length === 0 ? 'Nothing is excluded from capture by configuration.' : `Excluded from capture by configuration (never seen): ${parts.join('; ')}.`;
}

/** The sentences for one workload's inbound and outbound counts and exclusions. */
/** Most peers named in a sentence. */
const NAMED_PEERS = 3;

/** `: kube-system/service/kube-dns (dns, 120 calls), ip/10.0.0.9 (tcp, 3 calls) and 2 others`, or nothing when none is known. */
function whichPeers(peers: readonly UnmeshedPeer[] | undefined): string {
  if (peers === undefined || peers.length === 0) return '';
  const named = peers.slice(0, NAMED_PEERS).map((p) => `${p.id} (${p.protocols.join(', ')}, ${plural(p.calls, 'call')})`);
  const more = peers.length - named.length;
  return `: ${named.join(', ')}${more > 0 ? ` and ${plural(more, 'other')}` : ''}`;
}

export function describeWorkloadCoverage(w: {
  kind: string;
  inbound: CoverageCounts;
  outbound: CoverageCounts;
  excluded: ExclusionsKnown;
  selfObserved?: boolean;
  /** The unmeshed peers behind `unmeshed_peer`, busiest first. */
  unmeshed?: { servers: readonly UnmeshedPeer[]; clients: readonly UnmeshedPeer[] };
}): string[] {
  const out: string[] = [];
  const { inbound, outbound } = w;
  if (inbound.unmeshed_peer > 0) {
    out.push(`${percent(inbound.unmeshed_peer, inbound.calls)} of inbound calls come from unmeshed peers — their client side is not observed${whichPeers(w.unmeshed?.clients)}.`);
  }
  if (outbound.unmeshed_peer > 0) {
    out.push(`${percent(outbound.unmeshed_peer, outbound.calls)} of outbound calls go to unmeshed servers — their server side is not observed${whichPeers(w.unmeshed?.servers)}.`);
  }
  const plaintextMeshed = inbound.plaintext_meshed + outbound.plaintext_meshed;
  if (plaintextMeshed > 0) {
    out.push(
      `${percent(plaintextMeshed, inbound.calls + outbound.calls)} of calls crossed in plaintext between two meshed workloads, so each side's record stands alone (not joined, counted once per side): ` +
        'a connection opened before the caller\'s sidecar knew the callee was meshed stays plaintext for its life — a new connection is meshed (restarting the caller, or its pool, resets them).',
    );
  }
  const meshed = w.kind !== 'External' && w.kind !== 'Node';
  // A workload whose sidecar recorded other calls has one: what it did not record are calls that
  // never reached it (a refused or reset connection) or records lost on the way (counted as drops).
  const why = w.selfObserved === true
    ? 'though this end has a meshtap sidecar (it recorded other calls): calls that never reached it, such as refused or reset connections, or records dropped on the way (see the drop counters)'
    : 'this end has no meshtap sidecar, so its own view of them is missing';
  if (meshed && outbound.unobserved_here > 0) {
    out.push(`${percent(outbound.unobserved_here, outbound.calls)} of outbound calls were recorded only by the server's sidecar — ${why}.`);
  }
  if (meshed && inbound.unobserved_here > 0) {
    out.push(`${percent(inbound.unobserved_here, inbound.calls)} of inbound calls were recorded only by the caller's sidecar — ${why}.`);
  }
  const all = inbound.calls + outbound.calls;
  const opaque = inbound.opaque + outbound.opaque;
  if (opaque > 0) out.push(`${percent(opaque, all)} of calls are opaque TCP (no protocol recognised): timing and byte counts only.`);
  const tls = inbound.app_tls + outbound.app_tls;
  if (tls > 0) out.push(`${percent(tls, all)} of calls use the application's own TLS: handshake metadata only (SNI, version), no payloads.`);
  const overflow = inbound.capture_overflow + outbound.capture_overflow;
  if (overflow > 0) out.push(`${plural(overflow, 'call')} lost part of ${overflow === 1 ? 'its' : 'their'} capture because capture fell behind (capture_overflow); the traffic itself was forwarded.`);
  const truncated = inbound.truncated_bodies + outbound.truncated_bodies;
  if (truncated > 0) out.push(`${plural(truncated, 'call')} had a body larger than the capture limit: the body is cut, its true size kept.`);
  if (out.length === 0 && all > 0) out.push('Every call in this window was parsed in full on both sides.');
  if (!meshed) out.push('Not a meshed workload: seen only through the calls of meshed peers.');
  else if (w.excluded.known) out.push(describeExclusions(w.excluded));
  else out.push('Exclusions by configuration: unknown (the inventory knows no injected pod of this workload, so not its meshtap.io/exclude-* annotations).');
  return out;
}
