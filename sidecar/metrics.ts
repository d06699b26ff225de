/**
 * The sidecar's counters and their Prometheus view.
 *
 * The data path only increments plain numbers in `SidecarStats` (no label lookups per chunk);
 * the Prometheus view reads them at scrape time through `collect()` callbacks (`lib/prom/`: the
 * pod does not load prom-client).
 */
import { Counter, Gauge, Registry, registerProcessMetrics } from '../lib/prom/index.ts';
import type { Observer } from '../record/record.ts';
import type { SidecarStats } from './stats.ts';
import { registerDnsMetrics } from './dns/prom-metrics.ts';
import type { DnsStats } from './dns/stats.ts';

export { countDrop, createSidecarStats, type DirectionStats, type SidecarStats } from './stats.ts';

/** What the metrics read from the shipper; absent when there is no collector. */
export interface ShipperCounters {
  shipped: number;
  /** Drops inside the shipper, by reason (queue full, rejected, ...). */
  dropped: Record<string, number>;
  queued?: number;
}

/** What the metrics read from the workload identity and the membership feed; absent without mTLS. */
export interface IdentityCounters {
  rotations: number;
  caFailures: number;
  current: { spiffeId: string; serialNumber: string; notAfterMs: number } | undefined;
}

export interface SidecarMetricsSources {
  stats: SidecarStats;
  identity?: () => IdentityCounters | undefined;
  membershipVersion?: () => number | undefined;
  shipper: () => ShipperCounters | undefined;
  draining: () => boolean;
  /** The capture hand-off; absent when capture is off. */
  capture?: () => CaptureHandOffCounters | undefined;
  /** The DNS listener's counters (`meshtap_sidecar_dns_*`). */
  dns?: DnsStats;
}

/** What the metrics read from the capture hand-off (sidecar/capture-worker/hand-off.ts). */
export interface CaptureHandOffCounters {
  inFlightBytes: number;
  /** Bytes forwarded but not handed to capture because a budget was full, by budget. */
  skippedBytes: Record<string, number>;
  workerRestarts: number;
}

const DIRECTIONS: Observer[] = ['outbound', 'inbound'];

export function createSidecarMetrics(sources: SidecarMetricsSources): Registry {
  const registry = new Registry();
  const { stats } = sources;
  const registers = [registry];

  new Counter({
    name: 'meshtap_sidecar_connections_total',
    help: 'Connections proxied, by listener direction and detected protocol (none: no byte seen; uncaptured: capture off).',
    labelNames: ['direction', 'protocol'],
    registers,
    collect() {
      this.reset();
      for (const direction of DIRECTIONS) {
        for (const [protocol, n] of Object.entries(stats[direction].connectionsByProtocol)) this.inc({ direction, protocol }, n);
      }
    },
  });
  new Gauge({
    name: 'meshtap_sidecar_connections_active',
    help: 'Connections open now, by listener direction.',
    labelNames: ['direction'],
    registers,
    collect() {
      for (const direction of DIRECTIONS) this.set({ direction }, stats[direction].active);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_bytes_total',
    help: 'Bytes forwarded, by listener direction and the side that sent them.',
    labelNames: ['direction', 'from'],
    registers,
    collect() {
      this.reset();
      for (const direction of DIRECTIONS) {
        this.inc({ direction, from: 'client' }, stats[direction].bytesFromClient);
        this.inc({ direction, from: 'server' }, stats[direction].bytesFromServer);
      }
    },
  });
  new Counter({
    name: 'meshtap_sidecar_original_dst_failures_total',
    help: 'Accepted connections closed because their original destination could not be used, by reason.',
    labelNames: ['direction', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const direction of DIRECTIONS) {
        for (const [reason, n] of Object.entries(stats[direction].originalDstFailures)) this.inc({ direction, reason }, n);
      }
    },
  });
  new Counter({
    name: 'meshtap_sidecar_upstream_connect_failures_total',
    help: 'Upstream connections that failed to open (the client was reset).',
    labelNames: ['direction'],
    registers,
    collect() {
      this.reset();
      for (const direction of DIRECTIONS) this.inc({ direction }, stats[direction].upstreamConnectFailures);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_parser_errors_total',
    help: 'Parser failures: exception (a parser threw and was dropped for its connection) or parse_error (unreadable traffic).',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      this.inc({ kind: 'exception' }, stats.parserErrors.exception);
      this.inc({ kind: 'parse_error' }, stats.parserErrors.parse_error);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_capture_overflow_total',
    help: 'Connection captures cut, by reason (connection_budget, sidecar_budget: the hand-off to the capture worker was full; worker_failed; pending_exchanges: too many pipelined requests awaiting responses); ws_message_rate counts WebSocket messages not recorded because their connection exceeded its record rate, one per message. Their records say capture_overflow.',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(stats.captureOverflow)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_flow_links_total',
    help: 'Outbound calls without trace context, DNS lookups included, linked to the inbound call that caused them (linked, linked_ambiguous: several were in flight), not linked (unlinked), outbound calls with a new trace of their own joined to the trace of the one inbound call that caused them (new_trace_joined), and inbound calls dropped from the link table early (evicted_full, evicted_age).',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      for (const [outcome, n] of Object.entries(stats.flowLinks)) this.inc({ outcome }, n);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_capture_skipped_bytes_total',
    help: 'Bytes forwarded but not handed to capture because a hand-off budget was full (connection_budget, sidecar_budget): inside a body the record says how much was not captured; elsewhere the capture was cut.',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(sources.capture?.()?.skippedBytes ?? {})) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: 'meshtap_sidecar_capture_handoff_bytes',
    help: 'Bytes handed from the forwarding thread to the capture worker and not processed yet.',
    registers,
    collect() {
      this.set(sources.capture?.()?.inFlightBytes ?? 0);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_capture_worker_restarts_total',
    help: 'Capture workers that failed and were replaced.',
    registers,
    collect() {
      this.reset();
      this.inc(sources.capture?.()?.workerRestarts ?? 0);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_records_emitted_total',
    help: 'Records completed from captured exchanges.',
    registers,
    collect() {
      this.reset();
      this.inc(stats.records.emitted);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_records_offered_total',
    help: 'Records the shipper accepted into its queue.',
    registers,
    collect() {
      this.reset();
      this.inc(stats.records.offered);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_records_shipped_total',
    help: 'Records the collector acknowledged.',
    registers,
    collect() {
      this.reset();
      this.inc(sources.shipper()?.shipped ?? 0);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_records_dropped_total',
    help: 'Records dropped, by reason (no_collector, mask_error, queue_full, ...).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      const totals: Record<string, number> = { ...stats.records.dropped };
      for (const [reason, n] of Object.entries(sources.shipper()?.dropped ?? {})) totals[reason] = (totals[reason] ?? 0) + n;
      for (const [reason, n] of Object.entries(totals)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_mtls_connections_total',
    help: 'Connections by mTLS outcome: mesh, plaintext (with the reason outbound), app_tls, probe_plaintext, peer_rejected, handshake_failed, plaintext_fallback_no_peer_identity, strict_plaintext_refused, mesh_without_identity.',
    labelNames: ['direction', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const direction of DIRECTIONS) {
        for (const [outcome, n] of Object.entries(stats.mtls[direction])) this.inc({ direction, outcome }, n);
      }
    },
  });
  if (sources.identity) {
    const identity = sources.identity;
    new Gauge({
      name: 'meshtap_sidecar_identity_cert_expiry_timestamp_seconds',
      help: 'notAfter of the workload certificate in use (Unix seconds); absent without one.',
      registers,
      collect() {
        this.reset();
        const current = identity()?.current;
        if (current) this.set(current.notAfterMs / 1000);
      },
    });
    new Gauge({
      name: 'meshtap_sidecar_identity_cert_info',
      help: 'The workload certificate in use: 1 with its SPIFFE id and serial number.',
      labelNames: ['spiffe_id', 'serial'],
      registers,
      collect() {
        this.reset();
        const current = identity()?.current;
        if (current) this.set({ spiffe_id: current.spiffeId, serial: current.serialNumber }, 1);
      },
    });
    new Counter({
      name: 'meshtap_sidecar_identity_rotations_total',
      help: 'Workload certificates replaced by a renewed one.',
      registers,
      collect() {
        this.reset();
        this.inc(identity()?.rotations ?? 0);
      },
    });
    new Counter({
      name: 'meshtap_sidecar_identity_ca_failures_total',
      help: 'Failed requests to the CA (each is retried with backoff).',
      registers,
      collect() {
        this.reset();
        this.inc(identity()?.caFailures ?? 0);
      },
    });
  }
  if (sources.membershipVersion) {
    const version = sources.membershipVersion;
    new Gauge({
      name: 'meshtap_sidecar_membership_version',
      help: 'Version of the membership snapshot in use; 0 before the first.',
      registers,
      collect() {
        this.set(version() ?? 0);
      },
    });
  }
  new Gauge({
    name: 'meshtap_sidecar_draining',
    help: '1 while the sidecar drains after SIGTERM.',
    registers,
    collect() {
      this.set(sources.draining() ? 1 : 0);
    },
  });
  if (sources.dns) registerDnsMetrics(registry, sources.dns);
  registerProcessMetrics(registry);
  return registry;
}
