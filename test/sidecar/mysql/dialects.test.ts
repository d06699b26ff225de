/**
 * What MariaDB and MySQL 8 add to the base protocol: MariaDB's metadata caching and pipelined
 * prepare+execute (statement id -1), MySQL 8 query attributes; and COM_CHANGE_USER.
 */
import t from 'tap';
import { CLIENT, COM, MARIADB, TYPE } from '../../../sidecar/mysql/constants.ts';
import {
  SERVER_CAPS,
  cat,
  colDef,
  command,
  cstr,
  err,
  execute,
  greeting,
  handshakeResponse,
  int32,
  lenenc,
  lstr,
  ok,
  pkt,
  prepare,
  prepareOk,
  query,
  resultSet,
  str,
  u16,
  u8,
  binaryRow,
} from './encoder.ts';
import { json, leaks, runAllCuts, text, type Step } from './harness.ts';

const MARIADB_SERVER = (SERVER_CAPS & ~CLIENT.LONG_PASSWORD) >>> 0;
const COLS = [{ name: 'id', type: TYPE.LONG, charset: 63 }, { name: 'name' }];
const i32 = (n: number): Buffer => int32(n).value as Buffer;

void t.test('MariaDB metadata caching: an execute without column definitions uses the cached ones', async (t) => {
  const ext = MARIADB.CACHE_METADATA;
  const steps: Step[] = [
    { s: greeting({ version: '5.5.5-10.11.6-MariaDB', caps: MARIADB_SERVER, mariadbCaps: ext }) },
    { c: handshakeResponse({ user: 'app', db: 'shop', deprecateEof: true, caps: (CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.TRANSACTIONS) >>> 0, mariadbCaps: ext }) },
    { s: ok(2) },
    { c: prepare('SELECT id, name FROM users WHERE id = ?') },
    { s: prepareOk(1, 5, 1, COLS, { deprecateEof: true }) },
    { c: execute(5, [int32(1)]) },
    // Column count 2, metadata follows (1): definitions sent.
    { s: cat(pkt(1, cat(lenenc(2), u8(1))), pkt(2, colDef(COLS[0])), pkt(3, colDef(COLS[1])), pkt(4, binaryRow([i32(1), lstr('ann')])), ok(5, { header: 0xfe })) },
    { c: execute(5, [int32(2)], false) },
    // Metadata follows (0): no definitions, the row decoded with the cached columns.
    { s: cat(pkt(1, cat(lenenc(2), u8(0))), pkt(2, binaryRow([i32(2), lstr('bo')])), ok(3, { header: 0xfe })) },
    // A text query: the byte is there too.
    { c: query('SELECT 7 AS n') },
    { s: cat(pkt(1, cat(lenenc(1), u8(1))), pkt(2, colDef({ name: 'n' })), pkt(3, lstr('7')), ok(4, { header: 0xfe })) },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 5);
  t.same(json(exchanges[2].response?.body).rows, [{ id: '1', name: 'ann' }]);
  t.same(json(exchanges[3].response?.body).rows, [{ id: '2', name: 'bo' }]);
  t.same(json(exchanges[3].request?.body).parameters, ['2']);
  t.same(json(exchanges[4].response?.body).rows, [{ n: '7' }]);
});

void t.test('MariaDB pipelined prepare + execute (statement id -1)', async (t) => {
  const steps: Step[] = [
    { s: greeting() },
    { c: handshakeResponse({ user: 'app', deprecateEof: true }) },
    { s: ok(2) },
    { c: cat(prepare('SELECT id, name FROM users WHERE name = ?'), execute(0xffffffff, [str('ann')])) },
    { s: cat(prepareOk(1, 9, 1, COLS, { deprecateEof: true }), pkt(1, lenenc(2)), pkt(2, colDef(COLS[0])), pkt(3, colDef(COLS[1])), pkt(4, binaryRow([i32(4), lstr('ann')])), ok(5, { header: 0xfe })) },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 3);
  t.match(exchanges[1], { method: 'PREPARE', response: { headers: { statement_id: '9' } } });
  t.match(exchanges[2], { method: 'SELECT', request: { headers: { statement_id: String(0xffffffff) } } });
  t.same(json(exchanges[2].request?.body), { query: 'SELECT id, name FROM users WHERE name = ?', parameters: ['ann'] });
  t.same(json(exchanges[2].response?.body).rows, [{ id: '4', name: 'ann' }]);
});

void t.test('MySQL 8 query attributes precede the query text', async (t) => {
  const caps = (SERVER_CAPS | CLIENT.QUERY_ATTRIBUTES) >>> 0;
  const attr = cat(u8(1), u8(1), u8(1), u8(TYPE.VAR_STRING), u8(0), lstr('trace_id'), lstr('abc123'));
  const steps: Step[] = [
    { s: greeting({ caps }) },
    { c: handshakeResponse({ user: 'app', caps: (CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.QUERY_ATTRIBUTES) >>> 0 }) },
    { s: ok(2) },
    { c: command(COM.QUERY, u8(0), u8(1), Buffer.from('SELECT 1')) },
    { s: resultSet(1, [{ name: '1' }], [['1']]) },
    { c: command(COM.QUERY, attr.subarray(0, 2), Buffer.from([0]), attr.subarray(2), Buffer.from('SELECT 2')) },
    { s: resultSet(1, [{ name: '2' }], [['2']]) },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.same(json(exchanges[1].request?.body), { query: 'SELECT 1' });
  t.same(json(exchanges[2].request?.body), { query: 'SELECT 2', parameters: ['abc123'], parameter_names: ['trace_id'] });
});

void t.test('COM_CHANGE_USER: a new login, masked, that changes user and database', async (t) => {
  const auth = Buffer.from('CHANGE-USER-SCRAMBLE');
  const caps = (CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.CONNECT_WITH_DB | CLIENT.TRANSACTIONS) >>> 0;
  const steps: Step[] = [
    { s: greeting() },
    { c: handshakeResponse({ user: 'app', db: 'shop', caps }) },
    { s: ok(2) },
    { c: command(COM.CHANGE_USER, cstr('report'), u8(auth.length), auth, cstr('analytics'), u16(45), cstr('mysql_native_password')) },
    { s: pkt(1, cat(u8(0xfe), cstr('caching_sha2_password'), Buffer.from('NEWSCRAMBLE-0123456789'))) },
    { c: pkt(2, Buffer.from('SWITCHED-AUTH-REPLY')) },
    { s: ok(3) },
    { c: query('SELECT 1') },
    { s: resultSet(1, [{ name: '1' }], [['1']]) },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 3);
  t.match(exchanges[1], {
    method: 'CHANGE_USER',
    path: 'analytics',
    request: { headers: { user: 'report', database: 'analytics' } },
    response: { headers: { auth: 'caching_sha2_password' } },
    redacted: ['request.body'],
    sensitive: ['password'],
  });
  t.equal(text(exchanges[1].request?.body), 'auth ****\nauth-response ****');
  t.match(exchanges[2], { method: 'SELECT', path: 'analytics', request: { headers: { user: 'report', database: 'analytics' } } });
  for (const secret of [auth, Buffer.from('SWITCHED-AUTH-REPLY'), Buffer.from('NEWSCRAMBLE')]) t.notOk(leaks(exchanges, secret));
});

void t.test('a pipelined execute whose statement failed to prepare', async (t) => {
  const steps: Step[] = [
    { s: greeting() },
    { c: handshakeResponse({ user: 'app', deprecateEof: true }) },
    { s: ok(2) },
    { c: cat(prepare('SELEKT ?'), execute(0xffffffff, [str('x')])) },
    { s: cat(err(1, 1064, '42000', 'syntax error'), err(1, 1243, 'HY000', 'Unknown prepared statement handler (4294967295)')) },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.match(exchanges.slice(1), [
    { method: 'PREPARE', error: 'server_error', error_detail: 'ERROR 1064 (42000): syntax error' },
    { method: 'SELEKT', error: 'server_error', error_detail: /^ERROR 1243/, notes: ['its statement failed to prepare'] },
  ]);
  t.same(json(exchanges[2].request?.body), { query: 'SELEKT ?' });
});
