/**
 * The connection phase: greeting, HandshakeResponse, authentication dialogues (native,
 * caching_sha2 full authentication, an auth switch), a refused login, TLS hand-off. Every
 * script also runs at every chunk split; the authentication bytes must appear nowhere.
 */
import t from 'tap';
import { CLIENT } from '../../../sidecar/mysql/constants.ts';
import { clientHelloBody, handshakeRecord, sniExt } from '../tls/fixtures.ts';
import { CLIENT_CAPS, SERVER_CAPS, cat, err, greeting, handshakeResponse, ok, pkt, query, resultSet, sslRequest, u8 } from './encoder.ts';
import { json, leaks, runAllCuts, runMy, text, timeOf, type Step } from './harness.ts';

const SCRAMBLE_REPLY = Buffer.from('9f2c1d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d', 'hex');

void t.test('mysql_native_password login with database and attributes', async (t) => {
  const steps: Step[] = [
    { s: greeting({ version: '8.0.36', id: 77 }) },
    { c: handshakeResponse({ user: 'alice', db: 'shop', auth: SCRAMBLE_REPLY, attrs: { _client_name: 'libmysql', _pid: '4242', program_name: 'orders' } }) },
    { s: ok(2) },
    { close: 'fin' },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 1);
  const ex = exchanges[0];
  t.match(ex, {
    protocol: 'mysql',
    ordinal: 0,
    method: 'CONNECT',
    path: 'shop',
    start: timeOf(0),
    request_end: timeOf(1),
    response_start: timeOf(2),
    end: timeOf(2),
    redacted: ['request.body'],
    sensitive: ['password'],
  });
  t.equal(ex.error, undefined);
  t.same(ex.request?.headers, { _client_name: 'libmysql', _pid: '4242', program_name: 'orders', user: 'alice', database: 'shop' });
  t.equal(text(ex.request?.body), 'auth ****');
  t.same(ex.response?.headers, { auth: 'mysql_native_password', server_version: '8.0.36', connection_id: '77' });
  t.notOk(leaks(exchanges, SCRAMBLE_REPLY), 'the auth response appears nowhere');
  t.equal(ex.bytes_out, steps[1] && 'c' in steps[1] ? steps[1].c.length : -1);
  t.equal(ex.bytes_in, ('s' in steps[0] ? steps[0].s.length : 0) + ('s' in steps[2] ? steps[2].s.length : 0));
});

void t.test('caching_sha2_password full authentication: every client message masked', async (t) => {
  const password = Buffer.from('hunter2-secret\0');
  const rsa = Buffer.from('RSA-ENCRYPTED-PASSWORD-BLOB');
  const steps: Step[] = [
    { s: greeting({ plugin: 'caching_sha2_password' }) },
    { c: handshakeResponse({ user: 'bob', auth: SCRAMBLE_REPLY, plugin: 'caching_sha2_password' }) },
    { s: pkt(2, Buffer.from([0x01, 0x04])) },
    { c: pkt(3, Buffer.from([0x02])) },
    { s: pkt(4, cat(u8(0x01), Buffer.from('-----BEGIN PUBLIC KEY-----\nMIIBIjANBg\n-----END PUBLIC KEY-----\n'))) },
    { c: pkt(5, rsa) },
    { s: ok(6) },
    { c: query('SELECT 1') },
    { s: resultSet(1, [{ name: '1', type: 8 }], [['1']]) },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 2);
  const login = exchanges[0];
  t.equal(login.path, undefined, 'no database given');
  t.equal(login.response?.headers.auth, 'caching_sha2_password');
  t.equal(text(login.request?.body), 'auth ****\nauth-response ****\nauth-response ****');
  t.match(login.notes, ['full authentication requested']);
  t.equal(login.request_end, timeOf(5));
  for (const secret of [SCRAMBLE_REPLY, password, rsa]) t.notOk(leaks(exchanges, secret));
  t.match(exchanges[1], { method: 'SELECT', ordinal: 1, request: { headers: { user: 'bob' } } });

  // The fast path: the server has the password cached.
  const fast = runAllCuts(t, [steps[0], steps[1], { s: cat(pkt(2, Buffer.from([0x01, 0x03])), ok(3)) }]);
  t.match(fast.exchanges, [{ method: 'CONNECT', notes: ['fast authentication (cached)'], response: { headers: { auth: 'caching_sha2_password' } } }]);
  t.equal(fast.exchanges[0].error, undefined);
});

void t.test('an AuthSwitchRequest names the plugin that authenticated', async (t) => {
  const sig = Buffer.from('ED25519-SIGNATURE-BYTES-0123456789');
  const steps: Step[] = [
    { s: greeting({ version: '5.5.5-10.11.6-MariaDB', caps: SERVER_CAPS & ~CLIENT.LONG_PASSWORD }) },
    { c: handshakeResponse({ user: 'carol', auth: SCRAMBLE_REPLY }) },
    { s: pkt(2, cat(u8(0xfe), Buffer.from('client_ed25519\0'), Buffer.from('NEWSCRAMBLE0123456789012345678901'))) },
    { c: pkt(3, sig) },
    { s: ok(4) },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 1);
  t.equal(exchanges[0].response?.headers.auth, 'client_ed25519');
  t.match(exchanges[0].notes, ['authentication switched: mysql_native_password → client_ed25519']);
  t.notOk(leaks(exchanges, sig));
  t.notOk(leaks(exchanges, 'NEWSCRAMBLE'), 'the server scramble is not recorded either');
});

void t.test('a refused login: ERR 1045', async (t) => {
  const steps: Step[] = [
    { s: greeting() },
    { c: handshakeResponse({ user: 'mallory', db: 'shop', auth: SCRAMBLE_REPLY }) },
    { s: err(2, 1045, '28000', "Access denied for user 'mallory'@'localhost' (using password: YES)") },
    { close: 'fin' },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 1);
  t.match(exchanges[0], {
    method: 'CONNECT',
    path: 'shop',
    error: 'server_error',
    error_detail: "ERROR 1045 (28000): Access denied for user 'mallory'@'localhost' (using password: YES)",
    response: { headers: { code: '1045', sqlstate: '28000' } },
  });
  t.same(json(exchanges[0].response?.body), { error: { code: 1045, sqlstate: '28000', message: "Access denied for user 'mallory'@'localhost' (using password: YES)" } });
  t.notOk(leaks(exchanges, SCRAMBLE_REPLY));
});

void t.test('a server that refuses at once (ERR instead of a greeting)', async (t) => {
  const { exchanges, events } = runAllCuts(t, [{ s: err(0, 1040, '08004', 'Too many connections') }, { close: 'fin' }]);
  t.same(events, []);
  t.match(exchanges, [{ method: 'CONNECT', error: 'server_error', error_detail: 'ERROR 1040 (08004): Too many connections' }]);
});

void t.test('a port probe (greeting, then close) records nothing; a login cut short is closed', async (t) => {
  t.same(runAllCuts(t, [{ s: greeting() }, { close: 'fin' }]).exchanges, []);
  const cut = runAllCuts(t, [{ s: greeting() }, { c: handshakeResponse({ user: 'dave', auth: SCRAMBLE_REPLY }) }, { close: 'reset' }]);
  t.match(cut.exchanges, [{ method: 'CONNECT', error: 'reset', request: { headers: { user: 'dave' } } }]);
  t.notOk(leaks(cut.exchanges, SCRAMBLE_REPLY));
});

void t.test('SSLRequest: the rest goes to the TLS session', async (t) => {
  const hello = handshakeRecord(1, clientHelloBody([[0, sniExt('db.example.test')]]));
  const steps: Step[] = [{ s: greeting() }, { c: sslRequest() }, { c: hello }, { s: Buffer.from([0x16, 0x03, 0x03, 0x00, 0x02, 0x0e, 0x00]) }, { close: 'fin' }];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 1);
  t.match(exchanges[0], { protocol: 'tls', tls_info: { sni: 'db.example.test' } });
  t.match(exchanges[0].notes, [/SSLRequest.*server 8\.0\.36/]);
  t.equal(exchanges[0].bytes_out, hello.length);

  // The SSLRequest and the ClientHello in one chunk.
  const racing = runMy([{ s: greeting() }, { c: cat(sslRequest(), hello) }, { close: 'fin' }]);
  t.match(racing.exchanges, [{ protocol: 'tls', tls_info: { sni: 'db.example.test' } }]);
});

void t.test('the old HandshakeResponse320 is read', async (t) => {
  const flags = (CLIENT_CAPS & 0xffff & ~CLIENT.PROTOCOL_41) | CLIENT.CONNECT_WITH_DB;
  const payload = cat(Buffer.from([flags & 0xff, flags >> 8]), Buffer.from([0, 0, 1]), Buffer.from('old\0'), Buffer.from('scrambled\0'), Buffer.from('legacy\0'));
  const { exchanges } = runAllCuts(t, [{ s: greeting() }, { c: pkt(1, payload) }, { s: ok(2) }]);
  t.match(exchanges, [{ method: 'CONNECT', path: 'legacy', request: { headers: { user: 'old', database: 'legacy' } } }]);
  t.notOk(leaks(exchanges, 'scrambled'));
});
