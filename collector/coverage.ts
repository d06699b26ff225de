/**
 * What meshtap can see, per workload and per edge, over a time window: how many calls were
 * parsed (by protocol), how many stayed opaque TCP, how many were app TLS (handshake metadata
 * only), how many involved an unmeshed peer (one side not observed), how many were cut by
 * capture limits; plus what the collector itself refused, and what each workload excludes
 * from capture by configuration. Pure: the HTTP route passes in the summaries, the ingest
 * counters and the exclusion lookup it has.
 *
 * Calls are counted once each, as the service map counts them (`resolveCalls`): a call counts
 * for its caller's outbound side and its callee's inbound side.
 */
import type { CallSummary } from './record-store.ts';
import { resolveCalls, type ServiceMapNode } from './servicemap.ts';
import { describeWorkloadCoverage } from './coverage-text.ts';

export interface CoverageCounts {
  calls: number;
  /** Calls whose protocol was parsed (requests, responses, status), by protocol. */
  parsed: Record<string, number>;
  /** Opaque TCP: no protocol recognised; bytes and timing only. */
  opaque: number;
  /** The application's own TLS: handshake metadata only (SNI, version), no payloads. */
  app_tls: number;
  /**
   * The peer has no meshtap sidecar, so only this side was observed: inbound calls seen only by
   * the callee's sidecar without mesh TLS (the caller is unmeshed), outbound calls seen only by
   * the caller's sidecar without mesh TLS (the server is unmeshed).
   */
  unmeshed_peer: number;
  /**
   * The reverse: calls only the peer's sidecar recorded, not over mesh TLS — this end has no
   * meshtap sidecar, so its own view of the call (its latency, its errors) is missing.
   */
  unobserved_here: number;
  /**
   * Both ends have a meshtap sidecar (each recorded such records on the edge), yet this call
   * crossed in plaintext: a connection the caller opened before its sidecar knew the callee was
   * meshed, kept in plaintext for its life. Its two records share no connection id (only a mesh
   * connection carries one) and each sidecar's connection has its own client port, so they
   * cannot be joined: each is counted here, once per side.
   */
  plaintext_meshed: number;
  /** Capture fell behind forwarding and cut the call (`error == "capture_overflow"`). */
  capture_overflow: number;
  /** A request or response body held less than the whole (the body limit). */
  truncated_bodies: number;
}

/** Ports and CIDRs a workload's pods exclude from capture (`meshtap.io/exclude-*` annotations). */
export interface CaptureExclusions {
  inbound_ports: number[];
  outbound_ports: number[];
  outbound_cidrs: string[];
}

export type ExclusionsKnown = ({ known: true } & CaptureExclusions) | { known: false };

export interface WorkloadCoverage extends ServiceMapNode {
  /** Calls this workload answered. */
  inbound: CoverageCounts;
  /** Calls this workload made. */
  outbound: CoverageCounts;
  excluded: ExclusionsKnown;
  /** Short plain-language sentences: what is not seen, and why. */
  summary: string[];
}

export interface EdgeCoverage extends CoverageCounts {
  source: string;
  target: string;
}

/** What the collector refused or dropped since it started (its ingest counters), by reason. */
export interface CollectorDrops {
  records_rejected: Record<string, number>;
  batches_rejected: Record<string, number>;
  /** Sidecar ingest streams refused because the collector held its maximum of streams (their records waited or were dropped sidecar-side). */
  streams_refused: number;
  /** Re-sent records stored once (not a loss; shown so the numbers add up). */
  records_duplicate: number;
}

export interface Coverage {
  since: bigint;
  until: bigint;
  workloads: WorkloadCoverage[];
  edges: EdgeCoverage[];
  collector: CollectorDrops;
  /** True when the window held more records than were read (the newest were used). */
  truncated: boolean;
}

export interface CoverageInput {
  since: bigint;
  until: bigint;
  truncated?: boolean;
  collector: CollectorDrops;
  /** The exclusions of a workload's pods, when the inventory carries them; undefined = unknown. */
  exclusions?: (namespace: string, workload: string) => CaptureExclusions | undefined;
}

const OPAQUE = 'tcp';
const APP_TLS = 'tls';

export function emptyCounts(): CoverageCounts {
  return { calls: 0, parsed: {}, opaque: 0, app_tls: 0, unmeshed_peer: 0, unobserved_here: 0, plaintext_meshed: 0, capture_overflow: 0, truncated_bodies: 0 };
}

function count(into: CoverageCounts, c: CallSummary, unmeshedPeer: boolean, unobservedHere = false, plaintextMeshed = false): void {
  into.calls++;
  if (unobservedHere) into.unobserved_here++;
  if (plaintextMeshed) into.plaintext_meshed++;
  if (c.protocol === OPAQUE) into.opaque++;
  else if (c.protocol === APP_TLS) into.app_tls++;
  else into.parsed[c.protocol] = (into.parsed[c.protocol] ?? 0) + 1;
  if (unmeshedPeer) into.unmeshed_peer++;
  if (c.error === 'capture_overflow') into.capture_overflow++;
  if (c.request?.truncated === true || c.response?.truncated === true) into.truncated_bodies++;
}

/** An unmeshed peer of a workload: its node id, the calls with it, their protocols. */
export interface UnmeshedPeer {
  id: string;
  calls: number;
  protocols: string[];
}

function notePeer(into: Map<string, Map<string, UnmeshedPeer>>, of: string, peer: string, protocol: string): void {
  let peers = into.get(of);
  if (peers === undefined) {
    peers = new Map();
    into.set(of, peers);
  }
  const p = peers.get(peer);
  if (p === undefined) peers.set(peer, { id: peer, calls: 1, protocols: [protocol] });
  else {
    p.calls++;
    if (!p.protocols.includes(protocol)) p.protocols.push(protocol);
  }
}

/** Most calls first, then by id. */
function busiest(peers: Map<string, UnmeshedPeer> | undefined): UnmeshedPeer[] {
  return peers === undefined ? [] : [...peers.values()].sort((a, b) => b.calls - a.calls || (a.id < b.id ? -1 : 1));
}

export function buildCoverage(calls: readonly CallSummary[], input: CoverageInput): Coverage {
  const workloads = new Map<string, { node: ServiceMapNode; inbound: CoverageCounts; outbound: CoverageCounts }>();
  const edges = new Map<string, EdgeCoverage>();
  const entry = (node: ServiceMapNode) => {
    let w = workloads.get(node.id);
    if (w === undefined) {
      w = { node, inbound: emptyCounts(), outbound: emptyCounts() };
      workloads.set(node.id, w);
    }
    return w;
  };
  // Who the unmeshed peers are, per workload: the sentences name the busiest (often all of it DNS).
  const unmeshedServers = new Map<string, Map<string, UnmeshedPeer>>();
  const unmeshedClients = new Map<string, Map<string, UnmeshedPeer>>();
  // Workloads whose own sidecar recorded something in the window: they have one, whatever else is missing.
  const resolved = resolveCalls(calls);
  const selfObserved = new Set<string>();
  // Edges with plaintext records standing alone, by the side that recorded them.
  const aloneBy = { outbound: new Set<string>(), inbound: new Set<string>() };
  for (const { call, src, dst, twinned } of resolved) {
    if (twinned || call.observer === 'outbound') selfObserved.add(src.id);
    if (twinned || call.observer === 'inbound') selfObserved.add(dst.id);
    if (!twinned && !call.tls.mesh) aloneBy[call.observer].add(`${src.id}\u0000${dst.id}`);
  }
  for (const { call, src, dst, twinned } of resolved) {
    const alone = !twinned && !call.tls.mesh;
    // Plaintext between two meshed workloads: a plaintext record standing alone on an edge where
    // both sidecars recorded such records (a call only one side saw — refused, reset before it
    // reached the server — stays as below).
    const edgeKey = `${src.id}\u0000${dst.id}`;
    const plaintextMeshed = alone && src.id !== dst.id && aloneBy.outbound.has(edgeKey) && aloneBy.inbound.has(edgeKey);
    // Otherwise the other end has no sidecar.
    const unmeshedPeer = alone && !plaintextMeshed;
    // The side that recorded the call is observed; the unmeshed one is counted on the observed side only.
    const callerUnmeshed = unmeshedPeer && call.observer === 'inbound';
    const calleeUnmeshed = unmeshedPeer && call.observer === 'outbound';
    count(entry(src).outbound, call, calleeUnmeshed, callerUnmeshed, plaintextMeshed);
    count(entry(dst).inbound, call, callerUnmeshed, calleeUnmeshed, plaintextMeshed);
    if (calleeUnmeshed) notePeer(unmeshedServers, src.id, dst.id, call.protocol);
    if (callerUnmeshed) notePeer(unmeshedClients, dst.id, src.id, call.protocol);
    const key = `${src.id}\u0000${dst.id}`;
    let edge = edges.get(key);
    if (edge === undefined) {
      edge = { source: src.id, target: dst.id, ...emptyCounts() };
      edges.set(key, edge);
    }
    count(edge, call, unmeshedPeer, false, plaintextMeshed);
  }
  const out: WorkloadCoverage[] = [...workloads.values()].map(({ node, inbound, outbound }) => {
    const found = node.kind === 'External' || node.kind === 'Node' ? undefined : input.exclusions?.(node.namespace, node.workload);
    const excluded: ExclusionsKnown = found === undefined ? { known: false } : { known: true, ...found };
    const w = { ...node, inbound, outbound, excluded };
    const unmeshed = { servers: busiest(unmeshedServers.get(node.id)), clients: busiest(unmeshedClients.get(node.id)) };
    return { ...w, summary: describeWorkloadCoverage({ ...w, selfObserved: selfObserved.has(node.id), unmeshed }) };
  });
  out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    since: input.since,
    until: input.until,
    workloads: out,
    edges: [...edges.values()].sort((a, b) => (a.source + '\u0000' + a.target < b.source + '\u0000' + b.target ? -1 : 1)),
    collector: input.collector,
    truncated: input.truncated === true,
  };
}
