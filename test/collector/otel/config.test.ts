/**
 * The OpenTelemetry output's variables at their edges: booleans as the spec spells them (and
 * nothing else), the exporters the collector has, endpoints that are URLs (or gRPC host:port).
 */
import t, { type Test } from 'tap';
import { isMeshtapError } from '../../../lib/errors.ts';
import { resolveOtelConfig, type OtelExportConfig } from '../../../collector/otel/config.ts';

const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'otel:4317' };

function enabled(env: Record<string, string>): OtelExportConfig {
  const r = resolveOtelConfig(env);
  if (!r.enabled) throw new Error(`expected enabled, got ${r.reason}`);
  return r.config;
}

function refused(t: Test, env: Record<string, string>, message: string | RegExp): void {
  try {
    resolveOtelConfig(env);
    t.fail(`expected a config error for ${JSON.stringify(env)}`);
  } catch (err) {
    t.ok(isMeshtapError(err, 'COL_ERR_OTEL_CONFIG'), JSON.stringify(env));
    t.match((err as Error).message, message);
  }
}

void t.test('booleans: true or false in any case; anything else is refused, never read as false', async (t) => {
  for (const yes of ['true', 'TRUE', 'True', ' true ']) t.equal(enabled({ ...endpoint, OTEL_EXPORTER_OTLP_INSECURE: yes }).url, 'http://otel:4317', yes);
  for (const no of ['false', 'FALSE', '', '  ']) t.equal(enabled({ ...endpoint, OTEL_EXPORTER_OTLP_INSECURE: no }).url, 'https://otel:4317', JSON.stringify(no));
  for (const bad of ['yes', '1', 'on', 'tru']) {
    refused(t, { ...endpoint, OTEL_EXPORTER_OTLP_INSECURE: bad }, `OTEL_EXPORTER_OTLP_INSECURE="${bad}": expected true or false (any case)`);
  }
  refused(t, { ...endpoint, OTEL_EXPORTER_OTLP_TRACES_INSECURE: 'yes' }, /^OTEL_EXPORTER_OTLP_TRACES_INSECURE="yes"/);
  t.equal(enabled({ ...endpoint, OTEL_EXPORTER_OTLP_TRACES_INSECURE: 'false', OTEL_EXPORTER_OTLP_INSECURE: 'true' }).url, 'https://otel:4317', 'the traces variable wins');

  t.same(resolveOtelConfig({ ...endpoint, OTEL_SDK_DISABLED: 'TRUE' }), { enabled: false, reason: 'sdk_disabled' });
  t.equal(resolveOtelConfig({ ...endpoint, OTEL_SDK_DISABLED: 'false' }).enabled, true);
  refused(t, { ...endpoint, OTEL_SDK_DISABLED: 'yes' }, 'OTEL_SDK_DISABLED="yes": expected true or false (any case)');
});

void t.test('OTEL_TRACES_EXPORTER: otlp or none, nothing the collector does not have', async (t) => {
  for (const otlp of ['otlp', 'OTLP', 'otlp,otlp', ' otlp ']) t.equal(resolveOtelConfig({ ...endpoint, OTEL_TRACES_EXPORTER: otlp }).enabled, true, otlp);
  t.same(resolveOtelConfig({ ...endpoint, OTEL_TRACES_EXPORTER: 'None' }), { enabled: false, reason: 'traces_exporter_none' });
  for (const bad of ['zipkin', 'console', 'jaeger', 'otlp,console', 'none,otlp', ',']) {
    refused(t, { ...endpoint, OTEL_TRACES_EXPORTER: bad }, `OTEL_TRACES_EXPORTER=${JSON.stringify(bad)}: expected otlp or none (the collector exports spans over OTLP only)`);
  }
});

void t.test('endpoints: an http(s) URL, or for gRPC a bare host:port with its port', async (t) => {
  t.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel:4317' }).url, 'https://otel:4317');
  t.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: '10.0.0.7:4317/' }).url, 'https://10.0.0.7:4317');
  t.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: '[::1]:4317' }).url, 'https://[::1]:4317');
  t.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel:4317/ignored' }).url, 'https://otel:4317', 'a path is dropped, as from a URL');
  t.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel' }).url, 'http://otel', 'a URL may leave its port out');
  for (const bad of ['notaurl', 'otel:', 'otel:port', 'otel 4317', '/v1/traces', 'otel:4317 /x']) {
    refused(t, { OTEL_EXPORTER_OTLP_ENDPOINT: bad }, `OTEL_EXPORTER_OTLP_ENDPOINT=${JSON.stringify(bad)}: expected an http(s) URL like http://otel-collector:4317, or host:port`);
  }
  refused(t, { OTEL_EXPORTER_OTLP_ENDPOINT: 'otel:99999' }, /^OTEL_EXPORTER_OTLP_ENDPOINT="otel:99999": expected host:port or an http\(s\) URL/);
  refused(t, { OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://otel:4317' }, /expected an http or https URL/);
  refused(t, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'notaurl', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="notaurl": expected an absolute http\(s\) URL/);
  refused(t, { OTEL_EXPORTER_OTLP_ENDPOINT: 'otel:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, /expected an http or https URL/);
});

void t.test('without an endpoint the output is off and nothing else is read', async (t) => {
  t.same(resolveOtelConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift', OTEL_TRACES_EXPORTER: 'zipkin', OTEL_SDK_DISABLED: 'yes', OTEL_EXPORTER_OTLP_INSECURE: 'yes' }), {
    enabled: false,
    reason: 'no_endpoint',
  });
});
