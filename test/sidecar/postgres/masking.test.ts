/**
 * Secrets in PostgreSQL statements, from wire bytes to the record the collector receives: the
 * session masks what only SQL places (role passwords, literals and bound parameters of secret
 * columns), the masking policy then masks what it finds anywhere (passwords in URLs), and the
 * startup record keeps what is not a secret. Each script also runs at every chunk split.
 */
import t from 'tap';
import { serialize } from 'pg-protocol';
import type { CallRecord } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import { be, cat, greeting, json, runAllCuts, type Step } from './harness.ts';

const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 5432 }, mesh: false };
/** The records as the capture worker ships them: built, then masked by the default policy. */
const shipped = (exchanges: Exchange[]): CallRecord[] => exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'p', namespace: 'n' })));
const everything = (records: CallRecord[]): string => JSON.stringify(records.map(recordToJson));
const start: Step[] = [{ c: cat(serialize.startup({ user: 'shop', database: 'shop' })) }, { s: greeting() }];
const queryOf = (r: CallRecord | Exchange): string => json(r.request?.body).query;

void t.test('ALTER/CREATE ROLE/USER … PASSWORD: only the literal is masked', async (t) => {
  const statements = [
    "ALTER ROLE shop PASSWORD 'meshtap-lab-only-orders-pw'",
    "CREATE ROLE reporting WITH LOGIN ENCRYPTED PASSWORD 'reporting-pw-1' VALID UNTIL 'infinity'",
    "CREATE USER app PASSWORD 'app-pw-2'",
    "ALTER USER app WITH PASSWORD 'app-pw-3'",
  ];
  const { exchanges } = runAllCuts(t, [
    ...start,
    { c: cat(serialize.query(statements.join('; '))) },
    { s: cat(be.commandComplete('ALTER ROLE'), be.commandComplete('CREATE ROLE'), be.commandComplete('CREATE ROLE'), be.commandComplete('ALTER ROLE'), be.ready()) },
  ]);
  const records = shipped(exchanges).slice(1);
  t.same(records.map(queryOf), [
    "ALTER ROLE shop PASSWORD '****'",
    "CREATE ROLE reporting WITH LOGIN ENCRYPTED PASSWORD '****' VALID UNTIL 'infinity'",
    "CREATE USER app PASSWORD '****'",
    "ALTER USER app WITH PASSWORD '****'",
  ]);
  for (const r of records) {
    t.same(r.redacted, ['request.body.$.query'], `${r.method}: redacted names the query`);
    t.same(r.sensitive, ['password'], `${r.method}: the kind`);
  }
  const all = everything(records);
  for (const secret of ['meshtap-lab-only-orders-pw', 'reporting-pw-1', 'app-pw-2', 'app-pw-3']) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('literals of secret columns, where the statement names the column', async (t) => {
  const { exchanges } = runAllCuts(t, [
    ...start,
    { c: cat(serialize.query("INSERT INTO u (name, password) VALUES ('bob','hunter2-plain'), ('al','y-secret') ON CONFLICT (name) DO UPDATE SET password = EXCLUDED.password")) },
    { s: cat(be.commandComplete('INSERT 0 2'), be.ready()) },
    { c: cat(serialize.query("UPDATE u SET password = 'upd-secret', name = 'bobby' WHERE name = 'bob'")) },
    { s: cat(be.commandComplete('UPDATE 1'), be.ready()) },
    { c: cat(serialize.query("INSERT INTO u VALUES ('carl','no-column-list')")) },
    { s: cat(be.commandComplete('INSERT 0 1'), be.ready()) },
    { c: cat(serialize.query('SELECT * FROM u')) },
    { s: cat(be.rowDescription(['name', 'password']), be.dataRow(['bob', 'row-secret']), be.commandComplete('SELECT 1'), be.ready()) },
  ]);
  const [insert, update, bare, select] = shipped(exchanges).slice(1);
  t.equal(queryOf(insert), "INSERT INTO u (name, password) VALUES ('bob','****'), ('al','****') ON CONFLICT (name) DO UPDATE SET password = EXCLUDED.password");
  t.equal(queryOf(update), "UPDATE u SET password = '****', name = 'bobby' WHERE name = 'bob'");
  for (const r of [insert, update]) {
    t.same(r.redacted, ['request.body.$.query']);
    t.same(r.sensitive, ['password']);
  }
  t.equal(queryOf(bare), "INSERT INTO u VALUES ('carl','no-column-list')", 'without a column list nothing says which value is the password');
  t.same(bare.redacted, []);
  t.same(json(select.response?.body).rows, [{ name: 'bob', password: '****' }], 'rows: masked by column name, as before');
  const all = everything([insert, update, select]);
  for (const secret of ['hunter2-plain', 'y-secret', 'upd-secret', 'row-secret']) t.notOk(all.includes(secret), `${secret} is in no field`);
});

void t.test('extended protocol: the bound parameter of a secret column is masked in the record', async (t) => {
  const insert = 'INSERT INTO u (name, password) VALUES ($1, $2)';
  const { exchanges } = runAllCuts(t, [
    ...start,
    {
      c: cat(
        serialize.parse({ name: 'add_user', text: insert, types: [] }),
        serialize.bind({ statement: 'add_user', values: ['bob', 'bind-secret-1'] }),
        serialize.execute({}),
        serialize.bind({ statement: 'add_user', values: ['al', 'bind-secret-2'] }),
        serialize.execute({}),
        serialize.parse({ text: 'UPDATE u SET password = $1 WHERE name = $2', types: [] }),
        serialize.bind({ values: [null, 'bob'] }),
        serialize.execute({}),
        serialize.sync(),
      ),
    },
    {
      s: cat(
        be.parseComplete(),
        be.bindComplete(),
        be.commandComplete('INSERT 0 1'),
        be.bindComplete(),
        be.commandComplete('INSERT 0 1'),
        be.parseComplete(),
        be.bindComplete(),
        be.commandComplete('UPDATE 1'),
        be.ready(),
      ),
    },
  ]);
  const [first, second, nulled] = shipped(exchanges).slice(1);
  t.same(json(first.request?.body), { query: insert, parameters: ['bob', '****'] });
  t.same(json(second.request?.body), { query: insert, parameters: ['al', '****'] }, 'every execute of the named statement');
  t.same(first.redacted, ['request.body.$.parameters[1]']);
  t.same(first.sensitive, ['password']);
  t.same(json(nulled.request?.body).parameters, [null, 'bob'], 'a NULL stays NULL');
  t.same(nulled.redacted, []);
  const all = everything([first, second]);
  t.notOk(all.includes('bind-secret-1') || all.includes('bind-secret-2'));
});

void t.test('a password in a URL inside a statement is masked by the policy', async (t) => {
  const { exchanges } = runAllCuts(t, [
    ...start,
    { c: cat(serialize.query("INSERT INTO settings (name, value) VALUES ('replica', 'postgres://repl:URLPW9@db2:5432/shop')")) },
    { s: cat(be.commandComplete('INSERT 0 1'), be.ready()) },
  ]);
  const [insert] = shipped(exchanges).slice(1);
  t.equal(queryOf(insert), "INSERT INTO settings (name, value) VALUES ('replica', 'postgres://repl:****@db2:5432/shop')");
  t.same(insert.redacted, ['request.body.$.query']);
  t.same(insert.sensitive, ['url_password']);
});

void t.test('STARTUP: session_authorization (the user) and auth (the method) are not masked', async (t) => {
  const { exchanges } = runAllCuts(t, [
    { c: cat(serialize.startup({ user: 'shop', database: 'shop' })) },
    { s: be.authSasl(['SCRAM-SHA-256']) },
    { c: cat(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=shop,r=nonce')) },
    { s: be.authSaslContinue('r=nonce2,s=c2FsdA==,i=4096') },
    { c: cat(serialize.sendSCRAMClientFinalMessage('c=biws,r=nonce2,p=proof')) },
    {
      s: cat(
        be.authSaslFinal('v=verifier'),
        be.authOk(),
        be.parameterStatus('session_authorization', 'shop'),
        be.parameterStatus('is_superuser', 'off'),
        be.backendKey(4242, 99999),
        be.ready(),
      ),
    },
  ]);
  const [startup] = shipped(exchanges);
  t.match(startup.response?.headers, { auth: 'sasl SCRAM-SHA-256', session_authorization: 'shop', is_superuser: 'off' });
  t.same(startup.redacted, ['request.body'], 'only the SASL messages');
  t.same(startup.sensitive, ['password'], 'no authorization or session finding');
});
