/**
 * The collector's environment as a whole: misspelt variables of its families are warned about
 * (and nothing legitimate is), bad values of the exports' variables are usage errors (exit 2)
 * like its own, and a blank variable is unset wherever it is read.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { run } from '../../collector/cli.ts';
import { COLLECTOR_ENV_VARS, OTHER_COMMANDS_ENV_VARS, collectorVariableWarnings, resolveCollectorConfig } from '../../collector/config.ts';
import { collectorEnv } from '../../lab/host-helpers.ts';
import { waitFor } from './helpers.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repo, 'bin/meshtap.ts');
const usage = (message: string | RegExp) => ({ code: 'CLI_ERR_USAGE', message });

void t.test('misspelt variables of the collector families are warned about, with the likely one', async (t) => {
  t.same(collectorVariableWarnings({ MESHTAP_LOKI_ULR: 'http://loki:3100', MESHTAP_COLLECTOR_RETENTION_HOUR: '1' }), [
    'unknown variable MESHTAP_COLLECTOR_RETENTION_HOUR is ignored (did you mean MESHTAP_COLLECTOR_RETENTION_HOURS?)',
    'unknown variable MESHTAP_LOKI_ULR is ignored (did you mean MESHTAP_LOKI_URL?)',
  ]);
  t.same(collectorVariableWarnings({ MESHTAP_OTEL_MAX_RESOURCE: '5', MESHTAP_CLUSTER_NAMES: 'x' }), [
    'unknown variable MESHTAP_CLUSTER_NAMES is ignored (did you mean MESHTAP_CLUSTER_NAME?)',
    'unknown variable MESHTAP_OTEL_MAX_RESOURCE is ignored (did you mean MESHTAP_OTEL_MAX_RESOURCES?)',
  ]);
  t.same(collectorVariableWarnings({ MESHTAP_COLLECTOR_FROBNICATE: 'on' }), ['unknown variable MESHTAP_COLLECTOR_FROBNICATE is ignored'], 'no hint when nothing is close');
  t.same(collectorVariableWarnings({ MESHTAP_LOKI_TENNANT: '' }), ['unknown variable MESHTAP_LOKI_TENNANT is ignored (did you mean MESHTAP_LOKI_TENANT?)'], 'set, even empty');
});

void t.test('nothing legitimate is warned about: its own, other commands\', OTEL_* and other MESHTAP_* variables', async (t) => {
  const env = Object.fromEntries(COLLECTOR_ENV_VARS.map((name) => [name, 'x']));
  t.ok(COLLECTOR_ENV_VARS.includes('MESHTAP_COLLECTOR_GROUP_COMMIT_MS') && COLLECTOR_ENV_VARS.includes('MESHTAP_LOKI_URL'));
  t.ok(COLLECTOR_ENV_VARS.includes('MESHTAP_CLUSTER_NAME') && COLLECTOR_ENV_VARS.includes('MESHTAP_OTEL_MAX_RESOURCES'));
  t.same(collectorVariableWarnings(env), [], 'every variable the collector reads');
  t.same(collectorVariableWarnings(Object.fromEntries(OTHER_COMMANDS_ENV_VARS.map((name) => [name, 'x']))), [], 'tap, sidecar and controller variables');
  t.same(collectorVariableWarnings({ OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_ENDPIONT: 'x', MESHTAP_LOG_LEVEL: 'debug', MESHTAP_LAB_DIR: '/x', KUBECONFIG: '/k' }), [], 'outside the families');

  // Every name of the families anywhere in the sources or the manifests is read by someone:
  // the collector's config (which defines the lists) aside, none may be warned about.
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.') || entry.name === 'test' || entry.name === 'dist') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|ya?ml)$/.test(entry.name) && relative(repo, path) !== join('collector', 'config.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/MESHTAP_(?:COLLECTOR|LOKI|OTEL|CLUSTER)_[A-Z0-9_]*[A-Z0-9]/g)) names.add(m[0]);
      }
    }
  };
  walk(repo);
  t.ok(names.has('MESHTAP_COLLECTOR_URL') && names.has('MESHTAP_LOKI_URL'), 'the scan finds names');
  t.same(collectorVariableWarnings(Object.fromEntries([...names].map((name) => [name, 'x']))), [], [...names].join(' '));

  // The lab hands the collector its user's OTEL_* and MESHTAP_LOKI_* variables.
  const lab = collectorEnv({ ...env, OTEL_SERVICE_NAME: 'x', MESHTAP_COLLECTOR_URL: 'http://127.0.0.1:8080', HOME: '/h' });
  t.same(collectorVariableWarnings(lab), []);
});

void t.test('the warnings go to the collector\'s log as warnings, and it starts all the same', async (t) => {
  const out: string[] = [];
  const io = {
    stdin: process.stdin,
    stdout: { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream,
    stderr: { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream,
    env: { MESHTAP_LOKI_ULR: 'http://loki:3100', MESHTAP_COLLECTOR_RETENTION_HOUR: '1' },
  };
  const exit = run(['--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--auth', 'none'], io);
  await waitFor('listening', () => out.some((l) => l.includes('collector listening')));
  process.emit('SIGTERM', 'SIGTERM');
  t.equal(await exit, 0);
  const warnings = out.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.msg.startsWith('unknown variable'));
  t.same(
    warnings.map((l) => [l.level, l.msg]),
    [
      ['warn', 'unknown variable MESHTAP_COLLECTOR_RETENTION_HOUR is ignored (did you mean MESHTAP_COLLECTOR_RETENTION_HOURS?)'],
      ['warn', 'unknown variable MESHTAP_LOKI_ULR is ignored (did you mean MESHTAP_LOKI_URL?)'],
    ],
  );
});

void t.test('bad values of the exports\' variables are usage errors with their message, like the collector\'s own', async (t) => {
  const config = (env: NodeJS.ProcessEnv) => resolveCollectorConfig({}, env);
  const loki = { MESHTAP_LOKI_URL: 'http://loki:3100' };
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4317' };
  t.throws(() => config({ ...loki, MESHTAP_LOKI_ENCODING: 'xml' }), usage('MESHTAP_LOKI_ENCODING="xml": expected one of protobuf, json'));
  t.throws(() => config({ MESHTAP_LOKI_URL: 'loki' }), usage(/^MESHTAP_LOKI_URL="loki": expected an absolute http\(s\) URL/));
  t.throws(() => config({ ...otel, OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' }), usage('OTEL_EXPORTER_OTLP_PROTOCOL="thrift": expected one of grpc, http/protobuf, http/json'));
  t.throws(() => config({ ...otel, OTEL_TRACES_EXPORTER: 'zipkin' }), usage(/^OTEL_TRACES_EXPORTER="zipkin": expected otlp or none/));
  t.throws(() => config({ OTEL_EXPORTER_OTLP_ENDPOINT: 'notaurl' }), usage(/^OTEL_EXPORTER_OTLP_ENDPOINT="notaurl": expected an http\(s\) URL/));
  t.throws(() => config({ ...otel, OTEL_EXPORTER_OTLP_INSECURE: 'yes' }), usage('OTEL_EXPORTER_OTLP_INSECURE="yes": expected true or false (any case)'));
  t.throws(() => config({ ...loki, MESHTAP_LOKI_BEARER_TOKEN: 'my secret' }), usage(/^MESHTAP_LOKI_BEARER_TOKEN=\(hidden\): /), 'secrets stay hidden');
  t.match(config({ ...loki, ...otel, MESHTAP_LOKI_ENCODING: 'json', OTEL_EXPORTER_OTLP_INSECURE: 'TRUE' }), { store: 'sqlite' }, 'good values pass');
  t.match(config({ MESHTAP_LOKI_ENCODING: 'xml', OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' }), { store: 'sqlite' }, 'outputs that are off read nothing');

  for (const env of [
    { ...otel, OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' },
    { ...loki, MESHTAP_LOKI_ENCODING: 'xml' },
  ]) {
    const child = spawn(process.execPath, [bin, 'collector', '--auth', 'none', '--host', '127.0.0.1', '--grpc-port', '0', '--http-port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    t.equal(code, 2, `${JSON.stringify(env)}: exit 2`);
    t.match(err, /^meshtap collector: CLI_ERR_USAGE: (OTEL_EXPORTER_OTLP_PROTOCOL="thrift"|MESHTAP_LOKI_ENCODING="xml"): expected one of /);
    t.notMatch(err, /failed to start/);
  }
});

void t.test('a blank variable is unset wherever the collector reads one; values are trimmed', async (t) => {
  const blanks = Object.fromEntries(COLLECTOR_ENV_VARS.map((name) => [name, ' \t ']));
  const defaults = resolveCollectorConfig({}, {});
  t.same(resolveCollectorConfig({}, blanks), defaults, 'every variable blank: the defaults');
  t.equal(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_GROUP_COMMIT_MS: '  ' }).groupCommitMs, 20);
  t.equal(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_EXPORT_HOLD_MS: ' ' }).exportHoldMs, 2000);
  t.equal(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_GROUP_COMMIT_MS: ' 5 ' }).groupCommitMs, 5);
  t.equal(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_STORE: ' memory ' }).store, 'memory');
  t.throws(() => resolveCollectorConfig({}, { MESHTAP_COLLECTOR_GROUP_COMMIT_MS: ' 5 ms' }), usage('MESHTAP_COLLECTOR_GROUP_COMMIT_MS must be a number of milliseconds from 0 to 1000, got "5 ms"'));
});
