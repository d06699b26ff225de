/**
 * MySQL/MariaDB packet boundaries on the forwarding thread (`mysql-framing.ts`), against a real
 * MariaDB: the `mariadb` CLI (text results, a long query, an error) and `mysql2` (prepared
 * statements with binary rows, a multi-statement query, an error, COM_CHANGE_USER) talk through
 * a recording relay. The recorded conversations are cut into chunks every which way; each chunk
 * is copied whole or split as the hand-off splits a chunk over a budget (`framing.ts` choosing
 * the framing from the first bytes). The real MySQL capture session, fed the copied runs and
 * told only the lengths of the skipped ones, absorbs every skip and records the same calls,
 * statements and row counts as from the whole conversation. Connections that turn to TLS, or
 * whose server is not MySQL, are not followed.
 */
import t from 'tap';
import mysql from 'mysql2/promise';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { createMysqlSession } from '../../../sidecar/mysql/session.ts';
import { openingFraming } from '../../../sidecar/capture-worker/framing.ts';
import { COMMAND_PREFIX_BYTES, MysqlFraming } from '../../../sidecar/capture-worker/mysql-framing.ts';

import { checkSplits, feedSplit, statementOf, type Fed } from './split-feed.ts';
import { startRecordingRelay, type RelayChunk } from '../../helpers/recording-relay.ts';
import { MYSQL_PASSWORD, runCommand, startMariadb } from '../../helpers/mariadb-server.ts';
import { binaryResultSet, binaryRow, err, execute, greeting, handshakeResponse, int32, lstr, ok, prepare, prepareOk, query, resultSet, textRow } from '../mysql/encoder.ts';
import { STATUS, TYPE } from '../../../sidecar/mysql/constants.ts';

const feed = (chunks: RelayChunk[], size: number, seed: number, copyWhole: (rand: () => number) => boolean): Fed =>
  feedSplit(createMysqlSession, chunks, size, seed, copyWhole);
const queryOf = statementOf;

/** What a gap must not change about a call. */
const shape = (e: Exchange) => [e.method, e.path, e.error, e.error_detail, e.response?.headers.rows, e.request?.headers.statement_id, queryOf(e).slice(0, 120)];

void t.test('a real MySQL session absorbs every skip and records every call', async (t) => {
  const port = await startMariadb(t);
  const relay = await startRecordingRelay(port);
  t.teardown(relay.close);

  const sql = [
    'CREATE TABLE big (id INT PRIMARY KEY, name VARCHAR(50), pad TEXT)',
    "INSERT INTO big SELECT seq, CONCAT('row ', seq), REPEAT('x', 300) FROM seq_1_to_120",
    'SELECT id, name, pad FROM big ORDER BY id',
    // The CLI strips comments before sending: a long literal makes a long query.
    `SELECT '${'c'.repeat(400)}' AS long_text`,
    'SELECT * FROM nope',
  ];
  const cli = await runCommand('mariadb', ['--no-defaults', '-h', '127.0.0.1', '-P', String(relay.port), '-u', 'app', '--skip-ssl', '--batch', `-p${MYSQL_PASSWORD}`, 'shop', '-e', sql.join(';\n')]);
  t.match(cli.stderr, /ERROR 1146/, 'the CLI ran up to the failing query');
  t.equal(cli.stdout.split('\n').filter((l) => l.includes('xxxxx')).length, 120, 'the CLI read 120 rows');

  const conn = await mysql.createConnection({ host: '127.0.0.1', port: relay.port, user: 'app', password: MYSQL_PASSWORD, database: 'shop', multipleStatements: true });
  for (let i = 0; i < 3; i++) {
    const [rows] = await conn.execute('SELECT id, name, pad FROM big WHERE id > ? ORDER BY id LIMIT 40', [i * 10]);
    t.equal((rows as unknown[]).length, 40);
  }
  await conn.execute('INSERT INTO big (id, name, pad) VALUES (?, ?, ?)', [1000, 'long', 'p'.repeat(700)]);
  await conn.query('SELECT 1 AS one; SELECT 2 AS two');
  await t.rejects(conn.execute('SELECT * FROM nope WHERE id = ?', [1]), /doesn't exist/);
  await conn.changeUser({ user: 'app', password: MYSQL_PASSWORD, database: 'shop' });
  const [after] = await conn.execute('SELECT id FROM big WHERE id >= ? ORDER BY id', [1000]);
  t.same(after, [{ id: 1000 }]);
  await conn.end();

  await new Promise((r) => setTimeout(r, 300));
  t.equal(relay.connections.length, 2, 'two connections recorded');

  for (const [name, chunks] of [['mariadb CLI', relay.connections[0]], ['mysql2', relay.connections[1]]] as const) {
    const whole = checkSplits(t, name, chunks, { create: createMysqlSession, shape, framing: MysqlFraming });
    t.ok(whole.exchanges.length >= 5, `${name}: ${whole.exchanges.length} calls`);
  }

  // What the records of a split conversation say about what was skipped.
  const cliSplit = feed(relay.connections[0], 0, 3, () => false);
  const big = cliSplit.exchanges.find((e) => queryOf(e).startsWith('SELECT id, name, pad FROM big'));
  t.equal(big?.response?.headers.rows, '120', 'the large result keeps its row count');
  t.equal(big?.response?.truncated, true, 'its skipped rows are marked cut');
  const long = cliSplit.exchanges.find((e) => queryOf(e).startsWith("SELECT 'ccc"));
  t.ok(long !== undefined && queryOf(long).length < 400 && long.request?.truncated === true, `a query past ${COMMAND_PREFIX_BYTES} bytes keeps its start, marked cut`);
  const driverSplit = feed(relay.connections[1], 0, 3, () => false);
  const executes = driverSplit.exchanges.filter((e) => e.request?.headers.statement_id !== undefined && e.method === 'SELECT');
  t.ok(executes.length >= 4, 'the prepared statements executed in the gap and after it are records');
  t.ok(executes.every((e) => queryOf(e).startsWith('SELECT id')), 'each with its statement text');
});

/** A server's Initial Handshake packet (protocol 10) with capabilities `caps`. */
function greetingPacket(caps: number): Buffer {
  const u16 = (v: number) => Buffer.from([v & 0xff, (v >> 8) & 0xff]);
  const payload = Buffer.concat([
    Buffer.from([0x0a]),
    Buffer.from('10.11.6-MariaDB\0'),
    Buffer.from([10, 0, 0, 0]),
    Buffer.alloc(8, 0x41),
    Buffer.from([0]),
    u16(caps & 0xffff),
    Buffer.from([0x2d]),
    u16(2),
    u16(caps >>> 16),
    Buffer.from([21]),
    Buffer.alloc(10),
    Buffer.alloc(13, 0x42),
    Buffer.from('mysql_native_password\0'),
  ]);
  return Buffer.concat([Buffer.from([payload.length & 0xff, payload.length >> 8, 0, 0]), payload]);
}

void t.test('MySQL 8 with CLIENT_DEPRECATE_EOF: rows past 256 packets, binary rows, more results, an error', async (t) => {
  // MariaDB and its clients do not agree on CLIENT_DEPRECATE_EOF; MySQL 8 and its clients do.
  const at = (i: number) => BigInt(i) * 1000n;
  const chunks: RelayChunk[] = [];
  const say = (from: 'client' | 'server', data: Buffer) => chunks.push({ from, data, at: at(chunks.length) });
  const cols = [{ name: 'id', type: TYPE.LONG }, { name: 'pad' }];
  say('server', greeting());
  say('client', handshakeResponse({ deprecateEof: true, db: 'shop' }));
  say('server', ok(2));
  say('client', query('SELECT id, pad FROM big'));
  // 300 rows: the sequence ids wrap past 255 inside the answer.
  say('server', resultSet(1, cols, Array.from({ length: 300 }, (_, i) => [String(i), 'x'.repeat(100)]), { deprecateEof: true }));
  say('client', prepare('SELECT id, pad FROM big WHERE id > ?'));
  say('server', prepareOk(1, 7, 1, cols, { deprecateEof: true }));
  say('client', execute(7, [int32(5)]));
  say('server', binaryResultSet(1, cols, Array.from({ length: 50 }, (_, i) => [int32(i).value, lstr('y'.repeat(80))]), { deprecateEof: true }));
  say('client', query('SELECT 1; SELECT 2'));
  // Two results in one answer: the first's terminator says more follow; its ids run on.
  say('server', Buffer.concat([resultSet(1, [{ name: '1' }], [['1']], { deprecateEof: true, status: 2 | STATUS.MORE_RESULTS_EXISTS }), resultSet(5, [{ name: '2' }], [['2']], { deprecateEof: true })]));
  say('client', query('SELECT * FROM nope'));
  say('server', err(1, 1146, '42S02', "Table 'shop.nope' doesn't exist"));
  const after = `SELECT '${'z'.repeat(300)}' AS after`;
  say('client', query(after));
  say('server', resultSet(1, [{ name: 'after' }], [['z'.repeat(300)]], { deprecateEof: true }));
  // Split everywhere, the framing skips all of every row but its first byte (of the first
  // result of a multi-result answer only) and the long query past its copied prefix.
  const bigRows = Array.from({ length: 300 }, (_, i) => textRow([String(i), 'x'.repeat(100)]).length - 1);
  const binaryRows = Array.from({ length: 50 }, (_, i) => binaryRow([int32(i).value, lstr('y'.repeat(80))]).length - 1);
  const skippable =
    bigRows.reduce((a, b) => a + b, 0) +
    binaryRows.reduce((a, b) => a + b, 0) +
    (textRow(['1']).length - 1) +
    (1 + after.length - COMMAND_PREFIX_BYTES) +
    (textRow(['z'.repeat(300)]).length - 1);
  const whole = checkSplits(t, 'MySQL 8', chunks, { create: createMysqlSession, shape, framing: MysqlFraming, skippable });
  t.same(
    whole.exchanges.map((e) => [e.method, e.response?.headers.rows ?? e.error]),
    [['CONNECT', undefined], ['SELECT', '300'], ['PREPARE', undefined], ['SELECT', '50'], ['SELECT', '1'], ['SELECT', '1'], ['SELECT', 'server_error'], ['SELECT', '1']],
    'the conversation as the session reads it whole',
  );
});

void t.test('connections that are not followed as MySQL', async (t) => {
  const greeting = greetingPacket(0xf7fe | (0x81ff << 16));
  t.ok(openingFraming(false, greeting) instanceof MysqlFraming, 'a MariaDB greeting chooses MySQL');
  t.notOk(openingFraming(false, Buffer.from('220 mail.example ESMTP\r\n')) instanceof MysqlFraming, 'an SMTP banner does not');
  t.notOk(openingFraming(true, Buffer.from('GET / HTTP/1.1\r\n\r\n')) instanceof MysqlFraming, 'a client that speaks first does not');

  const tls = new MysqlFraming();
  t.equal(tls.advance(false, greeting), true, 'the greeting followed');
  // An SSLRequest: capabilities with CLIENT_SSL (0x800) and PROTOCOL_41 (0x200), 32 bytes alone.
  const sslRequest = Buffer.alloc(36);
  sslRequest.writeUIntLE(32, 0, 3);
  sslRequest[3] = 1;
  sslRequest.writeUInt32LE(0x800 | 0x200 | 0x8000 | 0x80000, 4);
  t.equal(tls.advance(true, sslRequest), false, 'an SSLRequest: no longer followed');
  t.equal(tls.split(false, Buffer.from([0x16, 0x03, 0x03]), []), -1, 'on either side');

  const notGreeting = new MysqlFraming();
  t.equal(notGreeting.advance(false, Buffer.from('0500000001ffffffff', 'hex')), false, 'a first server packet that is not a greeting');
});
