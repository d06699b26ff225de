/**
 * The sidecar's masking policy in the Redis session, from wire bytes to the record the collector
 * receives (the session masks under the policy, then the record is masked under the same one):
 * a key the policy adds (`MESHTAP_MASK_KEYS`) names secret fields and keys, in commands and in
 * the replies that return their values; `keyFamilies: false` keeps the exact keys only; a disabled
 * policy masks nothing, credentials included, as it ships an `Authorization` header. Each script
 * also runs cut every possible way.
 */
import t, { type Test } from 'tap';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { resolveMaskPolicyFromEnv } from '../../../sidecar/mask/env-policy.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy, type MaskPolicy } from '../../../sidecar/mask/policy.ts';
import { createCaptureFactory } from '../../../sidecar/proxy/capture-factory.ts';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import { bulk, cmd, invariant, text, type Step } from './harness.ts';

const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 6379 }, mesh: false };
const shipped = (exchanges: Exchange[], policy: MaskPolicy): CallRecord[] => exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'p', namespace: 'n' }), policy));
const everything = (records: CallRecord[]): string => JSON.stringify(records.map(recordToJson));
const view = (r: CallRecord): [string | undefined, string, string, string[] | undefined, string[] | undefined] => [
  r.method,
  text(r.request?.body),
  text(r.response?.body),
  r.redacted,
  r.sensitive,
];
const run = (t: Test, steps: Step[], policy: MaskPolicy): CallRecord[] => shipped(invariant(t, steps, 64 * 1024, { maskPolicy: policy }).exchanges, policy);

/** What the sidecar resolves from `MESHTAP_MASK_KEYS=iban`. */
const added = resolveMaskPolicyFromEnv({ MESHTAP_MASK_KEYS: 'iban' });

const ibanSteps: Step[] = [
  { c: cmd('HSET', 'user:7', 'name', 'ann', 'iban', 'DE-hset-secret') },
  { s: ':2\r\n' },
  { c: cmd('HGET', 'user:7', 'iban') },
  { s: bulk('DE-hget-secret') },
  { c: cmd('HGETALL', 'user:7') },
  { s: `*4\r\n${bulk('name')}${bulk('ann')}${bulk('iban')}${bulk('DE-hgetall-secret')}` },
  { c: cmd('SET', 'user:7:iban', 'DE-set-secret') },
  { s: '+OK\r\n' },
  { c: cmd('GET', 'user:7:iban') },
  { s: bulk('DE-get-secret') },
  { c: cmd('MGET', 'user:7:name', 'user:8:iban') },
  { s: `*2\r\n${bulk('ann')}${bulk('DE-mget-secret')}` },
  { c: cmd('SET', 'user:7:iban_verified', 'yes') },
  { s: '+OK\r\n' },
];
const ibanSecrets = ['DE-hset-secret', 'DE-hget-secret', 'DE-hgetall-secret', 'DE-set-secret', 'DE-get-secret', 'DE-mget-secret'];

void t.test('a key the policy adds: HSET/SET of it and the replies that return it are masked', async (t) => {
  const records = run(t, ibanSteps, added);
  t.same(records.map(view), [
    ['HSET', 'HSET user:7 name ann iban ****', '(integer) 2', ['request.body'], ['secret']],
    ['HGET', 'HGET user:7 iban', '****', ['response.body'], ['secret']],
    ['HGETALL', 'HGETALL user:7', '1) "name"\n2) "ann"\n3) "iban"\n4) ****', ['response.body'], ['secret']],
    ['SET', 'SET user:7:iban ****', 'OK', ['request.body'], ['secret']],
    ['GET', 'GET user:7:iban', '****', ['response.body'], ['secret']],
    ['MGET', 'MGET user:7:name user:8:iban', '1) "ann"\n2) ****', ['response.body'], ['secret']],
    ['SET', 'SET user:7:iban_verified yes', 'OK', [], []],
  ]);
  const all = everything(records);
  for (const secret of ibanSecrets) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('the same script under the default policy: iban is no secret there', async (t) => {
  const all = everything(run(t, ibanSteps, DEFAULT_MASK_POLICY));
  for (const secret of ibanSecrets) t.ok(all.includes(secret), `${secret} shipped`);
});

void t.test('keyFamilies false: only the exact keys name secrets', async (t) => {
  const policy = resolveMaskPolicy({ keyFamilies: false, jsonKeys: ['iban'] });
  const records = run(
    t,
    [
      { c: cmd('HSET', 'user:7', 'password', 'pw-exact', 'new_password', 'pw-family', 'pin', '4321', 'iban', 'DE-exact') },
      { s: ':4\r\n' },
      { c: cmd('SET', 'user:7:password', 'set-exact') },
      { s: '+OK\r\n' },
      { c: cmd('SET', 'user:7:reset_token', 'set-family') },
      { s: '+OK\r\n' },
      { c: cmd('AUTH', 'default', 'auth-secret') },
      { s: '+OK\r\n' },
    ],
    policy,
  );
  t.same(records.map(view), [
    ['HSET', 'HSET user:7 password **** new_password pw-family pin 4321 iban ****', '(integer) 4', ['request.body'], ['password', 'secret']],
    ['SET', 'SET user:7:password ****', 'OK', ['request.body'], ['password']],
    ['SET', 'SET user:7:reset_token set-family', 'OK', [], []],
    ['AUTH', 'AUTH default ****', 'OK', ['request.body'], ['password']],
  ]);
});

void t.test('a disabled policy: values and credentials are shipped as they are, nothing listed', async (t) => {
  const policy = resolveMaskPolicy({ enabled: false });
  const records = run(
    t,
    [
      { c: cmd('AUTH', 'default', 'auth-secret') },
      { s: '+OK\r\n' },
      { c: cmd('HSET', 'user:7', 'password', 'hset-secret') },
      { s: ':1\r\n' },
      { c: cmd('GET', 'user:7:password') },
      { s: bulk('get-secret') },
      { c: cmd('CONFIG', 'GET', 'requirepass') },
      { s: `*2\r\n${bulk('requirepass')}${bulk('config-secret')}` },
    ],
    policy,
  );
  t.same(records.map(view), [
    ['AUTH', 'AUTH default auth-secret', 'OK', [], []],
    ['HSET', 'HSET user:7 password hset-secret', '(integer) 1', [], []],
    ['GET', 'GET user:7:password', '"get-secret"', [], []],
    ['CONFIG GET', 'CONFIG GET requirepass', '1) "requirepass"\n2) "config-secret"', [], []],
  ]);
});

void t.test('the capture factory gives its Redis sessions the sidecar policy', async (t) => {
  const policy = resolveMaskPolicyFromEnv({ MESHTAP_MASK_KEYS: 'iban' });
  const factory = createCaptureFactory({ maskPolicy: policy });
  const exchanges: Exchange[] = [];
  const session = factory.createSession('redis', { maxBodyBytes: 64 * 1024, emit: (e) => exchanges.push(e), event: () => undefined });
  session.clientData(cmd('HSET', 'user:7', 'iban', 'DE-factory-secret'), 1n);
  session.serverData(Buffer.from(':1\r\n'), 2n);
  session.close(3n, 'fin');
  t.equal(text(exchanges[0]?.request?.body), 'HSET user:7 iban ****');
  t.same(exchanges[0]?.sensitive, ['secret']);
  const plain: Exchange[] = [];
  const defaults = createCaptureFactory().createSession('redis', { maxBodyBytes: 64 * 1024, emit: (e) => plain.push(e), event: () => undefined });
  defaults.clientData(cmd('HSET', 'user:7', 'iban', 'DE-factory-secret'), 1n);
  defaults.close(2n, 'fin');
  t.equal(text(plain[0]?.request?.body), 'HSET user:7 iban DE-factory-secret', 'without a policy: the default');
});
