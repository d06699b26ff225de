/**
 * Kubernetes' WebSocket clients carry their bearer token in `Sec-WebSocket-Protocol`
 * (`base64url.bearer.authorization.k8s.io.<token>`): masked before the record leaves the pod,
 * the subprotocols themselves kept.
 */
import t from 'tap';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { maskBearerSubprotocols } from '../../../sidecar/mask/header-mask.ts';
import type { HttpMessage } from '../../../record/record.ts';

const headers = (h: Record<string, string>): HttpMessage => ({ headers: h, body: new Uint8Array(0), body_size: 0, truncated: false });
// An opaque token, base64url of text no other detector recognises.
const token = Buffer.from('service-account-token-of-the-caller-0123456789').toString('base64url');

void t.test("kubectl's bearer subprotocol: the token masked, the protocols kept", async (t) => {
  const r = maskRecord({
    protocol: 'ws',
    request: headers({ 'sec-websocket-protocol': `base64url.bearer.authorization.k8s.io.${token}, v4.channel.k8s.io`, host: 'api' }),
    response: headers({ 'sec-websocket-protocol': 'v4.channel.k8s.io' }),
    redacted: [],
    sensitive: [],
  });
  t.equal(r.request?.headers['sec-websocket-protocol'], 'base64url.bearer.authorization.k8s.io.****, v4.channel.k8s.io');
  t.notMatch(JSON.stringify(r), new RegExp(token), 'the token is nowhere in the record');
  t.same(r.redacted, ['request.headers.sec-websocket-protocol']);
  t.same(r.sensitive, ['bearer_token']);
  t.equal(r.response?.headers['sec-websocket-protocol'], 'v4.channel.k8s.io', 'the answer names no token');
});

void t.test('the header under any case of its name, and only a whole subprotocol', async (t) => {
  const r = maskRecord({ protocol: 'http', request: headers({ 'Sec-WebSocket-Protocol': `base64url.bearer.authorization.k8s.io.${token}` }), redacted: [], sensitive: [] });
  t.equal(r.request?.headers['Sec-WebSocket-Protocol'], 'base64url.bearer.authorization.k8s.io.****');
  t.equal(maskBearerSubprotocols('chat, superchat'), undefined, 'no token: nothing to do');
  t.equal(maskBearerSubprotocols(`x-base64url.bearer.authorization.k8s.io.${token}`), `x-base64url.bearer.authorization.k8s.io.${token}`, 'the prefix inside another subprotocol is not it');
  t.equal(maskBearerSubprotocols(` base64url.bearer.authorization.k8s.io.${token} ,v4`), ' base64url.bearer.authorization.k8s.io.**** ,v4');
});
