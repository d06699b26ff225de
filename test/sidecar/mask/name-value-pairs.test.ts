/**
 * A secret's name and its value as two members of one JSON object (a Kubernetes env entry, a
 * HAR header, a cloud tag, a parameter store entry): the value is masked when the name names a
 * secret, wherever the object sits and in whichever order its members come.
 */
import t from 'tap';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import type { HttpMessage } from '../../../record/record.ts';

const json = (doc: unknown): HttpMessage => {
  const body = Buffer.from(JSON.stringify(doc));
  return { headers: {}, body, body_size: body.length, truncated: false, content_type: 'application/json' };
};
const bodyOf = (m: HttpMessage | undefined): unknown => JSON.parse(Buffer.from(m!.body).toString());

void t.test('the value of a pair whose name names a secret is masked', async (t) => {
  const pod = {
    spec: {
      containers: [
        {
          env: [
            { name: 'DB_PASSWORD', value: 'LK60k8senv' },
            { name: 'LOG_LEVEL', value: 'debug' },
            { value: 'tok-before-name', name: 'API_TOKEN' },
            { name: 'STRIPE_SECRET', value: { nested: 'LK60nested' } },
          ],
        },
      ],
    },
  };
  const r = maskRecord({ path: '/api/v1/namespaces/shop/pods', request: json(pod), redacted: [], sensitive: [] });
  t.same(bodyOf(r.request), {
    spec: {
      containers: [
        {
          env: [
            { name: 'DB_PASSWORD', value: '****' },
            { name: 'LOG_LEVEL', value: 'debug' },
            { value: '****', name: 'API_TOKEN' },
            { name: 'STRIPE_SECRET', value: '****' },
          ],
        },
      ],
    },
  });
  t.same(
    [...r.redacted].sort(),
    ['request.body.$.spec.containers[0].env[0].value', 'request.body.$.spec.containers[0].env[2].value', 'request.body.$.spec.containers[0].env[3].value'],
    'each masked value is reported where it is',
  );
  t.same([...r.sensitive].sort(), ['password', 'secret', 'token']);
});

void t.test('HAR headers, cloud tags and parameter names', async (t) => {
  const doc = {
    headers: [
      { name: 'Authorization', value: 'Basic LKTAbasic' },
      { name: 'Accept', value: 'application/json' },
    ],
    Tags: [{ Key: 'password', Value: 'LK62tag' }, { Key: 'team', Value: 'payments' }],
    Parameter: { Name: '/shop/db/password', Value: 'LK63param', Type: 'SecureString' },
  };
  const r = maskRecord({ path: '/', response: json(doc), redacted: [], sensitive: [] });
  const out = JSON.stringify(bodyOf(r.response));
  for (const secret of ['LKTAbasic', 'LK62tag', 'LK63param']) t.notOk(out.includes(secret), `${secret} is masked`);
  for (const visible of ['application/json', 'payments', 'SecureString', '/shop/db/password', 'Authorization']) t.ok(out.includes(visible), `${visible} stays`);
});

void t.test('names that name no secret, and members that are not a pair, stay readable', async (t) => {
  const doc = {
    items: [
      { name: 'token_type', value: 'Bearer' },
      { name: 'password', type: 'string', required: true },
      { label: 'password', value: 'shown-label' },
      { name: 42, value: 'numeric-name' },
    ],
  };
  const r = maskRecord({ path: '/', request: json(doc), redacted: [], sensitive: [] });
  t.same(bodyOf(r.request), doc);
  t.same(r.redacted, []);
});

void t.test('a Kubernetes Secret read through the API: its data and stringData masked whatever their keys', async (t) => {
  const pem = Buffer.from('-----BEGIN PRIVATE KEY-----\nLK90pem\n-----END PRIVATE KEY-----\n').toString('base64');
  const secret = { metadata: { name: 'shop-tls', namespace: 'shop' }, data: { 'tls.key': pem, 'tls.crt': 'LK90crt' }, kind: 'Secret', apiVersion: 'v1', type: 'kubernetes.io/tls' };
  const one = maskRecord({ path: '/api/v1/namespaces/shop/secrets/shop-tls', response: json(secret), redacted: [], sensitive: [] });
  t.same(bodyOf(one.response), { ...secret, data: '****' }, 'data masked whole, kind after it');
  t.same(one.redacted, ['response.body.$.data']);
  const list = {
    kind: 'SecretList',
    apiVersion: 'v1',
    metadata: { resourceVersion: '7' },
    items: [
      { metadata: { name: 'a', ownerReferences: [{ kind: 'Deployment', name: 'x' }] }, data: { '.dockerconfigjson': 'LK91docker' }, type: 'kubernetes.io/dockerconfigjson' },
      { metadata: { name: 'b' }, stringData: { 'config.yaml': 'LK91yaml' } },
    ],
  };
  const listed = maskRecord({ path: '/api/v1/secrets', response: json(list), redacted: [], sensitive: [] });
  const out = JSON.stringify(bodyOf(listed.response));
  t.notOk(/LK91/.test(out), 'every item of a SecretList');
  t.ok(out.includes('"ownerReferences":[{"kind":"Deployment","name":"x"}]'), 'the rest stays');
  const event = { type: 'ADDED', object: { kind: 'Secret', apiVersion: 'v1', metadata: { name: 'c' }, data: { token: 'LK92tok', 'ca.pem': 'LK92ca' } } };
  const watched = maskRecord({ path: '/api/v1/secrets?watch=1', response: json(event), redacted: [], sensitive: [] });
  t.notOk(/LK92/.test(JSON.stringify(bodyOf(watched.response))), 'a watch event');
  const configMap = { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'm' }, data: { 'app.properties': 'color=blue' } };
  const cm = maskRecord({ path: '/api/v1/configmaps', response: json(configMap), redacted: [], sensitive: [] });
  t.same(bodyOf(cm.response), configMap, 'a ConfigMap stays readable');
});
