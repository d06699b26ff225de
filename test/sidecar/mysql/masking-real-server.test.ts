/**
 * The walkthrough's secrets, sent by `mysql2` to a real MariaDB through a recording relay,
 * replayed into the capture session and shipped as the capture worker ships them (record built,
 * default masking policy), result columns that rename a secret column included. The test user may not create users: the server refuses those
 * statements, but their text crossed the wire all the same and must be masked — in the request,
 * and in the error when the server quotes it (MariaDB has no `IDENTIFIED WITH plugin BY`: its
 * syntax error echoes the statement; a duplicate entry echoes the value).
 */
import t from 'tap';
import mysql from 'mysql2/promise';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import { createMysqlSession } from '../../../sidecar/mysql/session.ts';
import { MYSQL_PASSWORD, startMariadb } from '../../helpers/mariadb-server.ts';
import { replayShipped } from '../../helpers/replay-shipped.ts';
import { startRecordingRelay } from '../../helpers/recording-relay.ts';
import { json } from './harness.ts';



void t.test('real MariaDB: IDENTIFIED BY, SET PASSWORD, secret columns, prepared parameters', async (t) => {
  const port = await startMariadb(t);
  const relay = await startRecordingRelay(port);
  t.teardown(relay.close);

  const conn = await mysql.createConnection({ host: '127.0.0.1', port: relay.port, user: 'app', password: MYSQL_PASSWORD, database: 'shop' });
  for (const sql of ["CREATE USER 'u'@'%' IDENTIFIED BY 'MYSQLPW'", "ALTER USER 'u'@'%' IDENTIFIED WITH mysql_native_password BY 'alter-pw'", "GRANT SELECT ON shop.* TO 'u'@'%' IDENTIFIED BY 'grant-pw'"]) {
    await t.rejects(conn.query(sql), /denied|syntax/i, `refused: ${sql.slice(0, 24)}…`);
  }
  // Setting one's own password is allowed: set it to what it is.
  await conn.query(`SET PASSWORD = PASSWORD('${MYSQL_PASSWORD}')`);
  await conn.query('CREATE TABLE u (name VARCHAR(20) PRIMARY KEY, password VARCHAR(64) UNIQUE, pin INT)');
  await conn.query("INSERT INTO u (name, password, pin) VALUES ('bob', 'hunter2-plain', 4321)");
  await t.rejects(conn.query("INSERT INTO u (name, password) VALUES ('carl', 'hunter2-plain')"), /Duplicate entry/);
  await conn.execute('INSERT INTO u (name, password, pin) VALUES (?, ?, ?)', ['al', 'exec-secret', 8765]);
  await conn.query("UPDATE u SET password = 'update-secret' WHERE name = 'bob'");
  const [rows] = await conn.query('SELECT * FROM u ORDER BY name');
  t.equal((rows as unknown[]).length, 2);
  // The same secrets under other names: aliases, an expression, a prepared statement, an expression after `*`.
  const [aliased] = await conn.query('SELECT name, password AS `Pw`, u.password pw2, lower(password) FROM u ORDER BY name');
  t.same((aliased as unknown[])[0], { name: 'al', Pw: 'exec-secret', pw2: 'exec-secret', 'lower(password)': 'exec-secret' }, 'the server named the columns as the session expects');
  const [executed] = await conn.execute("SELECT coalesce(password, '') t FROM u WHERE name = ?", ['bob']);
  t.same(executed, [{ t: 'update-secret' }]);
  const [starred] = await conn.query('SELECT *, lower(password) FROM u ORDER BY name');
  t.same(Object.keys((starred as object[])[0]), ['name', 'password', 'pin', 'lower(password)']);
  await conn.end();
  await relay.settled();

  const records = replayShipped(createMysqlSession, relay.connections[0], 3306);
  const all = JSON.stringify(records.map(recordToJson));
  for (const secret of [MYSQL_PASSWORD, 'MYSQLPW', 'alter-pw', 'grant-pw', 'hunter2-plain', 'exec-secret', 'update-secret']) t.notOk(all.includes(secret), `${secret} is in no field`);
  // The pins are numbers: as a whole number, not as digits inside a timestamp or a duration.
  for (const pin of ['4321', '8765']) t.notMatch(all, new RegExp(`(?<![0-9.])${pin}(?![0-9.])`), `${pin} is in no field`);
  const byQuery = (prefix: string, method?: string): CallRecord =>
    records.find((r) => (method === undefined || r.method === method) && r.request?.content_type === 'application/json' && json(r.request.body).query?.startsWith(prefix)) as CallRecord;
  t.equal(json(byQuery('CREATE USER').request?.body).query, "CREATE USER 'u'@'%' IDENTIFIED BY '****'");
  t.match(byQuery('CREATE USER'), { error: 'server_error', redacted: ['request.body.$.query'], sensitive: ['password'] });
  const alter = byQuery('ALTER USER');
  t.equal(json(alter.request?.body).query, "ALTER USER 'u'@'%' IDENTIFIED WITH mysql_native_password BY '****'");
  t.match(alter.error_detail, /near 'BY '\*\*\*\*'' at line 1$/, 'the syntax error quotes the statement: masked there too');
  t.same(alter.redacted, ['request.body.$.query', 'error_detail', 'response.headers.message', 'response.body']);
  const duplicate = byQuery("INSERT INTO u (name, password) VALUES ('carl'");
  t.match(duplicate.error_detail, /Duplicate entry '\*\*\*\*' for key/);
  t.equal(json(byQuery('GRANT').request?.body).query, "GRANT SELECT ON shop.* TO 'u'@'%' IDENTIFIED BY '****'");
  t.equal(json(byQuery('SET PASSWORD').request?.body).query, "SET PASSWORD = PASSWORD('****')");
  t.equal(json(byQuery("INSERT INTO u (name, password, pin) VALUES ('bob'").request?.body).query, "INSERT INTO u (name, password, pin) VALUES ('bob', '****', ****)");
  const exec = byQuery('INSERT INTO u (name, password, pin) VALUES (?', 'INSERT');
  t.same(json(exec.request?.body).parameters, ['al', '****', '****']);
  t.same(exec.redacted, ['request.body.$.parameters[1]', 'request.body.$.parameters[2]']);
  t.equal(records[0].response?.headers.auth, 'mysql_native_password', 'the login keeps its plugin name');
  const aliasRecord = byQuery('SELECT name, password AS `Pw`');
  t.same(json(aliasRecord.response?.body).rows, [
    { name: 'al', Pw: '****', pw2: '****', 'lower(password)': '****' },
    { name: 'bob', Pw: '****', pw2: '****', 'lower(password)': '****' },
  ]);
  t.same(aliasRecord.sensitive, ['password']);
  const executeRecord = byQuery("SELECT coalesce(password, '') t", 'SELECT');
  t.same(json(executeRecord.request?.body).parameters, ['bob'], 'COM_STMT_EXECUTE');
  t.same(json(executeRecord.response?.body).rows, [{ t: '****' }]);
  t.same(executeRecord.redacted, ['response.body.$.rows[0].t']);
  t.same(json(byQuery('SELECT *, lower(password)').response?.body).rows.map((r: Record<string, unknown>) => r['lower(password)']), ['****', '****']);
});
