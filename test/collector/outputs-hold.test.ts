/** The export hold: spans leave after the hold with their trace id resolved through the trace links. */
import t from 'tap';
import { InMemorySpanExporter, type SpanExporter } from '@opentelemetry/sdk-trace';
import { Registry } from 'prom-client';
import { MAX_HELD_BYTES, heldBytes, openOutputs } from '../../collector/outputs.ts';
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

void t.test('the hold is bounded by the memory its records keep alive: big bodies leave early, counted, and are still exported', async (t) => {
  const gauge = async (registry: Registry, name: string, state?: string): Promise<number> => {
    const metric = await registry.getSingleMetric(name)!.get();
    return metric.values.find((v) => state === undefined || v.labels.state === state)!.value;
  };
  const withBodies = (bytes: number) => {
    const body = new Uint8Array(bytes);
    const r = record();
    r.request = { headers: {}, body, body_size: bytes, truncated: false };
    r.response = { headers: {}, body, body_size: bytes, truncated: false };
    return r;
  };
  t.equal(heldBytes(withBodies(1024)), 4096 + 4096, 'the estimate: bodies twice, plus 4 KiB');
  const registry = new Registry();
  let exported = 0;
  const spans = createSpanExporterPipeline(ENV, { exporter: { export: (batch, done) => ((exported += batch.length), done({ code: 0 })), shutdown: async () => {} } });
  const outputs = openOutputs({}, { log: silentLogger, registry, spans, holdMs: 60_000 });
  const big = withBodies(64 * 1024);
  const perRecord = heldBytes(big);
  const fits = Math.floor(MAX_HELD_BYTES / perRecord);
  for (let i = 0; i < fits + 50; i++) outputs.export([big]);
  t.equal(await gauge(registry, 'meshtap_collector_export_hold_records', 'held'), fits, 'as many as fit are held');
  t.equal(await gauge(registry, 'meshtap_collector_export_hold_records', 'left_early'), 50, 'the oldest left early, counted');
  t.ok((await gauge(registry, 'meshtap_collector_export_hold_bytes')) <= MAX_HELD_BYTES);
  await spans.flush();
  t.equal(exported, 50, 'and were exported, not dropped');
  // Small records: the same count fits many times over.
  const small = new Registry();
  const smallOutputs = openOutputs({}, { log: silentLogger, registry: small, spans: createSpanExporterPipeline(ENV, { exporter: new InMemorySpanExporter() }), holdMs: 60_000 });
  for (let i = 0; i < fits + 50; i++) smallOutputs.export([withBodies(1024)]);
  t.equal(await gauge(small, 'meshtap_collector_export_hold_records', 'left_early'), 0, '1 KiB bodies: nothing leaves early');
  await outputs.close(0);
  await smallOutputs.close(0);
});
