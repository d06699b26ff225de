/**
 * Secrets in MySQL/MariaDB statements, from wire bytes to the record the collector receives:
 * the session masks `IDENTIFIED BY`, `SET PASSWORD`, literals of secret columns and the bound
 * parameters of COM_STMT_EXECUTE in their place; the policy then masks passwords in URLs; the
 * login's `auth` (the plugin) stays readable. Each script also runs at every chunk split.
 */
import t from 'tap';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import { execute, greeting, handshakeResponse, nul, ok, prepare, prepareOk, query, str } from './encoder.ts';
import { json, runAllCuts, type Step } from './harness.ts';

const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 3306 }, mesh: false };
const shipped = (exchanges: Exchange[]): CallRecord[] => exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'p', namespace: 'n' })));
const everything = (records: CallRecord[]): string => JSON.stringify(records.map(recordToJson));
const login: Step[] = [
  { s: greeting({ plugin: 'caching_sha2_password' }) },
  { c: handshakeResponse({ user: 'root', db: 'shop', auth: Buffer.from('0123456789abcdef0123'), plugin: 'caching_sha2_password', deprecateEof: true }) },
  { s: ok(2) },
];
const queryOf = (r: CallRecord): string => json(r.request?.body).query;

void t.test('CREATE/ALTER USER … IDENTIFIED BY, SET PASSWORD, GRANT … IDENTIFIED BY: only the literals are masked', async (t) => {
  const statements: Array<[string, string]> = [
    ["CREATE USER 'u'@'%' IDENTIFIED BY 'MYSQLPW'", "CREATE USER 'u'@'%' IDENTIFIED BY '****'"],
    ["ALTER USER 'u'@'%' IDENTIFIED BY 'alter-pw-1'", "ALTER USER 'u'@'%' IDENTIFIED BY '****'"],
    ["ALTER USER 'u'@'%' IDENTIFIED WITH caching_sha2_password BY 'plugin-pw-2'", "ALTER USER 'u'@'%' IDENTIFIED WITH caching_sha2_password BY '****'"],
    ["SET PASSWORD FOR 'u'@'%' = 'set-pw-3'", "SET PASSWORD FOR 'u'@'%' = '****'"],
    ["SET PASSWORD = PASSWORD('set-pw-4')", "SET PASSWORD = PASSWORD('****')"],
    ["GRANT SELECT ON shop.* TO 'u'@'%' IDENTIFIED BY 'grant-pw-5'", "GRANT SELECT ON shop.* TO 'u'@'%' IDENTIFIED BY '****'"],
  ];
  const steps: Step[] = [...login];
  for (const [sql] of statements) steps.push({ c: query(sql) }, { s: ok(1) });
  const { exchanges } = runAllCuts(t, steps);
  const records = shipped(exchanges).slice(1);
  t.same(records.map(queryOf), statements.map(([, want]) => want));
  for (const r of records) {
    t.same(r.redacted, ['request.body.$.query'], `${r.method}: redacted names the query`);
    t.same(r.sensitive, ['password'], `${r.method}: the kind`);
  }
  const all = everything(records);
  for (const secret of ['MYSQLPW', 'alter-pw-1', 'plugin-pw-2', 'set-pw-3', 'set-pw-4', 'grant-pw-5']) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('literals of secret columns in a query; parameters of a prepared statement', async (t) => {
  const insert = 'INSERT INTO u (name, `password`, api_token) VALUES (?, ?, ?)';
  const { exchanges } = runAllCuts(t, [
    ...login,
    { c: query("INSERT INTO u (name, password) VALUES ('bob','hunter2-plain'), ('al', 'y-secret')") },
    { s: ok(1, { affected: 2 }) },
    { c: query("UPDATE u SET password = 'upd-secret' WHERE name = 'bob'") },
    { s: ok(1, { affected: 1 }) },
    { c: prepare(insert) },
    { s: prepareOk(1, 5, 3, [], { deprecateEof: true }) },
    { c: execute(5, [str('carl'), str('exec-secret'), nul()]) },
    { s: ok(1, { affected: 1 }) },
  ]);
  const [, ins, upd, prep, exec] = shipped(exchanges);
  t.equal(queryOf(ins), "INSERT INTO u (name, password) VALUES ('bob','****'), ('al', '****')");
  t.equal(queryOf(upd), "UPDATE u SET password = '****' WHERE name = 'bob'");
  t.same(json(prep.request?.body), { query: insert }, 'the prepared text holds no secret');
  t.same(prep.redacted, []);
  t.same(json(exec.request?.body), { query: insert, parameters: ['carl', '****', null] });
  t.same(exec.redacted, ['request.body.$.parameters[1]']);
  t.same(exec.sensitive, ['password']);
  const all = everything([ins, upd, exec]);
  for (const secret of ['hunter2-plain', 'y-secret', 'upd-secret', 'exec-secret']) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('the login keeps its plugin name; a URL password in a query is masked by the policy', async (t) => {
  const { exchanges } = runAllCuts(t, [...login, { c: query("SET @dsn = 'mysql://app:URLPW7@db:3306/shop'") }, { s: ok(1) }]);
  const [connect, set] = shipped(exchanges);
  t.equal(connect.response?.headers.auth, 'caching_sha2_password');
  t.same(connect.sensitive, ['password'], 'the authentication data only');
  t.equal(queryOf(set), "SET @dsn = 'mysql://app:****@db:3306/shop'");
  t.same(set.sensitive, ['url_password']);
});
