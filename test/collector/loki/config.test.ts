import t from 'tap';
import { isMeshtapError } from '../../../lib/errors.ts';
import { describeLokiConfig, LOKI_DEFAULTS, resolveLokiConfig } from '../../../collector/loki/config.ts';
import { COL_ERR_CONFIG } from '../../../collector/errors.ts';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

void t.test('off without a URL', async (t) => {
  t.equal(resolveLokiConfig({}), undefined);
  t.equal(resolveLokiConfig({ MESHTAP_LOKI_URL: '  ', MESHTAP_LOKI_TENANT: 'a' }), undefined);
});

void t.test('defaults and push path', async (t) => {
  const c = resolveLokiConfig({ MESHTAP_LOKI_URL: 'http://loki:3100' })!;
  t.equal(c.pushUrl, 'http://loki:3100/loki/api/v1/push');
  t.equal(c.encoding, 'protobuf');
  t.equal(c.clusterName, 'meshtap');
  t.equal(c.batchBytes, 1024 * 1024);
  t.equal(c.batchWaitMs, 1000);
  t.equal(c.maxQueueBytes, 32 * 1024 * 1024);
  t.equal(c.maxLineBytes, 256_000);
  t.equal(c.tenant, undefined);
  t.equal(c.basicAuth, undefined);
  t.same({ ...c, pushUrl: undefined }, { ...LOKI_DEFAULTS, pushUrl: undefined, basicAuth: undefined });
  t.ok(Object.isFrozen(c));
});

void t.test('the push path is appended once, prefixes kept', async (t) => {
  const url = (u: string) => resolveLokiConfig({ MESHTAP_LOKI_URL: u })!.pushUrl;
  t.equal(url('http://loki:3100/'), 'http://loki:3100/loki/api/v1/push');
  t.equal(url('http://loki:3100/loki/api/v1/push'), 'http://loki:3100/loki/api/v1/push');
  t.equal(url('https://gw.example/tenant-a/'), 'https://gw.example/tenant-a/loki/api/v1/push');
  t.equal(url('https://gw.example/x/loki/api/v1/push/'), 'https://gw.example/x/loki/api/v1/push');
});

void t.test('environment values parsed; code options win', async (t) => {
  const c = resolveLokiConfig(
    {
      MESHTAP_LOKI_URL: 'http://loki:3100',
      MESHTAP_LOKI_TENANT: 'team-a',
      MESHTAP_LOKI_ENCODING: 'json',
      MESHTAP_LOKI_BATCH_BYTES: '512KiB',
      MESHTAP_LOKI_BATCH_WAIT_MS: '250',
      MESHTAP_LOKI_MAX_QUEUE_BYTES: '8MiB',
      MESHTAP_CLUSTER_NAME: 'prod-eu',
      MESHTAP_LOKI_BEARER_TOKEN: 'tok.en-1',
    },
    { batchWaitMs: 50 },
  )!;
  t.equal(c.tenant, 'team-a');
  t.equal(c.encoding, 'json');
  t.equal(c.batchBytes, 512 * 1024);
  t.equal(c.batchWaitMs, 50);
  t.equal(c.maxQueueBytes, 8 * 1024 * 1024);
  t.equal(c.clusterName, 'prod-eu');
  t.equal(c.bearerToken, 'tok.en-1');
  t.same(describeLokiConfig(c).bearerToken, '(hidden)');
});

void t.test('credentials in the URL become basic auth', async (t) => {
  const c = resolveLokiConfig({ MESHTAP_LOKI_URL: 'http://user%40x:p%3Ass@loki:3100' })!;
  t.equal(c.pushUrl, 'http://loki:3100/loki/api/v1/push');
  t.same(c.basicAuth, { username: 'user@x', password: 'p:ss' });
  t.notMatch(JSON.stringify(describeLokiConfig(c)), 'p:ss');
});

void t.test('bad values name the variable, the value and what is expected', async (t) => {
  const bad = (env: Record<string, string>) => errorOf(() => resolveLokiConfig({ MESHTAP_LOKI_URL: 'http://loki:3100', ...env }));

  let e = errorOf(() => resolveLokiConfig({ MESHTAP_LOKI_URL: 'loki:3100 oops' }));
  t.ok(isMeshtapError(e, COL_ERR_CONFIG));
  t.match(e.message, /MESHTAP_LOKI_URL="loki:3100 oops": expected/);

  e = errorOf(() => resolveLokiConfig({ MESHTAP_LOKI_URL: 'ftp://loki' }));
  t.match(e.message, /MESHTAP_LOKI_URL=.*http or https/);

  t.match(bad({ MESHTAP_LOKI_ENCODING: 'xml' }).message, /MESHTAP_LOKI_ENCODING="xml": expected one of protobuf, json/);
  t.match(bad({ MESHTAP_LOKI_BATCH_BYTES: 'lots' }).message, /MESHTAP_LOKI_BATCH_BYTES="lots": expected a size/);
  t.match(bad({ MESHTAP_LOKI_TENANT: 'a b' }).message, /MESHTAP_LOKI_TENANT="a b"/);
  t.match(bad({ MESHTAP_CLUSTER_NAME: 'prod eu' }).message, /MESHTAP_CLUSTER_NAME="prod eu"/);
  t.match(bad({ MESHTAP_LOKI_USERNAME: 'u' }).message, /MESHTAP_LOKI_PASSWORD: expected username and password together/);
  t.match(bad({ MESHTAP_LOKI_MAX_QUEUE_BYTES: '2KiB', MESHTAP_LOKI_BATCH_BYTES: '4KiB' }).message, /MESHTAP_LOKI_MAX_QUEUE_BYTES="2KiB": expected at least/);

  e = bad({ MESHTAP_LOKI_USERNAME: 'u', MESHTAP_LOKI_PASSWORD: 'secret-pw', MESHTAP_LOKI_BEARER_TOKEN: 'secret-token' });
  t.match(e.message, /either basic auth or a bearer token/);
  t.notMatch(e.message, /secret-/);

  e = errorOf(() => resolveLokiConfig({ MESHTAP_LOKI_URL: 'http://loki:3100' }, { encoding: 'yaml' }));
  t.match(e.message, /option encoding="yaml"/);
});
