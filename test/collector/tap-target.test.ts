/** Which collector tap and mcp talk to, where that came from, and what an unreachable one says. */
import t from 'tap';
import { resolveCollectorTarget, unreachableText } from '../../collector/tap/collector-target.ts';

const noLab = () => undefined;
const aLab = () => ({ url: 'http://127.0.0.1:18080', token: 'lab-token-aaaaaaaaaaaaaaaa' });
const noKube = async () => undefined;

void t.test('the URL comes from the flag, the variable, the running lab, else the default, and says which', async (t) => {
  const flag = await resolveCollectorTarget({ collector: 'http://10.0.0.1:8080', env: { MESHTAP_COLLECTOR_URL: 'http://10.0.0.2:8080' }, lab: aLab, kubeconfigAuthorization: noKube });
  t.same([flag.base.origin, flag.source], ['http://10.0.0.1:8080', 'flag']);
  const env = await resolveCollectorTarget({ env: { MESHTAP_COLLECTOR_URL: 'http://10.0.0.2:8080' }, lab: aLab, kubeconfigAuthorization: noKube });
  t.same([env.base.origin, env.source], ['http://10.0.0.2:8080', 'env']);
  const lab = await resolveCollectorTarget({ env: {}, lab: aLab, kubeconfigAuthorization: noKube });
  t.same([lab.base.origin, lab.source], ['http://127.0.0.1:18080', 'lab']);
  const none = await resolveCollectorTarget({ env: {}, lab: noLab, kubeconfigAuthorization: noKube });
  t.same([none.base.origin, none.source], ['http://127.0.0.1:8080', 'default']);
});

void t.test('an unreachable collector: the address and the cause; for the default address, where else to look', async (t) => {
  const base = new URL('http://127.0.0.1:8080');
  t.equal(unreachableText({ base, source: 'flag' }, 'ECONNREFUSED'), 'cannot reach the collector at http://127.0.0.1:8080: ECONNREFUSED');
  t.equal(unreachableText({ base, source: 'lab' }, 'ECONNREFUSED'), 'cannot reach the collector at http://127.0.0.1:8080: ECONNREFUSED');
  const text = unreachableText({ base, source: 'default' }, 'ECONNREFUSED');
  t.match(text, /^cannot reach the collector at http:\/\/127\.0\.0\.1:8080: ECONNREFUSED \(the default address: no --collector, no MESHTAP_COLLECTOR_URL and no lab running; /);
  t.match(text, /meshtap dashboard/);
  t.match(text, /npm run lab/);
});

void t.test('a port fetch refuses (one browsers block) is named as such, not as "bad port"', async (t) => {
  const text = unreachableText({ base: new URL('http://127.0.0.1:10080'), source: 'flag' }, 'bad port');
  t.equal(text, 'cannot reach the collector at http://127.0.0.1:10080: port 10080 is one fetch refuses to connect to (a port browsers block); run the collector\'s HTTP API on another port (--http-port)');
});
