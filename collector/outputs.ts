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
 * records are bounded in number (`MAX_HELD_RECORDS`) and in the memory they keep alive
 * (`MAX_HELD_BYTES`, estimated from their bodies: a record of 64 KiB bodies holds far more than
 * one of 1 KiB): beyond either the oldest leave early (counted), never dropped; closing exports
 * what is held. With neither output on, nothing is held.
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
/**
 * Most memory the held records may keep alive (estimated, `heldBytes`): within the bundled
 * collector's 1 GiB limit with the store, the queues and the heap's slack beside it. At 1 KiB
 * bodies that is about 30 000 records, a 2 s hold at 15 000 records/s.
 */
export const MAX_HELD_BYTES = 256 * 1024 * 1024;

/**
 * What a stored record keeps alive while held, roughly: its bodies twice and about 4 KiB of
 * everything else (headers, endpoints). Measured in a heap snapshot when the store also kept the
 * record's JSON text (which holds the bodies again): 8.5 KiB per record of two 1 KiB bodies, this
 * estimates 8 KiB. The text is now built only for the Loki line, after the hold, so the estimate
 * errs high.
 */
export function heldBytes(record: CallRecord): number {
  return 4096 + 2 * ((record.request?.body.byteLength ?? 0) + (record.response?.body.byteLength ?? 0));
}

interface HeldBatch {
  due: number;
  records: readonly CallRecord[];
  bytes: number;
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
  const hold = { records: 0, bytes: 0, leftEarly: 0 };
  let timer: NodeJS.Timeout | undefined;
  if (deps.registry) registerOutputMetrics(deps.registry, spans, loki, hold);

  const send = (records: readonly CallRecord[]): void => {
    for (const stored of records) {
      try {
        const traceId = stored.trace_id !== undefined && resolveTrace !== undefined ? resolveTrace(stored.trace_id) : stored.trace_id;
        // The request that caused a joined new trace is exported under its own final trace too.
        const causedBy = stored.caused_by_trace_id !== undefined && resolveTrace !== undefined ? resolveTrace(stored.caused_by_trace_id) : stored.caused_by_trace_id;
        const record = traceId !== stored.trace_id || causedBy !== stored.caused_by_trace_id ? { ...stored, trace_id: traceId, caused_by_trace_id: causedBy } : stored;
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
      hold.bytes -= batch.bytes;
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
      let bytes = 0;
      for (const r of records) bytes += heldBytes(r);
      held.push({ due: now() + holdMs, records, bytes });
      hold.records += records.length;
      hold.bytes += bytes;
      while ((hold.records > MAX_HELD_RECORDS || hold.bytes > MAX_HELD_BYTES) && held.length > 1) {
        const batch = held.shift()!;
        hold.records -= batch.records.length;
        hold.bytes -= batch.bytes;
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

function registerOutputMetrics(registry: Registry, spans: SpanExporterPipeline, loki: LokiPusher | undefined, hold: { records: number; bytes: number; leftEarly: number }): void {
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
    name: 'meshtap_collector_export_hold_bytes',
    help: 'Memory the records waiting out the export hold keep alive, estimated from their bodies (bounded at 256 MiB).',
    registers,
    collect() {
      this.set(hold.bytes);
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
