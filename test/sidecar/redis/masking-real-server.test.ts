/**
 * The walkthrough's secrets, sent by `redis-cli` to a real redis-server through a recording
 * relay, replayed into the capture session and shipped as the capture worker ships them (record
 * built, default masking policy): no secret value may appear in any field.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import { createRedisSession } from '../../../sidecar/redis/session.ts';
import { replayShipped } from '../../helpers/replay-shipped.ts';
import { startRecordingRelay } from '../../helpers/recording-relay.ts';
import { startRedis } from '../../helpers/redis-server.ts';
import { text } from './harness.ts';




/** `redis-cli` reading commands from its input: all of them on one connection. */
function cli(port: number, lines: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port)], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', () => resolve(out));
    child.stdin.end(`${lines.join('\n')}\n`);
  });
}

void t.test('real redis-server: hash fields, secret keys, their replies, MULTI/EXEC, AUTH', async (t) => {
  const redisPort = await startRedis(t);
  const relay = await startRecordingRelay(redisPort);
  t.teardown(relay.close);

  const out = await cli(relay.port, [
    'HSET user:7 name ann password hunter3hash',
    'HGET user:7 password',
    'HGETALL user:7',
    'SET user:7:password hunter2redis',
    'GET user:7:password',
    'MSET user:7:api_key mset-secret user:7:city Oslo',
    'MULTI',
    'HGET user:7 password',
    'GET user:7:api_key',
    'EXEC',
    'SET cfg:replica redis://:URLPW3@replica:6379/0',
    'AUTH default auth-secret',
  ]);
  t.match(out, /hunter3hash/, 'the server really stored and returned the values');
  await relay.settled();

  const records = replayShipped(createRedisSession, relay.connections[0], 6379).filter((r) => r.method !== 'COMMAND' && r.method !== 'COMMAND DOCS');
  const all = JSON.stringify(records.map(recordToJson));
  for (const secret of ['hunter3hash', 'hunter2redis', 'mset-secret', 'URLPW3', 'auth-secret']) t.notOk(all.includes(secret), `${secret} is in no field`);
  const first = (method: string): CallRecord => records.find((r) => r.method === method) as CallRecord;
  t.equal(text(first('HSET').request?.body), 'HSET user:7 name ann password ****');
  t.match(first('HSET'), { redacted: ['request.body'], sensitive: ['password'] });
  t.equal(text(first('HGET').response?.body), '****');
  t.equal(text(first('HGETALL').response?.body), '1) "name"\n2) "ann"\n3) "password"\n4) ****');
  t.equal(text(first('GET').response?.body), '****');
  t.equal(text(first('EXEC').response?.body), '1) ****\n2) ****');
  t.same(first('EXEC').sensitive, ['password', 'api_key']);
  t.equal(text(records.find((r) => r.path === 'cfg:replica')?.request?.body), 'SET cfg:replica redis://:****@replica:6379/0');
  t.match(first('AUTH'), { request: {}, redacted: ['request.body'], sensitive: ['password'] });
});
