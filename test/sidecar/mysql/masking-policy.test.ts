/**
 * The sidecar's masking policy in the MySQL session, from wire bytes to the record the collector
 * receives (the session masks statements under the policy, then the record is masked under the
 * same one): a key the policy adds (`MESHTAP_MASK_KEYS`) names secret columns in UPDATE and
 * INSERT and the COM_STMT_EXECUTE parameters in their place; `keyFamilies: false` keeps the exact
 * keys only; a disabled policy masks no statement, while the login's authentication data, which
 * the session never keeps, stays a label. Each script also runs at every chunk split.
 */
import t from 'tap';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { resolveMaskPolicyFromEnv } from '../../../sidecar/mask/env-policy.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy, type MaskPolicy } from '../../../sidecar/mask/policy.ts';
import { createCaptureFactory } from '../../../sidecar/proxy/capture-factory.ts';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import { execute, greeting, handshakeResponse, ok, prepare, prepareOk, query, str } from './encoder.ts';
import { json, runAllCuts, text, type Step } from './harness.ts';

const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 3306 }, mesh: false };
const shipped = (exchanges: Exchange[], policy: MaskPolicy): CallRecord[] => exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'p', namespace: 'n' }), policy));
const everything = (records: CallRecord[]): string => JSON.stringify(records.map(recordToJson));
const login: Step[] = [
  { s: greeting({ plugin: 'mysql_clear_password' }) },
  { c: handshakeResponse({ user: 'root', db: 'shop', auth: Buffer.from('login-secret\0'), plugin: 'mysql_clear_password', deprecateEof: true }) },
  { s: ok(2) },
];
const queryOf = (r: CallRecord): string => json(r.request?.body).query;

/** What the sidecar resolves from `MESHTAP_MASK_KEYS=iban`. */
const added = resolveMaskPolicyFromEnv({ MESHTAP_MASK_KEYS: 'iban' });

const prepared = 'INSERT INTO acct (name, iban) VALUES (?, ?)';
const ibanSteps: Step[] = [
  ...login,
  { c: query("UPDATE acct SET iban = 'DE-update-secret' WHERE name = 'bob'") },
  { s: ok(1, { affected: 1 }) },
  { c: query("INSERT INTO acct (name, `IBAN`) VALUES ('bob', 'DE-insert-secret'), ('al', 'DE-insert-secret-2')") },
  { s: ok(1, { affected: 2 }) },
  { c: prepare(prepared) },
  { s: prepareOk(1, 5, 2, [], { deprecateEof: true }) },
  { c: execute(5, [str('carl'), str('DE-exec-secret')]) },
  { s: ok(1, { affected: 1 }) },
];
const ibanSecrets = ['DE-update-secret', 'DE-insert-secret', 'DE-insert-secret-2', 'DE-exec-secret'];

void t.test('a key the policy adds: its column in UPDATE and INSERT, and the parameter in its place', async (t) => {
  const { exchanges } = runAllCuts(t, ibanSteps, 64 * 1024, { maskPolicy: added });
  const [, upd, ins, prep, exec] = shipped(exchanges, added);
  t.equal(queryOf(upd), "UPDATE acct SET iban = '****' WHERE name = 'bob'");
  t.same([upd.redacted, upd.sensitive], [['request.body.$.query'], ['secret']]);
  t.equal(queryOf(ins), "INSERT INTO acct (name, `IBAN`) VALUES ('bob', '****'), ('al', '****')");
  t.same(prep.redacted, [], 'the prepared text holds no value');
  t.same(json(exec.request?.body), { query: prepared, parameters: ['carl', '****'] });
  t.same([exec.redacted, exec.sensitive], [['request.body.$.parameters[1]'], ['secret']]);
  const all = everything([upd, ins, exec]);
  for (const secret of ibanSecrets) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('the same script under the default policy: iban is no secret there', async (t) => {
  const all = everything(shipped(runAllCuts(t, ibanSteps).exchanges, DEFAULT_MASK_POLICY));
  for (const secret of ibanSecrets) t.ok(all.includes(secret), `${secret} shipped`);
});

void t.test('keyFamilies false: only the exact keys name secret columns; IDENTIFIED BY stays masked', async (t) => {
  const policy = resolveMaskPolicy({ keyFamilies: false, jsonKeys: ['iban'] });
  const { exchanges } = runAllCuts(
    t,
    [
      ...login,
      { c: query("UPDATE u SET password = 'pw-exact', new_password = 'pw-family', pin = 4321, iban = 'DE-exact'") },
      { s: ok(1, { affected: 1 }) },
      { c: query("CREATE USER 'u'@'%' IDENTIFIED BY 'create-pw'") },
      { s: ok(1) },
    ],
    64 * 1024,
    { maskPolicy: policy },
  );
  const [, upd, create] = shipped(exchanges, policy);
  t.equal(queryOf(upd), "UPDATE u SET password = '****', new_password = 'pw-family', pin = 4321, iban = '****'");
  t.same(upd.sensitive, ['password', 'secret']);
  t.equal(queryOf(create), "CREATE USER 'u'@'%' IDENTIFIED BY '****'");
});

void t.test('a disabled policy: statements and parameters shipped as they are; the login data is never kept', async (t) => {
  const policy = resolveMaskPolicy({ enabled: false });
  const statement = 'UPDATE u SET password = ? WHERE id = ?';
  const { exchanges } = runAllCuts(
    t,
    [
      ...login,
      { c: query("CREATE USER 'u'@'%' IDENTIFIED BY 'create-secret'") },
      { s: ok(1) },
      { c: prepare(statement) },
      { s: prepareOk(1, 6, 2, [], { deprecateEof: true }) },
      { c: execute(6, [str('exec-secret'), str('7')]) },
      { s: ok(1, { affected: 1 }) },
    ],
    64 * 1024,
    { maskPolicy: policy },
  );
  const [connect, create, , exec] = shipped(exchanges, policy);
  t.equal(text(connect.request?.body), 'auth ****', 'the authentication data is a label: the session never keeps it');
  t.notOk(everything([connect]).includes('login-secret'));
  t.equal(queryOf(create), "CREATE USER 'u'@'%' IDENTIFIED BY 'create-secret'");
  t.same([create.redacted, create.sensitive], [[], []]);
  t.same(json(exec.request?.body), { query: statement, parameters: ['exec-secret', '7'] });
  t.same([exec.redacted, exec.sensitive], [[], []]);
});

void t.test('the capture factory gives its MySQL sessions the sidecar policy', async (t) => {
  const exchanges: Exchange[] = [];
  const session = createCaptureFactory({ maskPolicy: added }).createSession('mysql', { maxBodyBytes: 64 * 1024, emit: (e) => exchanges.push(e), event: () => undefined });
  const steps = ibanSteps.slice(0, 5);
  steps.forEach((step, i) => {
    if ('c' in step) session.clientData(step.c, BigInt(i));
    else if ('s' in step) session.serverData(step.s, BigInt(i));
  });
  session.close(10n, 'fin');
  t.equal(json(exchanges[1]?.request?.body).query, "UPDATE acct SET iban = '****' WHERE name = 'bob'");
});
