/**
 * Result columns that read a secret column under another name, from wire bytes to the record the
 * collector receives: the session masks their values in the rows of COM_QUERY (each result of a
 * multi-statement query by its own statement) and of COM_STMT_EXECUTE (the prepared text says
 * which), MySQL's backtick and string aliases kept as written; the JSON masker then masks columns
 * named as secrets as before; the names stay readable; the session's masking policy decides.
 * Each script also runs at every chunk split.
 */
import t from 'tap';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy, type MaskPolicy } from '../../../sidecar/mask/policy.ts';
import { STATUS } from '../../../sidecar/mysql/constants.ts';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import { binaryResultSet, greeting, handshakeResponse, int32, lstr, ok, prepare, prepareOk, query, resultSet, execute } from './encoder.ts';
import { json, runAllCuts, type Step } from './harness.ts';

const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 3306 }, mesh: false };
const shipped = (exchanges: Exchange[], policy: MaskPolicy = DEFAULT_MASK_POLICY): CallRecord[] =>
  exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'p', namespace: 'n' }), policy));
const everything = (records: CallRecord[]): string => JSON.stringify(records.map(recordToJson));
const login: Step[] = [
  { s: greeting({ plugin: 'caching_sha2_password' }) },
  { c: handshakeResponse({ user: 'root', db: 'shop', auth: Buffer.from('0123456789abcdef0123'), plugin: 'caching_sha2_password', deprecateEof: true }) },
  { s: ok(2) },
];
const rowsOf = (r: CallRecord): unknown => json(r.response?.body).rows;

void t.test("the review's statement: the alias's values are masked, as the column under its own name is", async (t) => {
  const { exchanges } = runAllCuts(t, [
    ...login,
    { c: query('SELECT name, password AS pw, api_key FROM walku') },
    { s: resultSet(1, [{ name: 'name' }, { name: 'pw' }, { name: 'api_key' }], [['walk', 'walkmypw5', 'walk-api-key']], { deprecateEof: true }) },
  ]);
  const [, select] = shipped(exchanges);
  t.same(json(select.response?.body).columns, ['name', 'pw', 'api_key'], 'the column names stay');
  t.same(rowsOf(select), [{ name: 'walk', pw: '****', api_key: '****' }]);
  t.same(select.redacted, ['response.body.$.rows[0].pw', 'response.body.$.rows[0].api_key']);
  t.same(select.sensitive, ['password', 'api_key']);
  const all = everything([select]);
  for (const secret of ['walkmypw5', 'walk-api-key']) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('backtick and string aliases as written, without AS, expressions; each result of a multi-statement query', async (t) => {
  const more = 2 | STATUS.MORE_RESULTS_EXISTS;
  const { exchanges } = runAllCuts(t, [
    ...login,
    { c: query("SELECT password AS `Pw`, u.token AS 'tk' FROM u; SELECT name, lower(pin) FROM u; SELECT 'password' AS label, name AS n FROM u") },
    {
      s: Buffer.concat([
        resultSet(1, [{ name: 'Pw' }, { name: 'tk' }], [['backtick-secret', 'string-alias-secret']], { deprecateEof: true, status: more }),
        resultSet(4, [{ name: 'name' }, { name: 'lower(pin)' }], [['bob', '4321']], { deprecateEof: true, status: more }),
        resultSet(8, [{ name: 'label' }, { name: 'n' }], [['password', 'bob']], { deprecateEof: true }),
      ]),
    },
  ]);
  const [, aliases, expression, literal] = shipped(exchanges);
  t.same(rowsOf(aliases), [{ Pw: '****', tk: '****' }]);
  t.same(aliases.redacted, ['response.body.$.rows[0].Pw', 'response.body.$.rows[0].tk']);
  t.same(aliases.sensitive, ['password', 'token']);
  t.same(rowsOf(expression), [{ name: 'bob', 'lower(pin)': '****' }]);
  t.same(expression.redacted, ['response.body.$.rows[0]["lower(pin)"]']);
  t.same(rowsOf(literal), [{ label: 'password', n: 'bob' }], 'a secret word in a string literal is no column');
  t.same(literal.redacted, []);
  const all = everything([aliases, expression]);
  for (const secret of ['backtick-secret', 'string-alias-secret', '4321']) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('a prepared statement: its text says which columns of each execute to mask', async (t) => {
  const text = "SELECT id, coalesce(token, '') t FROM u WHERE id = ?";
  const cols = [{ name: 'id' }, { name: 't' }];
  const { exchanges } = runAllCuts(t, [
    ...login,
    { c: prepare(text) },
    { s: prepareOk(1, 3, 1, cols, { deprecateEof: true }) },
    { c: execute(3, [int32(7)]) },
    { s: binaryResultSet(1, cols, [[lstr('7'), lstr('exec-token-7')]], { deprecateEof: true }) },
    { c: execute(3, [int32(8)]) },
    { s: binaryResultSet(1, cols, [[lstr('8'), null]], { deprecateEof: true }) },
  ]);
  const [, prep, first, second] = shipped(exchanges);
  t.same(json(prep.response?.body).columns, ['id', 't']);
  t.same(rowsOf(first), [{ id: '7', t: '****' }]);
  t.same(first.redacted, ['response.body.$.rows[0].t']);
  t.same(first.sensitive, ['token']);
  t.same(rowsOf(second), [{ id: '8', t: '****' }], 'NULL too, as the JSON masker masks it');
  t.notOk(everything([first, second]).includes('exec-token-7'));
});

void t.test('a disabled policy masks nothing', async (t) => {
  const off = resolveMaskPolicy({ enabled: false });
  const { exchanges } = runAllCuts(
    t,
    [...login, { c: query('SELECT password AS pw FROM u') }, { s: resultSet(1, [{ name: 'pw' }], [['off-pw']], { deprecateEof: true }) }],
    64 * 1024,
    { maskPolicy: off },
  );
  const [, select] = shipped(exchanges, off);
  t.same(rowsOf(select), [{ pw: 'off-pw' }]);
  t.same([select.redacted, select.sensitive], [[], []]);
});
