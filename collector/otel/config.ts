/**
 * The OpenTelemetry output's configuration, from the standard OTel SDK environment variables
 * (so a collector deployment reads like any OTel-instrumented service) plus meshtap's cluster
 * name. Signal-specific variables (`*_TRACES_*`) win over generic ones. The output is off when
 * no endpoint is configured (nothing else is read then), or when `OTEL_TRACES_EXPORTER=none` /
 * `OTEL_SDK_DISABLED=true`. Values are checked more strictly than the spec asks: a boolean that
 * is neither `true` nor `false`, or an exporter other than `otlp`/`none`, is refused rather than
 * read as false or ignored with a warning, so a setting is never silently not applied.
 */
import { parseKeyPairsIntoRecord } from '@opentelemetry/core';
import { z } from 'zod';
import { MeshtapError } from '../../lib/errors.ts';
import { COL_ERR_OTEL_CONFIG } from './errors.ts';

export const OTLP_PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
export const OTLP_TRACES_PATH = 'v1/traces';

export const OTEL_DEFAULTS = Object.freeze({
  protocol: 'grpc' as OtlpProtocol,
  /** Per export request, retries included (the exporters' own default). */
  timeoutMs: 10_000,
  compression: 'none' as 'none' | 'gzip',
  /** Spans held while the receiver is slow or away; about 0.4 s at 20 000 records/s. */
  maxQueueSize: 8192,
  /** 512 spans of ~2 KiB stay well under gRPC's 4 MiB default message limit. */
  maxExportBatchSize: 512,
  /** Shorter than the SDK's 5 s: traces should show up in Jaeger while someone is watching. */
  scheduledDelayMs: 1000,
  exportTimeoutMs: 30_000,
  maxResources: 10_000,
});

const ENV = Object.freeze({
  endpoint: 'OTEL_EXPORTER_OTLP_ENDPOINT',
  tracesEndpoint: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  protocol: 'OTEL_EXPORTER_OTLP_PROTOCOL',
  tracesProtocol: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  headers: 'OTEL_EXPORTER_OTLP_HEADERS',
  tracesHeaders: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  timeout: 'OTEL_EXPORTER_OTLP_TIMEOUT',
  tracesTimeout: 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
  compression: 'OTEL_EXPORTER_OTLP_COMPRESSION',
  tracesCompression: 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
  insecure: 'OTEL_EXPORTER_OTLP_INSECURE',
  tracesInsecure: 'OTEL_EXPORTER_OTLP_TRACES_INSECURE',
  maxQueueSize: 'OTEL_BSP_MAX_QUEUE_SIZE',
  maxExportBatchSize: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  scheduledDelayMs: 'OTEL_BSP_SCHEDULE_DELAY',
  exportTimeoutMs: 'OTEL_BSP_EXPORT_TIMEOUT',
  tracesExporter: 'OTEL_TRACES_EXPORTER',
  sdkDisabled: 'OTEL_SDK_DISABLED',
  clusterName: 'MESHTAP_CLUSTER_NAME',
  maxResources: 'MESHTAP_OTEL_MAX_RESOURCES',
});

export const OTEL_ENV_VARS: readonly string[] = Object.freeze(Object.values(ENV));

function integer(min: number, max: number, unit: string) {
  return z.preprocess(
    (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
    z.number({ error: `expected ${unit} ${min}-${max}` }).int().min(min).max(max),
  );
}

const schema = z.object({
  protocol: z.enum(OTLP_PROTOCOLS, { error: `expected one of ${OTLP_PROTOCOLS.join(', ')}` }).default(OTEL_DEFAULTS.protocol),
  timeoutMs: integer(1, 600_000, 'milliseconds').default(OTEL_DEFAULTS.timeoutMs),
  compression: z.enum(['none', 'gzip'], { error: 'expected none or gzip' }).default(OTEL_DEFAULTS.compression),
  maxQueueSize: integer(1, 1_000_000, 'a span count').default(OTEL_DEFAULTS.maxQueueSize),
  maxExportBatchSize: integer(1, 100_000, 'a span count').default(OTEL_DEFAULTS.maxExportBatchSize),
  scheduledDelayMs: integer(1, 600_000, 'milliseconds').default(OTEL_DEFAULTS.scheduledDelayMs),
  exportTimeoutMs: integer(1, 600_000, 'milliseconds').default(OTEL_DEFAULTS.exportTimeoutMs),
  maxResources: integer(1, 1_000_000, 'a count').default(OTEL_DEFAULTS.maxResources),
  clusterName: z.string().min(1).max(253).optional(),
});

export interface OtelExportConfig {
  readonly protocol: OtlpProtocol;
  /**
   * Where spans go: a full URL for the HTTP protocols (`/v1/traces` appended to a generic
   * endpoint, a traces endpoint used as given); for gRPC a `scheme://host:port`, the scheme
   * choosing TLS (`http` plaintext, `https` TLS).
   */
  readonly url: string;
  /** Which variable the endpoint came from, for messages. */
  readonly endpointVariable: string;
  /** Sent with every export (HTTP headers or gRPC metadata). Values may be secrets: never logged. */
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly compression: 'none' | 'gzip';
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMs: number;
  readonly exportTimeoutMs: number;
  readonly maxResources: number;
  readonly clusterName?: string;
}

/** Why the output is off, when it is. */
export type OtelDisabledReason = 'no_endpoint' | 'traces_exporter_none' | 'sdk_disabled';

export type OtelConfigResolution = { readonly enabled: true; readonly config: OtelExportConfig } | { readonly enabled: false; readonly reason: OtelDisabledReason };

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** The first set variable of the pair, and its name. */
function pick(env: Env, specific: string, generic: string): { value: string; name: string } | undefined {
  const s = read(env, specific);
  if (s !== undefined) return { value: s, name: specific };
  const g = read(env, generic);
  return g !== undefined ? { value: g, name: generic } : undefined;
}

function fail(message: string): never {
  throw new MeshtapError(COL_ERR_OTEL_CONFIG, message);
}

function hideCredentials(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//(credentials)@');
}

function httpUrl(raw: string, name: string, appendPath: boolean): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    fail(`${name}=${JSON.stringify(hideCredentials(raw))}: expected an absolute http(s) URL like http://otel-collector:4318`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(`${name}=${JSON.stringify(hideCredentials(raw))}: expected an http or https URL`);
  if (appendPath) u.pathname = u.pathname.replace(/\/+$/, '') + '/' + OTLP_TRACES_PATH;
  return u.toString();
}

/**
 * A gRPC endpoint without a scheme: `host:port` (a DNS name, an IPv4 or a bracketed IPv6
 * address), the port required; a path after it is dropped, as from a URL.
 */
const BARE_HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):\d{1,5}(\/\S*)?$/;

function grpcUrl(raw: string, name: string, insecure: boolean): string {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  if (!hasScheme && !BARE_HOST_PORT.test(raw)) {
    fail(`${name}=${JSON.stringify(hideCredentials(raw))}: expected an http(s) URL like http://otel-collector:4317, or host:port`);
  }
  const withScheme = hasScheme ? raw : `${insecure ? 'http' : 'https'}://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    fail(`${name}=${JSON.stringify(hideCredentials(raw))}: expected host:port or an http(s) URL like http://otel-collector:4317`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(`${name}=${JSON.stringify(hideCredentials(raw))}: expected an http or https URL`);
  if (u.hostname === '') fail(`${name}=${JSON.stringify(hideCredentials(raw))}: expected a host`);
  // gRPC addresses a host and port; a path would be ignored by the exporter anyway.
  return `${u.protocol}//${u.host}`;
}

function parseHeaders(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [ENV.headers, ENV.tracesHeaders]) {
    const raw = read(env, name);
    if (raw === undefined) continue;
    let parsed: Record<string, string>;
    try {
      parsed = parseKeyPairsIntoRecord(raw);
    } catch {
      fail(`${name}: expected comma-separated key=value pairs (values URL-encoded)`);
    }
    if (Object.keys(parsed).length === 0) fail(`${name}: expected comma-separated key=value pairs (values URL-encoded)`);
    for (const [k, v] of Object.entries(parsed)) out[k.trim().toLowerCase()] = v.trim();
  }
  return out;
}

/**
 * A boolean variable: `true` or `false` in any case, the spec's only spellings. The spec reads
 * any other value as false (with a warning); here it is refused, so `yes` or `1` does not
 * silently mean false.
 */
function readBoolean(env: Env, name: string): boolean | undefined {
  const v = read(env, name);
  if (v === undefined) return undefined;
  const lower = v.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  fail(`${name}=${JSON.stringify(v)}: expected true or false (any case)`);
}

/** The trace exporters the collector has: OTLP, or none. */
export const TRACES_EXPORTERS = ['otlp', 'none'] as const;

/**
 * `OTEL_TRACES_EXPORTER`: a comma-separated list in the spec, of which the collector has `otlp`
 * (its default) and `none`. Another exporter (`zipkin`, `console`…) is refused rather than
 * ignored: spans would go over OTLP, or nowhere, while the user expects them elsewhere.
 */
function readTracesExporter(env: Env): (typeof TRACES_EXPORTERS)[number] | undefined {
  const raw = read(env, ENV.tracesExporter);
  if (raw === undefined) return undefined;
  const names = [...new Set(raw.split(',').map((s) => s.trim().toLowerCase()))];
  if (names.length === 1 && (TRACES_EXPORTERS as readonly string[]).includes(names[0])) return names[0] as (typeof TRACES_EXPORTERS)[number];
  fail(`${ENV.tracesExporter}=${JSON.stringify(raw)}: expected otlp or none (the collector exports spans over OTLP only)`);
}

/**
 * Environment → the output's config, frozen, or why it is off. Empty (or blank) variables count
 * as unset; without an endpoint the output is off and no other variable is read (nothing would
 * use it). Throws `MeshtapError(COL_ERR_OTEL_CONFIG)` naming the bad variable, its value and
 * what was expected (header values are never echoed).
 */
export function resolveOtelConfig(env: Env): OtelConfigResolution {
  const endpoint = pick(env, ENV.tracesEndpoint, ENV.endpoint);
  if (endpoint === undefined) return Object.freeze({ enabled: false, reason: 'no_endpoint' });
  if (readBoolean(env, ENV.sdkDisabled) === true) return Object.freeze({ enabled: false, reason: 'sdk_disabled' });
  if (readTracesExporter(env) === 'none') return Object.freeze({ enabled: false, reason: 'traces_exporter_none' });

  const input: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  const take = (key: string, ...names: string[]): void => {
    for (const name of names) {
      const v = read(env, name);
      if (v === undefined) continue;
      input[key] = v;
      source[key] = name;
      return;
    }
  };
  take('protocol', ENV.tracesProtocol, ENV.protocol);
  take('timeoutMs', ENV.tracesTimeout, ENV.timeout);
  take('compression', ENV.tracesCompression, ENV.compression);
  take('maxQueueSize', ENV.maxQueueSize);
  take('maxExportBatchSize', ENV.maxExportBatchSize);
  take('scheduledDelayMs', ENV.scheduledDelayMs);
  take('exportTimeoutMs', ENV.exportTimeoutMs);
  take('maxResources', ENV.maxResources);
  take('clusterName', ENV.clusterName);
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    fail(
      parsed.error.issues
        .map((issue) => {
          const key = String(issue.path[0]);
          return `${source[key] ?? key}=${JSON.stringify(input[key])}: ${issue.message}`;
        })
        .join('; '),
    );
  }
  const o = parsed.data;
  if (o.maxExportBatchSize > o.maxQueueSize) {
    fail(`${ENV.maxExportBatchSize}=${o.maxExportBatchSize}: expected at most the queue size (${o.maxQueueSize})`);
  }
  const insecure = (readBoolean(env, ENV.tracesInsecure) ?? readBoolean(env, ENV.insecure)) === true;
  const url =
    o.protocol === 'grpc'
      ? grpcUrl(endpoint.value, endpoint.name, insecure)
      : httpUrl(endpoint.value, endpoint.name, endpoint.name === ENV.endpoint);
  const config: OtelExportConfig = {
    protocol: o.protocol,
    url,
    endpointVariable: endpoint.name,
    headers: Object.freeze(parseHeaders(env)),
    timeoutMs: o.timeoutMs,
    compression: o.compression,
    maxQueueSize: o.maxQueueSize,
    maxExportBatchSize: o.maxExportBatchSize,
    scheduledDelayMs: o.scheduledDelayMs,
    exportTimeoutMs: o.exportTimeoutMs,
    maxResources: o.maxResources,
    ...(o.clusterName !== undefined ? { clusterName: o.clusterName } : {}),
  };
  return Object.freeze({ enabled: true, config: Object.freeze(config) });
}

/** The config for a startup log line: header values and URL credentials hidden. */
export function describeOtelConfig(config: OtelExportConfig): Record<string, unknown> {
  return {
    ...config,
    url: hideCredentials(config.url),
    headers: Object.fromEntries(Object.keys(config.headers).map((k) => [k, '(hidden)'])),
  };
}
