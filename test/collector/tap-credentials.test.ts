/** Which token `meshtap tap` sends: the lab's only to the lab's collector, by whichever loopback name it is reached. */
import t from 'tap';
import { isLabCollectorUrl, resolveAuthorization } from '../../collector/tap/credentials.ts';
import { resolveCollectorTarget } from '../../collector/tap/collector-target.ts';

const LAB_TOKEN = 'lab-token-aaaaaaaaaaaaaaaa';
const lab = () => ({ url: 'http://127.0.0.1:18080', token: LAB_TOKEN });
const kube = async () => 'Bearer kube-user-token';

void t.test('the lab collector reached by another loopback name of the same scheme and port gets the lab token', async (t) => {
  for (const url of ['http://127.0.0.1:18080', 'http://localhost:18080', 'http://LOCALHOST:18080/', 'http://[::1]:18080', 'http://[0:0:0:0:0:0:0:1]:18080', 'http://127.0.0.2:18080', 'http://127.1:18080']) {
    t.equal(await resolveAuthorization(new URL(url), { env: {}, lab, kubeconfigAuthorization: kube }), `Bearer ${LAB_TOKEN}`, url);
  }
  const v6Lab = () => ({ url: 'http://[::1]:18080', token: LAB_TOKEN });
  t.equal(await resolveAuthorization(new URL('http://localhost:18080'), { env: {}, lab: v6Lab, kubeconfigAuthorization: kube }), `Bearer ${LAB_TOKEN}`, 'a lab saved as [::1], reached as localhost');
  const target = await resolveCollectorTarget({ collector: 'http://localhost:18080', env: {}, lab, kubeconfigAuthorization: kube });
  t.equal(target.authorization, `Bearer ${LAB_TOKEN}`, 'tap --collector http://localhost:PORT');
});

void t.test('anything else is another collector: no lab token', async (t) => {
  for (const url of [
    'http://localhost:9999', // another port
    'https://localhost:18080', // another scheme
    'http://localhost', // the default port
    'http://10.0.0.1:18080', // not loopback
    'http://192.168.1.10:18080',
    'http://localhost.example.com:18080', // a name that only starts like loopback
    'http://127.0.0.1.nip.io:18080',
    'http://localhost.:18080', // not what the collector's Host check accepts
    'http://[::ffff:127.0.0.1]:18080',
    'http://[::2]:18080',
    'http://0.0.0.0:18080',
  ]) {
    t.equal(await resolveAuthorization(new URL(url), { env: {}, lab, kubeconfigAuthorization: kube }), 'Bearer kube-user-token', url);
  }
  const remoteLab = () => ({ url: 'http://10.0.0.1:18080', token: LAB_TOKEN });
  t.equal(await resolveAuthorization(new URL('http://127.0.0.1:18080'), { env: {}, lab: remoteLab, kubeconfigAuthorization: kube }), 'Bearer kube-user-token', 'a lab collector that is not on loopback matches only exactly');
  t.equal(await resolveAuthorization(new URL('http://10.0.0.1:18080/'), { env: {}, lab: remoteLab, kubeconfigAuthorization: kube }), `Bearer ${LAB_TOKEN}`);
});

void t.test('an explicit token still wins; a lab without a token or with an unreadable URL gives none', async (t) => {
  const url = new URL('http://localhost:18080');
  t.equal(await resolveAuthorization(url, { token: 'given', env: {}, lab, kubeconfigAuthorization: kube }), 'Bearer given');
  t.equal(await resolveAuthorization(url, { env: { MESHTAP_COLLECTOR_TOKEN: 'from-env' }, lab, kubeconfigAuthorization: kube }), 'Bearer from-env');
  t.equal(await resolveAuthorization(url, { env: {}, lab: () => ({ url: 'http://127.0.0.1:18080' }), kubeconfigAuthorization: kube }), 'Bearer kube-user-token');
  t.equal(isLabCollectorUrl(url, 'not a url'), false);
});
