/** What the call detail says about a call as a whole (who saw it, who called whom), run in Node as in the page. */
import t from 'tap';
import { loadBrowserModule } from './browser-modules.ts';

const { callEnds, identityRows, seenByText } = await loadBrowserModule('call-detail.js');

// The client dialled the payment Service's virtual IP; the server's sidecar knows the pod that answered.
const client = {
  id: 'a-o0',
  observer: 'outbound',
  start: '1',
  end: '2',
  src: { ip: '10.244.0.2', port: 40000, namespace: 'shop', workload: 'web', pod: 'web-0', node: 'worker-1' },
  dst: { ip: '10.96.12.40', port: 80, namespace: 'shop', service: 'payment' },
};
const server = {
  id: 'a-i0',
  observer: 'inbound',
  start: '1',
  end: '2',
  src: { ip: '10.244.0.2', port: 51000, identity: 'spiffe://cluster.local/ns/shop/sa/web' },
  dst: { ip: '10.244.1.7', port: 8080, namespace: 'shop', workload: 'payment', workload_kind: 'Deployment', pod: 'payment-7d9f-x2k', node: 'worker-2', service: 'payment' },
};
const both = { id: 'a:0', client, server };

type Row = { label: string; key: string; src: string; dst: string; dstTitle?: string };
const table = (rows: Row[]) => Object.fromEntries(rows.map((r) => [r.key, [r.src, r.dst]]));

void t.test('a call both sidecars saw: the destination as the server saw it, the address the client dialled kept', async (t) => {
  for (const shown of [client, server]) {
    const { rows, both: joined } = identityRows(shown, both);
    t.equal(joined, true);
    t.same(
      table(rows),
      {
        pod: ['web-0', 'payment-7d9f-x2k'],
        namespace: ['shop', 'shop'],
        workload: ['web', 'payment'],
        workload_kind: ['—', 'Deployment'],
        service: ['—', 'payment'],
        node: ['worker-1', 'worker-2'],
        identity: ['spiffe://cluster.local/ns/shop/sa/web', '—'],
        ip: ['10.244.0.2:40000', '10.244.1.7:8080'],
        dialled: ['', '10.96.12.40:80'],
      },
      `the same table whichever observation is shown (${shown.id})`,
    );
    t.match(rows.find((r: Row) => r.key === 'dialled').dstTitle, /connected to/);
    t.equal(rows.find((r: Row) => r.key === 'dialled').label, 'client dialled');
  }
  t.same(callEnds(client, both).dst.workload, 'payment', 'the header names the callee as the server saw it');
});

void t.test('a client that dialled the pod itself: no second address', async (t) => {
  const direct = { ...both, client: { ...client, dst: { ...server.dst } } };
  t.notOk(identityRows(client, direct).rows.some((r: Row) => r.key === 'dialled'));
});

void t.test('one-sided or not looked up: the observation as it is', async (t) => {
  for (const joined of [undefined, { id: 'a:0', client, one_sided: 'client' }]) {
    const { rows, both: two } = identityRows(client, joined);
    t.equal(two, false);
    t.same(table(rows).pod, ['web-0', '—']);
    t.same(table(rows).ip, ['10.244.0.2:40000', '10.96.12.40:80']);
    t.notOk(rows.some((r: Row) => r.key === 'dialled'));
  }
});

void t.test('the header says who saw the call as the panel below does', async (t) => {
  t.equal(seenByText(client, both), 'seen by both sidecars · showing the client observation');
  t.equal(seenByText(server, both), 'seen by both sidecars · showing the server observation');
  t.equal(seenByText(client, { id: 'a:0', client, one_sided: 'client' }), 'seen only by the client sidecar (the caller)');
  t.equal(seenByText(server, { id: 'a:0', server, one_sided: 'server' }), 'seen only by the server sidecar (the callee)');
  t.equal(seenByText(client, undefined), "the client observation (the caller's sidecar)", 'before the call is looked up: no claim about the other side');
});
