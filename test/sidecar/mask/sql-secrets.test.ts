/**
 * Secrets inside SQL text (`sql-secrets.ts`): passwords set by a statement, literals of columns in
 * a secret family, the bound parameters in their place; what must stay readable; the two
 * escaping rules; and the cost on text that cannot hold any and on adversarial text.
 */
import t from 'tap';
import { maskErrorEchoes, maskSqlRequest, maskSqlSecrets, type SqlDialect } from '../../../sidecar/mask/sql-secrets.ts';
import { resetScanMeter, scanMeter } from '../../../sidecar/mask/scan-meter.ts';

const masked = (sql: string, dialect: SqlDialect): string => maskSqlSecrets(sql, dialect)?.text ?? sql;
const params = (sql: string, dialect: SqlDialect): number[] => [...(maskSqlSecrets(sql, dialect)?.params.keys() ?? [])].sort((a, b) => a - b);

void t.test('PostgreSQL: a password set by CREATE/ALTER ROLE/USER is masked, the statement kept', async (t) => {
  const cases: Array<[string, string]> = [
    ["ALTER ROLE shop PASSWORD 'meshtap-lab-only-orders-pw'", "ALTER ROLE shop PASSWORD '****'"],
    ["CREATE ROLE shop WITH LOGIN PASSWORD 'pw-1' VALID UNTIL 'infinity'", "CREATE ROLE shop WITH LOGIN PASSWORD '****' VALID UNTIL 'infinity'"],
    ["CREATE USER app ENCRYPTED PASSWORD 'pw-2'", "CREATE USER app ENCRYPTED PASSWORD '****'"],
    ["create user app with encrypted password 'pw-3' createdb", "create user app with encrypted password '****' createdb"],
    ["ALTER USER app PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2VydmVy'", "ALTER USER app PASSWORD '****'"],
    ["ALTER USER app PASSWORD'no-space'", "ALTER USER app PASSWORD'****'"],
    ["ALTER USER app PASSWORD E'esc\\'aped'", "ALTER USER app PASSWORD E'****'"],
    ['ALTER USER app PASSWORD $pw$dollar$pw$', 'ALTER USER app PASSWORD $pw$****$pw$'],
    ["/* rotate */ ALTER ROLE \"Shop\" PASSWORD 'pw-4'; SELECT 1", "/* rotate */ ALTER ROLE \"Shop\" PASSWORD '****'; SELECT 1"],
    ["CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'remote', password 'fdw-pw')", "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'remote', password '****')"],
    ["ALTER ROLE x PASSWORD 'cut off by the body lim", "ALTER ROLE x PASSWORD '****"],
  ];
  for (const [sql, want] of cases) t.equal(masked(sql, 'postgres'), want, sql);
  t.same(maskSqlSecrets("ALTER ROLE shop PASSWORD 'x1'", 'postgres')?.kinds, ['password']);
  for (const sql of ['ALTER ROLE shop PASSWORD NULL', "ALTER ROLE shop VALID UNTIL '2030-01-01'", "SELECT 'PASSWORD' AS word", "SET SESSION AUTHORIZATION 'app'", "SET session_authorization = 'app'", "SET password_encryption = 'scram-sha-256'"]) {
    t.equal(maskSqlSecrets(sql, 'postgres'), undefined, `nothing in ${sql}`);
  }
});

void t.test('MySQL/MariaDB: IDENTIFIED BY, SET PASSWORD and GRANT … IDENTIFIED BY', async (t) => {
  const cases: Array<[string, string]> = [
    ["CREATE USER 'u'@'%' IDENTIFIED BY 'MYSQLPW'", "CREATE USER 'u'@'%' IDENTIFIED BY '****'"],
    ["ALTER USER 'u'@'%' IDENTIFIED BY 'new-pw' REPLACE 'old-pw' RETAIN CURRENT PASSWORD", "ALTER USER 'u'@'%' IDENTIFIED BY '****' REPLACE '****' RETAIN CURRENT PASSWORD"],
    ["ALTER USER u IDENTIFIED WITH caching_sha2_password BY \"dq-pw\" PASSWORD EXPIRE INTERVAL 90 DAY", "ALTER USER u IDENTIFIED WITH caching_sha2_password BY \"****\" PASSWORD EXPIRE INTERVAL 90 DAY"],
    ["CREATE USER u IDENTIFIED WITH mysql_native_password AS '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9'", "CREATE USER u IDENTIFIED WITH mysql_native_password AS '****'"],
    ["CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD('via-pw')", "CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD('****')"],
    ["CREATE USER 'a'@'%' IDENTIFIED BY 'pa', 'b'@'%' IDENTIFIED BY PASSWORD '*HASH' COMMENT 'team b'", "CREATE USER 'a'@'%' IDENTIFIED BY '****', 'b'@'%' IDENTIFIED BY PASSWORD '****' COMMENT 'team b'"],
    ["SET PASSWORD = 'set-pw'", "SET PASSWORD = '****'"],
    ["SET PASSWORD FOR 'u'@'%' = 'for-pw'", "SET PASSWORD FOR 'u'@'%' = '****'"],
    ["SET PASSWORD FOR u = PASSWORD('fn-pw')", "SET PASSWORD FOR u = PASSWORD('****')"],
    ["GRANT ALL ON shop.* TO 'u'@'%' IDENTIFIED BY 'grant-pw' WITH GRANT OPTION", "GRANT ALL ON shop.* TO 'u'@'%' IDENTIFIED BY '****' WITH GRANT OPTION"],
    ["CHANGE MASTER TO MASTER_HOST='db1', MASTER_PASSWORD='repl-pw', MASTER_PORT=3306", "CHANGE MASTER TO MASTER_HOST='db1', MASTER_PASSWORD='****', MASTER_PORT=3306"],
    ["/*!80000 CREATE USER u IDENTIFIED BY 'versioned-pw' */", "/*!80000 CREATE USER u IDENTIFIED BY '****' */"],
  ];
  for (const [sql, want] of cases) t.equal(masked(sql, 'mysql'), want, sql);
  for (const sql of ["CREATE USER 'u'@'%' IDENTIFIED BY RANDOM PASSWORD", "SELECT user, host FROM mysql.user WHERE user = 'u'", "# IDENTIFIED BY 'only in a comment'\nSELECT 1"]) {
    t.equal(maskSqlSecrets(sql, 'mysql')?.text, undefined, `nothing in ${JSON.stringify(sql)}`);
  }
});

void t.test('SQL data: literals of secret columns, where the statement names the column', async (t) => {
  const pg: Array<[string, string]> = [
    ["INSERT INTO u (name, password) VALUES ('bob','x-1'), ('al','y-1')", "INSERT INTO u (name, password) VALUES ('bob','****'), ('al','****')"],
    [
      "INSERT INTO u (name, password) VALUES ('bob', 'x-2') ON CONFLICT (name) DO UPDATE SET password = EXCLUDED.password RETURNING id",
      "INSERT INTO u (name, password) VALUES ('bob', '****') ON CONFLICT (name) DO UPDATE SET password = EXCLUDED.password RETURNING id",
    ],
    ["UPDATE u SET password = 'x-3', name = 'n' WHERE id = 7", "UPDATE u SET password = '****', name = 'n' WHERE id = 7"],
    ["UPDATE u SET api_token = md5('x-4' || salt) WHERE id = 7", "UPDATE u SET api_token = md5('****' || salt) WHERE id = 7"],
    ["SELECT id FROM u WHERE reset_token = 'x-5' AND name = 'kept'", "SELECT id FROM u WHERE reset_token = '****' AND name = 'kept'"],
    ["SELECT id FROM u WHERE 'x-5b' = password AND 'kept' = name", "SELECT id FROM u WHERE '****' = password AND 'kept' = name"],
    ["SELECT id FROM u WHERE password LIKE 'x-5c%' OR name LIKE 'kept%'", "SELECT id FROM u WHERE password LIKE '****' OR name LIKE 'kept%'"],
    ["SELECT id FROM u WHERE api_key IN ('x-5d', $1) AND id IN (1, 2)", "SELECT id FROM u WHERE api_key IN ('****', $1) AND id IN (1, 2)"],
    ["SELECT id FROM u WHERE token ILIKE 'x-5e'", "SELECT id FROM u WHERE token ILIKE '****'"],
    ["SET my.password TO 'x-5f'", "SET my.password TO '****'"],
    ["SET search_path TO 'kept'", "SET search_path TO 'kept'"],
    ["INSERT INTO cards (holder, card_number, cvv, pin) VALUES ('Ann', '4111111111111111', 123, 4321)", "INSERT INTO cards (holder, card_number, cvv, pin) VALUES ('Ann', '****', ****, ****)"],
    ["INSERT INTO u (name, \"passwordHash\") SELECT 'bob', crypt('x-6', gen_salt('bf'))", "INSERT INTO u (name, \"passwordHash\") SELECT 'bob', crypt('****', gen_salt('****'))"],
    ["INSERT INTO u (id, password, note) VALUES (1, CASE WHEN true THEN 'x-7' ELSE 'x-8' END, 'kept')", "INSERT INTO u (id, password, note) VALUES (1, CASE WHEN true THEN '****' ELSE '****' END, 'kept')"],
  ];
  for (const [sql, want] of pg) t.equal(masked(sql, 'postgres'), want, sql);
  t.same(maskSqlSecrets(pg[11][0], 'postgres')?.kinds, ['card', 'cvv', 'password'], 'each literal with its column\'s kind');

  const my: Array<[string, string]> = [
    ["INSERT INTO u (`name`, `password`) VALUES ('bob', 'x-9')", "INSERT INTO u (`name`, `password`) VALUES ('bob', '****')"],
    ["REPLACE INTO u (name, secret) VALUES ('bob', \"x-10\")", "REPLACE INTO u (name, secret) VALUES ('bob', \"****\")"],
    ["INSERT INTO u (name, token) VALUES ROW('a', 'x-11'), ROW('b', 'x-12')", "INSERT INTO u (name, token) VALUES ROW('a', '****'), ROW('b', '****')"],
    ["INSERT INTO u SET name = 'bob', password = 'x-13'", "INSERT INTO u SET name = 'bob', password = '****'"],
    ["INSERT INTO u (name, password) VALUES ('bob', 'x-14') ON DUPLICATE KEY UPDATE password = VALUES(password)", "INSERT INTO u (name, password) VALUES ('bob', '****') ON DUPLICATE KEY UPDATE password = VALUES(password)"],
  ];
  for (const [sql, want] of my) t.equal(masked(sql, 'mysql'), want, sql);

  // Without a column list the statement does not say which value is the password.
  for (const sql of ["INSERT INTO u VALUES ('bob','hunter2-plain')", "SELECT name, password FROM u WHERE name = 'bob'", "CREATE TABLE u (name text, password text DEFAULT 'x')", "INSERT INTO u (name, note) VALUES ('pin', 'password')"]) {
    t.equal(maskSqlSecrets(sql, 'postgres')?.text, undefined, `nothing in ${sql}`);
  }
});

void t.test('bound parameters in a secret place are reported by position', async (t) => {
  t.same(params('INSERT INTO u (name, password) VALUES ($1, $2)', 'postgres'), [1]);
  t.same(params('UPDATE u SET password = $1, api_key = $3 WHERE id = $2', 'postgres'), [0, 2]);
  t.same(params("SELECT * FROM s WHERE session_id = $1 AND data ? 'k'", 'postgres'), [0], '`?` is an operator in PostgreSQL');
  t.same(params('INSERT INTO u (name, `password`, pin) VALUES (?, ?, ?)', 'mysql'), [1, 2]);
  t.same(params("UPDATE u SET name = ?, token = ? WHERE note = 'a?b' AND id = ?", 'mysql'), [1], 'a `?` inside a string is not a bound parameter');
  t.same(params('SELECT * FROM u WHERE id = $1', 'postgres'), []);
  t.equal(maskSqlSecrets('INSERT INTO u (name, password) VALUES ($1, $2)', 'postgres')?.text, 'INSERT INTO u (name, password) VALUES ($1, $2)', 'the text is unchanged');
});

void t.test('maskSqlRequest: the record request, with the paths and kinds a record lists', async (t) => {
  const r = maskSqlRequest('UPDATE u SET password = $1, token = $2 WHERE id = $3', ['pw-bound', null, '7'], 'postgres');
  t.same(r, {
    query: 'UPDATE u SET password = $1, token = $2 WHERE id = $3',
    params: ['****', null, '7'],
    redacted: ['request.body.$.parameters[0]'],
    sensitive: ['password'],
    values: ['pw-bound'],
  });
  const both = maskSqlRequest("INSERT INTO u (name, password, token) VALUES ('bob', 'lit-pw', ?)", ['tok-bound'], 'mysql');
  t.same(both?.redacted, ['request.body.$.query', 'request.body.$.parameters[0]']);
  t.same(both?.sensitive, ['password', 'token']);
  const attributes = maskSqlRequest('SELECT 1', ['trace-1', 'attr-secret'], 'mysql', ['traceparent', 'api_token']);
  t.same(attributes?.params, ['trace-1', '****'], 'a query attribute named like a secret');
  t.equal(maskSqlRequest('SELECT 1', ['1'], 'postgres'), undefined);
});

void t.test('maskErrorEchoes: secret values the server quotes in its error are masked there', async (t) => {
  const secrets = maskSqlRequest("CREATE USER u IDENTIFIED WITH x BY 'it''s-pw'", undefined, 'mysql');
  t.same(secrets?.values, ["it''s-pw", "it's-pw"], 'as written and with doubled quotes undone');
  const body = JSON.stringify({ error: { code: 1064, message: "… near 'BY 'it''s-pw'' at line 1" } });
  const out = {
    error: 'server_error',
    error_detail: "ERROR 1064 (42000): … near 'BY 'it''s-pw'' at line 1",
    response: { headers: { code: '1064', message: "… near 'BY 'it''s-pw'' at line 1" }, body: Buffer.from(body), body_size: 1, truncated: false },
  };
  t.same(maskErrorEchoes(out, secrets!.values), ['error_detail', 'response.headers.message', 'response.body']);
  t.equal(out.error_detail, "ERROR 1064 (42000): … near 'BY '****'' at line 1");
  t.equal(JSON.parse(Buffer.from(out.response.body).toString()).error.message, "… near 'BY '****'' at line 1");
  const short = { error_detail: 'Duplicate entry \'abc\' for key' };
  t.same(maskErrorEchoes(short, ['abc']), [], 'values under 4 characters are not looked for');
  const ok = { response: { headers: { rows: '1' }, body: Buffer.from('{"rows":[{"note":"x-pw-1"}]}'), body_size: 1, truncated: false } };
  t.same(maskErrorEchoes(ok, ['x-pw-1']), [], 'the body of a response that is no error is left to the policy');
});

void t.test('a backslash: both escaping rules are read, what either masks is masked', async (t) => {
  // Without backslash escapes the literal ends after `se\`, with them after `cret`.
  t.equal(masked("ALTER ROLE x PASSWORD 'se\\'cret'", 'postgres'), "ALTER ROLE x PASSWORD '****'");
  t.equal(masked("CREATE USER u IDENTIFIED BY 'a\\'b'", 'mysql'), "CREATE USER u IDENTIFIED BY '****'");
  t.equal(masked("SELECT 'it\\'s'; ALTER ROLE x PASSWORD 'pw-z'", 'postgres').includes('pw-z'), false);
});

void t.test('statements that name no family are not tokenized; adversarial text stays linear', async (t) => {
  for (const sql of ['SELECT id, name FROM items WHERE id >= $1 ORDER BY id', "SELECT * FROM shipping s JOIN company c ON c.id = s.company_id WHERE s.zip = '10115'"]) {
    resetScanMeter();
    t.equal(maskSqlSecrets(sql, 'postgres'), undefined);
    t.equal(scanMeter.steps, 0, `not tokenized: ${sql}`);
  }
  const make: Array<[string, SqlDialect, (n: number) => string]> = [
    ['quotes', 'postgres', (n) => "password '".repeat(n / 10)],
    ['dollar quotes never closed', 'postgres', (n) => 'password $a$'.repeat(n / 12)],
    ['nested comment openers', 'postgres', (n) => `password ${'/*'.repeat(n / 2)}`],
    ['assignments', 'mysql', (n) => "password='x',".repeat(n / 14)],
    ['a huge column list and row', 'postgres', (n) => `INSERT INTO t (${'password,'.repeat(n / 20)}x) VALUES (${"'x',".repeat(n / 8)}1)`],
    ['IDENTIFIED and backslashes', 'mysql', (n) => `IDENTIFIED BY ${"'\\'".repeat(n / 3)}`],
    ['comment lines', 'mysql', (n) => '-- password\n'.repeat(n / 12)],
  ];
  for (const [name, dialect, input] of make) {
    const steps = (n: number): number => {
      resetScanMeter();
      maskSqlSecrets(input(n), dialect);
      return scanMeter.steps;
    };
    const small = steps(40_000);
    const large = steps(80_000);
    t.ok(small > 0, `${name}: tokenized`);
    t.ok(large / small < 2.3, `${name}: 2n costs ${(large / small).toFixed(2)}× n`);
    t.ok(large / 80_000 < 40, `${name}: ${(large / 80_000).toFixed(1)} steps per character`);
  }
});
