/**
 * The collector's exports beyond its own store: OpenTelemetry spans (Jaeger) and Loki entries.
 * Both are configured from the environment (`OTEL_EXPORTER_OTLP_*`, `MESHTAP_LOKI_URL`) and are
 * off when not configured. Exporting never blocks ingest: each output queues, batches and
 * counts its own drops, which `/metrics` shows.
 */
import { Gauge, type Registry } from 'prom-client';
import type { CallRecord } from '../record/record.ts';
import type { Logger } from '../lib/log.ts';
import { resolveLokiConfig } from './loki/config.ts';
import { createLokiPusher, type LokiPusher } from './loki/pusher.ts';
import { createSpanExporterPipeline, type SpanExporterPipeline } from './otel/exporter.ts';

export interface Outputs {
  /** Hands stored records to every enabled output. Never throws. */
  export(records: readonly CallRecord[]): void;
  describe(): { otel: string; loki: string };
  close(drainMs?: number): Promise<void>;
}

export interface OutputsDeps {
  log: Logger;
  registry?: Registry;
  /** Replaces the env-built span pipeline (tests). */
  spans?: SpanExporterPipeline;
  loki?: LokiPusher;
}

export function openOutputs(env: NodeJS.ProcessEnv, deps: OutputsDeps): Outputs {
  const { log } = deps;
  const spans = deps.spans ?? createSpanExporterPipeline(env, { log });
  let loki = deps.loki;
  if (loki === undefined) {
    const lokiConfig = resolveLokiConfig(env);
    if (lokiConfig !== undefined) loki = createLokiPusher(lokiConfig, { log });
  }
  if (deps.registry) registerOutputMetrics(deps.registry, spans, loki);
  return {
    export(records) {
      for (const record of records) {
        try {
          if (spans.enabled) spans.export(record);
          loki?.push(record);
        } catch (err) {
          // Both outputs promise not to throw; this guards ingest against a bug all the same.
          log.error({ detail: (err as Error).message, id: record.id }, 'export failed');
        }
      }
    },
    describe() {
      const s = spans.stats();
      return {
        otel: spans.enabled ? `${s.protocol ?? 'otlp'} ${s.url ?? ''}`.trim() : `off (${s.disabledReason ?? 'no endpoint'})`,
        loki: loki ? 'on' : 'off (MESHTAP_LOKI_URL not set)',
      };
    },
    async close(drainMs = 5000) {
      await Promise.all([spans.shutdown(), loki?.close({ drainMs })]);
    },
  };
}

function registerOutputMetrics(registry: Registry, spans: SpanExporterPipeline, loki: LokiPusher | undefined): void {
  const registers = [registry];
  new Gauge({
    name: 'meshtap_collector_spans',
    help: 'Spans handled by the OpenTelemetry export, by outcome (cumulative).',
    labelNames: ['outcome'] as const,
    registers,
    collect() {
      const s = spans.stats();
      this.set({ outcome: 'accepted' }, s.accepted);
      this.set({ outcome: 'exported' }, s.exported);
      this.set({ outcome: 'failed' }, s.failed);
      for (const [reason, n] of Object.entries(s.dropped)) this.set({ outcome: `dropped_${reason}` }, n);
    },
  });
  if (!loki) return;
  new Gauge({
    name: 'meshtap_collector_loki_entries',
    help: 'Loki entries by outcome (cumulative).',
    labelNames: ['outcome'] as const,
    registers,
    collect() {
      const s = loki.stats();
      this.set({ outcome: 'pushed' }, s.pushed_entries);
      this.set({ outcome: 'queued' }, s.queued_entries);
      this.set({ outcome: 'retries' }, s.retries);
      for (const [reason, n] of Object.entries(s.dropped)) this.set({ outcome: `dropped_${reason}` }, n);
    },
  });
}
