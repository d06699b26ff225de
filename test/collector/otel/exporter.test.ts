import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { InMemorySpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import t, { type Test } from 'tap';
import { isMeshtapError } from '../../../lib/errors.ts';
import { describeOtelConfig, resolveOtelConfig, type OtelExportConfig } from '../../../collector/otel/config.ts';
import { createSpanExporterPipeline } from '../../../collector/otel/exporter.ts';
import type { CallRecord } from '../../../record/record.ts';
import { chainRecords, hopFrontendGateway } from './records.ts';
import { createSinkLogger } from '../../../lib/log.ts';

function enabled(env: Record<string, string>): OtelExportConfig {
  const r = resolveOtelConfig(env);
  if (!r.enabled) throw new Error(`expected enabled, got ${r.reason}`);
  return r.config;
}

function configError(t: Test, env: Record<string, string>, pattern: RegExp): void {
  try {
    resolveOtelConfig(env);
    t.fail(`expected a config error for ${JSON.stringify(env)}`);
  } catch (err) {
    t.ok(isMeshtapError(err, 'COL_ERR_OTEL_CONFIG'), 'COL_ERR_OTEL_CONFIG');
    t.match((err as Error).message, pattern);
  }
}

void t.test('off without an endpoint, or when the SDK is switched off', async (t) => {
  t.same(resolveOtelConfig({}), { enabled: false, reason: 'no_endpoint' });
  t.same(resolveOtelConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }), { enabled: false, reason: 'no_endpoint' });
  t.same(resolveOtelConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_SDK_DISABLED: 'true' }), { enabled: false, reason: 'sdk_disabled' });
  t.same(resolveOtelConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_TRACES_EXPORTER: 'none' }), { enabled: false, reason: 'traces_exporter_none' });
  t.equal(resolveOtelConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_TRACES_EXPORTER: 'otlp' }).enabled, true);
});

void t.test('gRPC is the default; endpoints resolve per protocol', async (t) => {
  const g = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4317/' });
  t.equal(g.protocol, 'grpc');
  t.equal(g.url, 'http://otel-collector:4317');
  t.equal(g.endpointVariable, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  t.equal(g.timeoutMs, 10_000);
  t.equal(g.maxQueueSize, 8192);
  t.equal(g.maxExportBatchSize, 512);
  t.ok(Object.isFrozen(g));

  t.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4317' }).url, 'https://otel-collector:4317', 'bare host: TLS, as the SDK does');
  t.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4317', OTEL_EXPORTER_OTLP_INSECURE: 'true' }).url, 'http://otel-collector:4317');

  const h = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318/base/', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
  t.equal(h.protocol, 'http/protobuf');
  t.equal(h.url, 'http://otel-collector:4318/base/v1/traces', 'generic endpoint: signal path appended');

  const s = enabled({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:1',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/custom',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
  });
  t.equal(s.protocol, 'http/json', 'signal-specific protocol wins');
  t.equal(s.url, 'https://traces.example/custom', 'signal-specific endpoint used as given');
  t.equal(s.endpointVariable, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
});

void t.test('headers, timeouts, batching from the standard variables', async (t) => {
  const c = enabled({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317',
    OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc,x-tenant=one',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=two',
    OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3000',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    OTEL_BSP_MAX_QUEUE_SIZE: '100',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10',
    OTEL_BSP_SCHEDULE_DELAY: '50',
    OTEL_BSP_EXPORT_TIMEOUT: '900',
    MESHTAP_CLUSTER_NAME: 'lab',
  });
  t.same(c.headers, { authorization: 'Bearer abc', 'x-tenant': 'two' });
  t.equal(c.timeoutMs, 3000);
  t.equal(c.compression, 'gzip');
  t.equal(c.maxQueueSize, 100);
  t.equal(c.maxExportBatchSize, 10);
  t.equal(c.scheduledDelayMs, 50);
  t.equal(c.exportTimeoutMs, 900);
  t.equal(c.clusterName, 'lab');
  const d = describeOtelConfig(c);
  t.same(d.headers, { authorization: '(hidden)', 'x-tenant': '(hidden)' });
  t.notMatch(JSON.stringify(d), /abc/);
});

void t.test('bad values name the variable and what is expected', async (t) => {
  configError(t, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' }, /OTEL_EXPORTER_OTLP_PROTOCOL="thrift": expected one of grpc, http\/protobuf, http\/json/);
  configError(t, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:1', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: 'soon' }, /OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="soon": expected milliseconds/);
  configError(t, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:1', OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '20' }, /OTEL_BSP_MAX_EXPORT_BATCH_SIZE=20: expected at most the queue size/);
  configError(t, { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, /OTEL_EXPORTER_OTLP_ENDPOINT="not a url": expected an absolute http\(s\) URL/);
  configError(t, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://c/x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="ftp:\/\/c\/x": expected an http or https URL/);
  configError(t, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://u:secret@c:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' }, /OTEL_EXPORTER_OTLP_COMPRESSION="zstd": expected none or gzip/);
  configError(t, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:1', OTEL_EXPORTER_OTLP_HEADERS: 'novalue' }, /OTEL_EXPORTER_OTLP_HEADERS: expected comma-separated key=value pairs/);
});

void t.test('disabled pipeline: a no-op that says so', async (t) => {
  const p = createSpanExporterPipeline({});
  t.equal(p.enabled, false);
  p.export(hopFrontendGateway.outbound);
  await p.flush();
  t.equal(p.stats().state, 'disabled');
  t.equal(p.stats().disabledReason, 'no_endpoint');
  t.equal(p.stats().accepted, 0);
  await p.shutdown();
});

const ENV = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_BSP_SCHEDULE_DELAY: '10' };

void t.test('records become spans in the exporter; stats count them', async (t) => {
  const memory = new InMemorySpanExporter();
  const p = createSpanExporterPipeline(ENV, { exporter: memory, version: '7.7.7' });
  t.equal(p.enabled, true);
  for (const r of chainRecords()) p.export(r);
  await p.flush();
  const spans = memory.getFinishedSpans();
  t.equal(spans.length, chainRecords().length);
  t.same(
    spans.map((s) => s.attributes['meshtap.call_id']),
    chainRecords().map((r) => r.id),
  );
  t.equal(spans[0].instrumentationScope.version, '7.7.7');
  const st = p.stats();
  t.equal(st.state, 'running');
  t.equal(st.protocol, 'grpc');
  t.equal(st.url, 'http://127.0.0.1:1');
  t.equal(st.accepted, spans.length);
  t.equal(st.exported, spans.length);
  t.equal(st.failed, 0);
  t.equal(st.resources, 3, 'frontend, gateway, payment');
  await p.shutdown();
  t.equal(p.stats().state, 'shut_down');
  p.export(hopFrontendGateway.outbound);
  t.equal(p.stats().dropped.shutdown, 1, 'after shutdown: counted, not thrown');
  await p.shutdown();
});

void t.test('a full queue drops and counts; export never blocks', async (t) => {
  const pending: Array<(r: ExportResult) => void> = [];
  const stuck: SpanExporter = {
    export: (_spans: ReadableSpan[], cb: (r: ExportResult) => void) => {
      pending.push(cb);
    },
    shutdown: async () => {},
  };
  const p = createSpanExporterPipeline({ ...ENV, OTEL_BSP_MAX_QUEUE_SIZE: '4', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4', OTEL_BSP_EXPORT_TIMEOUT: '200' }, { exporter: stuck });
  const records = chainRecords();
  const started = process.hrtime.bigint();
  for (let i = 0; i < 3; i++) for (const r of records) p.export(r);
  const tookMs = Number(process.hrtime.bigint() - started) / 1e6;
  t.ok(tookMs < 1000, `39 exports took ${tookMs.toFixed(1)} ms`);
  // The first 4 went out as a batch that never completes; 4 more fill the queue; the rest drop.
  const st = p.stats();
  t.equal(st.accepted, 8);
  t.equal(st.dropped.queue_full, 3 * records.length - 8);
  t.equal(pending.length, 0, 'the batch is not serialized on the caller\'s stack');
  await new Promise((r) => setImmediate(r));
  t.equal(pending.length, 1, 'one batch in flight');
  pending[0]({ code: ExportResultCode.SUCCESS });
  t.equal(p.stats().exported, 4);
  await p.shutdown();
});

void t.test('failed exports are counted, logged once per outage, never thrown', async (t) => {
  let fail = true;
  const logs: Array<[string, string]> = [];
  const flaky: SpanExporter = {
    export: (_spans: ReadableSpan[], cb: (r: ExportResult) => void) => {
      if (fail) cb({ code: ExportResultCode.FAILED, error: new Error('receiver unavailable') });
      else cb({ code: ExportResultCode.SUCCESS });
    },
    shutdown: async () => {},
  };
  const p = createSpanExporterPipeline(ENV, { exporter: flaky, log: createSinkLogger((level, msg) => logs.push([level, msg])) });
  p.export(hopFrontendGateway.outbound);
  await p.flush();
  p.export(hopFrontendGateway.inbound);
  await p.flush();
  let st = p.stats();
  t.equal(st.failed, 2);
  t.equal(st.failedBatches, 2);
  t.equal(st.exported, 0);
  t.equal(st.lastError, 'receiver unavailable');
  t.same(
    logs.filter(([, m]) => m.startsWith('span export f')),
    [['warn', 'span export failing']],
  );
  fail = false;
  p.export(hopFrontendGateway.outbound);
  await p.flush();
  st = p.stats();
  t.equal(st.exported, 1);
  t.ok(logs.some(([l, m]) => l === 'info' && m === 'span export recovered'));

  const throwing: SpanExporter = {
    export: () => {
      throw new Error('boom');
    },
    shutdown: async () => {},
  };
  const q = createSpanExporterPipeline(ENV, { exporter: throwing });
  q.export(hopFrontendGateway.outbound);
  await q.flush();
  t.equal(q.stats().failed, 1);
  t.equal(q.stats().lastError, 'boom');
  await p.shutdown();
  await q.shutdown();
});

void t.test('a record the mapper cannot handle is dropped and counted', async (t) => {
  const memory = new InMemorySpanExporter();
  const p = createSpanExporterPipeline(ENV, { exporter: memory });
  const broken = { ...hopFrontendGateway.outbound, src: undefined, dst: undefined } as unknown as CallRecord;
  t.doesNotThrow(() => p.export(broken));
  p.export(hopFrontendGateway.outbound);
  await p.flush();
  t.equal(p.stats().dropped.map_error, 1);
  t.match(p.stats().lastError, /^map: /);
  t.equal(memory.getFinishedSpans().length, 1);
  await p.shutdown();
});
