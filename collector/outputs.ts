/**
 * The collector's exports beyond its own store: OpenTelemetry spans (Jaeger) and Loki entries.
 * Both are configured from the environment (`OTEL_EXPORTER_OTLP_*`, `MESHTAP_LOKI_URL`) and are
 * off when not configured. Exporting never blocks ingest: each output queues, batches and
 * counts its own drops, which `/metrics` shows.
 *
 * The hold: records wait `holdMs` before they are exported, then leave with their trace id
 * resolved through the trace links (`trace-links.ts`). A linked flow's hops reach the collector
 * in any order and an exported span cannot be changed afterwards (Jaeger and Tempo keep what
 * they got), so a short wait buys one trace per flow at the price of spans and Loki entries
 * appearing that much later. A hop whose partner arrives after the hold is exported under the
 * old id: the collector's own store and API are rewritten, the exported span is not. The held
 * records are bounded (`MAX_HELD_RECORDS`): beyond it the oldest leave early (counted), never
 * dropped; closing exports what is held. With neither output on, nothing is held.
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
  /** How long records wait before export (ms); 0 or absent: at once. */
  holdMs?: number;
  /** The final trace id of a trace id (trace links); identity when absent. */
  resolveTrace?: (traceId: string) => string;
  /** ms clock for the hold (default `Date.now`). */
  now?: () => number;
}

/** Most records held at once (a few seconds of a busy collector); beyond it the oldest leave early. */
export const MAX_HELD_RECORDS = 100_000;

interface HeldBatch {
  due: number;
  records: readonly CallRecord[];
}

export function openOutputs(env: NodeJS.ProcessEnv, deps: OutputsDeps): Outputs {
  const { log } = deps;
  const spans = deps.spans ?? createSpanExporterPipeline(env, { log });
  let loki = deps.loki;
  if (loki === undefined) {
    const lokiConfig = resolveLokiConfig(env);
    if (lokiConfig !== undefined) loki = createLokiPusher(lokiConfig, { log });
  }
  const holdMs = deps.holdMs ?? 0;
  const now = deps.now ?? Date.now;
  const resolveTrace = deps.resolveTrace;
  const held: HeldBatch[] = [];
  const hold = { records: 0, leftEarly: 0 };
  let timer: NodeJS.Timeout | undefined;
  if (deps.registry) registerOutputMetrics(deps.registry, spans, loki, hold);

  const send = (records: readonly CallRecord[]): void => {
    for (const stored of records) {
      try {
        const traceId = stored.trace_id !== undefined && resolveTrace !== undefined ? resolveTrace(stored.trace_id) : stored.trace_id;
        const record = traceId !== stored.trace_id ? { ...stored, trace_id: traceId } : stored;
        if (spans.enabled) spans.export(record);
        loki?.push(record);
      } catch (err) {
        // Both outputs promise not to throw; this guards ingest against a bug all the same.
        log.error({ detail: (err as Error).message, id: stored.id }, 'export failed');
      }
    }
  };
  const release = (all: boolean): void => {
    const t = now();
    while (held.length > 0 && (all || held[0].due <= t)) {
      const batch = held.shift()!;
      hold.records -= batch.records.length;
      send(batch.records);
    }
  };
  const schedule = (): void => {
    if (timer !== undefined || held.length === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      release(false);
      schedule();
    }, Math.max(0, held[0].due - now()));
    timer.unref();
  };

  return {
    export(records) {
      // With no output on, holding would only keep every stored record (and its JSON text)
      // alive for the hold: a collector at 20 k records/s held ~40 000 for nothing.
      if (!spans.enabled && loki === undefined) return;
      if (holdMs <= 0) {
        send(records);
        return;
      }
      held.push({ due: now() + holdMs, records });
      hold.records += records.length;
      while (hold.records > MAX_HELD_RECORDS && held.length > 1) {
        const batch = held.shift()!;
        hold.records -= batch.records.length;
        hold.leftEarly += batch.records.length;
        send(batch.records);
      }
      schedule();
    },
    describe() {
      const s = spans.stats();
      return {
        otel: spans.enabled ? `${s.protocol ?? 'otlp'} ${s.url ?? ''}`.trim() : `off (${s.disabledReason ?? 'no endpoint'})`,
        loki: loki ? 'on' : 'off (MESHTAP_LOKI_URL not set)',
      };
    },
    async close(drainMs = 5000) {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      release(true);
      await Promise.all([spans.shutdown(), loki?.close({ drainMs })]);
    },
  };
}

function registerOutputMetrics(registry: Registry, spans: SpanExporterPipeline, loki: LokiPusher | undefined, hold: { records: number; leftEarly: number }): void {
  const registers = [registry];
  new Gauge({
    name: 'meshtap_collector_export_hold_records',
    help: 'Records waiting out the export hold (held), and records that left it early because it was full (left_early, cumulative).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      this.set({ state: 'held' }, hold.records);
      this.set({ state: 'left_early' }, hold.leftEarly);
    },
  });
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
