import t from 'tap';
import { ConnectionPhase } from '../../../sidecar/proxy/connection-phase.ts';

void t.test('a connection moves through its phases; anything else throws', async (t) => {
  const inbound = new ConnectionPhase('classifying', 'dialing');
  t.ok(inbound.clientPending);
  inbound.toClient('mesh-setup');
  t.ok(inbound.clientPending, 'a mesh handshake still holds the app\'s bytes');
  inbound.toClient('open');
  t.notOk(inbound.clientPending);
  t.throws(() => inbound.toClient('classifying'), /client open → classifying is not a transition/);
  const refused = new ConnectionPhase('classifying', 'dialing');
  refused.toClient('refused');
  t.ok(refused.clientPending, 'a refused client never sees the app\'s bytes');
  t.throws(() => refused.toClient('open'), /refused → open/);
  inbound.toUpstream('connected');
  t.throws(() => inbound.toUpstream('dialing'), /upstream connected → dialing/);

  const outbound = new ConnectionPhase('open', 'mesh-handshake');
  outbound.toUpstream('dialing');
  t.equal(outbound.upstream, 'dialing', 'the plaintext retry after a peer without an identity');
  t.throws(() => outbound.toUpstream('mesh-handshake'), /dialing → mesh-handshake/, 'only one retry, never back to mesh');
  outbound.toUpstream('connected');
  t.equal(outbound.upstream, 'connected');
});
