/**
 * The sidecar's masking policy in the PostgreSQL session, from wire bytes to the record the
 * collector receives (the session masks statements under the policy, then the record is masked
 * under the same one): a key the policy adds (`MESHTAP_MASK_KEYS`) names secret columns in
 * UPDATE and INSERT and their bound parameters; `keyFamilies: false` keeps the exact keys only;
 * a disabled policy masks no statement, while the login's password message, which the session
 * never keeps, stays a label. Each script also runs at every chunk split.
 */
import t from 'tap';
import { serialize } from 'pg-protocol';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { resolveMaskPolicyFromEnv } from '../../../sidecar/mask/env-policy.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy, type MaskPolicy } from '../../../sidecar/mask/policy.ts';
import { createCaptureFactory } from '../../../sidecar/proxy/capture-factory.ts';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import { be, cat, greeting, json, runAllCuts, runPg, text, type Step } from './harness.ts';

const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 5432 }, mesh: false };
const shipped = (exchanges: Exchange[], policy: MaskPolicy): CallRecord[] => exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'p', namespace: 'n' }), policy));
const everything = (records: CallRecord[]): string => JSON.stringify(records.map(recordToJson));
const start: Step[] = [{ c: cat(serialize.startup({ user: 'shop', database: 'shop' })) }, { s: greeting() }];

/** What the sidecar resolves from `MESHTAP_MASK_KEYS=iban`. */
const added = resolveMaskPolicyFromEnv({ MESHTAP_MASK_KEYS: 'iban' });

const update = "UPDATE acct SET iban = 'DE-update-secret', name = 'ann' WHERE id = 1";
const insert = "INSERT INTO acct (name, iban) VALUES ('bob', 'DE-insert-secret')";
const bound = 'UPDATE acct SET iban = $1 WHERE id = $2';
const ibanSteps: Step[] = [
  ...start,
  { c: cat(serialize.query(`${update}; ${insert}`)) },
  { s: cat(be.commandComplete('UPDATE 1'), be.commandComplete('INSERT 0 1'), be.ready()) },
  {
    c: cat(
      serialize.parse({ text: bound, types: [] }),
      serialize.bind({ values: ['DE-bound-secret', '7'] }),
      serialize.execute({}),
      serialize.sync(),
    ),
  },
  { s: cat(be.parseComplete(), be.bindComplete(), be.commandComplete('UPDATE 1'), be.ready()) },
];
const ibanSecrets = ['DE-update-secret', 'DE-insert-secret', 'DE-bound-secret'];

void t.test('a key the policy adds: its column in UPDATE and INSERT, and its bound parameter', async (t) => {
  const { exchanges } = runAllCuts(t, ibanSteps, 64 * 1024, { maskPolicy: added });
  const [, upd, ins, ext] = shipped(exchanges, added);
  t.equal(json(upd.request?.body).query, "UPDATE acct SET iban = '****', name = 'ann' WHERE id = 1");
  t.same([upd.redacted, upd.sensitive], [['request.body.$.query'], ['secret']]);
  t.equal(json(ins.request?.body).query, "INSERT INTO acct (name, iban) VALUES ('bob', '****')");
  t.same(json(ext.request?.body), { query: bound, parameters: ['****', '7'] });
  t.same([ext.redacted, ext.sensitive], [['request.body.$.parameters[0]'], ['secret']]);
  const all = everything([upd, ins, ext]);
  for (const secret of ibanSecrets) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('the same script under the default policy: iban is no secret there', async (t) => {
  const all = everything(shipped(runAllCuts(t, ibanSteps).exchanges, DEFAULT_MASK_POLICY));
  for (const secret of ibanSecrets) t.ok(all.includes(secret), `${secret} shipped`);
});

void t.test('keyFamilies false: only the exact keys name secret columns; PASSWORD clauses stay masked', async (t) => {
  const policy = resolveMaskPolicy({ keyFamilies: false, jsonKeys: ['iban'] });
  const { exchanges } = runAllCuts(
    t,
    [
      ...start,
      { c: cat(serialize.query("UPDATE u SET password = 'pw-exact', new_password = 'pw-family', pin = '4321', iban = 'DE-exact'; ALTER ROLE r PASSWORD 'role-pw'")) },
      { s: cat(be.commandComplete('UPDATE 1'), be.commandComplete('ALTER ROLE'), be.ready()) },
    ],
    64 * 1024,
    { maskPolicy: policy },
  );
  const [, upd, alter] = shipped(exchanges, policy);
  t.equal(json(upd.request?.body).query, "UPDATE u SET password = '****', new_password = 'pw-family', pin = '4321', iban = '****'");
  t.same(upd.sensitive, ['password', 'secret']);
  t.equal(json(alter.request?.body).query, "ALTER ROLE r PASSWORD '****'");
});

void t.test('a disabled policy: statements and parameters shipped as they are; the login password is never kept', async (t) => {
  const policy = resolveMaskPolicy({ enabled: false });
  const { exchanges } = runAllCuts(
    t,
    [
      { c: cat(serialize.startup({ user: 'shop', database: 'shop' })) },
      { s: be.authCleartext() },
      { c: cat(serialize.password('login-secret')) },
      { s: greeting() },
      { c: cat(serialize.query("ALTER ROLE shop PASSWORD 'role-secret'")) },
      { s: cat(be.commandComplete('ALTER ROLE'), be.ready()) },
      {
        c: cat(serialize.parse({ text: 'UPDATE u SET password = $1 WHERE id = $2', types: [] }), serialize.bind({ values: ['bound-secret', '7'] }), serialize.execute({}), serialize.sync()),
      },
      { s: cat(be.parseComplete(), be.bindComplete(), be.commandComplete('UPDATE 1'), be.ready()) },
    ],
    64 * 1024,
    { maskPolicy: policy },
  );
  const [login, alter, upd] = shipped(exchanges, policy);
  t.equal(text(login.request?.body), 'password ****', 'the password message is a label: the session never reads it');
  t.notOk(everything([login]).includes('login-secret'));
  t.equal(json(alter.request?.body).query, "ALTER ROLE shop PASSWORD 'role-secret'");
  t.same([alter.redacted, alter.sensitive], [[], []]);
  t.same(json(upd.request?.body).parameters, ['bound-secret', '7']);
  t.same([upd.redacted, upd.sensitive], [[], []]);
});

void t.test('the capture factory gives its PostgreSQL sessions the sidecar policy', async (t) => {
  const steps: Step[] = [...start, { c: cat(serialize.query(update)) }, { s: cat(be.commandComplete('UPDATE 1'), be.ready()) }];
  const withPolicy = createCaptureFactory({ maskPolicy: added });
  const plain = runPg(steps).exchanges;
  t.equal(json(plain[1].request?.body).query, update, 'a session made without the policy: the default');
  const exchanges: Exchange[] = [];
  const session = withPolicy.createSession('postgres', { maxBodyBytes: 64 * 1024, emit: (e) => exchanges.push(e), event: () => undefined });
  steps.forEach((step, i) => {
    if ('c' in step) session.clientData(step.c, BigInt(i));
    else if ('s' in step) session.serverData(step.s, BigInt(i));
  });
  session.close(10n, 'fin');
  t.equal(json(exchanges[1]?.request?.body).query, "UPDATE acct SET iban = '****', name = 'ann' WHERE id = 1");
});
