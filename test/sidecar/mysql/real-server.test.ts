/**
 * The capture session against a real MariaDB: a throwaway server on loopback, a recording TCP
 * relay in front of it, the `mariadb` CLI and `mysql2` (prepared statements) talking through the
 * relay; the recorded chunks are then fed to the session, in the order the relay saw them.
 */
import t from 'tap';
import { startRecordingRelay, type RelayChunk } from '../../helpers/recording-relay.ts';
import { MYSQL_PASSWORD as PASSWORD, runCommand as run, startMariadb } from '../../helpers/mariadb-server.ts';
import mysql from 'mysql2/promise';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { createMysqlSession } from '../../../sidecar/mysql/session.ts';
import { plain } from '../http1/harness.ts';
import { json, text } from './harness.ts';

function replay(chunks: RelayChunk[]): { exchanges: Exchange[]; events: unknown[] } {
  const exchanges: Exchange[] = [];
  const events: unknown[] = [];
  const s = createMysqlSession({ maxBodyBytes: 64 * 1024, emit: (e) => exchanges.push(e), event: (e) => events.push(e) });
  let last = 0n;
  for (const c of chunks) {
    last = c.at;
    if (c.from === 'client') s.clientData(c.data, c.at);
    else s.serverData(c.data, c.at);
  }
  s.close(last + 1n, 'fin');
  return { exchanges, events };
}

const queryOf = (e: Exchange): string => (e.request?.content_type === 'application/json' ? (json(e.request.body).query ?? '') : '');

void t.test('real MariaDB through a recording relay', async (t) => {
  const port = await startMariadb(t);

  const relay = await startRecordingRelay(port);
  t.teardown(relay.close);
  const cli = (args: string[]): ReturnType<typeof run> =>
    run('mariadb', ['--no-defaults', '-h', '127.0.0.1', '-P', String(relay.port), '-u', 'app', '--skip-ssl', '--batch', ...args]);

  // ---- the CLI: DDL, an insert, a select, a failing query, 150 rows ----
  const sql = [
    'CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, price DECIMAL(8,2), created DATETIME)',
    "INSERT INTO items (name, price, created) VALUES ('apple', 1.25, '2024-01-02 03:04:05'), ('pear', NULL, NULL)",
    'SELECT id, name, price, created FROM items ORDER BY id',
    'SELECT seq FROM seq_1_to_150',
    // Last: the CLI stops at an error even with --force when given -e.
    'SELECT * FROM nope',
  ];
  const a = await cli([`-p${PASSWORD}`, 'shop', '-e', sql.join(';\n')]);
  t.match(a.stderr, /ERROR 1146 \(42S02\)/);
  t.match(a.stdout, /apple\t1\.25/);
  // ---- the CLI with a wrong password ----
  const denied = await cli(['-pwrong-password', 'shop', '-e', 'SELECT 1']);
  t.not(denied.status, 0);
  t.match(denied.stderr, /ERROR 1045 \(28000\)/);

  // ---- mysql2: prepared statements with parameters, a multi-statement query, COM_CHANGE_USER ----
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: relay.port,
    user: 'app',
    password: PASSWORD,
    database: 'shop',
    multipleStatements: true,
    connectAttributes: { program_name: 'meshtap-test' },
  });
  await conn.execute('INSERT INTO items (name, price, created) VALUES (?, ?, ?)', ['plum', 2.5, null]);
  const [rows] = await conn.execute('SELECT id, name, price, created FROM items WHERE id >= ? AND name <> ? ORDER BY id', [1, 'pear']);
  t.equal((rows as unknown[]).length, 2);
  await conn.query('SELECT 1 AS one; SELECT 2 AS two');
  await t.rejects(conn.execute('SELECT * FROM nope WHERE id = ?', [1]), /doesn't exist/);
  await conn.changeUser({ user: 'app', password: PASSWORD, database: 'shop' });
  await conn.query('SELECT DATABASE() AS db');
  await conn.end();

  await new Promise((r) => setTimeout(r, 300));
  t.equal(relay.connections.length, 3, 'three connections recorded');

  // ---- replay: the CLI ----
  const c1 = replay(relay.connections[0]);
  t.same(c1.events, [], 'no parse errors');
  t.notOk(JSON.stringify(plain(c1.exchanges)).includes(PASSWORD), 'the password appears nowhere');
  const [login, ...calls] = c1.exchanges;
  t.match(login, { protocol: 'mysql', method: 'CONNECT', path: 'shop', redacted: ['request.body'], sensitive: ['password'] });
  t.equal(login.error, undefined);
  t.match(login.request?.headers, { user: 'app', database: 'shop', _client_name: /maria|mysql/i });
  t.equal(text(login.request?.body).split('\n')[0], 'auth ****');
  t.match(login.response?.headers, { auth: 'mysql_native_password', server_version: /MariaDB/ });
  const find = (q: RegExp): Exchange[] => calls.filter((e) => q.test(queryOf(e)));
  t.match(find(/^CREATE TABLE items/), [{ method: 'CREATE', path: 'shop', response: { headers: { affected_rows: '0' } } }]);
  t.match(find(/^INSERT INTO items/), [{ method: 'INSERT', response: { headers: { affected_rows: '2', last_insert_id: '1' } } }]);
  const sel = find(/^SELECT id, name, price, created FROM items/);
  t.equal(sel.length, 1);
  t.same(json(sel[0].response?.body), {
    columns: ['id', 'name', 'price', 'created'],
    rows: [
      { id: '1', name: 'apple', price: '1.25', created: '2024-01-02 03:04:05' },
      { id: '2', name: 'pear', price: null, created: null },
    ],
    row_count: 2,
    command: 'SELECT',
  });
  t.match(find(/nope/), [{ method: 'SELECT', error: 'server_error', error_detail: /^ERROR 1146 \(42S02\): Table 'shop\.nope' doesn't exist/, response: { headers: { code: '1146', sqlstate: '42S02' } } }]);
  const seq = find(/seq_1_to_150/);
  t.match(json(seq[0]?.response?.body), { row_count: 150, truncated: true });
  t.equal(json(seq[0]?.response?.body).rows.length, 100);
  t.equal(seq[0]?.response?.headers.rows, '150');

  // The session agrees with itself when the same bytes arrive one byte at a time.
  const bytewise: RelayChunk[] = relay.connections[0].flatMap((c) => [...c.data].map((b) => ({ ...c, data: Buffer.from([b]) })));
  t.same(plain(replay(bytewise).exchanges), plain(c1.exchanges), 'byte by byte: the same records');

  // ---- replay: the refused login ----
  const c2 = replay(relay.connections[1]);
  t.same(c2.events, []);
  t.match(c2.exchanges, [{ method: 'CONNECT', error: 'server_error', error_detail: /^ERROR 1045 \(28000\): Access denied for user 'app'@/, response: { headers: { code: '1045', sqlstate: '28000' } } }]);
  t.notOk(JSON.stringify(plain(c2.exchanges)).includes('wrong-password'));

  // ---- replay: mysql2 ----
  const c3 = replay(relay.connections[2]);
  t.same(c3.events, []);
  t.notOk(JSON.stringify(plain(c3.exchanges)).includes(PASSWORD));
  t.match(c3.exchanges[0], { method: 'CONNECT', path: 'shop', request: { headers: { user: 'app', program_name: 'meshtap-test' } } });
  const prepares = c3.exchanges.filter((e) => e.method === 'PREPARE');
  t.ok(prepares.length >= 3, `${prepares.length} statements prepared`);
  const insert = c3.exchanges.find((e) => e.method === 'INSERT');
  t.same(json(insert?.request?.body), { query: 'INSERT INTO items (name, price, created) VALUES (?, ?, ?)', parameters: ['plum', '2.5', null] });
  t.match(insert, { response: { headers: { affected_rows: '1', last_insert_id: '3' } } });
  const select = c3.exchanges.find((e) => e.method === 'SELECT' && /WHERE id >= \?/.test(queryOf(e)) && e.request?.headers.statement_id !== undefined);
  t.same(json(select?.request?.body).parameters, ['1', 'pear']);
  t.same(json(select?.response?.body).rows, [
    { id: '1', name: 'apple', price: '1.25', created: '2024-01-02 03:04:05' },
    { id: '3', name: 'plum', price: '2.50', created: null },
  ]);
  const multi = c3.exchanges.filter((e) => e.request?.headers.part !== undefined);
  t.same(multi.map((e) => json(e.response?.body).rows), [[{ one: '1' }], [{ two: '2' }]]);
  t.same(multi.map((e) => queryOf(e)), ['SELECT 1 AS one', 'SELECT 2 AS two']);
  const failed = c3.exchanges.filter((e) => e.error !== undefined);
  t.match(failed, [{ method: 'PREPARE', error: 'server_error', error_detail: /^ERROR 1146 \(42S02\)/ }]);
  t.same(json(failed[0]?.response?.body), { error: { code: 1146, sqlstate: '42S02', message: "Table 'shop.nope' doesn't exist" } });
  t.match(
    c3.exchanges.find((e) => e.method === 'CHANGE_USER'),
    { path: 'shop', request: { headers: { user: 'app' } }, redacted: ['request.body'], sensitive: ['password'], notes: undefined },
  );
  const db = c3.exchanges.find((e) => /DATABASE\(\)/.test(queryOf(e)));
  t.same(json(db?.response?.body).rows, [{ db: 'shop' }]);
});
