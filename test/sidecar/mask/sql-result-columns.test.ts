/**
 * Result columns that read a secret column under another name (`sql-result-columns.ts`): aliases
 * with and without AS, quoted and backtick aliases, expressions, RETURNING, several columns and
 * UNION branches, what the text cannot say; what stays readable (string literals, comments,
 * columns named as secrets, which the JSON masker keeps masking); the policy; masking the rows;
 * and the cost: no tokenizing for a statement naming no secret, linear work on adversarial text.
 */
import t, { type Test } from 'tap';
import { resolveMaskPolicy, DEFAULT_MASK_POLICY, type MaskPolicy } from '../../../sidecar/mask/policy.ts';
import { resolveMaskPolicyFromEnv } from '../../../sidecar/mask/env-policy.ts';
import { resetScanMeter, scanMeter } from '../../../sidecar/mask/scan-meter.ts';
import { columnsToMask, maskResultRows, rowValuePath, secretResultColumns } from '../../../sidecar/mask/sql-result-columns.ts';
import type { SqlDialect } from '../../../sidecar/mask/sql-secrets.ts';

/** What the analysis says, as plain data: names with kinds, positions with kinds. */
function analysed(sql: string, dialect: SqlDialect, policy: MaskPolicy = DEFAULT_MASK_POLICY): { names: Record<string, string>; positions: Record<number, string> } | undefined {
  const r = secretResultColumns(sql, dialect, policy);
  return r === undefined ? undefined : { names: Object.fromEntries(r.names), positions: Object.fromEntries(r.positions) };
}
const names = (sql: string, dialect: SqlDialect): string[] => Object.keys(analysed(sql, dialect)?.names ?? {});
const positions = (sql: string, dialect: SqlDialect): number[] => Object.keys(analysed(sql, dialect)?.positions ?? {}).map(Number);

void t.test('the review\'s statement: the alias of a secret column is found, by name and position', async (t) => {
  t.same(analysed('SELECT name, password AS pw, api_key FROM walku', 'postgres'), { names: { pw: 'password' }, positions: { 1: 'password' } }, 'api_key keeps its own name: the JSON masker masks it');
  t.same(analysed('SELECT name, password AS pw, api_key FROM walku', 'mysql'), { names: { pw: 'password' }, positions: { 1: 'password' } });
});

void t.test('aliases with and without AS, quoted, backticks, MySQL string aliases; how each dialect names them', async (t) => {
  const pg: Array<[string, string[]]> = [
    ['SELECT u.password pw FROM u', ['pw']],
    ['SELECT password AS PW FROM u', ['pw']],
    ['SELECT password Pw FROM u', ['pw']],
    ['SELECT password AS "x" FROM u', ['x']],
    ['SELECT password AS "Mixed Case" FROM u', ['Mixed Case']],
    ['SELECT password AS "say ""hi""" FROM u', ['say "hi"']],
    ['select U.Password as Copy_Of_It from Users U', ['copy_of_it']],
    [`SELECT password AS ${'a'.repeat(70)} FROM u`, ['a'.repeat(63)]],
  ];
  for (const [sql, want] of pg) t.same(names(sql, 'postgres'), want, `postgres: ${sql.slice(0, 60)}`);
  const my: Array<[string, string[]]> = [
    ['SELECT password AS `Pw` FROM u', ['Pw']],
    ['SELECT `u`.`password` `my pw` FROM u', ['my pw']],
    ['SELECT password AS PW FROM u', ['PW']],
    ["SELECT password AS 'quoted' FROM u", ['quoted']],
    ['SELECT password AS "dq" FROM u', ['dq']],
    ["SELECT password 'bare_string' FROM u", ['bare_string']],
    ['SELECT password AS `a``b` FROM u', ['a`b']],
  ];
  for (const [sql, want] of my) t.same(names(sql, 'mysql'), want, `mysql: ${sql}`);
});

void t.test('expressions over a secret column, with and without an alias', async (t) => {
  const aliased: Array<[string, string]> = [
    ['SELECT lower(password) AS p FROM u', 'p'],
    ["SELECT password || '' AS p FROM u", 'p'],
    ["SELECT coalesce(token, '') t FROM u", 't'],
    ['SELECT password::text AS p FROM u', 'p'],
    ['SELECT CAST(password AS varchar(64)) p FROM u', 'p'],
    ["SELECT CASE WHEN api_key IS NULL THEN '' ELSE api_key END AS k FROM u", 'k'],
    ['SELECT substring(password FROM 1 FOR 3) AS prefix FROM u', 'prefix'],
    ['SELECT string_agg(token, \',\' ORDER BY id) AS all_of_them FROM u', 'all_of_them'],
    ['SELECT password[1] first_char FROM u', 'first_char'],
    ['SELECT (SELECT password FROM u2 WHERE u2.id = u.id) AS other FROM u', 'other'],
    ['SELECT DISTINCT ON (id) id, password AS p FROM u', 'p'],
    ['SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY pin) AS median FROM u', 'median'],
    ["SELECT json_build_object('k', refresh_token) AS doc FROM u", 'doc'],
  ];
  for (const [sql, want] of aliased) t.same(names(sql, 'postgres'), [want], sql);
  t.same(names("SELECT CONCAT(password, '') AS `p` FROM u", 'mysql'), ['p']);
  // Without an alias the server names the column after the text (MySQL) or the function (PostgreSQL): by position.
  t.same(analysed('SELECT id, lower(password) FROM u', 'postgres'), { names: {}, positions: { 1: 'password' } });
  t.same(analysed("SELECT id, password || '' FROM u", 'mysql'), { names: {}, positions: { 1: 'password' } });
  t.same(positions('SELECT SQL_NO_CACHE STRAIGHT_JOIN id, upper(token) FROM u', 'mysql'), [1], 'MySQL modifiers are no item');
});

void t.test('past a `*` the position is unknown: the name the server gives the expression', async (t) => {
  t.same(analysed('SELECT *, lower(password) FROM u', 'postgres'), { names: { lower: 'password' }, positions: {} });
  t.same(analysed("SELECT u.*, password || 'x' FROM u", 'postgres'), { names: { '?column?': 'password' }, positions: {} });
  t.same(analysed('SELECT *, lower(password) FROM u', 'mysql'), { names: { 'lower(password)': 'password' }, positions: {} });
  t.same(analysed('SELECT *, password AS p FROM u', 'mysql'), { names: { p: 'password' }, positions: {} });
  t.same(analysed('SELECT password AS p, * FROM u', 'postgres'), { names: { p: 'password' }, positions: { 0: 'password' } }, 'before the `*` the position holds');
  t.equal(secretResultColumns('SELECT * FROM u', 'postgres'), undefined, '`*` alone: the server names the columns after the table');
});

void t.test('RETURNING, several columns, UNION branches, WITH … SELECT and subqueries in FROM', async (t) => {
  t.same(analysed('INSERT INTO u (name, password) VALUES ($1, $2) RETURNING id, password AS pw, token tk', 'postgres'), {
    names: { pw: 'password', tk: 'token' },
    positions: { 1: 'password', 2: 'token' },
  });
  t.same(names("UPDATE u SET name = 'x' WHERE id = 1 RETURNING upper(api_key) AS k", 'postgres'), ['k']);
  t.same(names('DELETE FROM sessions WHERE id = $1 RETURNING session_id AS sid, cookie AS c', 'postgres'), ['sid', 'c']);
  t.same(names('DELETE FROM u WHERE id = 1 RETURNING password AS p', 'mysql'), ['p'], 'MariaDB RETURNING');
  t.same(analysed('SELECT a.password AS p1, b.name, b.pin AS code, lower(b.cvv) c FROM a JOIN b ON a.id = b.id', 'postgres'), {
    names: { p1: 'password', code: 'password', c: 'cvv' },
    positions: { 0: 'password', 2: 'password', 3: 'cvv' },
  });
  // The first branch names the columns; a later one's secret goes by its position.
  t.same(analysed('SELECT name, note FROM a UNION ALL SELECT name, password FROM b', 'postgres'), { names: {}, positions: { 1: 'password' } });
  t.same(analysed('(SELECT password AS p FROM a) UNION (SELECT x FROM b) ORDER BY 1', 'postgres'), { names: { p: 'password' }, positions: { 0: 'password' } });
  t.same(analysed('WITH s AS (SELECT password AS p FROM u) SELECT p AS x FROM s', 'postgres'), { names: { x: 'password' }, positions: { 0: 'password' } });
  t.same(analysed('WITH s AS (SELECT password AS p FROM u) SELECT p FROM s', 'postgres'), { names: { p: 'password' }, positions: { 0: 'password' } });
  t.same(analysed('WITH s AS (SELECT password AS p FROM u) SELECT * FROM s', 'postgres'), { names: { p: 'password' }, positions: {} }, 'a `*` over the CTE');
  t.same(analysed('SELECT x FROM (SELECT password AS x FROM u) d', 'postgres'), { names: { x: 'password' }, positions: { 0: 'password' } }, 'a subquery in FROM, after the list');
  t.same(analysed('SELECT Y FROM (SELECT password AS y FROM u) d', 'mysql'), { names: { Y: 'password' }, positions: { 0: 'password' } }, 'MySQL column names in any case');
  t.same(analysed('SELECT 1 AS n; SELECT token AS t FROM u', 'postgres'), { names: { t: 'token' }, positions: { 0: 'token' } }, 'each statement of a text');
});

void t.test('what stays readable', async (t) => {
  const none: Array<[string, SqlDialect]> = [
    ["SELECT 'password' AS label, name FROM u", 'postgres'],
    ["SELECT 'token: ' || name AS label FROM u", 'postgres'],
    ['SELECT name /* password */ AS n FROM u -- token', 'postgres'],
    ["SELECT name AS n # password\nFROM u", 'mysql'],
    ["SELECT CONCAT('password', name) AS n FROM u", 'mysql'],
    ['SELECT $$password$$ AS label FROM u', 'postgres'],
    ['SELECT password, api_key, u.token FROM u', 'postgres'],
    ['SELECT name AS token FROM u', 'postgres'],
    ['SELECT lower(name) AS password FROM u', 'postgres'],
    ['SELECT id, name FROM u WHERE password = $1', 'postgres'],
    ['SELECT id, (SELECT count(*) FROM t WHERE t.token = u.token) AS n FROM u', 'postgres'],
    ['SELECT count(*) AS n FROM u GROUP BY password', 'postgres'],
    ['SELECT gen_token() AS t, session_user AS who', 'postgres'],
    ['EXPLAIN SELECT password AS p FROM u', 'postgres'],
    ['CREATE VIEW v AS SELECT password AS p FROM u', 'postgres'],
    ['INSERT INTO t (a) SELECT password AS p FROM u', 'postgres'],
    ["UPDATE u SET password = 'x' WHERE id = 1 RETURNING id, name", 'postgres'],
  ];
  for (const [sql, dialect] of none) t.equal(secretResultColumns(sql, dialect), undefined, `${dialect}: ${JSON.stringify(sql)}`);
  t.same(names("SELECT 'a\\' AS x, password AS p FROM u", 'postgres'), ['p'], 'a backslash read both ways');
});

void t.test('the policy: added keys, keyFamilies false, disabled', async (t) => {
  const iban = resolveMaskPolicyFromEnv({ MESHTAP_MASK_KEYS: 'iban' });
  t.same(analysed('SELECT iban AS account, name FROM acct', 'postgres', iban), { names: { account: 'secret' }, positions: { 0: 'secret' } });
  t.equal(secretResultColumns('SELECT iban AS account, name FROM acct', 'postgres'), undefined, 'iban is no secret under the default policy');
  const exact = resolveMaskPolicy({ keyFamilies: false, jsonKeys: ['iban'] });
  t.same(names('SELECT new_password AS np, password AS p, iban AS i FROM u', 'postgres'), ['np', 'p'], 'the default policy');
  t.same(Object.keys(analysed('SELECT new_password AS np, password AS p, iban AS i FROM u', 'postgres', exact)?.names ?? {}), ['p', 'i']);
  t.equal(secretResultColumns('SELECT password AS p FROM u', 'postgres', resolveMaskPolicy({ enabled: false })), undefined);
});

void t.test('a statement naming no secret is not tokenized', async (t) => {
  for (const sql of ['SELECT id, name AS n, lower(email) AS e FROM items WHERE id >= $1 ORDER BY id', 'SELECT * FROM shipping s JOIN company c ON c.id = s.company_id']) {
    resetScanMeter();
    t.equal(secretResultColumns(sql, 'postgres'), undefined);
    t.equal(scanMeter.steps, 0, `not tokenized: ${sql}`);
  }
});

void t.test('columnsToMask and maskResultRows: by position or name; NULL masked too; paths as the JSON masker writes them', async (t) => {
  const secrets = secretResultColumns('SELECT *, lower(password), token AS "t k" FROM u', 'postgres');
  if (secrets === undefined) throw new Error('expected secrets');
  const cols = columnsToMask(secrets, ['id', 'password', 'lower', 't k']);
  t.same([...cols], [[2, 'password'], [3, 'token']]);
  const rows: Array<Record<string, string | null>> = [
    { id: '1', password: 'x', lower: 'pw-1', 't k': 'tok-1' },
    { id: '2', password: null, lower: null, 't k': 'tok-2' },
  ];
  const masked = maskResultRows(rows, ['id', 'password', 'lower', 't k'], cols, 64 * 1024);
  t.same(rows, [
    { id: '1', password: 'x', lower: '****', 't k': '****' },
    { id: '2', password: null, lower: '****', 't k': '****' },
  ]);
  t.same(masked.redacted, ['response.body.$.rows[0].lower', 'response.body.$.rows[0]["t k"]', 'response.body.$.rows[1].lower', 'response.body.$.rows[1]["t k"]']);
  t.same(masked.sensitive, ['password', 'token']);
  t.equal(masked.cut, false);
  t.equal(rowValuePath(3, '$1'), 'response.body.$.rows[3].$1');
  // Masked values longer than the values: the rows that no longer fit are dropped.
  const short: Array<Record<string, string | null>> = [{ p: 'a' }, { p: 'b' }, { p: 'c' }];
  const fit = Buffer.byteLength(JSON.stringify({ p: 'a' })) + 1;
  const cut = maskResultRows(short, ['p'], new Map([[0, 'password']]), 3 * fit);
  t.same(short, [{ p: '****' }, { p: '****' }]);
  t.equal(cut.cut, true);
  t.same(cut.redacted, ['response.body.$.rows[0].p', 'response.body.$.rows[1].p']);
});

// ---- cost: the scan meter on adversarial text ----

function stepsOf(run: () => unknown): number {
  resetScanMeter();
  run();
  return scanMeter.steps;
}

function assertLinear(t: Test, name: string, make: (n: number) => string, dialect: SqlDialect, n = 60_000): void {
  const small = stepsOf(() => secretResultColumns(make(n), dialect));
  const large = stepsOf(() => secretResultColumns(make(2 * n), dialect));
  t.comment(`${name}: n=${n} ${small} steps, 2n ${large} steps`);
  t.ok(small > 0, `${name}: the meter counted work`);
  t.ok(large / small < 2.3, `${name}: 2n costs ${(large / small).toFixed(2)}× n (under 2.3×)`);
  t.ok(large / (2 * n) < 40, `${name}: ${(large / (2 * n)).toFixed(1)} steps per character (under 40)`);
}

void t.test('linear on adversarial text', async (t) => {
  const cases: Array<[string, SqlDialect, (n: number) => string]> = [
    ['many aliased secret items', 'postgres', (n) => 'SELECT ' + 'password AS p, '.repeat(n / 15) + '1'],
    ['nested subqueries', 'postgres', (n) => 'SELECT ' + '(SELECT '.repeat(n / 16) + 'password' + ') AS p'.repeat(n / 16)],
    ['deep parentheses', 'postgres', (n) => 'SELECT ' + '('.repeat(n / 2) + 'password' + ')'.repeat(n / 2) + ' AS p'],
    ['open parentheses only', 'postgres', (n) => 'SELECT password, ' + '('.repeat(n)],
    ['query-level parentheses and UNIONs', 'postgres', (n) => '(SELECT password AS p) UNION '.repeat(n / 29) + 'SELECT 1'],
    ['CASE without END', 'postgres', (n) => 'SELECT password, ' + 'CASE '.repeat(n / 5)],
    ['brackets and casts', 'postgres', (n) => 'SELECT ' + 'password[1]::text'.repeat(n / 17) + ' AS p'],
    ['derived names in a chain', 'postgres', (n) => {
      const depth = Math.max(1, Math.floor(n / 40));
      let sql = 'SELECT password AS a0 FROM u';
      for (let i = 1; i < depth; i++) sql = `SELECT a${i - 1} AS a${i} FROM (${sql}) d${i}`;
      return sql;
    }],
    ['many CTEs, a `*` over them', 'postgres', (n) => 'WITH ' + Array.from({ length: Math.floor(n / 40) }, (_, i) => `c${i} AS (SELECT token AS t${i} FROM u)`).join(', ') + ' SELECT * FROM c0'],
    ['backtick aliases', 'mysql', (n) => 'SELECT ' + '`password` `p`, '.repeat(n / 16) + '1'],
    ['MySQL expressions past a `*`', 'mysql', (n) => 'SELECT *, ' + 'lower(password), '.repeat(n / 17) + '1'],
    ['backslashes (two readings)', 'mysql', (n) => 'SELECT password AS p, ' + "'\\'".repeat(n / 3)],
  ];
  for (const [name, dialect, make] of cases) assertLinear(t, name, make, dialect);
});
