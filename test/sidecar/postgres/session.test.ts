/**
 * The PostgreSQL capture session on scripted conversations: client bytes from pg-protocol's
 * serializer (the reference encoder), server bytes from the harness's encoder. Every script is
 * also run at every chunk split and must give the same exchanges.
 */
import t from 'tap';
import { serialize } from 'pg-protocol';
import { plain } from '../http1/harness.ts';
import { clientHelloBody, handshakeRecord, sniExt } from '../tls/fixtures.ts';
import { be, cat, greeting, json, msg, runAllCuts, runPg, text, timeOf, type Step } from './harness.ts';

const startup = (params: Record<string, string> = { user: 'alice', database: 'shop' }): Buffer => cat(serialize.startup(params));
const trustStart = (): Step[] => [{ c: startup() }, { s: greeting() }];
const leaks = (x: unknown, secret: string): boolean => JSON.stringify(plain(x)).includes(secret);

void t.test('startup with parameters and a cleartext password: the password never appears', async (t) => {
  const steps: Step[] = [
    { c: startup({ user: 'alice', database: 'shop', application_name: 'orders-api' }) },
    { s: be.authCleartext() },
    { c: cat(serialize.password('hunter2-secret')) },
    { s: greeting() },
    { close: 'fin' },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 1);
  const ex = exchanges[0];
  t.match(ex, {
    protocol: 'postgres',
    ordinal: 0,
    method: 'STARTUP',
    path: 'shop',
    start: timeOf(0),
    request_end: timeOf(2),
    response_start: timeOf(1),
    end: timeOf(3),
    redacted: ['request.body'],
    sensitive: ['password'],
  });
  t.same(ex.request?.headers, { user: 'alice', database: 'shop', application_name: 'orders-api', client_encoding: 'UTF8' });
  t.equal(text(ex.request?.body), 'password ****');
  t.match(ex.response?.headers, { auth: 'cleartext', backend_pid: '4242', server_version: '15.8' });
  t.notOk(leaks(exchanges, 'hunter2-secret'), 'password absent from every field');
  t.notOk(leaks(exchanges, '99999'), 'the cancel secret key is not recorded');
  t.equal(ex.error, undefined);
  t.equal(ex.bytes_out, steps.slice(0, 3).reduce((n, s) => n + ('c' in s ? s.c.length : 0), 0));
});

void t.test('MD5 authentication', async (t) => {
  const steps: Step[] = [
    { c: startup({ user: 'bob' }) },
    { s: be.authMd5() },
    { c: cat(serialize.password('md5a3556571e93b0d20722ba62be61e8c2d')) },
    { s: greeting() },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 1);
  t.equal(exchanges[0].path, 'bob', 'the database defaults to the user name');
  t.equal(exchanges[0].response?.headers.auth, 'md5');
  t.equal(text(exchanges[0].request?.body), 'md5-password ****');
  t.notOk(leaks(exchanges, 'a3556571e93b0d20722ba62be61e8c2d'));
});

void t.test('SCRAM-SHA-256: both SASL messages masked', async (t) => {
  const steps: Step[] = [
    { c: startup() },
    { s: be.authSasl(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']) },
    { c: cat(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=*,r=clientNONCEabc')) },
    { s: be.authSaslContinue('r=clientNONCEabcSERVER,s=c2FsdHNhbHQ=,i=4096') },
    { c: cat(serialize.sendSCRAMClientFinalMessage('c=biws,r=clientNONCEabcSERVER,p=PROOFsecretPROOF')) },
    { s: cat(be.authSaslFinal('v=SIGNATUREsig'), greeting()) },
    { c: cat(serialize.query('SELECT 1')) },
    { s: cat(be.rowDescription(['?column?']), be.dataRow(['1']), be.commandComplete('SELECT 1'), be.ready()) },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 2);
  t.equal(exchanges[0].response?.headers.auth, 'sasl SCRAM-SHA-256');
  t.equal(text(exchanges[0].request?.body), 'sasl SCRAM-SHA-256 ****\nsasl-response ****');
  for (const secret of ['PROOFsecretPROOF', 'clientNONCEabc', 'c2FsdHNhbHQ', 'SIGNATUREsig']) t.notOk(leaks(exchanges, secret), secret);
  t.match(exchanges[1], { method: 'SELECT', path: 'shop', ordinal: 1 });
});

void t.test('authentication failure ends the startup with the server error', async (t) => {
  const steps: Step[] = [
    { c: startup({ user: 'x' }) },
    { s: be.authCleartext() },
    { c: cat(serialize.password('wrong-pass')) },
    { s: be.error({ S: 'FATAL', V: 'FATAL', C: '28P01', M: 'password authentication failed for user "x"' }) },
    { close: 'fin' },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 1);
  t.match(exchanges[0], { method: 'STARTUP', error: 'server_error', error_detail: 'FATAL 28P01: password authentication failed for user "x"' });
  t.match(exchanges[0].response?.headers, { auth: 'cleartext', sqlstate: '28P01', severity: 'FATAL' });
  t.notOk(leaks(exchanges, 'wrong-pass'));
});

void t.test('trust authentication', async (t) => {
  const { exchanges } = runAllCuts(t, trustStart());
  t.equal(exchanges[0].response?.headers.auth, 'trust');
  t.equal(exchanges[0].request?.body.length, 0);
  t.equal(exchanges[0].redacted, undefined);
});

void t.test('a simple query with two statements: one exchange each, text split at the boundary', async (t) => {
  const sql = "SELECT id, name FROM t WHERE name <> 'a;b' /* ; */; UPDATE t SET x = $$;$$ WHERE id = 1 -- done;\n";
  const steps: Step[] = [
    ...trustStart(),
    { c: cat(serialize.query(sql)) },
    { s: cat(be.rowDescription(['id', 'name']), be.dataRow(['1', 'ann']), be.dataRow(['2', null])) },
    { s: cat(be.commandComplete('SELECT 2'), be.commandComplete('UPDATE 1')) },
    { s: be.ready() },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 3);
  const [sel, upd] = exchanges.slice(1);
  t.match(sel, { method: 'SELECT', ordinal: 1, path: 'shop', start: timeOf(2), request_end: timeOf(2), response_start: timeOf(3), end: timeOf(4) });
  t.same(json(sel.request?.body), { query: "SELECT id, name FROM t WHERE name <> 'a;b' /* ; */" });
  t.same(sel.request?.headers, { user: 'alice', database: 'shop', part: '1/2' });
  t.equal(sel.request?.content_type, 'application/json');
  t.same(json(sel.response?.body), { columns: ['id', 'name'], rows: [{ id: '1', name: 'ann' }, { id: '2', name: null }], row_count: 2, command: 'SELECT 2' });
  t.same(sel.response?.headers, { tag: 'SELECT 2', rows: '2' });
  t.match(upd, { method: 'UPDATE', ordinal: 2, end: timeOf(5) });
  t.same(json(upd.request?.body), { query: 'UPDATE t SET x = $$;$$ WHERE id = 1 -- done;' });
  t.same(upd.response?.headers, { tag: 'UPDATE 1', rows: '1' });
  t.equal(sel.bytes_out, steps[2] && 'c' in steps[2] ? steps[2].c.length : -1, 'the query bytes counted once');
  t.equal(upd.bytes_out, 0);
});

void t.test('statements that cannot be split with certainty keep the whole text on each', async (t) => {
  const sql = "SELECT 'a\\'; SELECT 2";
  const steps: Step[] = [
    ...trustStart(),
    { c: cat(serialize.query(sql)) },
    { s: cat(be.commandComplete('SELECT 1'), be.commandComplete('SELECT 1'), be.ready()) },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 3);
  t.same(json(exchanges[1].request?.body), { query: sql });
  t.same(json(exchanges[2].request?.body), { query: sql });
  t.equal(exchanges[1].request?.headers.part, '1/2');
  t.equal(exchanges[2].request?.headers.part, '2/2');
  t.match(exchanges[2].notes, [/boundaries not certain/]);
});

void t.test('extended protocol: a named statement reused with different parameters', async (t) => {
  const steps: Step[] = [
    ...trustStart(),
    { c: cat(serialize.parse({ name: 'get_user', text: 'SELECT name, avatar FROM users WHERE id = $1' }), serialize.describe({ type: 'S', name: 'get_user' }), serialize.sync()) },
    { s: cat(be.parseComplete(), be.parameterDescription([23]), be.rowDescription(['name', 'avatar']), be.ready()) },
    { c: cat(serialize.bind({ statement: 'get_user', values: ['42'], binary: true }), serialize.execute(), serialize.sync()) },
    { s: cat(be.bindComplete(), be.dataRow(['ann', Buffer.from([0, 1])]), be.commandComplete('SELECT 1'), be.ready()) },
    { c: cat(serialize.bind({ statement: 'get_user', values: ['7'] }), serialize.execute(), serialize.sync()) },
    { s: cat(be.bindComplete(), be.dataRow(['bo', null]), be.commandComplete('SELECT 1'), be.ready()) },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 4);
  const [prep, first, second] = exchanges.slice(1);
  t.match(prep, { method: 'PARSE', response: { headers: {} }, request: { headers: { statement: 'get_user' } } });
  t.same(json(prep.request?.body), { query: 'SELECT name, avatar FROM users WHERE id = $1' });
  t.same(json(prep.response?.body), { columns: ['name', 'avatar'], rows: [] });
  t.match(first, { method: 'SELECT', path: 'shop', start: timeOf(4), request_end: timeOf(4), end: timeOf(5) });
  t.same(first.request?.headers, { user: 'alice', database: 'shop', statement: 'get_user' });
  t.same(json(first.request?.body), { query: 'SELECT name, avatar FROM users WHERE id = $1', parameters: ['42'] });
  // Binary results asked for in Bind: values shown as hex.
  t.same(json(first.response?.body), { columns: ['name', 'avatar'], rows: [{ name: '\\x616e6e', avatar: '\\x0001' }], row_count: 1, command: 'SELECT 1' });
  t.same(json(second.request?.body), { query: 'SELECT name, avatar FROM users WHERE id = $1', parameters: ['7'] });
  t.same(json(second.response?.body), { columns: ['name', 'avatar'], rows: [{ name: 'bo', avatar: null }], row_count: 1, command: 'SELECT 1' });
});

void t.test('extended protocol the node-pg way: unnamed statement, text results, binary and null parameters', async (t) => {
  const textResults = (p: Buffer): Buffer => {
    // Rewrite the trailing result-format section to "no codes" (all text), as libpq sends it.
    return cat(p.subarray(0, p.length - 4), Buffer.from([0, 0]));
  };
  const bind = cat(serialize.bind({ values: ['42', null, Buffer.from([0, 1])] }));
  const fixed = textResults(bind);
  fixed.writeInt32BE(fixed.length - 1, 1);
  const steps: Step[] = [
    ...trustStart(),
    {
      c: cat(
        serialize.parse({ text: 'INSERT INTO t (a, b, c) VALUES ($1, $2, $3) RETURNING id' }),
        fixed,
        serialize.describe({ type: 'P' }),
        serialize.execute(),
        serialize.sync(),
      ),
    },
    { s: cat(be.parseComplete(), be.bindComplete(), be.rowDescription(['id']), be.dataRow(['17']), be.commandComplete('INSERT 0 1'), be.ready()) },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 2);
  const ex = exchanges[1];
  t.match(ex, { method: 'INSERT', end: timeOf(3) });
  t.same(ex.request?.headers, { user: 'alice', database: 'shop' });
  t.same(json(ex.request?.body), { query: 'INSERT INTO t (a, b, c) VALUES ($1, $2, $3) RETURNING id', parameters: ['42', null, '\\x0001'] });
  t.same(json(ex.response?.body), { columns: ['id'], rows: [{ id: '17' }], row_count: 1, command: 'INSERT 0 1' });
  t.same(ex.response?.headers, { tag: 'INSERT 0 1', rows: '1' });
  t.equal(ex.bytes_out, 'c' in steps[2] ? steps[2].c.length : -1, 'every request message counted');
  t.equal(ex.bytes_in, 's' in steps[3] ? steps[3].s.length : -1, 'every response message counted');
});

void t.test('an error with its SQLSTATE (simple and extended)', async (t) => {
  const err = { S: 'ERROR', V: 'ERROR', C: '42P01', M: 'relation "nope" does not exist', P: '15' };
  const steps: Step[] = [
    ...trustStart(),
    { c: cat(serialize.query('SELECT * FROM nope')) },
    { s: cat(be.error(err), be.ready()) },
    { c: cat(serialize.parse({ text: 'SELECT * FROM nope WHERE id = $1' }), serialize.bind({ values: ['1'] }), serialize.execute(), serialize.sync()) },
    { s: cat(be.error(err), be.ready()) },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 3);
  for (const ex of exchanges.slice(1)) {
    t.match(ex, { method: 'SELECT', error: 'server_error', error_detail: 'ERROR 42P01: relation "nope" does not exist' });
    t.same(ex.response?.headers, { severity: 'ERROR', sqlstate: '42P01', message: 'relation "nope" does not exist' });
    t.match(json(ex.response?.body), { error: { sqlstate: '42P01', position: '15' } });
  }
  t.same(json(exchanges[2].request?.body).parameters, ['1']);
});

void t.test('after an error the rest of the batch is recorded as not executed', async (t) => {
  const steps: Step[] = [
    ...trustStart(),
    {
      c: cat(
        serialize.parse({ text: 'INSERT INTO t VALUES (1)' }), serialize.bind(), serialize.execute(),
        serialize.parse({ text: 'INSERT INTO t VALUES (2)' }), serialize.bind(), serialize.execute(),
        serialize.sync(),
        serialize.query('SELECT 1'),
      ),
    },
    {
      s: cat(
        be.parseComplete(), be.bindComplete(),
        be.error({ S: 'ERROR', V: 'ERROR', C: '23505', M: 'duplicate key value violates unique constraint "t_pkey"' }),
        be.ready('E'),
        be.commandComplete('SELECT 1'),
        be.ready(),
      ),
    },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 4);
  t.match(exchanges[1], { method: 'INSERT', error: 'server_error', error_detail: /^ERROR 23505/ });
  t.match(exchanges[2], { method: 'INSERT', error: 'server_error', error_detail: /^not executed: ERROR 23505/ });
  t.equal(exchanges[2].response, undefined);
  t.same(json(exchanges[2].request?.body), { query: 'INSERT INTO t VALUES (2)', parameters: [] });
  t.match(exchanges[3], { method: 'SELECT', error: undefined });
});

void t.test('a notice becomes a note of its statement', async (t) => {
  const steps: Step[] = [
    ...trustStart(),
    { c: cat(serialize.query('DROP TABLE IF EXISTS gone; SELECT 1')) },
    {
      s: cat(
        be.notice({ S: 'NOTICE', V: 'NOTICE', C: '00000', M: 'table "gone" does not exist, skipping' }),
        be.commandComplete('DROP TABLE'),
        be.rowDescription(['?column?']),
        be.dataRow(['1']),
        be.commandComplete('SELECT 1'),
        be.ready(),
      ),
    },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 3);
  t.match(exchanges[1], { method: 'DROP', notes: ['notice: NOTICE 00000: table "gone" does not exist, skipping'], error: undefined });
  t.same(json(exchanges[1].request?.body), { query: 'DROP TABLE IF EXISTS gone' });
  t.equal(exchanges[2].notes, undefined);
});

void t.test('150 rows: 100 kept, the true count reported', async (t) => {
  const rows = Array.from({ length: 150 }, (_, i) => be.dataRow([String(i + 1), `name-${i + 1}`]));
  const steps: Step[] = [
    ...trustStart(),
    { c: cat(serialize.query('SELECT g, name FROM big')) },
    { s: cat(be.rowDescription(['g', 'name']), ...rows, be.commandComplete('SELECT 150'), be.ready()) },
  ];
  const { exchanges } = runAllCuts(t, steps);
  const body = json(exchanges[1].response?.body);
  t.equal(body.rows.length, 100);
  t.equal(body.row_count, 150);
  t.equal(body.truncated, true);
  t.same(body.rows[99], { g: '100', name: 'name-100' });
  t.equal(exchanges[1].response?.headers.rows, '150');
  t.equal(exchanges[1].response?.truncated, true);
  t.equal(exchanges[1].response?.body_size, 's' in steps[3] ? steps[3].s.length : -1);

  // The byte limit bites first with a small body limit; the body stays valid JSON.
  const small = runPg(steps, new Map(), 1024).exchanges[1];
  const smallBody = json(small.response?.body);
  t.ok(smallBody.rows.length > 0 && smallBody.rows.length < 100, `${smallBody.rows.length} rows within 1 KiB`);
  t.ok(small.response!.body.length <= 1024);
  t.equal(smallBody.row_count, 150);
});

void t.test('a huge value in a DataRow is kept only to the body limit', async (t) => {
  const big = 'x'.repeat(5000);
  const steps: Step[] = [
    ...trustStart(),
    { c: cat(serialize.query('SELECT doc FROM docs')) },
    { s: cat(be.rowDescription(['doc']), be.dataRow([big]), be.dataRow(['small']), be.commandComplete('SELECT 2'), be.ready()) },
  ];
  const { exchanges } = runPg(steps, new Map(), 1000);
  const ex = exchanges[1];
  t.ok(ex.response!.body.length <= 1000);
  t.equal(ex.response?.truncated, true);
  t.equal(ex.response?.headers.rows, '2');
});

void t.test('COPY is counted, its data not stored', async (t) => {
  const steps: Step[] = [
    ...trustStart(),
    { c: cat(serialize.query('COPY items FROM STDIN')) },
    { s: be.copyInResponse(2) },
    { c: cat(serialize.copyData(Buffer.from('1\tsecret-row-a\n')), serialize.copyData(Buffer.from('2\tb\n3\tc\n')), serialize.copyDone()) },
    { s: cat(be.commandComplete('COPY 3'), be.ready()) },
    { c: cat(serialize.query('COPY items TO STDOUT')) },
    { s: cat(be.copyOutResponse(2), be.copyData('1\tsecret-row-a\n'), be.copyData('2\tb\n'), be.copyDone(), be.commandComplete('COPY 2'), be.ready()) },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 3);
  t.match(exchanges[1], { method: 'COPY', response: { headers: { tag: 'COPY 3', rows: '3' } }, notes: ['copy in: 2 messages, 23 bytes (data not captured)'] });
  t.equal(exchanges[1].bytes_out, ('c' in steps[2] ? steps[2].c.length : 0) + ('c' in steps[4] ? steps[4].c.length : 0));
  t.match(exchanges[2], { method: 'COPY', response: { headers: { tag: 'COPY 2', rows: '2' } }, notes: [/copy out: 2 messages, 19 bytes/] });
  t.notOk(leaks(exchanges, 'secret-row-a'), 'copy data not stored');
});

void t.test('SSLRequest refused: the conversation goes on in plaintext', async (t) => {
  const steps: Step[] = [
    { c: cat(serialize.requestSsl()) },
    { s: Buffer.from('N') },
    { c: startup() },
    { s: greeting() },
    { c: cat(serialize.query('SELECT 1')) },
    { s: cat(be.commandComplete('SELECT 1'), be.ready()) },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 2);
  t.match(exchanges[0], { method: 'STARTUP', start: timeOf(0), notes: ['SSLRequest refused (N): plaintext'] });
  t.match(exchanges[1], { method: 'SELECT' });
});

void t.test('SSLRequest accepted: the TLS session takes the connection', async (t) => {
  const hello = handshakeRecord(1, clientHelloBody([[0, sniExt('db.example.test')]]));
  const steps: Step[] = [
    { c: cat(serialize.requestSsl()) },
    { s: Buffer.from('S') },
    { c: hello },
    { close: 'fin' },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 1);
  t.match(exchanges[0], { protocol: 'tls', tls_info: { sni: 'db.example.test' } });
  t.equal(exchanges[0].bytes_out, hello.length);

  // The answer and the first TLS bytes in one chunk; the client's hello held while the answer was awaited.
  const racing = runPg([{ c: cat(serialize.requestSsl(), hello) }, { s: Buffer.from('S') }, { close: 'fin' }]);
  t.match(racing.exchanges, [{ protocol: 'tls', tls_info: { sni: 'db.example.test' } }]);
});

void t.test('a GSSENCRequest refused then plaintext', async (t) => {
  const gss = Buffer.alloc(8);
  gss.writeInt32BE(8);
  gss.writeInt32BE(80877104, 4);
  const { exchanges } = runAllCuts(t, [{ c: gss }, { s: Buffer.from('N') }, ...trustStart()]);
  t.match(exchanges, [{ method: 'STARTUP', notes: ['GSSENCRequest refused (N): plaintext'] }]);
});

void t.test('a CancelRequest is one record without the secret key', async (t) => {
  const { exchanges } = runAllCuts(t, [{ c: cat(serialize.cancel(4242, 123456789)) }, { close: 'fin' }]);
  t.equal(exchanges.length, 1);
  t.match(exchanges[0], { method: 'CANCEL', request: { headers: { backend_pid: '4242' } } });
  t.notOk(leaks(exchanges, '123456789'));
});

void t.test('a notification is its own exchange', async (t) => {
  const steps: Step[] = [
    ...trustStart(),
    { c: cat(serialize.query('LISTEN orders')) },
    { s: cat(be.commandComplete('LISTEN'), be.ready()) },
    { s: be.notification(777, 'orders', '{"id":5}') },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 3);
  t.match(exchanges[2], { method: 'NOTIFY', path: 'orders', ordinal: 2, start: timeOf(4), response: { headers: { channel: 'orders', pid: '777' } } });
  t.equal(text(exchanges[2].response?.body), '{"id":5}');
});

void t.test('garbage is a parse error, never a throw', async (t) => {
  // (A well-framed packet of another protocol version is no garbage: it is a startup the server refuses, see startup-cut.test.ts.)
  for (const garbage of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', '\x00\x00\x27\x11\x00\x03\x00\x00', '\x00\x00\x00\x02junk']) {
    const { exchanges, events } = runAllCuts(t, [{ c: Buffer.from(garbage, 'latin1') }, { s: Buffer.from('whatever') }, { close: 'fin' }]);
    t.match(events, [{ kind: 'parse_error', side: 'client', detail: /^postgres: / }], JSON.stringify(garbage));
    t.match(exchanges, [{ protocol: 'postgres', error: 'parse' }]);
  }
  // A server that starts sending nonsense after startup: the pending query is the culprit.
  const { exchanges, events } = runAllCuts(t, [...trustStart(), { c: cat(serialize.query('SELECT 1')) }, { s: Buffer.from('\xff\x00\x00\x00\x04', 'latin1') }, { close: 'fin' }]);
  t.match(events, [{ kind: 'parse_error', side: 'server', detail: /unknown backend message type 0xff/ }]);
  t.match(exchanges[1], { method: 'SELECT', error: 'parse' });
  // A wrong length for a fixed-size message.
  const bad = runPg([...trustStart(), { c: cat(serialize.query('SELECT 1')) }, { s: msg('Z', Buffer.from('II')) }]);
  t.match(bad.events, [{ kind: 'parse_error', detail: /'Z' length 6, expected 5/ }]);
  // A length over 1 GiB.
  const huge = runPg([...trustStart(), { c: Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]) }]);
  t.match(huge.events, [{ kind: 'parse_error', side: 'client', detail: /length 2147483647 outside/ }]);
});

void t.test('a stream cut short: flushed at close with the reason', async (t) => {
  const row = be.dataRow(['1', 'a']);
  const steps = (reason: 'fin' | 'reset' | 'timeout'): Step[] => [
    ...trustStart(),
    { c: cat(serialize.query('SELECT id, v FROM t'), serialize.query('SELECT 2')) },
    { s: cat(be.rowDescription(['id', 'v']), row, row.subarray(0, 6)) },
    { close: reason },
  ];
  for (const [reason, error] of [['fin', 'closed'], ['reset', 'reset'], ['timeout', 'timeout']] as const) {
    const { exchanges } = runAllCuts(t, steps(reason));
    t.equal(exchanges.length, 3);
    t.match(exchanges[1], { method: 'SELECT', error, end: timeOf(4) });
    t.same(json(exchanges[1].response?.body).rows, [{ id: '1', v: 'a' }]);
    t.match(exchanges[1].notes, [/response cut short: 6 bytes/]);
    t.equal(exchanges[1].bytes_in, be.rowDescription(['id', 'v']).length + row.length + 6, `bytes_in counts every byte of the answer, the cut message too (${exchanges[1].bytes_in})`);
    t.match(exchanges[2], { error: 'unpaired', response: undefined });
    t.same(json(exchanges[2].request?.body), { query: 'SELECT 2' });
  }
  // Closed in the middle of startup.
  const mid = runPg([{ c: startup() }, { s: be.authCleartext() }, { close: 'reset' }]);
  t.match(mid.exchanges, [{ method: 'STARTUP', error: 'reset', response: { headers: { auth: 'cleartext' } } }]);
});

void t.test('too many calls awaiting the server cut the capture', async (t) => {
  const queries = Array.from({ length: 130 }, (_, i) => serialize.query(`SELECT ${i}`));
  const { exchanges, events } = runPg([...trustStart(), { c: cat(...queries) }, { s: cat(be.commandComplete('SELECT 1'), be.ready()) }, { close: 'fin' }]);
  t.same(events, [{ kind: 'capture_overflow', reason: 'pending_exchanges' }]);
  t.equal(exchanges.length, 1 + 128);
  t.ok(exchanges.slice(1).every((e) => e.error === 'capture_overflow'));
  t.same(new Set(exchanges.map((e) => e.ordinal)).size, exchanges.length, 'ordinals unique');
});

void t.test('skips: absorbed inside a DataRow or a Query, refused elsewhere; resync stops capture', async (t) => {
  const got: Array<{ error?: string; notes?: string[]; body?: Uint8Array; method?: string }> = [];
  const { createPostgresSession } = await import('../../../sidecar/postgres/session.ts');
  const s = createPostgresSession({ maxBodyBytes: 4096, emit: (e) => got.push({ error: e.error, notes: e.notes, body: e.response?.body, method: e.method }), event: () => undefined });
  s.clientData(startup(), 1n);
  s.serverData(greeting(), 2n);
  s.clientData(cat(serialize.query('SELECT v FROM t')), 3n);
  const row = be.dataRow(['0123456789abcdefghij']);
  s.serverData(cat(be.rowDescription(['v']), row.subarray(0, 15)), 4n);
  t.ok(s.skipServer!(10, 5n), 'inside the DataRow');
  s.serverData(cat(row.subarray(25), be.commandComplete('SELECT 1'), be.ready()), 6n);
  t.equal(got.length, 2);
  t.match(got[1].notes, [/10 bytes not captured/]);
  t.match(JSON.parse(Buffer.from(got[1].body!).toString()), { rows: [{ v: '0123' }], truncated: true, row_count: 1 });

  const q = cat(serialize.query(`SELECT '${'y'.repeat(100)}'`));
  s.clientData(q.subarray(0, 20), 7n);
  t.ok(s.skipClient!(50, 8n), 'inside a Query');
  s.clientData(q.subarray(70), 9n);
  s.serverData(cat(be.commandComplete('SELECT 1'), be.ready()), 10n);
  t.equal(got.length, 3);
  t.match(got[2], { method: 'SELECT', error: undefined });

  s.clientData(cat(serialize.query('SELECT 3')).subarray(0, 3), 11n);
  t.notOk(s.skipClient!(40, 12n), 'across a header: framing lost');
  s.resync!(12n, 'gap');
  t.equal(got.length, 4);
  t.equal(got[3].error, 'capture_overflow');
  s.clientData(cat(serialize.query('SELECT 4')), 13n);
  s.close(14n, 'fin');
  t.equal(got.length, 4, 'nothing parsed after a resync');
});

void t.test('a failing sink never reaches the caller', async (t) => {
  const { createPostgresSession } = await import('../../../sidecar/postgres/session.ts');
  const s = createPostgresSession({
    maxBodyBytes: 1024,
    emit: () => {
      throw new Error('sink down');
    },
    event: () => {
      throw new Error('metrics down');
    },
  });
  t.doesNotThrow(() => {
    s.clientData(startup(), 1n);
    s.serverData(greeting(), 2n);
    s.clientData(Buffer.from('garbage!'), 3n);
    s.close(4n, 'reset');
  });
});

void t.test('a query larger than the body limit: shortened, still JSON, true size kept', async (t) => {
  const sql = `SELECT '${'é'.repeat(3000)}'`;
  const q = cat(serialize.query(sql));
  const { exchanges } = runPg([...trustStart(), { c: q }, { s: cat(be.commandComplete('SELECT 1'), be.ready()) }], new Map(), 1000);
  const req = exchanges[1].request!;
  t.ok(req.body.length <= 1000, `${req.body.length} bytes`);
  t.ok(sql.startsWith(json(req.body).query), 'a prefix of the text');
  t.equal(req.truncated, true);
  t.equal(req.body_size, q.length);
  t.equal(exchanges[1].method, 'SELECT');
});

void t.test('empty query, portal suspended, function call, error at Sync', async (t) => {
  const fn = Buffer.from([0x46, 0, 0, 0, 14, 0, 0, 0x04, 0xd2, 0, 0, 0, 0, 0, 0]);
  fn.writeInt32BE(fn.length - 1, 1);
  const steps: Step[] = [
    ...trustStart(),
    { c: cat(serialize.query('  ')) },
    { s: cat(be.emptyQuery(), be.ready()) },
    { c: cat(serialize.parse({ text: 'SELECT g FROM s' }), serialize.bind(), serialize.execute({ rows: 1 }), serialize.sync()) },
    { s: cat(be.parseComplete(), be.bindComplete(), be.dataRow(['1']), be.portalSuspended(), be.ready('T')) },
    { c: fn },
    { s: cat(msg('V', Buffer.from([0, 0, 0, 1, 0x31])), be.ready()) },
    { c: cat(serialize.parse({ text: 'COMMIT' }), serialize.bind(), serialize.execute(), serialize.sync()) },
    { s: cat(be.parseComplete(), be.bindComplete(), be.commandComplete('COMMIT'), be.error({ S: 'ERROR', V: 'ERROR', C: '40001', M: 'could not serialize access' }), be.ready()) },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 5);
  t.match(exchanges[1], { error: undefined, response: { body: /"empty":true/ } });
  t.match(exchanges[2], { method: 'SELECT', notes: ['row limit 1 per Execute', 'portal suspended: the Execute row limit was reached'] });
  t.same(json(exchanges[2].response?.body).rows, [{ $1: '1' }], 'no RowDescription: positional keys');
  t.match(exchanges[3], { method: 'FUNCTION CALL', error: undefined });
  t.match(exchanges[4], { method: 'COMMIT', error: 'server_error', error_detail: 'ERROR 40001: could not serialize access', notes: [/error at Sync/] });
});

void t.test('direct TLS (no SSLRequest) goes to the TLS session', async (t) => {
  const hello = handshakeRecord(1, clientHelloBody([[0, sniExt('direct.example.test')]]));
  const { exchanges, events } = runPg([{ c: hello }, { close: 'fin' }]);
  t.same(events, []);
  t.match(exchanges, [{ protocol: 'tls', tls_info: { sni: 'direct.example.test' } }]);
});
