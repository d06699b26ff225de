/**
 * Secret values stored in Redis, from wire bytes to the record the collector receives: values of
 * secret hash and stream fields and of keys whose last word is a secret, in commands and in the
 * replies that return them (MULTI/EXEC included); credentials as before; passwords in URLs by the
 * policy. Each script also runs cut every possible way.
 */
import t from 'tap';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import { dataSecrets, keyNameKind, maskReply } from '../../../sidecar/redis/secrets.ts';
import type { CommandArg } from '../../../sidecar/redis/render.ts';
import { bulk, cmd, invariant, text, type Step } from './harness.ts';

const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 6379 }, mesh: false };
const shipped = (exchanges: Exchange[]): CallRecord[] => exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'p', namespace: 'n' })));
const everything = (records: CallRecord[]): string => JSON.stringify(records.map(recordToJson));
const args = (...xs: string[]): CommandArg[] => xs.map((x) => ({ data: Buffer.from(x), size: x.length }));
const view = (r: CallRecord | Exchange): [string | undefined, string, string, string[] | undefined, string[] | undefined] => [
  r.method,
  text(r.request?.body),
  text(r.response?.body),
  r.redacted,
  r.sensitive,
];

void t.test('which names are secret: fields like JSON keys, keys by their last word', async (t) => {
  for (const key of ['user:7:password', 'user.7.api_key', 'cfg/reset-token', 'session_token', 'user:7:pin', 'app:otp']) t.ok(keyNameKind(args(key)[0]), key);
  for (const key of ['user:7', 'user:7:profile', 'user:7:password_policy', 'password:reset:queue', 'user:7:pin_code', 'shipping:42', 'tokens']) t.equal(keyNameKind(args(key)[0]), undefined, key);
  t.same([...(dataSecrets('HSET', args('HSET', 'u', 'name', 'ann', 'password_hash', 'h', 'pin', '1'))?.masked ?? [])], [[5, 'password'], [7, 'password']]);
  t.same([...(dataSecrets('XADD', args('XADD', 's', 'NOMKSTREAM', 'MAXLEN', '~', '1000', 'LIMIT', '10', '*', 'token', 't', 'n', '1'))?.masked ?? [])], [[10, 'token']]);
  t.same([...(dataSecrets('HSETEX', args('HSETEX', 'u', 'FXX', 'EX', '60', 'FIELDS', '2', 'a', '1', 'secret', 's'))?.masked ?? [])], [[10, 'secret']]);
  t.equal(dataSecrets('HSET', args('HSET', 'u', 'name', 'ann')), undefined);
  t.equal(dataSecrets('SET', args('SET', 'user:7:profile', 'x')), undefined);
  t.equal(dataSecrets('GET', args('GET', 'page:1')), undefined);
  const reply = maskReply({ kind: 'map', items: [{ kind: 'bulk', data: Buffer.from('password') }, { kind: 'bulk', data: Buffer.from('pw') }, { kind: 'bulk', data: Buffer.from('n') }, { kind: 'bulk', data: Buffer.from('v') }] }, { shape: 'pairs' });
  t.same(reply.value.items?.map((i) => i.text ?? i.data?.toString()), ['password', '****', 'n', 'v']);
  t.same(reply.kinds, ['password']);
});

void t.test('commands that store a secret: the value is masked, the field or key kept', async (t) => {
  const steps: Step[] = [
    { c: cmd('HSET', 'user:7', 'name', 'ann', 'password', 'hunter3hash') },
    { s: ':2\r\n' },
    { c: cmd('HMSET', 'user:8', 'api_token', 'hm-secret', 'city', 'Oslo') },
    { s: '+OK\r\n' },
    { c: cmd('HSETNX', 'user:9', 'pin', '4321') },
    { s: ':1\r\n' },
    { c: cmd('SET', 'user:7:password', 'hunter2redis', 'EX', '60') },
    { s: '+OK\r\n' },
    { c: cmd('SETEX', 'user:7:session_token', '60', 'setex-secret') },
    { s: '+OK\r\n' },
    { c: cmd('PSETEX', 'app:api-key', '60000', 'psetex-secret') },
    { s: '+OK\r\n' },
    { c: cmd('SETNX', 'user:7:otp', '123456') },
    { s: ':1\r\n' },
    { c: cmd('GETSET', 'user:7:password', 'getset-secret') },
    { s: bulk('hunter2redis') },
    { c: cmd('MSET', 'user:7:name', 'ann', 'user:7:secret', 'mset-secret') },
    { s: '+OK\r\n' },
    { c: cmd('MSETNX', 'user:8:token', 'msetnx-secret') },
    { s: ':1\r\n' },
    { c: cmd('APPEND', 'user:7:password', 'append-secret') },
    { s: ':20\r\n' },
    { c: cmd('AUTH', 'default', 'auth-secret') },
    { s: '+OK\r\n' },
    { c: cmd('HELLO', '3', 'AUTH', 'default', 'hello-secret') },
    { s: '%1\r\n+server\r\n+redis\r\n' },
    { c: cmd('HSET', 'user:10', 'name', 'kept', 'email', 'ann@example.com') },
    { s: ':2\r\n' },
  ];
  const records = shipped(invariant(t, steps).exchanges);
  t.same(records.map(view), [
    ['HSET', 'HSET user:7 name ann password ****', '(integer) 2', ['request.body'], ['password']],
    ['HMSET', 'HMSET user:8 api_token **** city Oslo', 'OK', ['request.body'], ['token']],
    ['HSETNX', 'HSETNX user:9 pin ****', '(integer) 1', ['request.body'], ['password']],
    ['SET', 'SET user:7:password **** EX 60', 'OK', ['request.body'], ['password']],
    ['SETEX', 'SETEX user:7:session_token 60 ****', 'OK', ['request.body'], ['token']],
    ['PSETEX', 'PSETEX app:api-key 60000 ****', 'OK', ['request.body'], ['api_key']],
    ['SETNX', 'SETNX user:7:otp ****', '(integer) 1', ['request.body'], ['password']],
    ['GETSET', 'GETSET user:7:password ****', '****', ['request.body', 'response.body'], ['password']],
    ['MSET', 'MSET user:7:name ann user:7:secret ****', 'OK', ['request.body'], ['secret']],
    ['MSETNX', 'MSETNX user:8:token ****', '(integer) 1', ['request.body'], ['token']],
    ['APPEND', 'APPEND user:7:password ****', '(integer) 20', ['request.body'], ['password']],
    ['AUTH', 'AUTH default ****', 'OK', ['request.body'], ['password']],
    ['HELLO', 'HELLO 3 AUTH default ****', '1# server => redis', ['request.body'], ['password']],
    ['HSET', 'HSET user:10 name kept email ann@example.com', '(integer) 2', [], ['email']],
  ]);
  const all = everything(records);
  for (const secret of ['hunter3hash', 'hm-secret', '4321', 'hunter2redis', 'setex-secret', 'psetex-secret', '123456', 'getset-secret', 'mset-secret', 'msetnx-secret', 'append-secret', 'auth-secret', 'hello-secret']) {
    t.notOk(all.includes(secret), `${secret} is in no field`);
  }
});

void t.test('replies that return a secret: the value paired with a secret field or key is masked', async (t) => {
  const steps: Step[] = [
    { c: cmd('HGET', 'user:7', 'password') },
    { s: bulk('hget-secret') },
    { c: cmd('HGET', 'user:7', 'name') },
    { s: bulk('ann') },
    { c: cmd('HGETALL', 'user:7') },
    { s: `*4\r\n${bulk('name')}${bulk('ann')}${bulk('password')}${bulk('hgetall-secret')}` },
    { c: cmd('HMGET', 'user:7', 'name', 'api_key', 'nope') },
    { s: `*3\r\n${bulk('ann')}${bulk('hmget-secret')}$-1\r\n` },
    { c: cmd('GET', 'user:7:password') },
    { s: bulk('get-secret') },
    { c: cmd('GET', 'user:7:password_policy') },
    { s: bulk('min 12 chars') },
    { c: cmd('MGET', 'user:7:name', 'user:7:token') },
    { s: `*2\r\n${bulk('ann')}${bulk('mget-secret')}` },
    { c: cmd('MULTI') },
    { s: '+OK\r\n' },
    { c: cmd('HGET', 'user:7', 'pin') },
    { s: '+QUEUED\r\n' },
    { c: cmd('GET', 'page:1') },
    { s: '+QUEUED\r\n' },
    { c: cmd('EXEC') },
    { s: `*2\r\n${bulk('exec-secret')}${bulk('<html>')}` },
    // RESP3: HGETALL answers a map.
    { c: cmd('HELLO', '3') },
    { s: '%1\r\n+proto\r\n:3\r\n' },
    { c: cmd('HGETALL', 'user:8') },
    { s: `%2\r\n${bulk('name')}${bulk('al')}${bulk('secret')}${bulk('map-secret')}` },
    { c: cmd('XRANGE', 'events', '-', '+') },
    { s: `*1\r\n*2\r\n${bulk('1700000000000-0')}*4\r\n${bulk('token')}${bulk('stream-secret')}${bulk('type')}${bulk('login')}` },
  ];
  const records = shipped(invariant(t, steps).exchanges);
  t.same(records.map((r) => [r.method, text(r.response?.body), r.redacted, r.sensitive]), [
    ['HGET', '****', ['response.body'], ['password']],
    ['HGET', '"ann"', [], []],
    ['HGETALL', '1) "name"\n2) "ann"\n3) "password"\n4) ****', ['response.body'], ['password']],
    ['HMGET', '1) "ann"\n2) ****\n3) (nil)', ['response.body'], ['api_key']],
    ['GET', '****', ['response.body'], ['password']],
    ['GET', '"min 12 chars"', [], []],
    ['MGET', '1) "ann"\n2) ****', ['response.body'], ['token']],
    ['MULTI', 'OK', [], []],
    ['HGET', 'QUEUED', [], []],
    ['GET', 'QUEUED', [], []],
    ['EXEC', '1) ****\n2) "<html>"', ['response.body'], ['password']],
    ['HELLO', '1# proto => (integer) 3', [], []],
    ['HGETALL', '1# "name" => "al"\n2# "secret" => ****', ['response.body'], ['secret']],
    ['XRANGE', '1) 1) "1700000000000-0"\n   2) 1) "token"\n      2) ****\n      3) "type"\n      4) "login"', ['response.body'], ['token']],
  ]);
  const all = everything(records);
  for (const secret of ['hget-secret', 'hgetall-secret', 'hmget-secret', 'get-secret', 'mget-secret', 'exec-secret', 'map-secret', 'stream-secret']) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('a password in a URL stored as a value is masked by the policy', async (t) => {
  const records = shipped(invariant(t, [{ c: cmd('SET', 'cfg:replica', 'redis://:URLPW3@replica:6379/0') }, { s: '+OK\r\n' }]).exchanges);
  t.equal(text(records[0].request?.body), 'SET cfg:replica redis://:****@replica:6379/0');
  t.same(records[0].redacted, ['request.body']);
  t.same(records[0].sensitive, ['url_password']);
});
