/** The lab's token signer: tokens the controller's JWT-key authenticator accepts, with the pod's claims. */
import { decodeJwt } from 'jose';
import t from 'tap';
import { createJwtKeyAuthenticator } from '../../certs/authn/jwt-key.ts';
import { createKeyTokenIssuer, createTokenKeyPair } from '../../lab/token-issuer.ts';

const pod = { name: 'client', namespace: 'hello', uid: '0b7e7a2c-0000-4000-8000-000000000001', serviceAccount: 'client' };

void t.test('a pod token verifies with the public key and names the pod', async (t) => {
  const keys = createTokenKeyPair();
  t.match(keys.publicPem, /^-----BEGIN PUBLIC KEY-----/);
  t.match(keys.privatePem, /^-----BEGIN PRIVATE KEY-----/);
  const token = await createKeyTokenIssuer(keys.privateKey)({ pod, audience: 'meshtap-ca', expirationSeconds: 3600 });
  const claims = decodeJwt(token);
  t.same(claims.aud, ['meshtap-ca']);
  t.equal(claims.sub, 'system:serviceaccount:hello:client');
  t.equal((claims.exp ?? 0) - (claims.iat ?? 0), 3600, 'lives one hour');
  t.match(claims['kubernetes.io'], { namespace: 'hello', serviceaccount: { name: 'client' }, pod: { name: 'client', uid: pod.uid } });

  const workload = await createJwtKeyAuthenticator({ key: keys.publicPem }).authenticate(token);
  t.match(workload, { namespace: 'hello', serviceAccount: 'client', podName: 'client', podUid: pod.uid });
});

void t.test('an empty audience falls back to the CA\'s; another lab\'s key is refused', async (t) => {
  const keys = createTokenKeyPair();
  const token = await createKeyTokenIssuer(keys.privateKey)({ pod, audience: '', expirationSeconds: 600 });
  t.same(decodeJwt(token).aud, ['meshtap-ca']);
  await t.rejects(createJwtKeyAuthenticator({ key: createTokenKeyPair().publicPem }).authenticate(token), { code: 'CA_ERR_TOKEN_INVALID' });
});
