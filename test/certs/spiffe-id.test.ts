import t from 'tap';
import { CA_ERR_BAD_IDENTITY } from '../../certs/errors.ts';
import { parseSpiffeId, spiffeIdFor, workloadIdentityOf } from '../../certs/spiffe-id.ts';
import { errorCode } from './helpers.ts';

void t.test('spiffeIdFor builds the Kubernetes form, trust domain cluster.local by default', async (t) => {
  t.equal(spiffeIdFor({ namespace: 'shop', serviceAccount: 'payment' }), 'spiffe://cluster.local/ns/shop/sa/payment');
  t.equal(
    spiffeIdFor({ trustDomain: 'prod.example.com', namespace: 'a-1', serviceAccount: 'build.bot' }),
    'spiffe://prod.example.com/ns/a-1/sa/build.bot',
  );
});

void t.test('spiffeIdFor rejects every part that could change the path or the domain', async (t) => {
  const cases: [string, { trustDomain?: string; namespace: string; serviceAccount: string }][] = [
    ['empty namespace', { namespace: '', serviceAccount: 'x' }],
    ['empty service account', { namespace: 'x', serviceAccount: '' }],
    ['slash in namespace', { namespace: 'a/sa/admin', serviceAccount: 'x' }],
    ['slash in service account', { namespace: 'x', serviceAccount: 'a/b' }],
    ['dot-dot service account', { namespace: 'x', serviceAccount: '..' }],
    ['dot in namespace', { namespace: 'a.b', serviceAccount: 'x' }],
    ['upper case namespace', { namespace: 'Shop', serviceAccount: 'x' }],
    ['leading dash', { namespace: '-a', serviceAccount: 'x' }],
    ['trailing dash', { namespace: 'x', serviceAccount: 'a-' }],
    ['long namespace', { namespace: 'a'.repeat(64), serviceAccount: 'x' }],
    ['long service account', { namespace: 'x', serviceAccount: 'a'.repeat(254) }],
    ['space', { namespace: 'x', serviceAccount: 'a b' }],
    ['percent-encoding', { namespace: 'x', serviceAccount: 'a%2fb' }],
    ['empty trust domain', { trustDomain: '', namespace: 'x', serviceAccount: 'y' }],
    ['trust domain with slash', { trustDomain: 'evil.com/ns', namespace: 'x', serviceAccount: 'y' }],
    ['trust domain with port', { trustDomain: 'td:443', namespace: 'x', serviceAccount: 'y' }],
    ['trust domain with empty label', { trustDomain: 'a..b', namespace: 'x', serviceAccount: 'y' }],
    ['trust domain upper case', { trustDomain: 'Cluster.local', namespace: 'x', serviceAccount: 'y' }],
    ['trust domain with user info', { trustDomain: 'a@b', namespace: 'x', serviceAccount: 'y' }],
  ];
  for (const [name, identity] of cases) {
    const err = await errorCode(() => spiffeIdFor(identity));
    t.equal(err.code, CA_ERR_BAD_IDENTITY, name);
  }
  const err = await errorCode(() => spiffeIdFor({ namespace: 'x', serviceAccount: 'a/b' }));
  t.match(err.message, /service account "a\/b"/, 'the message names the part and the value');
});

void t.test('parseSpiffeId follows the SPIFFE id syntax', async (t) => {
  t.same(parseSpiffeId('spiffe://cluster.local/ns/a/sa/b'), { trustDomain: 'cluster.local', segments: ['ns', 'a', 'sa', 'b'] });
  t.same(parseSpiffeId('spiffe://td/Some_Path.x-y'), { trustDomain: 'td', segments: ['Some_Path.x-y'] });
  for (const bad of [
    'http://cluster.local/ns/a/sa/b',
    'spiffe://cluster.local',
    'spiffe://cluster.local/',
    'spiffe://cluster.local/ns//sa/b',
    'spiffe://cluster.local/ns/a/sa/b/',
    'spiffe://cluster.local/ns/../sa/b',
    'spiffe://cluster.local/ns/a/sa/b?x=1',
    'spiffe://cluster.local/ns/a/sa/b#f',
    'spiffe://cluster.local:8443/ns/a',
    'spiffe://user@cluster.local/ns/a',
    'spiffe:///ns/a',
    `spiffe://td/${'a'.repeat(2048)}`,
  ]) {
    t.equal((await errorCode(() => parseSpiffeId(bad))).code, CA_ERR_BAD_IDENTITY, bad);
  }
});

void t.test('workloadIdentityOf reads back the namespace and service account', async (t) => {
  t.same(workloadIdentityOf('spiffe://cluster.local/ns/shop/sa/payment'), {
    trustDomain: 'cluster.local',
    namespace: 'shop',
    serviceAccount: 'payment',
  });
  t.equal(workloadIdentityOf('spiffe://cluster.local/ns/shop'), undefined, 'too short');
  t.equal(workloadIdentityOf('spiffe://cluster.local/ns/shop/sa/payment/x'), undefined, 'too long');
  t.equal(workloadIdentityOf('spiffe://cluster.local/sa/shop/ns/payment'), undefined, 'wrong keywords');
  t.equal(workloadIdentityOf('spiffe://cluster.local/ns/Shop/sa/payment'), undefined, 'not a namespace name');
  t.equal(workloadIdentityOf('not an id'), undefined);
});
