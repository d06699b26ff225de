/**
 * Prepared statements: COM_STMT_PREPARE, COM_STMT_EXECUTE with bound parameters (binary
 * protocol, NULL bitmap, types resent or not), binary result sets, long data, CLOSE (no reply)
 * and RESET.
 */
import t from 'tap';
import { COM, TYPE, UNSIGNED_FLAG } from '../../../sidecar/mysql/constants.ts';
import {
  binaryResultSet,
  cat,
  command,
  double,
  err,
  execute,
  greeting,
  handshakeResponse,
  int32,
  int64,
  lstr,
  nul,
  ok,
  prepare,
  prepareOk,
  query,
  resultSet,
  str,
  u16,
  u32,
  u8,
  type Param,
} from './encoder.ts';
import { json, runAllCuts, timeOf, type Step } from './harness.ts';

const login = (deprecateEof: boolean): Step[] => [
  { s: greeting() },
  { c: handshakeResponse({ user: 'app', db: 'shop', auth: Buffer.from('0123456789abcdef0123'), deprecateEof }) },
  { s: ok(2) },
];

const SQL = 'SELECT id, name, born FROM users WHERE id > ? AND name <> ? AND note <=> ?';
const COLS = [{ name: 'id', type: TYPE.LONG, charset: 63 }, { name: 'name' }, { name: 'born', type: TYPE.DATETIME, charset: 63 }];

const i32 = (n: number): Buffer => int32(n).value as Buffer;
const datetime = (y: number, mo: number, d: number, h: number, mi: number, s: number): Buffer =>
  cat(u8(7), u16(y), Buffer.from([mo, d, h, mi, s]));

for (const deprecateEof of [true, false]) {
  void t.test(`prepare + execute with int, string and NULL parameters (CLIENT_DEPRECATE_EOF ${deprecateEof ? 'on' : 'off'})`, async (t) => {
    const params: Param[] = [int32(5), str('bob'), nul()];
    const steps: Step[] = [
      ...login(deprecateEof),
      { c: prepare(SQL) },
      { s: prepareOk(1, 7, 3, COLS, { deprecateEof }) },
      { c: execute(7, params) },
      { s: binaryResultSet(1, COLS, [[i32(6), lstr('carol'), datetime(1990, 5, 17, 8, 30, 0)], [i32(9), lstr('dave'), null]], { deprecateEof }) },
      // The second execute does not resend the types.
      { c: execute(7, [int32(100), str('zed'), nul()], false) },
      { s: binaryResultSet(1, COLS, [], { deprecateEof }) },
      { c: command(COM.STMT_CLOSE, u32(7)) },
      { c: query('SELECT 1') },
      { s: resultSet(1, [{ name: '1' }], [['1']], { deprecateEof }) },
      { close: 'fin' },
    ];
    const { exchanges, events } = runAllCuts(t, steps);
    t.same(events, []);
    t.equal(exchanges.length, 6);
    const [, prep, exec1, exec2, close, sel] = exchanges;
    t.match(prep, { method: 'PREPARE', path: 'shop', ordinal: 1, response: { headers: { statement_id: '7', params: '3', columns: '3' } } });
    t.same(json(prep.request?.body), { query: SQL });
    t.same(json(prep.response?.body), { statement_id: 7, params: 3, columns: ['id', 'name', 'born'] });
    t.match(exec1, { method: 'SELECT', ordinal: 2, request: { headers: { statement_id: '7' } }, response: { headers: { rows: '2' } } });
    t.same(json(exec1.request?.body), { query: SQL, parameters: ['5', 'bob', null] });
    t.same(json(exec1.response?.body), {
      columns: ['id', 'name', 'born'],
      rows: [
        { id: '6', name: 'carol', born: '1990-05-17 08:30:00' },
        { id: '9', name: 'dave', born: null },
      ],
      row_count: 2,
      command: 'SELECT',
    });
    t.same(json(exec2.request?.body), { query: SQL, parameters: ['100', 'zed', null] });
    t.equal(json(exec2.response?.body).row_count, 0);
    t.match(close, { method: 'CLOSE', ordinal: 4, start: timeOf(9), request: { headers: { statement_id: '7' } } });
    t.equal(close.response, undefined, 'COM_STMT_CLOSE has no reply');
    t.match(sel, { method: 'SELECT', ordinal: 5 });
  });
}

void t.test('parameter and column types decoded from the binary protocol', async (t) => {
  const cols = [
    { name: 'tiny', type: TYPE.TINY, charset: 63 },
    { name: 'u', type: TYPE.LONGLONG, charset: 63, flags: UNSIGNED_FLAG },
    { name: 'f', type: TYPE.FLOAT, charset: 63 },
    { name: 'd', type: TYPE.DOUBLE, charset: 63 },
    { name: 'dt', type: TYPE.DATE, charset: 63 },
    { name: 'tm', type: TYPE.TIME, charset: 63 },
    { name: 'bin', type: TYPE.BLOB, charset: 63 },
    { name: 'dec', type: TYPE.NEWDECIMAL, charset: 63 },
  ];
  const f = Buffer.alloc(4);
  f.writeFloatLE(1.5);
  const d = Buffer.alloc(8);
  d.writeDoubleLE(-2.25);
  const big = Buffer.alloc(8);
  big.writeBigUInt64LE(18446744073709551615n);
  const time = cat(u8(12), u8(1), u32(1), Buffer.from([2, 3, 4]), u32(500));
  const params: Param[] = [
    { type: TYPE.TINY, value: Buffer.from([0xff]) },
    { type: TYPE.TINY, value: Buffer.from([0xff]), unsigned: true },
    int64(-9007199254740993n),
    double(3.25),
    str(Buffer.from([0xde, 0xad, 0xbe, 0xef]), TYPE.BLOB),
    { type: TYPE.DATE, value: cat(u8(4), u16(2024), Buffer.from([2, 29])) },
  ];
  const steps: Step[] = [
    ...login(true),
    { c: prepare('SELECT ?, ?, ?, ?, ?, ?') },
    { s: prepareOk(1, 1, 6, cols, { deprecateEof: true }) },
    { c: execute(1, params) },
    { s: binaryResultSet(1, cols, [[Buffer.from([0x80]), big, f, d, cat(u8(4), u16(2000), Buffer.from([1, 2])), time, lstr(Buffer.from([0, 1, 2])), lstr('12.50')]], { deprecateEof: true }) },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.same(json(exchanges[2].request?.body).parameters, ['-1', '255', '-9007199254740993', '3.25', '\\xdeadbeef', '2024-02-29']);
  t.same(json(exchanges[2].response?.body).rows, [
    { tiny: '-128', u: '18446744073709551615', f: '1.5', d: '-2.25', dt: '2000-01-02', tm: '-26:03:04.000500', bin: '\\x000102', dec: '12.50' },
  ]);
});

void t.test('long data, an unknown statement, a failed prepare and a statement reset', async (t) => {
  const steps: Step[] = [
    ...login(true),
    { c: prepare('INSERT INTO docs (body, tag) VALUES (?, ?)') },
    { s: prepareOk(1, 3, 2, [], { deprecateEof: true }) },
    { c: command(COM.STMT_SEND_LONG_DATA, u32(3), u16(0), Buffer.from('a very long document body')) },
    { c: execute(3, [{ type: TYPE.BLOB, value: Buffer.alloc(0) }, str('t1')]) },
    { s: ok(1, { affected: 1, insertId: 12 }) },
    { c: command(COM.STMT_RESET, u32(3)) },
    { s: ok(1) },
    { c: execute(99, []) },
    { s: err(1, 1243, 'HY000', 'Unknown prepared statement handler (99) given to mysqld_stmt_execute') },
    { c: prepare('SELEKT nonsense ?') },
    { s: err(1, 1064, '42000', 'You have an error in your SQL syntax') },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 6);
  const [, , ins, reset, unknown, bad] = exchanges;
  t.same(json(ins.request?.body), { query: 'INSERT INTO docs (body, tag) VALUES (?, ?)', parameters: ['(long data, 25 bytes)', 't1'] });
  t.match(ins, { method: 'INSERT', response: { headers: { last_insert_id: '12' } } });
  t.equal(ins.bytes_out, ('c' in steps[5] ? steps[5].c.length : 0) + ('c' in steps[6] ? steps[6].c.length : 0));
  t.match(reset, { method: 'RESET', request: { headers: { statement_id: '3' } } });
  t.match(unknown, { method: 'EXECUTE', error: 'server_error', notes: ['statement 99 was prepared before capture saw it'] });
  t.match(bad, { method: 'PREPARE', error: 'server_error', error_detail: 'ERROR 1064 (42000): You have an error in your SQL syntax' });
  t.same(json(bad.response?.body), { error: { code: 1064, sqlstate: '42000', message: 'You have an error in your SQL syntax' } });
  t.equal(bad.response?.truncated, false);
});
