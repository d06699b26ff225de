/**
 * The walkthrough's secrets, sent by the `pg` client to a real PostgreSQL 15 through a recording
 * relay, replayed into the capture session and shipped as the capture worker ships them (record
 * built, default masking policy): no secret may appear in any field (result columns that rename a
 * secret column included), and each record names what was masked.
 */
import t from 'tap';
import pg from 'pg';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import { createPostgresSession } from '../../../sidecar/postgres/session.ts';
import { PG_PASSWORD, startPostgres } from '../../helpers/postgres-server.ts';
import { replayShipped } from '../../helpers/replay-shipped.ts';
import { startRecordingRelay } from '../../helpers/recording-relay.ts';
import { json } from './harness.ts';



void t.test('real PostgreSQL: role passwords, secret columns, bound parameters, URLs', async (t) => {
  const port = await startPostgres(t);
  const relay = await startRecordingRelay(port);
  t.teardown(relay.close);

  const client = new pg.Client({ host: '127.0.0.1', port: relay.port, user: 'postgres', password: PG_PASSWORD, database: 'postgres', ssl: false });
  await client.connect();
  await client.query("CREATE ROLE shop LOGIN PASSWORD 'create-role-pw'");
  await client.query("ALTER ROLE shop PASSWORD 'meshtap-lab-only-orders-pw'");
  await client.query("CREATE USER app2 WITH ENCRYPTED PASSWORD 'create-user-pw'");
  await client.query("ALTER USER app2 PASSWORD 'alter-user-pw'");
  await client.query('CREATE TABLE u (name text PRIMARY KEY, password text UNIQUE)');
  await client.query("INSERT INTO u (name, password) VALUES ('bob','hunter2-plain')");
  // The unique violation's DETAIL quotes the value: `Key (password)=(hunter2-plain) already exists.`
  await t.rejects(client.query('INSERT INTO u (name, password) VALUES ($1, $2)', ['carl', 'hunter2-plain']), /duplicate key/);
  await client.query('INSERT INTO u (name, password) VALUES ($1, $2)', ['al', 'bind-secret']);
  await client.query("UPDATE u SET password = 'update-secret' WHERE name = 'bob'");
  const rows = await client.query('SELECT * FROM u ORDER BY name');
  t.equal(rows.rows.length, 2);
  // The same secrets under other names: aliases, an expression, a `*` and an expression after it.
  const aliased = await client.query('SELECT name, password AS pw, lower(password), u.password "P" FROM u ORDER BY name');
  t.same(aliased.rows[0], { name: 'al', pw: 'bind-secret', lower: 'bind-secret', P: 'bind-secret' }, 'the server named the columns as the session expects');
  const coalesced = await client.query("SELECT coalesce(password, '') t FROM u WHERE name = $1", ['bob']);
  t.same(coalesced.rows, [{ t: 'update-secret' }]);
  const starred = await client.query("SELECT *, password || '' FROM u ORDER BY name");
  t.same(Object.keys(starred.rows[0]), ['name', 'password', '?column?']);
  await client.query("SELECT 'postgres://shop:URLPW1@db:5432/x' AS conn");
  await client.end();
  await relay.settled();

  const records = replayShipped(createPostgresSession, relay.connections[0], 5432);
  const all = JSON.stringify(records.map(recordToJson));
  for (const secret of [PG_PASSWORD, 'create-role-pw', 'meshtap-lab-only-orders-pw', 'create-user-pw', 'alter-user-pw', 'hunter2-plain', 'bind-secret', 'update-secret', 'URLPW1']) {
    t.notOk(all.includes(secret), `${secret} is in no field`);
  }
  const byQuery = (prefix: string): CallRecord => records.find((r) => r.request?.content_type === 'application/json' && json(r.request.body).query?.startsWith(prefix)) as CallRecord;
  t.equal(json(byQuery('ALTER ROLE shop').request?.body).query, "ALTER ROLE shop PASSWORD '****'");
  t.match(byQuery('ALTER ROLE shop'), { method: 'ALTER', redacted: ['request.body.$.query'], sensitive: ['password'] });
  t.equal(json(byQuery('CREATE USER').request?.body).query, "CREATE USER app2 WITH ENCRYPTED PASSWORD '****'");
  t.equal(json(byQuery("INSERT INTO u (name, password) VALUES ('bob'").request?.body).query, "INSERT INTO u (name, password) VALUES ('bob','****')");
  const withParameters = (first: string): CallRecord =>
    records.find((r) => r.request?.content_type === 'application/json' && json(r.request.body).parameters?.[0] === first) as CallRecord;
  const bound = withParameters('al');
  t.equal(json(bound.request?.body).query, 'INSERT INTO u (name, password) VALUES ($1, $2)');
  t.same(json(bound.request?.body).parameters, ['al', '****']);
  t.same(bound.redacted, ['request.body.$.parameters[1]']);
  const duplicate = withParameters('carl');
  t.equal(duplicate.error, 'server_error');
  t.equal(json(duplicate.response?.body).error.detail, 'Key (password)=(****) already exists.', 'the error quoting the value: masked there too');
  t.ok(duplicate.redacted.includes('response.body'));
  t.same(json(byQuery('SELECT * FROM u').response?.body).rows, [{ name: 'al', password: '****' }, { name: 'bob', password: '****' }]);
  const aliasRecord = byQuery('SELECT name, password AS pw');
  t.same(json(aliasRecord.response?.body).rows, [
    { name: 'al', pw: '****', lower: '****', P: '****' },
    { name: 'bob', pw: '****', lower: '****', P: '****' },
  ]);
  t.same(aliasRecord.sensitive, ['password']);
  const boundRecord = byQuery('SELECT coalesce(password');
  t.same(json(boundRecord.request?.body).parameters, ['bob'], 'the extended protocol');
  t.same(json(boundRecord.response?.body).rows, [{ t: '****' }]);
  t.same(boundRecord.redacted, ['response.body.$.rows[0].t']);
  t.same(json(byQuery('SELECT *, password').response?.body).rows, [
    { name: 'al', password: '****', '?column?': '****' },
    { name: 'bob', password: '****', '?column?': '****' },
  ]);
  const url = byQuery("SELECT 'postgres://");
  t.equal(json(url.request?.body).query, "SELECT 'postgres://shop:****@db:5432/x' AS conn");
  t.same(url.sensitive, ['url_password']);

  const startup = records[0];
  t.match(startup.response?.headers, { auth: 'sasl SCRAM-SHA-256', session_authorization: 'postgres' });
  t.same(startup.sensitive, ['password']);
});
