/** The DNS side's counters as Prometheus metrics (`meshtap_sidecar_dns_*`), read at scrape time. */
import { Counter, Gauge, type Registry } from '../../lib/prom/index.ts';
import type { DnsStats } from './stats.ts';

export function registerDnsMetrics(registry: Registry, stats: DnsStats): void {
  const registers = [registry];
  new Gauge({
    name: 'meshtap_sidecar_dns_listening',
    help: '1 while the DNS listener (UDP and TCP) is bound; the sidecar is not ready without it.',
    registers,
    collect() {
      this.set(stats.listening ? 1 : 0);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_dns_queries_total',
    help: 'DNS queries from the app, by transport.',
    labelNames: ['transport'],
    registers,
    collect() {
      this.reset();
      for (const [transport, n] of Object.entries(stats.queries)) this.inc({ transport }, n);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_dns_answers_total',
    help: 'DNS answers relayed to the app, by transport.',
    labelNames: ['transport'],
    registers,
    collect() {
      this.reset();
      for (const [transport, n] of Object.entries(stats.answers)) this.inc({ transport }, n);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_dns_timeouts_total',
    help: 'DNS queries no resolver answered within its timeout, every resolver tried (the app got no answer).',
    registers,
    collect() {
      this.reset();
      this.inc(stats.timeouts);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_dns_parse_errors_total',
    help: 'DNS messages capture could not decode (forwarded unchanged all the same), by what: query or answer.',
    labelNames: ['what'],
    registers,
    collect() {
      this.reset();
      this.inc({ what: 'query' }, stats.parseErrors.query);
      this.inc({ what: 'answer' }, stats.parseErrors.answer);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_dns_upstream_failures_total',
    help: 'Upstream resolver attempts that failed, by reason (timeout, error, connect, no_resolver, reply_failed).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(stats.upstreamFailures)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_dns_truncated_total',
    help: 'DNS answers with the TC bit (the app should retry over TCP).',
    registers,
    collect() {
      this.reset();
      this.inc(stats.truncated);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_dns_tcp_connections_total',
    help: 'DNS-over-TCP connections from the app.',
    registers,
    collect() {
      this.reset();
      this.inc(stats.tcpConnections);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_dns_overloaded_total',
    help: 'DNS queries not forwarded because too many were waiting for an answer (the app retries).',
    registers,
    collect() {
      this.reset();
      this.inc(stats.overloaded);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_dns_records_emitted_total',
    help: 'DNS records built from query/answer pairs.',
    registers,
    collect() {
      this.reset();
      this.inc(stats.records.emitted);
    },
  });
  new Counter({
    name: 'meshtap_sidecar_dns_records_dropped_total',
    help: 'DNS records dropped before the shipper, by reason (capture_queue_full, pending_queries, build_error, mask_error, no_collector).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(stats.records.dropped)) this.inc({ reason }, n);
    },
  });
}
