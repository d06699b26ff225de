/**
 * PostgreSQL message boundaries on the forwarding thread (`pg-framing.ts`), against a real
 * PostgreSQL 15: the `pg` client (named statements, parameters past the copied prefix, a long
 * query, a large result, an error) and psql (SSLRequest refused, COPY both ways) talk through a
 * recording relay. The recorded conversations are cut into chunks every which way; each chunk
 * is copied whole or split as the hand-off splits a chunk over a budget (`framing.ts` choosing
 * the framing from the first bytes). The real PostgreSQL capture session, fed the copied runs
 * and told only the lengths of the skipped ones, absorbs every skip and records the same calls,
 * statements and row counts as from the whole conversation, with cut parameters and rows
 * marked. Connections that are not plaintext PostgreSQL are not followed.
 */
import t from 'tap';
import pg from 'pg';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { createPostgresSession } from '../../../sidecar/postgres/session.ts';
import { openingFraming } from '../../../sidecar/capture-worker/framing.ts';
import { PgFraming, STATEMENT_PREFIX_BYTES } from '../../../sidecar/capture-worker/pg-framing.ts';
import { MAY_SKIP, MUST_COPY, type StreamFraming } from '../../../sidecar/capture-worker/stream-framing.ts';
import { checkSplits, feedSplit, statementOf, type Fed } from './split-feed.ts';
import { startRecordingRelay, type RelayChunk } from '../../helpers/recording-relay.ts';
import { PG_PASSWORD, runPsql, startPostgres } from '../../helpers/postgres-server.ts';

const feed = (chunks: RelayChunk[], size: number, seed: number, copyWhole: (rand: () => number) => boolean): Fed =>
  feedSplit(createPostgresSession, chunks, size, seed, copyWhole);
const queryOf = statementOf;

/** What a gap must not change about a call. */
const shape = (e: Exchange) => [
  e.method,
  e.error,
  e.error_detail,
  e.response?.headers.tag,
  e.response?.headers.rows,
  e.request?.headers.statement,
  queryOf(e).slice(0, 120),
];

void t.test('a real PostgreSQL session absorbs every skip and records every call', async (t) => {
  const port = await startPostgres(t);
  const relay = await startRecordingRelay(port);
  t.teardown(relay.close);

  const client = new pg.Client({ host: '127.0.0.1', port: relay.port, user: 'postgres', password: PG_PASSWORD, database: 'postgres', ssl: false });
  await client.connect();
  await client.query('CREATE TABLE big (id int, name text, pad text)');
  const add = { name: 'add_row', text: 'INSERT INTO big (id, name, pad) VALUES ($1, $2, $3)' };
  for (let i = 0; i < 5; i++) await client.query({ ...add, values: [i, `row ${i}`, 'p'.repeat(600 + i)] });
  await client.query(`SELECT 1 AS one /* ${'c'.repeat(400)} */`);
  const many = await client.query("SELECT g AS id, repeat('x', 300) AS pad FROM generate_series(1, 120) AS g");
  t.equal(many.rows.length, 120);
  await t.rejects(client.query('SELECT * FROM nope'), /does not exist/);
  await client.query({ ...add, values: [99, 'after', 'q'.repeat(700)] });
  await client.query('SELECT count(*) AS n FROM big WHERE id >= $1', [0]);
  await client.end();

  const rows = Array.from({ length: 60 }, (_, i) => `${100 + i}\tcopied ${i}\t${'z'.repeat(200)}`).join('\n') + '\n';
  const psql = await runPsql(relay.port, ['-c', 'COPY big (id, name, pad) FROM STDIN', '-c', 'COPY big TO STDOUT'], rows);
  t.equal(psql.status, 0, `psql: ${psql.stderr}`);
  t.equal(psql.stdout.split('\n').filter((l) => l.includes('\t')).length, 66, 'psql copied 60 rows in and 66 out');

  await new Promise((r) => setTimeout(r, 200));
  t.equal(relay.connections.length, 2, 'two connections recorded');

  for (const [name, chunks] of [['pg client', relay.connections[0]], ['psql with COPY', relay.connections[1]]] as const) {
    const whole = checkSplits(t, name, chunks, { create: createPostgresSession, shape, framing: PgFraming });
    t.ok(whole.exchanges.length >= 3, `${name}: ${whole.exchanges.length} calls`);
  }

  // What the records of a split conversation say about what was skipped.
  const split = feed(relay.connections[0], 0, 3, () => false);
  const inserts = split.exchanges.filter((e) => e.method === 'INSERT');
  t.equal(inserts.length, 6, 'every execution of the named statement, the one after the others included');
  t.ok(
    inserts.every((e) => e.request?.headers.statement === 'add_row' && queryOf(e).startsWith('INSERT INTO big')),
    'each with its statement name and text (within the copied prefix of the Parse)',
  );
  t.ok(inserts.every((e) => e.request?.truncated === true), 'parameters past the copied prefix: the request is marked cut');
  const long = split.exchanges.find((e) => queryOf(e).startsWith('SELECT 1 AS one'));
  t.ok(long !== undefined && queryOf(long).length < 400 && long.request?.truncated === true, `a query past ${STATEMENT_PREFIX_BYTES} bytes keeps its start, marked cut`);
  const big = split.exchanges.find((e) => e.response?.headers.rows === '120');
  t.ok(big !== undefined, 'the large result keeps its row count');
  t.equal(big?.response?.truncated, true, 'its skipped rows are marked cut');
  t.match(big?.notes, [/^response\.body: \d+ bytes not captured in 120 rows/], 'in one note for the result, however many rows the gap took');
  t.match(split.exchanges.find((e) => e.error !== undefined), { error: 'server_error', response: { headers: { sqlstate: '42P01' } } }, 'the error is recorded as such');
});

void t.test('connections that are not plaintext PostgreSQL are not followed', async (t) => {
  const startup = Buffer.from('00000008' + '04d2162f', 'hex'); // SSLRequest
  const opened = (client: Buffer): StreamFraming | undefined => {
    const f = openingFraming(true, client);
    return f?.advance(true, client) ? f : undefined;
  };
  t.equal(opened(Buffer.from('GET / HTTP/1.1\r\n\r\n')), undefined, 'HTTP/1 GET');
  t.equal(opened(Buffer.from('POST / HTTP/1.1\r\n\r\n')), undefined, 'HTTP/1 POST (past the first byte of the HTTP/2 preface)');
  t.equal(opened(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])), undefined, 'a TLS ClientHello');
  t.equal(opened(Buffer.from('0000000800000000', 'hex')), undefined, 'a length word and an unknown code');
  t.equal(opened(Buffer.from('00010000', 'hex')), undefined, 'an untyped packet longer than a startup packet can be');
  t.ok(opened(startup) instanceof PgFraming, 'an SSLRequest is followed');
  t.notOk(openingFraming(false, Buffer.from([0, 0, 4, 4, 0, 0, 0, 0, 0])) instanceof PgFraming, 'a server that speaks first is not PostgreSQL');

  const accepted = new PgFraming();
  t.equal(accepted.advance(true, startup), true);
  t.equal(accepted.split(false, Buffer.from('S'), []), -1, 'encryption accepted: no longer followed');
  t.equal(accepted.advance(true, Buffer.from([0x16, 0x03, 0x01])), false, 'on either side');

  const refused = new PgFraming();
  t.equal(refused.advance(true, startup), true);
  t.equal(refused.advance(false, Buffer.from('N')), true, 'encryption refused: still followed');
  const runs: number[] = [];
  const startupMessage = Buffer.concat([Buffer.from('0000001100030000', 'hex'), Buffer.from('user\0pg\0\0')]);
  t.equal(refused.split(true, startupMessage, runs), startupMessage.length, 'the startup packet is copied whole');
  const query = Buffer.concat([Buffer.from('Q'), Buffer.from([0, 0, 0x03, 0x04]), Buffer.alloc(0x300, 0x61)]);
  t.equal(refused.split(true, query, runs), 5 + STATEMENT_PREFIX_BYTES, 'a Query: its header and the first bytes of its text copied');
  t.same(runs, [MUST_COPY, 5 + STATEMENT_PREFIX_BYTES, MAY_SKIP, 0x300 - STATEMENT_PREFIX_BYTES], 'the rest skippable');
  const rowsAndDone = Buffer.concat([Buffer.from('D'), Buffer.from([0, 0, 0, 14]), Buffer.alloc(10, 1), Buffer.from('C'), Buffer.from([0, 0, 0, 13]), Buffer.from('SELECT 1\0')]);
  t.equal(refused.split(false, rowsAndDone, runs), 5 + 14, 'a DataRow skipped after its header, CommandComplete copied');
  t.same(runs, [MUST_COPY, 5, MAY_SKIP, 10, MUST_COPY, 14]);
});
