/**
 * The compressed protocol (zlib and zstd): frames undone before the packets are read, at every
 * chunk cut, packets spanning frames, frames sent as is; a bad or oversized frame stops the
 * connection's capture with a parse record, and a gap inside a frame cannot be stepped over.
 */
import { randomBytes } from 'node:crypto';
import { deflateSync, zstdCompressSync } from 'node:zlib';
import t from 'tap';
import { HeldBytes } from '../../../sidecar/capture/held-bytes.ts';
import { CompressedUnframer, compressionOf } from '../../../sidecar/mysql/compressed.ts';
import { CLIENT, TYPE } from '../../../sidecar/mysql/constants.ts';
import { createMysqlSession } from '../../../sidecar/mysql/session.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { SERVER_CAPS, CLIENT_CAPS, cat, err, greeting, handshakeResponse, ok, query, resultSet } from './encoder.ts';
import { json, runAllCuts, runMy, type Step } from './harness.ts';
import { startRecordingRelay } from '../../helpers/recording-relay.ts';
import { MYSQL_PASSWORD, runCommand, startMariadb } from '../../helpers/mariadb-server.ts';

type Algorithm = 'zlib' | 'zstd';

const u24 = (n: number): Buffer => Buffer.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff]);

/** One compressed-protocol frame holding `packets`: compressed with `algorithm`, or sent as is. */
function frame(seq: number, packets: Buffer, algorithm: Algorithm | 'none'): Buffer {
  if (algorithm === 'none') return cat(u24(packets.length), Buffer.from([seq]), u24(0), packets);
  const payload = algorithm === 'zstd' ? zstdCompressSync(packets) : deflateSync(packets);
  return cat(u24(payload.length), Buffer.from([seq]), u24(packets.length), payload);
}

const capsFor = (algorithm: Algorithm): number => (algorithm === 'zstd' ? CLIENT.ZSTD_COMPRESSION : CLIENT.COMPRESS);

function login(algorithm: Algorithm): Step[] {
  const caps = capsFor(algorithm);
  return [{ s: greeting({ caps: SERVER_CAPS | caps }) }, { c: handshakeResponse({ user: 'app', db: 'shop', caps: CLIENT_CAPS | caps }) }, { s: ok(2) }];
}

const ROWS: Array<Array<string | null>> = [
  ['1', 'apple'],
  ['2', 'pear'],
  ['3', null],
];

for (const algorithm of ['zlib', 'zstd'] as const) {
  void t.test(`${algorithm}: queries and results read through the frames, at every cut`, async (t) => {
    const rows = resultSet(1, [{ name: 'id', type: TYPE.LONG, charset: 63 }, { name: 'name' }], ROWS);
    // The result's packets over two frames, the second starting inside a packet.
    const cut = Math.floor(rows.length / 2);
    const steps: Step[] = [
      ...login(algorithm),
      { c: frame(0, query('SELECT id, name FROM items ORDER BY id'), algorithm) },
      { s: cat(frame(1, rows.subarray(0, cut), algorithm), frame(2, rows.subarray(cut), algorithm)) },
      // A small command sent as is (uncompressed length 0), and its answer compressed.
      { c: frame(0, query('UPDATE items SET name = name'), 'none') },
      { s: frame(1, ok(1, { affected: 3 }), algorithm) },
      { close: 'fin' },
    ];
    const { exchanges, events } = runAllCuts(t, steps);
    t.same(events, [], 'no parse errors');
    t.equal(exchanges.length, 3);
    t.match(exchanges[0], { method: 'CONNECT', path: 'shop' });
    t.match(exchanges[0].notes, [new RegExp(`compressed protocol \\(${algorithm}\\)`)]);
    const select = exchanges[1];
    t.match(select, { method: 'SELECT', error: undefined, response: { headers: { rows: '3' } } });
    t.same(json(select.request?.body), { query: 'SELECT id, name FROM items ORDER BY id' });
    t.same(json(select.response?.body).rows, [
      { id: '1', name: 'apple' },
      { id: '2', name: 'pear' },
      { id: '3', name: null },
    ]);
    t.match(exchanges[2], { method: 'UPDATE', error: undefined, response: { headers: { affected_rows: '3' } } });
  });
}

void t.test('a frame that does not decompress stops the capture with a parse record naming it', async (t) => {
  const bad = frame(1, ok(1), 'zlib');
  bad[bad.length - 2] ^= 0xff;
  const { exchanges, events } = runMy([...login('zlib'), { c: frame(0, query('SELECT 1'), 'zlib') }, { s: bad }, { close: 'fin' }]);
  t.match(events, [{ kind: 'parse_error', side: 'server', detail: /compressed frame \(zlib\) that does not decompress/ }]);
  t.match(exchanges.at(-1), { method: 'SELECT', error: 'parse', error_detail: /does not decompress/ });
});

void t.test('a frame whose size after decompression is not its header\'s is malformed', async (t) => {
  const packets = ok(1);
  const payload = deflateSync(packets);
  const lying = cat(u24(payload.length), Buffer.from([1]), u24(packets.length + 5), payload);
  const { events } = runMy([...login('zlib'), { c: frame(0, query('SELECT 1'), 'zlib') }, { s: lying }, { close: 'fin' }]);
  t.match(events, [{ kind: 'parse_error', detail: /header says 16 bytes and holds 11/ }]);
});

void t.test('the unframer: frames held only up to its bound; partial bytes counted; the algorithm from the capabilities', async (t) => {
  const u = new CompressedUnframer('zlib', { maxFrameBytes: 1024 });
  const out: Buffer[] = [];
  const packets = query('x'.repeat(5000));
  const f = frame(0, packets, 'zlib');
  t.ok(f.length < 1024, 'a frame of 5 KB compresses under the bound');
  u.push(f.subarray(0, 10), (b) => out.push(b));
  t.equal(u.partialBytes, 10);
  u.push(f.subarray(10), (b) => out.push(b));
  t.same(out, [packets]);
  t.equal(u.partialBytes, 0);
  t.equal(u.frames, 1);
  // A frame sent as is streams through whatever its size.
  const big = Buffer.alloc(2000, 7);
  const streamed: Buffer[] = [];
  const asIs = frame(1, big, 'none');
  u.push(asIs.subarray(0, 500), (b) => streamed.push(b));
  t.ok(streamed.length > 0, 'its first bytes come out before the frame is complete');
  u.push(asIs.subarray(500), (b) => streamed.push(b));
  t.same(Buffer.concat(streamed), big);
  t.equal(u.frames, 2);
  // A compressed one over the bound is refused before it is held.
  const random = randomBytes(3000);
  t.throws(() => u.push(frame(2, random, 'zlib'), () => undefined), { bound: 'compressed_frame', message: /a compressed frame of \d+ bytes, over the 1024 bytes capture holds/ });
  t.equal(compressionOf(CLIENT.COMPRESS), 'zlib');
  t.equal(compressionOf(CLIENT.ZSTD_COMPRESSION), 'zstd');
  // Both agreed (a MySQL 8 server offers both by default): zlib, as MySQL's client and server choose.
  t.equal(compressionOf(CLIENT.COMPRESS | CLIENT.ZSTD_COMPRESSION), 'zlib');
});

void t.test('a gap inside a compressed connection cannot be stepped over: capture falls back to a resync', async (t) => {
  const records: Exchange[] = [];
  const s = createMysqlSession({ maxBodyBytes: 64 * 1024, emit: (e) => records.push(e), event: () => undefined });
  let at = 1n;
  for (const step of login('zlib')) {
    if ('s' in step) s.serverData(step.s, at++);
    else if ('c' in step) s.clientData(step.c, at++);
  }
  const q = frame(0, query(`SELECT '${'y'.repeat(3000)}'`), 'none');
  s.clientData(q.subarray(0, 20), at++);
  t.equal(s.skipClient?.(100, at++), false, 'not absorbed');
  s.resync?.(at++, 'gap');
  t.match(records.at(-1), { error: 'capture_overflow' } as Partial<Exchange>);
});

void t.test('real MariaDB: the mariadb CLI with --compress, through a recording relay, replayed', async (t) => {
  const port = await startMariadb(t);
  const relay = await startRecordingRelay(port);
  t.teardown(relay.close);
  const sql = ['CREATE TABLE fruit (id INT PRIMARY KEY, name VARCHAR(20))', "INSERT INTO fruit VALUES (1, 'apple'), (2, 'pear')", 'SELECT id, name FROM fruit ORDER BY id', 'SELECT seq FROM seq_1_to_2000'];
  const cli = await runCommand('mariadb', ['--no-defaults', '-h', '127.0.0.1', '-P', String(relay.port), '-u', 'app', `-p${MYSQL_PASSWORD}`, '--skip-ssl', '--compress', '--batch', 'shop', '-e', sql.join(';\n')]);
  t.equal(cli.status, 0, cli.stderr);
  t.match(cli.stdout, /1\tapple\n2\tpear/);
  await new Promise((r) => setTimeout(r, 200));
  const chunks = relay.connections[0];
  const records: Exchange[] = [];
  const events: unknown[] = [];
  const s = createMysqlSession({ maxBodyBytes: 64 * 1024, emit: (e) => records.push(e), event: (e) => events.push(e) });
  for (const c of chunks) (c.from === 'client' ? s.clientData : s.serverData).call(s, c.data, c.at);
  s.close((chunks.at(-1)?.at ?? 0n) + 1n, 'fin');
  t.same(events, [], 'no parse errors');
  t.match(records[0], { method: 'CONNECT', path: 'shop' });
  t.match(records[0].notes, [/compressed protocol \(zlib\)/]);
  const queryOf = (e: Exchange): string => (e.request?.content_type === 'application/json' ? ((json(e.request.body) as { query?: string }).query ?? '') : '');
  const byQuery = (q: string): Exchange | undefined => records.find((e) => queryOf(e) === q);
  t.match(byQuery(sql[0]), { method: 'CREATE', error: undefined });
  t.match(byQuery(sql[1]), { method: 'INSERT', response: { headers: { affected_rows: '2' } } });
  t.same(json(byQuery(sql[2])?.response?.body).rows, [
    { id: '1', name: 'apple' },
    { id: '2', name: 'pear' },
  ]);
  // 2000 rows: a result over many frames, most of them compressed.
  t.match(byQuery(sql[3]), { method: 'SELECT', error: undefined, response: { headers: { rows: '2000' } } });
});

void t.test('both algorithms agreed: the frames are zlib', async (t) => {
  const both = CLIENT.COMPRESS | CLIENT.ZSTD_COMPRESSION;
  const { exchanges, events } = runAllCuts(t, [
    { s: greeting({ caps: SERVER_CAPS | both }) },
    { c: handshakeResponse({ user: 'app', db: 'shop', caps: CLIENT_CAPS | both }) },
    { s: ok(2) },
    { c: frame(0, query('SELECT 1'), 'zlib') },
    { s: frame(1, resultSet(1, [{ name: '1' }], [['1']]), 'zlib') },
    { close: 'fin' },
  ]);
  t.same(events, []);
  t.match(exchanges[0].notes, [/compressed protocol \(zlib\)/]);
  t.match(exchanges[1], { method: 'SELECT', error: undefined, response: { headers: { rows: '1' } } });
});

void t.test('bytes after the login OK in the same chunk are read as frames', async (t) => {
  // The server's idle disconnect (an ERR no command awaits) written with the OK, compressed.
  const idle = err(0, 4031, 'HY000', 'The client was disconnected by the server because of inactivity.');
  const { exchanges, events } = runAllCuts(t, [...login('zlib').slice(0, 2), { s: cat(ok(2), frame(0, idle, 'zlib')) }, { close: 'fin' }]);
  t.same(events, []);
  t.match(exchanges[1], { error: 'server_error', error_detail: /ERROR 4031 \(HY000\)/, notes: ['error with no command awaiting an answer'] });
});

void t.test('a command pipelined before the login OK on a compressed connection is not misread', async (t) => {
  const { exchanges, events } = runMy([...login('zlib').slice(0, 2), { c: frame(0, query('SELECT 1'), 'zlib') }, { s: ok(2) }, { close: 'fin' }]);
  t.match(events, [{ kind: 'parse_error', side: 'client', detail: /a command sent before the login ended, on a compressed connection: not followed/ }]);
  t.notOk(
    exchanges.some((e) => e.method !== undefined && e.method !== 'CONNECT'),
    'no command recorded from the misframed bytes',
  );
});

void t.test('a compressed frame over 4 MiB cuts the capture as an overflow, not a parse error', async (t) => {
  // Random bytes do not compress: the frame is as long on the wire as the packet it holds.
  const noise = randomBytes(4 * 1024 * 1024 + 4096);
  const { exchanges, events } = runMy([...login('zlib'), { c: frame(0, query('SELECT blob FROM b'), 'zlib') }, { s: frame(1, cat(Buffer.from([0xff, 0xff, 0xff, 1]), noise), 'zlib') }, { close: 'fin' }]);
  t.match(events, [{ kind: 'capture_overflow', reason: 'compressed_frame' }]);
  t.match(exchanges.at(-1), { method: 'SELECT', error: 'capture_overflow', error_detail: /a compressed frame of \d+ bytes, over the 4194304 bytes capture holds to decompress one: capture stopped/ });
});

void t.test('a connection closed inside a compressed frame says so on the call it cut', async (t) => {
  const answer = frame(1, resultSet(1, [{ name: '1' }], [['1']]), 'zlib');
  const { exchanges } = runMy([...login('zlib'), { c: frame(0, query('SELECT 1'), 'zlib') }, { s: answer.subarray(0, 12) }, { close: 'fin' }]);
  t.match(exchanges.at(-1), { method: 'SELECT', error: 'closed' });
  t.same(exchanges.at(-1)?.notes?.filter((n) => /cut short/.test(n)), ['response cut short: 12 bytes of an incomplete compressed frame']);
});

void t.test('frames held by every connection together stay under the shared bound', async (t) => {
  const held = new HeldBytes(3000);
  const a = new CompressedUnframer('zlib', { held });
  const b = new CompressedUnframer('zlib', { held });
  // Random bytes do not compress: each frame is about as long on the wire as what it holds.
  const fa = frame(0, query(randomBytes(1900).toString('latin1')), 'zlib');
  const fb = frame(0, query(randomBytes(1400).toString('latin1')), 'zlib');
  const out: Buffer[] = [];
  a.push(fa.subarray(0, 100), (p) => out.push(p));
  t.equal(held.held, fa.length - 7, "a frame's wire length is taken when its header arrives");
  t.throws(() => b.push(fb, () => undefined), { bound: 'compressed_held', message: /while other connections' frames hold \d+ of the 3000 bytes/ });
  t.equal(held.held, fa.length - 7, 'a refused frame takes nothing');
  t.equal(held.refused, 1);
  a.push(fa.subarray(100), (p) => out.push(p));
  t.equal(out.length, 1, 'the held frame is decompressed when complete');
  t.equal(held.held, 0, 'and what it held is given back');
  const c = new CompressedUnframer('zlib', { held });
  c.push(fb.subarray(0, 50), () => undefined);
  t.equal(held.held, fb.length - 7, 'with the bound free again, a frame is held');
  c.release();
  t.equal(held.held, 0, 'a frame let go mid-way gives back what it held');
  c.release();
  t.equal(held.held, 0, 'releasing twice gives back nothing more');
});

void t.test('connections holding frames at once: the memory held is bounded, each cut one is an overflow, closing gives it all back', async (t) => {
  const heldFrames = new HeldBytes(256 * 1024);
  const sessions: Array<{ records: Exchange[]; events: unknown[]; s: ReturnType<typeof createMysqlSession> }> = [];
  // 40 connections each midway through a 20 KB compressed answer: 800 KB if each were held.
  const answer = frame(1, resultSet(1, [{ name: 'b' }], [[randomBytes(20_000).toString('hex').slice(0, 20_000)]]), 'zlib');
  t.ok(answer.length > 8000, 'the answer does not compress much');
  let at = 1n;
  for (let i = 0; i < 40; i++) {
    const records: Exchange[] = [];
    const events: unknown[] = [];
    const s = createMysqlSession({ maxBodyBytes: 64 * 1024, emit: (e) => records.push(e), event: (e) => events.push(e) }, { heldFrames });
    const steps: Step[] = [...login('zlib'), { c: frame(0, query('SELECT b FROM t'), 'zlib') }, { s: answer.subarray(0, answer.length - 10) }];
    for (const step of steps) {
      if ('s' in step) s.serverData(step.s, at++);
      else if ('c' in step) s.clientData(step.c, at++);
      t.ok(heldFrames.held <= heldFrames.limit, 'never over the bound');
    }
    sessions.push({ records, events, s });
  }
  const holding = Math.floor(heldFrames.limit / (answer.length - 7));
  t.equal(heldFrames.held, holding * (answer.length - 7), 'as many frames held as fit');
  const cut = sessions.filter((x) => x.events.some((e) => (e as { reason?: string }).reason === 'compressed_held'));
  t.equal(cut.length, 40 - holding, 'every other connection cut');
  for (const x of cut) {
    t.match(x.records.at(-1), { method: 'SELECT', error: 'capture_overflow', error_detail: /while other connections' frames hold .*capture stopped for this connection/ });
  }
  // Capture falling behind on a connection holding a frame cuts it and gives its frame back.
  sessions[0].s.resync?.(at++, 'gap');
  t.equal(heldFrames.held, (holding - 1) * (answer.length - 7), 'a cut connection holds nothing');
  t.match(sessions[0].records.at(-1), { error: 'capture_overflow', error_detail: /capture fell behind forwarding/ });
  // The connections holding a frame end: everything comes back.
  for (const x of sessions) x.s.close(at++, 'fin');
  t.equal(heldFrames.held, 0, 'closing the connections gives back every byte held');
  // The first connection finishes its answer normally on a fresh one.
  const { exchanges, events } = runMy([...login('zlib'), { c: frame(0, query('SELECT b FROM t'), 'zlib') }, { s: answer }, { close: 'fin' }], new Map(), 64 * 1024, { heldFrames });
  t.same(events, []);
  t.match(exchanges.at(-1), { method: 'SELECT', error: undefined, response: { headers: { rows: '1' } } });
  t.equal(heldFrames.held, 0);
});
