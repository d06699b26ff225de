/** The export hold: spans leave after the hold with their trace id resolved through the trace links. */
import t from 'tap';
import { InMemorySpanExporter, type SpanExporter } from '@opentelemetry/sdk-trace';
import { Registry } from 'prom-client';
import { openOutputs } from '../../collector/outputs.ts';
import { createSpanExporterPipeline } from '../../collector/otel/exporter.ts';
import { createTraceLinks } from '../../collector/trace-links.ts';
import { resolveCollectorConfig } from '../../collector/config.ts';
import { silentLogger } from '../../lib/log.ts';
import { hop, FRONTEND, GATEWAY } from './otel/records.ts';
import { sleep } from '../system/harness.ts';

const ENV = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_BSP_SCHEDULE_DELAY: '10' };
const OLD = '1'.repeat(32);
const NEW = '2'.repeat(32);

/** A trace-links table in which OLD becomes an alias of NEW once `join()` is called. */
function links() {
  const l = createTraceLinks();
  const h = hop({ connection: 'j', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n });
  h.inbound.trace_id = OLD;
  h.outbound.trace_id = NEW;
  return { resolve: l.resolve, join: () => l.observe(h.outbound, 'record', 0) && l.observe(h.inbound, 'derived', 0) };
}

function record() {
  const r = hop({ connection: 'x', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n }).inbound;
  r.trace_id = OLD;
  return r;
}

void t.test('held records leave with the trace id known at export time, not at arrival', async (t) => {
  const memory = new InMemorySpanExporter();
  const spans = createSpanExporterPipeline(ENV, { exporter: memory });
  const l = links();
  const outputs = openOutputs({}, { log: silentLogger, spans, holdMs: 150, resolveTrace: l.resolve });
  outputs.export([record()]);
  l.join();
  await spans.flush();
  t.equal(memory.getFinishedSpans().length, 0, 'nothing exported during the hold');
  await sleep(300);
  await spans.flush();
  t.same(memory.getFinishedSpans().map((s) => s.spanContext().traceId), [NEW]);
  await outputs.close(0);
});

void t.test('hold 0 exports at once, as the record was', async (t) => {
  const memory = new InMemorySpanExporter();
  const spans = createSpanExporterPipeline(ENV, { exporter: memory });
  const l = links();
  const outputs = openOutputs({}, { log: silentLogger, spans, holdMs: 0, resolveTrace: l.resolve });
  outputs.export([record()]);
  l.join();
  await spans.flush();
  t.same(memory.getFinishedSpans().map((s) => s.spanContext().traceId), [OLD]);
  await outputs.close(0);
});

void t.test('closing exports what is held, resolved', async (t) => {
  // The SDK's in-memory exporter forgets its spans on shutdown: keep what it was given.
  const kept: string[] = [];
  const memory = new InMemorySpanExporter();
  const keeping: SpanExporter = {
    export: (batch, done) => {
      kept.push(...batch.map((s) => s.spanContext().traceId));
      memory.export(batch, done);
    },
    shutdown: () => memory.shutdown(),
  };
  const spans = createSpanExporterPipeline(ENV, { exporter: keeping });
  const l = links();
  const outputs = openOutputs({}, { log: silentLogger, spans, holdMs: 60_000, resolveTrace: l.resolve });
  outputs.export([record(), record()]);
  l.join();
  // close() hands the held records to the pipeline, then shuts it down (which exports them).
  await outputs.close(1000);
  t.same(kept, [NEW, NEW]);
});

void t.test('MESHTAP_COLLECTOR_EXPORT_HOLD_MS: default, 0, and bad values named', async (t) => {
  t.equal(resolveCollectorConfig({}, {}).exportHoldMs, 2000);
  t.equal(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_EXPORT_HOLD_MS: '0' }).exportHoldMs, 0);
  t.equal(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_EXPORT_HOLD_MS: '5000' }).exportHoldMs, 5000);
  for (const bad of ['-1', '1.5', 'soon', '60001']) {
    t.throws(() => resolveCollectorConfig({}, { MESHTAP_COLLECTOR_EXPORT_HOLD_MS: bad }), /MESHTAP_COLLECTOR_EXPORT_HOLD_MS/, bad);
  }
});

void t.test('with no output on, nothing is held (stored records are not kept alive for the hold)', async (t) => {
  const held = async (registry: Registry): Promise<number> => {
    const metric = await registry.getSingleMetric('meshtap_collector_export_hold_records')!.get();
    return metric.values.find((v) => v.labels.state === 'held')!.value;
  };
  const off = new Registry();
  const none = openOutputs({}, { log: silentLogger, registry: off, holdMs: 60_000 });
  none.export([record(), record()]);
  t.equal(await held(off), 0, 'no output: nothing held');
  await none.close(0);
  const on = new Registry();
  const spans = createSpanExporterPipeline(ENV, { exporter: new InMemorySpanExporter() });
  const some = openOutputs({}, { log: silentLogger, registry: on, spans, holdMs: 60_000 });
  some.export([record(), record()]);
  t.equal(await held(on), 2, 'spans on: both held');
  await some.close(0);
});
