/**
 * The capture session against a real PostgreSQL 15: a throwaway cluster (SCRAM passwords) on
 * loopback, a recording TCP relay in front of it, the `pg` client and `psql` talking through
 * the relay; the recorded chunks are then fed to the session, in the order the relay saw them.
 * A raw client adds the startups a server refuses: protocol 9.0 after an SSLRequest.
 */
import net from 'node:net';
import t from 'tap';
import { startRecordingRelay, type RelayChunk } from '../../helpers/recording-relay.ts';
import { PG_PASSWORD, runPsql, startPostgres } from '../../helpers/postgres-server.ts';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { createPostgresSession } from '../../../sidecar/postgres/session.ts';
import { plain } from '../http1/harness.ts';
import { json } from './harness.ts';

function replay(chunks: RelayChunk[], maxBodyBytes = 64 * 1024): { exchanges: Exchange[]; events: unknown[] } {
  const exchanges: Exchange[] = [];
  const events: unknown[] = [];
  const s = createPostgresSession({ maxBodyBytes, emit: (e) => exchanges.push(e), event: (e) => events.push(e) });
  let last = 0n;
  for (const c of chunks) {
    last = c.at;
    if (c.from === 'client') s.clientData(c.data, c.at);
    else s.serverData(c.data, c.at);
  }
  s.close(last + 1n, 'fin');
  return { exchanges, events };
}

/**
 * Sends `first`, then (when given) `afterAnswer` once the server's first bytes came; resolves
 * when the server closed the connection.
 */
function rawClient(port: number, first: Buffer, afterAnswer?: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(first));
    socket.once('data', () => {
      if (afterAnswer !== undefined) socket.write(afterAnswer);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

void t.test('real PostgreSQL 15 through a recording relay', async (t) => {
  const port = await startPostgres(t);

  const relay = await startRecordingRelay(port);
  t.teardown(relay.close);

  // ---- the pg client: extended protocol with parameters, a simple multi-statement query, an error ----
  const client = new pg.Client({ host: '127.0.0.1', port: relay.port, user: 'postgres', password: PG_PASSWORD, database: 'postgres', ssl: false, application_name: 'meshtap-test' });
  await client.connect();
  await client.query('CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, blob bytea)');
  await client.query({ name: 'add_item', text: 'INSERT INTO items (name, blob) VALUES ($1, $2) RETURNING id', values: ['first', Buffer.from([0xde, 0xad])] });
  await client.query({ name: 'add_item', text: 'INSERT INTO items (name, blob) VALUES ($1, $2) RETURNING id', values: ['second', null] });
  const sel = await client.query('SELECT id, name FROM items WHERE id >= $1 ORDER BY id', [1]);
  t.equal(sel.rows.length, 2);
  await client.query("SELECT 1 AS one; SELECT 'two' AS two");
  await t.rejects(client.query('SELECT * FROM nope'), /relation "nope" does not exist/);
  await client.query('SELECT generate_series(1, 150) AS g');
  await client.end();

  // ---- psql: SSLRequest refused (no TLS configured), then a simple query ----
  // Asynchronously: the relay runs on this process's event loop.
  const psql = await runPsql(relay.port, ['-c', 'SELECT 42 AS answer']);
  t.equal(psql.status, 0, `psql: ${psql.stderr}`);
  t.equal(psql.stdout.trim(), '42');

  // Let the relay see both connections end.
  await new Promise((r) => setTimeout(r, 200));
  t.equal(relay.connections.length, 2, 'two connections recorded');

  // ---- replay: pg client ----
  const a = replay(relay.connections[0]);
  t.same(a.events, [], 'no parse errors');
  t.notOk(JSON.stringify(plain(a.exchanges)).includes(PG_PASSWORD), 'the password appears nowhere');
  const [startup, ...calls] = a.exchanges;
  t.match(startup, { protocol: 'postgres', method: 'STARTUP', path: 'postgres', error: undefined, redacted: ['request.body'], sensitive: ['password'] });
  t.match(startup.request?.headers, { user: 'postgres', database: 'postgres', application_name: 'meshtap-test' });
  t.equal(startup.response?.headers.auth, 'sasl SCRAM-SHA-256');
  t.match(startup.response?.headers, { server_version: /^15\./ });

  const byQuery = (q: RegExp): Exchange[] => calls.filter((e) => e.request && q.test(json(e.request.body).query ?? ''));
  t.match(byQuery(/^CREATE TABLE items/), [{ method: 'CREATE', response: { headers: { tag: 'CREATE TABLE' } } }]);

  const inserts = byQuery(/^INSERT INTO items/).filter((e) => e.method === 'INSERT');
  t.equal(inserts.length, 2, 'the named statement executed twice');
  t.same(json(inserts[0].request?.body).parameters, ['first', '\\xdead']);
  t.same(json(inserts[1].request?.body).parameters, ['second', null]);
  for (const ins of inserts) {
    t.equal(ins.request?.headers.statement, 'add_item');
    t.equal(ins.response?.headers.tag, 'INSERT 0 1');
    t.same(json(ins.response?.body).columns, ['id']);
  }
  t.same(json(inserts[0].response?.body).rows, [{ id: '1' }]);
  t.same(json(inserts[1].response?.body).rows, [{ id: '2' }]);

  const selects = byQuery(/^SELECT id, name FROM items/);
  t.equal(selects.length, 1);
  t.same(json(selects[0].request?.body).parameters, ['1']);
  t.same(json(selects[0].response?.body), { columns: ['id', 'name'], rows: [{ id: '1', name: 'first' }, { id: '2', name: 'second' }], row_count: 2, command: 'SELECT 2' });

  const multi = calls.filter((e) => e.request?.headers.part !== undefined);
  t.equal(multi.length, 2, 'two statements, two records');
  t.same(multi.map((e) => json(e.request?.body).query), ['SELECT 1 AS one', "SELECT 'two' AS two"]);
  t.same(multi.map((e) => json(e.response?.body).rows), [[{ one: '1' }], [{ two: 'two' }]]);

  const failed = byQuery(/nope/);
  t.equal(failed.length, 1);
  t.match(failed[0], { error: 'server_error', error_detail: 'ERROR 42P01: relation "nope" does not exist', response: { headers: { sqlstate: '42P01' } } });

  const series = byQuery(/generate_series/);
  t.equal(series.length, 1);
  t.match(json(series[0].response?.body), { row_count: 150, truncated: true });
  t.equal(json(series[0].response?.body).rows.length, 100);
  t.equal(series[0].response?.headers.rows, '150');
  t.ok(a.exchanges.every((e) => e.error === undefined || e === failed[0]), 'no other errors');

  // The session agrees with itself when the same bytes arrive one byte at a time.
  const bytewise: RelayChunk[] = relay.connections[0].flatMap((c) => [...c.data].map((b) => ({ ...c, data: Buffer.from([b]) })));
  t.same(plain(replay(bytewise).exchanges), plain(a.exchanges), 'byte by byte: the same records');

  // ---- replay: psql ----
  const b = replay(relay.connections[1]);
  t.same(b.events, []);
  t.notOk(JSON.stringify(plain(b.exchanges)).includes(PG_PASSWORD));
  t.match(b.exchanges[0], { method: 'STARTUP', notes: ['SSLRequest refused (N): plaintext'], response: { headers: { auth: 'sasl SCRAM-SHA-256' } } });
  t.match(b.exchanges[1], { method: 'SELECT', response: { headers: { tag: 'SELECT 1', rows: '1' } } });
  t.same(json(b.exchanges[1].response?.body).rows, [{ answer: '42' }]);

  // ---- a raw client: SSLRequest, then a protocol 9.0 StartupMessage (after the N, then in the same write) ----
  const v9 = Buffer.from(serialize.startup({ user: 'postgres', database: 'postgres' }));
  v9.writeUInt16BE(9, 4);
  const sslRequest = Buffer.from(serialize.requestSsl());
  await rawClient(relay.port, sslRequest, v9);
  await rawClient(relay.port, Buffer.concat([sslRequest, v9]));
  await relay.settled();
  const refused: Array<[number, RegExp]> = [
    [2, /^FATAL 0A000: unsupported frontend protocol 9\.0: server supports 3\.0 to 3\.\d+$/],
    [3, /^FATAL 08P01: received unencrypted data after SSL request$/],
  ];
  for (const [i, detail] of refused) {
    const chunks = relay.connections[i];
    const sent = (from: 'client' | 'server'): number => chunks.filter((c) => c.from === from).reduce((n, c) => n + c.data.length, 0);
    const r = replay(chunks);
    t.same(r.events, [], `connection ${i}: no parse error`);
    t.equal(r.exchanges.length, 1, `connection ${i}: one record`);
    t.match(r.exchanges[0], { method: 'STARTUP', path: 'postgres', error: 'server_error', error_detail: detail, notes: ['SSLRequest refused (N): plaintext', 'protocol 9.0 requested'] });
    t.equal(r.exchanges[0].bytes_in, sent('server'), `connection ${i}: every server byte counted, the N and the FATAL`);
    t.equal(r.exchanges[0].bytes_out, sent('client'));
  }
});
