/**
 * Response header names a protocol fills from fixed fields, not secrets although their words are
 * in families: PostgreSQL's `session_authorization` (the user name) and the login's `auth`
 * (the method). Only in that protocol's response headers: elsewhere the same names are masked.
 */
import t from 'tap';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import type { HttpMessage } from '../../../record/record.ts';

const headers = (h: Record<string, string>): HttpMessage => ({ headers: h, body: new Uint8Array(0), body_size: 0, truncated: false });

void t.test('PostgreSQL startup: session_authorization and auth stay readable', async (t) => {
  const r = maskRecord({
    protocol: 'postgres',
    request: headers({ user: 'shop', database: 'shop' }),
    response: headers({ auth: 'sasl SCRAM-SHA-256', session_authorization: 'shop', server_version: '15.8' }),
    redacted: [],
    sensitive: [],
  });
  t.same(r.response?.headers, { auth: 'sasl SCRAM-SHA-256', session_authorization: 'shop', server_version: '15.8' });
  t.same(r.redacted, []);
  t.same(r.sensitive, [], 'no false authorization or session finding');
});

void t.test('MySQL login: auth (the plugin) stays readable', async (t) => {
  const r = maskRecord({ protocol: 'mysql', response: headers({ auth: 'caching_sha2_password', server_version: '8.0.36' }), redacted: [], sensitive: [] });
  t.equal(r.response?.headers.auth, 'caching_sha2_password');
});

void t.test('real session tokens are still masked', async (t) => {
  const http = maskRecord({
    protocol: 'http',
    request: headers({ session_authorization: 'tok-1', 'x-session-token': 'tok-2' }),
    response: headers({ session_authorization: 'tok-3', auth: 'tok-4' }),
    redacted: [],
    sensitive: [],
  });
  t.same(http.request?.headers, { session_authorization: '****', 'x-session-token': '****' });
  t.same(http.response?.headers, { session_authorization: '****', auth: '****' }, 'other protocols: masked as before');
  // A startup parameter is named by the client: masked even on PostgreSQL.
  const pg = maskRecord({ protocol: 'postgres', request: headers({ session_authorization: 'tok-5' }), response: headers({ session_token: 'tok-6' }) });
  t.equal(pg.request?.headers.session_authorization, '****');
  t.equal(pg.response?.headers.session_token, '****');
  const body = '{"session_authorization":"tok-7"}';
  const json = maskRecord({ protocol: 'postgres', response: { headers: {}, body: Buffer.from(body), body_size: body.length, truncated: false, content_type: 'application/json' } });
  t.equal(Buffer.from(json.response!.body).toString(), '{"session_authorization":"****"}', 'a JSON key of that name is still a secret');
});
