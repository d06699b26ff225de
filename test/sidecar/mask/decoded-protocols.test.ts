/**
 * Content meshtap decodes itself (SQL results, Redis commands and replies, gRPC messages) is
 * shipped as readable text or JSON, so the same key and pattern rules mask it as HTTP bodies:
 * each case runs the real capture session, builds the record and masks it with the default
 * policy, as the capture worker does.
 */
import t from 'tap';
import { serialize } from 'pg-protocol';
import protobuf from 'protobufjs';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import { createCaptureFactory } from '../../../sidecar/proxy/capture-factory.ts';
import type { CapturedProtocol } from '../../../sidecar/proxy/capture-tap.ts';
import { be, cat, greeting } from '../postgres/harness.ts';
import { cmd, bulk } from '../redis/harness.ts';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const CARD = '4111 1111 1111 1111';
const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 1 }, mesh: false };

/** Runs client/server byte steps through the real session for `protocol`; returns the masked records. */
function capture(protocol: CapturedProtocol, steps: Array<{ c: Uint8Array } | { s: Uint8Array }>) {
  const exchanges: Exchange[] = [];
  const session = createCaptureFactory().createSession(protocol, { maxBodyBytes: 64 * 1024, emit: (e) => exchanges.push(e), event: () => undefined });
  let now = 1n;
  for (const step of steps) {
    if ('c' in step) session.clientData(step.c, now++);
    else session.serverData(step.s, now++);
  }
  session.close(now, 'fin');
  return exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'p', namespace: 'n' })));
}

/** The records as the collector receives them (JSON form: text bodies readable). */
const everything = (records: CallRecord[]) => JSON.stringify(records.map(recordToJson));

void t.test('PostgreSQL rows: a password column is masked by key, a card number by pattern', async (t) => {
  const records = capture('postgres', [
    { c: cat(serialize.startup({ user: 'alice', database: 'shop' })) },
    { s: greeting() },
    { c: cat(serialize.query('SELECT name, password, card FROM users')) },
    { s: cat(be.rowDescription(['name', 'password', 'card']), be.dataRow(['ann', 'hunter2-pw', CARD]), be.commandComplete('SELECT 1'), be.ready()) },
  ]);
  const select = records.find((r) => r.method === 'SELECT');
  t.ok(select, 'the query is recorded');
  const all = everything(records);
  t.notOk(all.includes('hunter2-pw'), 'the password value is gone');
  t.notOk(all.includes(CARD), 'the card number is gone');
  t.ok(all.includes('ann'), 'the rest of the row is kept');
  t.ok(select!.redacted.some((p) => p.startsWith('response.body')), `redacted lists the body (${select!.redacted.join(', ')})`);
  t.ok(select!.sensitive.includes('card'));
});

void t.test('Redis: a JWT in a command and a card number in a reply are masked; AUTH by the session', async (t) => {
  const records = capture('redis', [
    { c: cmd('AUTH', 's3cret-redis-pw') },
    { s: Buffer.from('+OK\r\n') },
    { c: cmd('SET', 'session:1', JWT) },
    { s: Buffer.from('+OK\r\n') },
    { c: cmd('GET', 'card:1') },
    { s: Buffer.from(bulk(CARD)) },
  ]);
  const all = everything(records);
  for (const secret of ['s3cret-redis-pw', JWT, CARD]) t.notOk(all.includes(secret), `${secret.slice(0, 12)}… is gone`);
  t.ok(records.find((r) => r.method === 'SET')?.sensitive.includes('jwt'));
  t.ok(records.find((r) => r.method === 'AUTH')?.sensitive.includes('password'));
});

void t.test('gRPC messages decoded to JSON: a JWT in a string field is masked, an e-mail detected (kept, as in HTTP bodies by default)', async (t) => {
  const root = protobuf.parse('syntax = "proto3"; message Login { string user = 1; string token = 2; }').root;
  const Login = root.lookupType('Login');
  const frame = (m: Uint8Array) => Buffer.concat([Buffer.from([0, 0, 0, 0, m.length]), m]);
  const body = frame(Login.encode({ user: 'ann@example.com', token: JWT }).finish());
  const exchange: Exchange = {
    protocol: 'grpc',
    ordinal: 0,
    start: 1n,
    end: 2n,
    bytes_out: 0,
    bytes_in: 0,
    method: 'POST',
    path: '/auth.Auth/Login',
    request: { headers: { 'content-type': 'application/grpc' }, body, body_size: body.length, truncated: false, content_type: 'application/grpc' },
  };
  // The capture factory's HTTP/2 sessions hand gRPC streams to the same decoding.
  const { toGrpcExchange } = await import('../../../sidecar/grpc/grpc-exchange.ts');
  const masked = maskRecord(buildCallRecord(toGrpcExchange(exchange, 64 * 1024), meta, { pod: 'p', namespace: 'n' }));
  const all = everything([masked]);
  t.notOk(all.includes(JWT), 'the JWT is gone');
  t.ok(all.includes('ann@example.com'), 'the e-mail is kept: the default policy only reports e-mails');
  t.ok(masked.sensitive.includes('jwt') && masked.sensitive.includes('email'));
});
