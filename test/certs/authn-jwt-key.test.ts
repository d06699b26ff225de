import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK } from 'jose';
import t from 'tap';
import {
  KUBERNETES_DEFAULT_ISSUER,
  createJwtKeyAuthenticator,
  issueTestToken,
  loadJwtKeyAuthenticator,
} from '../../certs/authn/jwt-key.ts';
import {
  CA_ERR_AUTHN_CONFIG,
  CA_ERR_BAD_OPTION,
  CA_ERR_TOKEN_AUDIENCE,
  CA_ERR_TOKEN_EXPIRED,
  CA_ERR_TOKEN_IDENTITY,
  CA_ERR_TOKEN_INVALID,
  CA_ERR_TOKEN_ISSUER,
  CA_ERR_TOKEN_MISSING,
} from '../../certs/errors.ts';
import { errorCode, tempDir } from './helpers.ts';

const now = new Date('2030-03-01T12:00:00Z');
const nowSec = now.getTime() / 1000;
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const frontend = { namespace: 'shop', serviceAccount: 'frontend', podName: 'frontend-7d9f-x2k', podUid: '5b0c0f6e-8f7a-4d7e-9a0e-1f2d3c4b5a69' };

void t.test('issueTestToken looks like a projected service-account token', async (t) => {
  const token = await issueTestToken(ec.privateKey, { ...frontend, now, ttlSeconds: 600 });
  t.same(decodeProtectedHeader(token), { alg: 'ES256' });
  const claims = decodeJwt(token);
  t.equal(claims.iss, KUBERNETES_DEFAULT_ISSUER);
  t.equal(claims.sub, 'system:serviceaccount:shop:frontend');
  t.same(claims.aud, ['meshtap-ca'], 'aud is a list, as the API server writes it');
  t.equal(claims.iat, nowSec);
  t.equal(claims.nbf, nowSec);
  t.equal(claims.exp, nowSec + 600);
  t.type(claims.jti, 'string');
  t.match(claims['kubernetes.io'], {
    namespace: 'shop',
    serviceaccount: { name: 'frontend', uid: /^[0-9a-f-]{36}$/ },
    pod: { name: 'frontend-7d9f-x2k', uid: frontend.podUid },
  });
  const rsaToken = await issueTestToken(rsa.privateKey, { namespace: 'shop', serviceAccount: 'frontend', keyId: 'k1' });
  t.same(decodeProtectedHeader(rsaToken), { alg: 'RS256', kid: 'k1' });
  t.notOk((decodeJwt(rsaToken)['kubernetes.io'] as { pod?: unknown }).pod, 'no pod claim without a pod');
  t.equal((await errorCode(() => issueTestToken(ec.privateKey, { namespace: 'shop', serviceAccount: '' }))).code, CA_ERR_BAD_OPTION);
});

void t.test('verifies ES256 and RS256 tokens into the workload they name', async (t) => {
  for (const [alg, pair] of [['ES256', ec], ['RS256', rsa]] as const) {
    const authn = createJwtKeyAuthenticator({ key: pair.publicKey, now: () => now });
    t.equal(authn.kind, 'jwt-key');
    const who = await authn.authenticate(await issueTestToken(pair.privateKey, { ...frontend, now }));
    t.same(who, frontend, `${alg}: namespace, service account, pod`);
    t.ok(Object.isFrozen(who));
  }
  const fromPem = createJwtKeyAuthenticator({ key: ec.publicKey.export({ type: 'spki', format: 'pem' }).toString(), now: () => now });
  t.same(await fromPem.authenticate(await issueTestToken(ec.privateKey, { namespace: 'a', serviceAccount: 'b', now })), { namespace: 'a', serviceAccount: 'b' });
  const fromPrivate = createJwtKeyAuthenticator({ key: ec.privateKey, now: () => now });
  t.same(await fromPrivate.authenticate(await issueTestToken(ec.privateKey, { namespace: 'a', serviceAccount: 'b', now })), { namespace: 'a', serviceAccount: 'b' }, 'a private key is reduced to its public half');
});

void t.test('a JWKS with several keys, picked by kid; key files', async (t) => {
  const jwks = {
    keys: [
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    ],
  };
  const authn = createJwtKeyAuthenticator({ key: jwks, now: () => now });
  t.same(await authn.authenticate(await issueTestToken(rsa.privateKey, { ...frontend, keyId: 'rsa-1', now })), frontend);
  t.same(await authn.authenticate(await issueTestToken(ec.privateKey, { ...frontend, keyId: 'ec-1', now })), frontend);
  let e = await errorCode(async () => authn.authenticate(await issueTestToken(stranger.privateKey, { ...frontend, keyId: 'ec-9', now })));
  t.equal(e.code, CA_ERR_TOKEN_INVALID);
  t.match(e.message, /not in the CA's token key set/);

  const dir = await tempDir(t);
  await writeFile(join(dir, 'jwks.json'), JSON.stringify(jwks));
  await writeFile(join(dir, 'key.pem'), ec.publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(join(dir, 'junk'), 'not a key');
  const fromJwksFile = await loadJwtKeyAuthenticator({ keyFile: join(dir, 'jwks.json'), now: () => now });
  t.same(await fromJwksFile.authenticate(await issueTestToken(ec.privateKey, { ...frontend, keyId: 'ec-1', now })), frontend);
  const fromPemFile = await loadJwtKeyAuthenticator({ keyFile: join(dir, 'key.pem'), now: () => now });
  t.same(await fromPemFile.authenticate(await issueTestToken(ec.privateKey, { ...frontend, now })), frontend);
  e = await errorCode(() => loadJwtKeyAuthenticator({ keyFile: join(dir, 'missing.pem') }));
  t.equal(e.code, CA_ERR_AUTHN_CONFIG);
  t.match(e.message, /cannot read the token key file .*missing\.pem/);
  e = await errorCode(() => loadJwtKeyAuthenticator({ keyFile: join(dir, 'junk') }));
  t.equal(e.code, CA_ERR_AUTHN_CONFIG);
  t.match(e.message, /junk: the token key is neither a JWKS nor a PEM public key/);
  e = await errorCode(() => createJwtKeyAuthenticator({ key: generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey }));
  t.equal(e.code, CA_ERR_AUTHN_CONFIG);
  t.match(e.message, /EC P-256 .* got ec on curve secp384r1/);
  e = await errorCode(() => createJwtKeyAuthenticator({ key: '{"keys": []}' }));
  t.equal(e.code, CA_ERR_AUTHN_CONFIG);
});

void t.test('time: exp and nbf with a small skew', async (t) => {
  const authn = createJwtKeyAuthenticator({ key: ec.publicKey, now: () => now, clockToleranceSeconds: 30 });
  const at = (offsetSec: number, ttlSeconds = 600) => issueTestToken(ec.privateKey, { ...frontend, ttlSeconds, now: new Date(now.getTime() + offsetSec * 1000) });
  t.same(await authn.authenticate(await at(-600 + 20)), frontend, 'expired 20 s ago: within the skew');
  let e = await errorCode(async () => authn.authenticate(await at(-600 - 31)));
  t.equal(e.code, CA_ERR_TOKEN_EXPIRED);
  t.match(e.message, /the token expired at 2030-03-01T11:59:29\.000Z/);
  t.same(await authn.authenticate(await at(20)), frontend, 'issued 20 s in the future: within the skew');
  e = await errorCode(async () => authn.authenticate(await at(120)));
  t.equal(e.code, CA_ERR_TOKEN_EXPIRED);
  t.match(e.message, /not valid before 2030-03-01T12:02:00\.000Z/);
  const noExp = await new SignJWT({ sub: 'system:serviceaccount:shop:frontend' }).setProtectedHeader({ alg: 'ES256' }).setAudience('meshtap-ca').sign(ec.privateKey);
  e = await errorCode(() => authn.authenticate(noExp));
  t.equal(e.code, CA_ERR_TOKEN_INVALID);
  t.match(e.message, /no valid "exp" claim/);
});

void t.test('audience, issuer, key and shape', async (t) => {
  const authn = createJwtKeyAuthenticator({ key: ec.publicKey, now: () => now, issuer: KUBERNETES_DEFAULT_ISSUER });
  let e = await errorCode(async () => authn.authenticate(await issueTestToken(ec.privateKey, { ...frontend, now, audience: ['https://kubernetes.default.svc'] })));
  t.equal(e.code, CA_ERR_TOKEN_AUDIENCE);
  t.match(e.message, /audience \["https:\/\/kubernetes.default.svc"\], not "meshtap-ca"/);
  t.same(await authn.authenticate(await issueTestToken(ec.privateKey, { ...frontend, now, audience: ['other', 'meshtap-ca'] })), frontend, 'one of several audiences is enough');
  e = await errorCode(async () => authn.authenticate(await issueTestToken(ec.privateKey, { ...frontend, now, issuer: 'https://evil.example' })));
  t.equal(e.code, CA_ERR_TOKEN_ISSUER);
  t.match(e.message, /issued by "https:\/\/evil.example", not "https:\/\/kubernetes.default.svc.cluster.local"/);
  e = await errorCode(async () => authn.authenticate(await issueTestToken(stranger.privateKey, { ...frontend, now })));
  t.equal(e.code, CA_ERR_TOKEN_INVALID);
  t.match(e.message, /signature does not verify/);
  e = await errorCode(async () => authn.authenticate(await issueTestToken(rsa.privateKey, { ...frontend, now })));
  t.equal(e.code, CA_ERR_TOKEN_INVALID, 'an RS256 token against an ES256 key');
  t.match(e.message, /signing algorithm is not accepted/);
  const good = await issueTestToken(ec.privateKey, { ...frontend, now });
  const [h, p, s] = good.split('.');
  const forged = Buffer.from(JSON.stringify({ ...decodeJwt(good), sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url');
  e = await errorCode(() => authn.authenticate(`${h}.${forged}.${s}`));
  t.equal(e.code, CA_ERR_TOKEN_INVALID, 'altered claims fail the signature');
  t.ok(p);
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
  e = await errorCode(() => authn.authenticate(none));
  t.equal(e.code, CA_ERR_TOKEN_INVALID, 'alg none is refused');
  for (const junk of ['', '   ', 'abc', 'a.b.c']) {
    e = await errorCode(() => authn.authenticate(junk));
    t.equal(e.code, junk.trim() === '' ? CA_ERR_TOKEN_MISSING : CA_ERR_TOKEN_INVALID, `${JSON.stringify(junk)}`);
  }
});

void t.test('Kubernetes claims: sub and/or kubernetes.io, agreeing, with valid names', async (t) => {
  const authn = createJwtKeyAuthenticator({ key: ec.publicKey, now: () => now });
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).setAudience('meshtap-ca').setIssuedAt(nowSec).setExpirationTime(nowSec + 600).sign(ec.privateKey);
  t.same(await authn.authenticate(await sign({ sub: 'system:serviceaccount:shop:frontend' })), { namespace: 'shop', serviceAccount: 'frontend' }, 'sub alone');
  t.same(
    await authn.authenticate(await sign({ 'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'frontend' }, pod: { name: 'p', uid: 'u' } } })),
    { namespace: 'shop', serviceAccount: 'frontend', podName: 'p', podUid: 'u' },
    'kubernetes.io alone',
  );
  const refused: [string, Record<string, unknown>, RegExp][] = [
    ['no identity', {}, /names no service account/],
    ['a user', { sub: 'alice' }, /subject "alice" is not a service account/],
    ['disagreeing', { sub: 'system:serviceaccount:shop:frontend', 'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'payment' } } }, /subject names shop\/frontend but .* names shop\/payment/],
    ['claim without sa', { 'kubernetes.io': { namespace: 'shop' } }, /lacks "namespace" or "serviceaccount.name"/],
    ['path tricks', { sub: 'system:serviceaccount:shop/sa/admin:x' }, /namespace "shop\/sa\/admin" is invalid/],
    ['extra colon', { sub: 'system:serviceaccount:shop:front:end' }, /is not a service account/],
    ['upper case', { 'kubernetes.io': { namespace: 'Shop', serviceaccount: { name: 'frontend' } } }, /namespace "Shop" is invalid/],
  ];
  for (const [name, claims, message] of refused) {
    const e = await errorCode(async () => authn.authenticate(await sign(claims)));
    t.equal(e.code, CA_ERR_TOKEN_IDENTITY, name);
    t.match(e.message, message, name);
  }
});
