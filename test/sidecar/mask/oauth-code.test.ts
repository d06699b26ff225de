/**
 * The OAuth authorization `code`: masked in a query (or a token request's form) that is an
 * OAuth one, kept everywhere else (`code` is a common word: country, status, discount codes).
 */
import t from 'tap';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { isOAuthCodePath, isOAuthContextParam } from '../../../sidecar/mask/oauth-code.ts';
import type { HttpMessage } from '../../../record/record.ts';

const form = (body: string): HttpMessage => ({ headers: {}, body: Buffer.from(body), body_size: body.length, truncated: false, content_type: 'application/x-www-form-urlencoded' });

void t.test('where a code is delivered or redeemed', async (t) => {
  for (const p of ['/callback', '/oauth2/callback', '/auth/callback/', '/login/oauth2callback', '/oauth/authorize', '/oauth/token', '/CALLBACK']) t.ok(isOAuthCodePath(p), p);
  for (const p of ['/', '', '/api/countries', '/callbacks', '/tokens', '/callback/list', '/authorized']) t.notOk(isOAuthCodePath(p), p);
  for (const n of ['state', 'session_state', 'redirect_uri', 'code_verifier', 'grant_type']) t.ok(isOAuthContextParam(n), n);
  for (const n of ['code', 'status', 'State', 'redirect']) t.notOk(isOAuthContextParam(n), n);
});

void t.test('a callback query: the code is masked', async (t) => {
  const cases: Array<[string, string]> = [
    ['/app/login?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz', '/app/login?code=****&state=xyz'],
    ['/app/login?state=xyz&session_state=abc.def&code=C-ST', '/app/login?state=xyz&session_state=****&code=****'],
    ['/done?redirect_uri=https%3A%2F%2Fapp%2Fcb&code=C-RU', '/done?redirect_uri=https%3A%2F%2Fapp%2Fcb&code=****'],
    ['/oauth2/callback?code=C-PATH', '/oauth2/callback?code=****'],
    ['/auth/callback?code=C-PATH2&lang=en', '/auth/callback?code=****&lang=en'],
    ['/oauth/authorize?code=C-AZ', '/oauth/authorize?code=****'],
    ['/oauth/token?code=C-TK', '/oauth/token?code=****'],
  ];
  for (const [path, want] of cases) {
    const r = maskRecord({ path, redacted: [], sensitive: [] });
    t.equal(r.path, want, path);
    t.ok(r.redacted.includes('path.query.code'), `redacted names the code (${path})`);
    t.ok(r.sensitive.includes('oauth_code'), `kind oauth_code (${path})`);
  }
});

void t.test('code elsewhere is an ordinary word and stays readable', async (t) => {
  for (const path of ['/api/countries?code=FR', '/orders?status=open&code=SAVE10', '/callbacks?code=x1', '/tokens?code=t1', '/errors?code=404&page=2', '/cb?codes=1&state=s']) {
    const r = maskRecord({ path, redacted: [], sensitive: [] });
    t.equal(r.path, path, path);
    t.same(r.redacted, [], `nothing redacted (${path})`);
  }
});

void t.test('a token request form: the code is masked; a discount form keeps it', async (t) => {
  const token = maskRecord({ path: '/oauth/token', request: form('grant_type=authorization_code&code=AUTH-CODE-1&redirect_uri=https%3A%2F%2Fapp%2Fcb&client_id=web') });
  t.equal(Buffer.from(token.request!.body).toString(), 'grant_type=authorization_code&code=****&redirect_uri=https%3A%2F%2Fapp%2Fcb&client_id=web');
  t.ok(token.redacted.includes('request.body.code'));
  t.ok(token.sensitive.includes('oauth_code'));
  const byPath = maskRecord({ path: '/realms/shop/protocol/openid-connect/token', request: form('code=AUTH-CODE-2&client_id=web') });
  t.equal(Buffer.from(byPath.request!.body).toString(), 'code=****&client_id=web', 'a form posted to …/token');
  const discount = maskRecord({ path: '/cart/discount', request: form('code=SAVE10&cart=42') });
  t.equal(Buffer.from(discount.request!.body).toString(), 'code=SAVE10&cart=42');
  t.same(discount.redacted, []);
});

void t.test('a redirect to a callback: the code in the Location header is masked, the rest kept', async (t) => {
  const headers = (h: Record<string, string>): HttpMessage => ({ headers: h, body: Buffer.alloc(0), body_size: 0, truncated: false });
  const r = maskRecord({
    path: '/authorize?client_id=web',
    response: headers({ location: 'https://app.example/cb?code=LKR04code77&state=xyz#frag', 'content-location': '/docs?code=SAVE10' }),
    redacted: [],
    sensitive: [],
  });
  t.equal(r.response!.headers.location, 'https://app.example/cb?code=****&state=xyz#frag');
  t.equal(r.response!.headers['content-location'], '/docs?code=SAVE10', 'a code that is no OAuth code stays');
  t.ok(r.redacted.includes('response.headers.location.code'));
  t.ok(r.sensitive.includes('oauth_code'));
  const token = maskRecord({ path: '/login', response: headers({ Location: '/home?access_token=LKR05tok&lang=en' }), redacted: [], sensitive: [] });
  t.equal(token.response!.headers.Location, '/home?access_token=****&lang=en', 'a secret parameter too');
});
