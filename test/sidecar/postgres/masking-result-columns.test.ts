/**
 * Result columns that read a secret column under another name, from wire bytes to the record the
 * collector receives: the session masks their values in the rows (simple query, each statement of
 * a multi-statement query, and the extended protocol: the statement text from Parse, the rows
 * from the Execute of a portal bound to it), the JSON masker then masks columns named as secrets
 * as before; the names stay readable; the session's masking policy decides. Each script also runs
 * at every chunk split.
 */
import t from 'tap';
import { serialize } from 'pg-protocol';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { resolveMaskPolicyFromEnv } from '../../../sidecar/mask/env-policy.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy, type MaskPolicy } from '../../../sidecar/mask/policy.ts';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import { be, cat, greeting, json, runAllCuts, type Step } from './harness.ts';

const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 5432 }, mesh: false };
/** The records as the capture worker ships them: built, then masked by the same policy. */
const shipped = (exchanges: Exchange[], policy: MaskPolicy = DEFAULT_MASK_POLICY): CallRecord[] =>
  exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'p', namespace: 'n' }), policy));
const everything = (records: CallRecord[]): string => JSON.stringify(records.map(recordToJson));
const start: Step[] = [{ c: cat(serialize.startup({ user: 'shop', database: 'shop' })) }, { s: greeting() }];
const rowsOf = (r: CallRecord): unknown => json(r.response?.body).rows;

const review = 'SELECT name, password AS pw, api_key FROM walku';
const reviewSteps: Step[] = [
  ...start,
  { c: cat(serialize.query(review)) },
  {
    s: cat(
      be.rowDescription(['name', 'pw', 'api_key']),
      be.dataRow(['walk', 'walkpgpw5', 'walk-api-key-5']),
      be.dataRow(['other', null, 'other-api-key']),
      be.commandComplete('SELECT 2'),
      be.ready(),
    ),
  },
];

void t.test("the review's statement: the alias's values are masked, as the column under its own name is", async (t) => {
  const { exchanges } = runAllCuts(t, reviewSteps);
  const [select] = shipped(exchanges).slice(1);
  const body = json(select.response?.body);
  t.same(body.columns, ['name', 'pw', 'api_key'], 'the column names stay');
  t.same(body.rows, [
    { name: 'walk', pw: '****', api_key: '****' },
    { name: 'other', pw: '****', api_key: '****' },
  ]);
  t.same(select.redacted, [
    'response.body.$.rows[0].pw',
    'response.body.$.rows[1].pw',
    'response.body.$.rows[0].api_key',
    'response.body.$.rows[1].api_key',
  ]);
  t.same(select.sensitive, ['password', 'api_key']);
  t.equal(json(select.request?.body).query, review, 'the statement stays as it is');
  const all = everything([select]);
  for (const secret of ['walkpgpw5', 'walk-api-key-5', 'other-api-key']) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('aliases without AS, quoted, expressions; each statement of a simple query by its own text', async (t) => {
  const { exchanges } = runAllCuts(t, [
    ...start,
    { c: cat(serialize.query("SELECT u.password pw FROM u; SELECT lower(password) AS \"P\", name FROM u; SELECT coalesce(token, '') t, password || '' FROM u")) },
    {
      s: cat(
        be.rowDescription(['pw']),
        be.dataRow(['no-as-secret']),
        be.commandComplete('SELECT 1'),
        be.rowDescription(['P', 'name']),
        be.dataRow(['lower-secret', 'bob']),
        be.commandComplete('SELECT 1'),
        be.rowDescription(['t', '?column?']),
        be.dataRow(['coalesce-secret', 'concat-secret']),
        be.commandComplete('SELECT 1'),
        be.ready(),
      ),
    },
  ]);
  const [noAs, quoted, expressions] = shipped(exchanges).slice(1);
  t.same(rowsOf(noAs), [{ pw: '****' }]);
  t.same(rowsOf(quoted), [{ P: '****', name: 'bob' }]);
  t.same(quoted.redacted, ['response.body.$.rows[0].P']);
  t.same(rowsOf(expressions), [{ t: '****', '?column?': '****' }], 'an expression without an alias, by its position');
  t.same(expressions.redacted, ['response.body.$.rows[0].t', 'response.body.$.rows[0]["?column?"]']);
  t.same(expressions.sensitive, ['token', 'password']);
  const all = everything([noAs, quoted, expressions]);
  for (const secret of ['no-as-secret', 'lower-secret', 'coalesce-secret', 'concat-secret']) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('what stays: a secret word in a literal or a comment, other columns, `SELECT *` by column name', async (t) => {
  const { exchanges } = runAllCuts(t, [
    ...start,
    { c: cat(serialize.query("SELECT 'password' AS label, name /* token */ AS n FROM u")) },
    { s: cat(be.rowDescription(['label', 'n']), be.dataRow(['password', 'bob']), be.commandComplete('SELECT 1'), be.ready()) },
    { c: cat(serialize.query('SELECT * FROM u')) },
    { s: cat(be.rowDescription(['name', 'password']), be.dataRow(['al', 'star-secret']), be.commandComplete('SELECT 1'), be.ready()) },
  ]);
  const [literal, star] = shipped(exchanges).slice(1);
  t.same(rowsOf(literal), [{ label: 'password', n: 'bob' }]);
  t.same(literal.redacted, []);
  t.same(rowsOf(star), [{ name: 'al', password: '****' }]);
  t.same(star.redacted, ['response.body.$.rows[0].password'], 'the JSON masker, as before');
});

void t.test('extended protocol: the statement from Parse, the rows from the Execute of a portal bound to it', async (t) => {
  const named = 'SELECT id, password AS secret_copy_of, upper(api_key) FROM u WHERE id = $1';
  const unnamed = 'UPDATE u SET name = $1 WHERE id = $2 RETURNING id, token AS t';
  const { exchanges } = runAllCuts(t, [
    ...start,
    {
      c: cat(
        serialize.parse({ name: 'get_user', text: named, types: [] }),
        serialize.describe({ type: 'S', name: 'get_user' }),
        serialize.sync(),
      ),
    },
    { s: cat(be.parseComplete(), be.parameterDescription([23]), be.rowDescription(['id', 'secret_copy_of', 'upper']), be.ready()) },
    {
      c: cat(
        serialize.bind({ statement: 'get_user', portal: 'p1', values: ['7'] }),
        serialize.execute({ portal: 'p1' }),
        serialize.bind({ statement: 'get_user', values: ['8'] }),
        serialize.execute({}),
        serialize.parse({ text: unnamed, types: [] }),
        serialize.bind({ values: ['bob', '9'] }),
        serialize.execute({}),
        serialize.sync(),
      ),
    },
    {
      s: cat(
        be.bindComplete(),
        be.dataRow(['7', 'ext-pw-7', 'EXT-KEY-7']),
        be.commandComplete('SELECT 1'),
        be.bindComplete(),
        be.dataRow(['8', 'ext-pw-8', 'EXT-KEY-8']),
        be.commandComplete('SELECT 1'),
        be.parseComplete(),
        be.bindComplete(),
        be.dataRow(['9', 'returned-token']),
        be.commandComplete('UPDATE 1'),
        be.ready(),
      ),
    },
  ]);
  const [, first, second, returning] = shipped(exchanges).slice(1);
  t.equal(json(first.request?.body).query, named);
  t.match(first.request?.headers, { statement: 'get_user', portal: 'p1' });
  t.same(rowsOf(first), [{ id: '7', secret_copy_of: '****', upper: '****' }], 'the columns described for the statement');
  t.same(first.redacted, ['response.body.$.rows[0].upper', 'response.body.$.rows[0].secret_copy_of'], 'the session\'s paths, then the JSON masker\'s');
  t.same(first.sensitive, ['api_key', 'secret'], 'secret_copy_of is a secret name: the JSON masker masks it, under its own kind');
  t.same(rowsOf(second), [{ id: '8', secret_copy_of: '****', upper: '****' }], 'every execute of the named statement');
  t.same(rowsOf(returning), [{ $1: '9', $2: '****' }], 'RETURNING without a Describe: by position');
  t.same(returning.redacted, ['response.body.$.rows[0].$2']);
  t.same(returning.sensitive, ['token']);
  const all = everything([first, second, returning]);
  for (const secret of ['ext-pw-7', 'ext-pw-8', 'EXT-KEY-7', 'EXT-KEY-8', 'returned-token']) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('the policy: a key it adds; disabled, nothing is masked', async (t) => {
  const steps: Step[] = [
    ...start,
    { c: cat(serialize.query('SELECT iban AS account, password AS pw FROM acct')) },
    { s: cat(be.rowDescription(['account', 'pw']), be.dataRow(['DE-iban-secret', 'acct-pw']), be.commandComplete('SELECT 1'), be.ready()) },
  ];
  const added = resolveMaskPolicyFromEnv({ MESHTAP_MASK_KEYS: 'iban' });
  const [withIban] = shipped(runAllCuts(t, steps, 64 * 1024, { maskPolicy: added }).exchanges, added).slice(1);
  t.same(rowsOf(withIban), [{ account: '****', pw: '****' }]);
  t.same(withIban.sensitive, ['secret', 'password']);
  const [byDefault] = shipped(runAllCuts(t, steps).exchanges).slice(1);
  t.same(rowsOf(byDefault), [{ account: 'DE-iban-secret', pw: '****' }], 'iban is no secret under the default policy');
  const off = resolveMaskPolicy({ enabled: false });
  const [disabled] = shipped(runAllCuts(t, steps, 64 * 1024, { maskPolicy: off }).exchanges, off).slice(1);
  t.same(rowsOf(disabled), [{ account: 'DE-iban-secret', pw: 'acct-pw' }]);
  t.same([disabled.redacted, disabled.sensitive], [[], []]);
});

void t.test('masked values longer than the values: rows past the body limit are dropped, not cut', async (t) => {
  // 30 rows of `{"name":"u12","p":"x"}` fit in the 768 bytes a 1 KiB body leaves the rows; masked, they do not.
  const rows = Array.from({ length: 30 }, (_, i) => be.dataRow([`u${i}`, 'x']));
  const maxBody = 1024;
  const steps = (sql: string): Step[] => [...start, { c: cat(serialize.query(sql)) }, { s: cat(be.rowDescription(['name', 'p']), ...rows, be.commandComplete('SELECT 30'), be.ready()) }];
  const [plain] = shipped(runAllCuts(t, steps('SELECT name, note AS p FROM u'), maxBody).exchanges).slice(1);
  t.equal(json(plain.response?.body).rows.length, 30, 'unmasked, every row fits');
  const [select] = shipped(runAllCuts(t, steps('SELECT name, pin AS p FROM u'), maxBody).exchanges).slice(1);
  const body = json(select.response?.body);
  t.ok(select.response !== undefined && select.response.body.length <= maxBody, 'within the body limit, valid JSON');
  t.equal(body.truncated, true);
  t.equal(body.row_count, 30);
  t.ok(body.rows.length > 0 && body.rows.length < 30 && body.rows.every((r: { p: string }) => r.p === '****'), `${body.rows.length} rows kept, masked`);
  t.equal(select.redacted.length, body.rows.length, 'a path per row kept');
});
