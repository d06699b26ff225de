/**
 * The OpenTelemetry output's IO shell: records in, OTLP out. Spans are hand-built by the mapper
 * and handed to the SDK's `BatchSpanProcessor`, which owns queueing and batching; the OTLP
 * exporter packages own serialization, transport and retries. This file only wires them,
 * counts outcomes, and makes sure a call path feeding records can never be slowed or broken
 * by the output.
 */
import { createNoopMeter, type Attributes, type Counter, type Meter, type MeterProvider } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { Metadata } from '@grpc/grpc-js';
import pkg from '../../package.json' with { type: 'json' };
import type { CallRecord } from '../../record/record.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { describeOtelConfig, resolveOtelConfig, type OtelDisabledReason, type OtelExportConfig, type OtlpProtocol } from './config.ts';
import { createSpanMapper, type SpanMapper } from './span-mapper.ts';

export interface SpanExporterPipelineDeps {
  /** Instrumentation scope version; the package version by default. */
  readonly version?: string;
  readonly log?: Logger;
  /** Replaces the OTLP exporter the config would build (tests, other sinks). */
  readonly exporter?: SpanExporter;
}

/** Why a record did not become an exported span. */
export interface SpanDropCounts {
  /** The batch processor's queue was full (the receiver is slow or away). */
  queue_full: number;
  /** The mapper could not turn the record into a span. */
  map_error: number;
  /** The record arrived after shutdown began. */
  shutdown: number;
}

export interface SpanExportStats {
  readonly state: 'disabled' | 'running' | 'shut_down';
  readonly disabledReason?: OtelDisabledReason;
  readonly protocol?: OtlpProtocol;
  readonly url?: string;
  /** Spans handed to the batch processor. */
  readonly accepted: number;
  /** Spans the receiver acknowledged. */
  readonly exported: number;
  /** Spans in batches that failed after the exporter's retries (or timed out). */
  readonly failed: number;
  readonly batches: number;
  readonly failedBatches: number;
  readonly dropped: Readonly<SpanDropCounts>;
  /** Resource objects cached by the mapper. */
  readonly resources: number;
  readonly lastError?: string;
}

export interface SpanExporterPipeline {
  readonly enabled: boolean;
  /** Never throws, never waits: the record is mapped and queued, or counted as dropped. */
  export(record: CallRecord): void;
  /** Exports what is queued now; resolves even when the export fails (see `stats()`). */
  flush(): Promise<void>;
  stats(): SpanExportStats;
  /** Flushes, then closes the exporter. Idempotent; never rejects. */
  shutdown(): Promise<void>;
}

/** The batch processor reports queue-full drops on this counter with `error.type=queue_full`. */
const PROCESSED_SPANS_METRIC = 'otel.sdk.processor.span.processed';

/**
 * A meter provider that is a no-op except for the processor's processed-spans counter, which
 * it turns into a drop count. The processor keeps its drop count private and exposes it only
 * through this (experimental) self-observability hook.
 */
function dropCountingMeterProvider(onQueueFull: (count: number) => void): MeterProvider {
  const noop = createNoopMeter();
  const meter = Object.create(noop) as Meter;
  meter.createCounter = <A extends Attributes = Attributes>(name: string, options?: Parameters<Meter['createCounter']>[1]): Counter<A> => {
    if (name !== PROCESSED_SPANS_METRIC) return noop.createCounter<A>(name, options);
    return {
      add(value: number, attributes?: A) {
        if (attributes?.['error.type'] === 'queue_full') onQueueFull(value);
      },
    };
  };
  return { getMeter: () => meter };
}

function buildOtlpExporter(config: OtelExportConfig): SpanExporter {
  const compression = config.compression as NonNullable<ConstructorParameters<typeof GrpcTraceExporter>[0]>['compression'];
  if (config.protocol === 'grpc') {
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(config.headers)) metadata.set(k, v);
    return new GrpcTraceExporter({ url: config.url, metadata, timeoutMillis: config.timeoutMs, compression });
  }
  const options = { url: config.url, headers: { ...config.headers }, timeoutMillis: config.timeoutMs, compression };
  return config.protocol === 'http/json' ? new HttpJsonTraceExporter(options) : new ProtoTraceExporter(options);
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function disabledPipeline(reason: OtelDisabledReason): SpanExporterPipeline {
  const dropped = Object.freeze({ queue_full: 0, map_error: 0, shutdown: 0 });
  const stats: SpanExportStats = Object.freeze({
    state: 'disabled',
    disabledReason: reason,
    accepted: 0,
    exported: 0,
    failed: 0,
    batches: 0,
    failedBatches: 0,
    dropped,
    resources: 0,
  });
  return {
    enabled: false,
    export: () => {},
    flush: async () => {},
    stats: () => stats,
    shutdown: async () => {},
  };
}

/**
 * Environment → the span output. Off (a no-op whose stats say `disabled`) when no OTLP endpoint
 * is configured. Throws `MeshtapError(COL_ERR_OTEL_CONFIG)` for a bad variable, at startup.
 */
export function createSpanExporterPipeline(env: Readonly<Record<string, string | undefined>>, deps: SpanExporterPipelineDeps = {}): SpanExporterPipeline {
  const resolved = resolveOtelConfig(env);
  if (!resolved.enabled) return disabledPipeline(resolved.reason);
  const config = resolved.config;
  const log = deps.log ?? silentLogger;

  const publicUrl = describeOtelConfig(config).url as string;
  const counters = { accepted: 0, exported: 0, failed: 0, batches: 0, failedBatches: 0 };
  const dropped: SpanDropCounts = { queue_full: 0, map_error: 0, shutdown: 0 };
  let lastError: string | undefined;
  let failing = false;
  let state: 'running' | 'shut_down' = 'running';

  const onResult = (count: number, result: ExportResult): void => {
    counters.batches++;
    if (result.code === ExportResultCode.SUCCESS) {
      counters.exported += count;
      if (failing) {
        failing = false;
        log.info({ url: publicUrl }, 'span export recovered');
      }
      return;
    }
    counters.failedBatches++;
    counters.failed += count;
    lastError = describe(result.error ?? 'export failed');
    // One line per outage, not one per batch.
    if (!failing) {
      failing = true;
      log.warn({ url: publicUrl, error: lastError }, 'span export failing');
    }
  };

  const inner = deps.exporter ?? buildOtlpExporter(config);
  const counting: SpanExporter = {
    export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
      let done = false;
      const finish = (result: ExportResult): void => {
        if (done) return;
        done = true;
        onResult(spans.length, result);
        resultCallback(result);
      };
      // The processor starts a full batch from inside `export(record)`; serializing it there
      // would bill the caller for the whole batch. Defer it to its own turn of the event loop.
      setImmediate(() => {
        try {
          inner.export(spans, finish);
        } catch (err) {
          finish({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
        }
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };

  const processor = new BatchSpanProcessor({
    exporter: counting,
    maxQueueSize: config.maxQueueSize,
    maxExportBatchSize: config.maxExportBatchSize,
    scheduledDelayMillis: config.scheduledDelayMs,
    exportTimeoutMillis: config.exportTimeoutMs,
    selfObsMeterProvider: dropCountingMeterProvider((n) => {
      dropped.queue_full += n;
    }),
  });
  const mapper: SpanMapper = createSpanMapper({
    version: deps.version ?? pkg.version,
    maxResources: config.maxResources,
    ...(config.clusterName !== undefined ? { clusterName: config.clusterName } : {}),
  });
  log.info(describeOtelConfig(config), 'span export enabled');

  let shuttingDown: Promise<void> | undefined;
  return {
    enabled: true,
    export(record: CallRecord): void {
      if (state !== 'running') {
        dropped.shutdown++;
        return;
      }
      let span: ReadableSpan;
      try {
        span = mapper.toSpan(record);
      } catch (err) {
        dropped.map_error++;
        lastError = `map: ${describe(err)}`;
        return;
      }
      try {
        const queueFullBefore = dropped.queue_full;
        processor.onEnd(span);
        if (dropped.queue_full === queueFullBefore) counters.accepted++;
      } catch (err) {
        dropped.map_error++;
        lastError = describe(err);
      }
    },
    async flush(): Promise<void> {
      try {
        await processor.forceFlush();
      } catch (err) {
        lastError = describe(err);
      }
    },
    stats(): SpanExportStats {
      return {
        state,
        protocol: config.protocol,
        url: publicUrl,
        accepted: counters.accepted,
        exported: counters.exported,
        failed: counters.failed,
        batches: counters.batches,
        failedBatches: counters.failedBatches,
        dropped: { ...dropped },
        resources: mapper.resourceCount(),
        ...(lastError !== undefined ? { lastError } : {}),
      };
    },
    shutdown(): Promise<void> {
      state = 'shut_down';
      shuttingDown ??= processor.shutdown().catch((err: unknown) => {
        lastError = describe(err);
      });
      return shuttingDown;
    },
  };
}
