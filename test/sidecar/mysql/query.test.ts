/**
 * COM_QUERY and the other text-protocol commands: result sets with and without
 * CLIENT_DEPRECATE_EOF, multi-results, OK and ERR, the row limit, USE/PING, LOCAL INFILE.
 */
import t from 'tap';
import { COM, STATUS, TYPE } from '../../../sidecar/mysql/constants.ts';
import { cat, command, err, greeting, handshakeResponse, ok, pkt, query, resultSet, u8 } from './encoder.ts';
import { json, leaks, runAllCuts, runMy, text, timeOf, type Step } from './harness.ts';

const login = (deprecateEof: boolean, db: string | null = 'shop'): Step[] => [
  { s: greeting() },
  { c: handshakeResponse({ user: 'app', db: db ?? undefined, auth: Buffer.from('0123456789abcdef0123'), deprecateEof }) },
  { s: ok(2) },
];

for (const deprecateEof of [false, true]) {
  void t.test(`a result set (CLIENT_DEPRECATE_EOF ${deprecateEof ? 'on' : 'off'})`, async (t) => {
    const steps: Step[] = [
      ...login(deprecateEof),
      { c: query('SELECT id, name, note FROM users ORDER BY id') },
      {
        s: resultSet(
          1,
          [{ name: 'id', type: TYPE.LONG, charset: 63 }, { name: 'name' }, { name: 'note' }],
          [
            ['1', 'alice', null],
            ['2', 'bøb', 'hi'],
          ],
          { deprecateEof },
        ),
      },
      { close: 'fin' },
    ];
    const { exchanges, events } = runAllCuts(t, steps);
    t.same(events, []);
    t.equal(exchanges.length, 2);
    const ex = exchanges[1];
    t.match(ex, {
      protocol: 'mysql',
      ordinal: 1,
      method: 'SELECT',
      path: 'shop',
      start: timeOf(3),
      request_end: timeOf(3),
      response_start: timeOf(4),
      end: timeOf(4),
      request: { headers: { user: 'app', database: 'shop' }, content_type: 'application/json' },
      response: { headers: { rows: '2' }, content_type: 'application/json', truncated: false },
    });
    t.equal(ex.error, undefined);
    t.same(json(ex.request?.body), { query: 'SELECT id, name, note FROM users ORDER BY id' });
    t.same(json(ex.response?.body), {
      columns: ['id', 'name', 'note'],
      rows: [
        { id: '1', name: 'alice', note: null },
        { id: '2', name: 'bøb', note: 'hi' },
      ],
      row_count: 2,
      command: 'SELECT',
    });
    t.equal(ex.bytes_out, 'c' in steps[3] ? steps[3].c.length : -1);
    t.equal(ex.bytes_in, 's' in steps[4] ? steps[4].s.length : -1);
  });
}

void t.test('multi-statement query: one record per result', async (t) => {
  const more = 2 | STATUS.MORE_RESULTS_EXISTS;
  const steps: Step[] = [
    ...login(true),
    { c: query("INSERT INTO t (a) VALUES ('x'); SELECT a FROM t; SELECT 'semi;colon' AS s") },
    {
      s: cat(
        ok(1, { affected: 1, insertId: 9, status: more }),
        resultSet(2, [{ name: 'a' }], [['x']], { deprecateEof: true, status: more }),
        resultSet(6, [{ name: 's' }], [['semi;colon']], { deprecateEof: true }),
      ),
    },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 4);
  const [, ins, sel1, sel2] = exchanges;
  t.match(ins, { method: 'INSERT', ordinal: 1, request: { headers: { part: '1/3' } }, response: { headers: { affected_rows: '1', last_insert_id: '9', rows: '1' } } });
  t.same(json(ins.request?.body), { query: "INSERT INTO t (a) VALUES ('x')" });
  t.same(json(ins.response?.body), { row_count: 1, affected_rows: 1, last_insert_id: 9, command: 'INSERT' });
  t.match(sel1, { method: 'SELECT', ordinal: 2, request: { headers: { part: '2/3' } }, bytes_out: 0 });
  t.same(json(sel1.response?.body).rows, [{ a: 'x' }]);
  t.same(json(sel2.request?.body), { query: "SELECT 'semi;colon' AS s" });
  t.same(json(sel2.response?.body).rows, [{ s: 'semi;colon' }]);
  t.equal(ins.bytes_out + sel1.bytes_out + sel2.bytes_out, 'c' in steps[3] ? steps[3].c.length : -1);
  t.equal(ins.bytes_in + sel1.bytes_in + sel2.bytes_in, 's' in steps[4] ? steps[4].s.length : -1);
});

void t.test('a multi-statement query failing half-way', async (t) => {
  const steps: Step[] = [
    ...login(false),
    { c: query('UPDATE t SET a = 1; SELECT * FROM nope; SELECT 3') },
    { s: cat(ok(1, { affected: 4, status: 2 | STATUS.MORE_RESULTS_EXISTS, info: 'Rows matched: 4  Changed: 4  Warnings: 0' }), err(2, 1146, '42S02', "Table 'shop.nope' doesn't exist")) },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 3);
  t.match(exchanges[1], { method: 'UPDATE', response: { headers: { affected_rows: '4', info: 'Rows matched: 4  Changed: 4  Warnings: 0' } } });
  t.match(exchanges[2], { method: 'SELECT', error: 'server_error', error_detail: "ERROR 1146 (42S02): Table 'shop.nope' doesn't exist", notes: ['1 later statement(s) of the query not run'] });
  t.same(json(exchanges[2].request?.body), { query: 'SELECT * FROM nope' });
});

void t.test('OK with affected rows and an insert id', async (t) => {
  const steps: Step[] = [...login(true), { c: query("INSERT INTO users (name) VALUES ('x'), ('y')") }, { s: ok(1, { affected: 2, insertId: 41, warnings: 1 }) }];
  const { exchanges } = runAllCuts(t, steps);
  t.match(exchanges[1], {
    method: 'INSERT',
    response: { headers: { rows: '2', affected_rows: '2', last_insert_id: '41', warnings: '1' } },
  });
  t.same(json(exchanges[1].response?.body), { row_count: 2, affected_rows: 2, last_insert_id: 41, warnings: 1, command: 'INSERT' });
});

void t.test('ERR 1146: table does not exist', async (t) => {
  const steps: Step[] = [...login(true), { c: query('SELECT * FROM nope') }, { s: err(1, 1146, '42S02', "Table 'shop.nope' doesn't exist") }, { close: 'fin' }];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 2);
  t.match(exchanges[1], {
    method: 'SELECT',
    error: 'server_error',
    error_detail: "ERROR 1146 (42S02): Table 'shop.nope' doesn't exist",
    response: { headers: { code: '1146', sqlstate: '42S02', message: "Table 'shop.nope' doesn't exist" } },
  });
  t.same(json(exchanges[1].response?.body), { error: { code: 1146, sqlstate: '42S02', message: "Table 'shop.nope' doesn't exist" } });
});

void t.test('150 rows: 100 kept, all counted', async (t) => {
  const rows = Array.from({ length: 150 }, (_, i) => [String(i + 1)]);
  const steps: Step[] = [...login(false), { c: query('SELECT seq FROM seq_1_to_150') }, { s: resultSet(1, [{ name: 'seq', type: TYPE.LONGLONG, charset: 63 }], rows) }];
  const { exchanges } = runAllCuts(t, steps);
  const ex = exchanges[1];
  const body = json(ex.response?.body);
  t.equal(body.rows.length, 100);
  t.equal(body.row_count, 150);
  t.equal(body.truncated, true);
  t.same(body.rows[99], { seq: '100' });
  t.equal(ex.response?.headers.rows, '150');
  t.equal(ex.response?.truncated, true);
  t.equal(ex.bytes_in, 's' in steps[4] ? steps[4].s.length : -1);

  // The body limit cuts earlier than the row limit: still valid JSON, rows still all counted.
  const small = runMy(steps, new Map(), 600);
  const sbody = json(small.exchanges[1].response?.body);
  t.ok(sbody.rows.length < 100 && sbody.rows.length > 0, `${sbody.rows.length} rows within 600 bytes`);
  t.equal(sbody.row_count, 150);
});

void t.test('USE (COM_INIT_DB) changes the path; PING; a query USE; QUIT', async (t) => {
  const steps: Step[] = [
    ...login(true, null),
    { c: command(COM.INIT_DB, Buffer.from('inventory')) },
    { s: ok(1) },
    { c: command(COM.PING) },
    { s: ok(1) },
    { c: query('USE `billing`') },
    { s: ok(1) },
    { c: query('SELECT 1') },
    { s: resultSet(1, [{ name: '1' }], [['1']], { deprecateEof: true }) },
    { c: command(COM.QUIT) },
    { close: 'fin' },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 5);
  t.equal(exchanges[0].path, undefined);
  t.match(exchanges[1], { method: 'USE', path: 'inventory', request: { headers: { database: 'inventory' } } });
  t.same(json(exchanges[1].request?.body), { query: 'USE inventory' });
  t.match(exchanges[2], { method: 'PING', path: 'inventory' });
  t.match(exchanges[3], { method: 'USE', path: 'inventory' });
  t.match(exchanges[4], { method: 'SELECT', path: 'billing' });
});

void t.test('COM_STATISTICS answers plain text; an unknown database is an error', async (t) => {
  const steps: Step[] = [
    ...login(true),
    { c: command(COM.STATISTICS) },
    { s: pkt(1, Buffer.from('Uptime: 42  Threads: 1  Questions: 7')) },
    { c: command(COM.INIT_DB, Buffer.from('nope')) },
    { s: err(1, 1049, '42000', "Unknown database 'nope'") },
    { c: query('SELECT 1') },
    { s: resultSet(1, [{ name: '1' }], [['1']], { deprecateEof: true }) },
  ];
  const { exchanges } = runAllCuts(t, steps);
  t.match(exchanges[1], { method: 'STATISTICS', response: { content_type: 'text/plain' } });
  t.equal(text(exchanges[1].response?.body), 'Uptime: 42  Threads: 1  Questions: 7');
  t.match(exchanges[2], { method: 'USE', error: 'server_error', error_detail: "ERROR 1049 (42000): Unknown database 'nope'" });
  t.equal(exchanges[3].path, 'shop', 'a failed USE leaves the database');
});

void t.test('LOAD DATA LOCAL INFILE: the file content is counted, not kept', async (t) => {
  const content = Buffer.from('1,secret-row\n2,another\n');
  const steps: Step[] = [
    ...login(true),
    { c: query("LOAD DATA LOCAL INFILE '/tmp/x.csv' INTO TABLE t") },
    { s: pkt(1, cat(u8(0xfb), Buffer.from('/tmp/x.csv'))) },
    { c: cat(pkt(2, content), pkt(3, Buffer.alloc(0))) },
    { s: ok(4, { affected: 2 }) },
  ];
  const { exchanges, events } = runAllCuts(t, steps);
  t.same(events, []);
  t.equal(exchanges.length, 2);
  t.match(exchanges[1], { method: 'LOAD', request_end: timeOf(5), response: { headers: { affected_rows: '2' } } });
  t.match(exchanges[1].notes, [/LOCAL INFILE.*\/tmp\/x\.csv/]);
  t.notOk(leaks(exchanges, 'secret-row'));
  t.equal(exchanges[1].bytes_out, ('c' in steps[3] ? steps[3].c.length : 0) + ('c' in steps[5] ? steps[5].c.length : 0));
});

void t.test('a query longer than one packet (0xffffff continuation)', async (t) => {
  const big = `SELECT '${'x'.repeat(0xffffff + 100)}'`;
  const q = query(big);
  const steps: Step[] = [...login(true), { c: q }, { s: resultSet(1, [{ name: 'x' }], [['y']], { deprecateEof: true }) }];
  const whole = runMy(steps, new Map(), 1024);
  const cuts = runMy(steps, new Map([[3, [3, 4, 5, 0xffffff + 3, 0xffffff + 4, 0xffffff + 5, 0xffffff + 9]]]), 1024);
  t.same(JSON.stringify(cuts.exchanges.map((e) => e.request?.body_size)), JSON.stringify(whole.exchanges.map((e) => e.request?.body_size)));
  t.equal(whole.exchanges.length, 2);
  const ex = whole.exchanges[1];
  t.equal(ex.bytes_out, q.length);
  t.equal(ex.request?.truncated, true);
  t.ok((ex.request?.body.length ?? 0) <= 1024);
  t.match(json(ex.request?.body).query, /^SELECT 'xxx/);
  t.same(json(ex.response?.body).rows, [{ x: 'y' }]);
  t.same(whole.events, []);
});
