/**
 * The masking policy governs the maskers the protocol sessions call while parsing, as it governs
 * the JSON masker: keys it adds name secret SQL columns and Redis fields and keys, `keyFamilies:
 * false` leaves only its exact keys, `enabled: false` masks nothing. The default policy (and one
 * that only changes other options) masks as it always did, and each policy's prefilter finds
 * every name the policy's lookups accept.
 */
import t from 'tap';
import { resolveMaskPolicyFromEnv } from '../../../sidecar/mask/env-policy.ts';
import { keyKind, namePrefilter, storedNameKind } from '../../../sidecar/mask/key-kind.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { maskSqlRequest, maskSqlSecrets } from '../../../sidecar/mask/sql-secrets.ts';
import type { CommandArg } from '../../../sidecar/redis/render.ts';
import { dataSecrets, fieldKind, keyNameKind } from '../../../sidecar/redis/secrets.ts';
import { rng } from '../../helpers/rng.ts';

/** What the sidecar resolves from `MESHTAP_MASK_KEYS=iban,tenant_code`. */
const added = resolveMaskPolicyFromEnv({ MESHTAP_MASK_KEYS: 'iban,tenant_code' });
const exactOnly = resolveMaskPolicy({ keyFamilies: false, jsonKeys: ['iban'] });
const disabled = resolveMaskPolicy({ enabled: false });
const arg = (x: string): CommandArg => ({ data: Buffer.from(x), size: x.length });
const args = (...xs: string[]): CommandArg[] => xs.map(arg);

void t.test('SQL: a key the policy adds names a secret column, in every spelling a JSON key would', async (t) => {
  const update = "UPDATE acct SET iban = 'DE89370400440532013000', name = 'ann' WHERE id = 1";
  t.equal(maskSqlSecrets(update, 'postgres'), undefined, 'the default policy does not mask iban');
  const masked = maskSqlSecrets(update, 'postgres', added);
  t.equal(masked?.text, "UPDATE acct SET iban = '****', name = 'ann' WHERE id = 1");
  t.same(masked?.kinds, ['secret']);
  t.equal(
    maskSqlSecrets(`INSERT INTO acct (name, "IBAN", tenant_code) VALUES ('ann', 'DE-iban-1', 'tc-7'), ('al', 'DE-iban-2', 'tc-8')`, 'postgres', added)?.text,
    `INSERT INTO acct (name, "IBAN", tenant_code) VALUES ('ann', '****', '****'), ('al', '****', '****')`,
  );
  t.equal(
    maskSqlSecrets("INSERT INTO acct (name, `iban`) VALUES ('ann', 'DE-iban-3')", 'mysql', added)?.text,
    "INSERT INTO acct (name, `iban`) VALUES ('ann', '****')",
  );
  // Column names as the JSON masker would judge them under the same policy.
  const names = ['iban', 'IBAN', 'Iban', 'iban_hash', 'TenantCode', 'tenantcode', '"tenant-code"', 'x_tenant_code_v2', 'tenant', 'code', 'ibanx', 'tenant2code', 'name'];
  for (const name of names) {
    const sql = `UPDATE t SET ${name} = 'value-7'`;
    const json = keyKind(added, name.replaceAll('"', ''));
    t.equal(maskSqlSecrets(sql, 'postgres', added)?.text, json === undefined ? undefined : `UPDATE t SET ${name} = '****'`, `${name}: as a JSON key (${json ?? 'not secret'})`);
  }
  t.equal(maskSqlSecrets("UPDATE u SET password = 'pw'", 'postgres', added)?.text, "UPDATE u SET password = '****'", 'the families still count');
});

void t.test('SQL: bound parameters and query attribute names under the policy', async (t) => {
  const r = maskSqlRequest('UPDATE acct SET iban = $1 WHERE id = $2', ['DE-bound-1', '7'], 'postgres', undefined, added);
  t.same(r?.params, ['****', '7']);
  t.same(r?.redacted, ['request.body.$.parameters[0]']);
  t.same(r?.sensitive, ['secret']);
  t.same(r?.values, ['DE-bound-1'], 'the value is looked for in the error too');
  t.equal(maskSqlRequest('UPDATE acct SET iban = $1 WHERE id = $2', ['DE-bound-1', '7'], 'postgres'), undefined, 'not under the default policy');
  const mysql = maskSqlRequest('INSERT INTO acct (name, iban) VALUES (?, ?)', ['ann', 'DE-bound-2'], 'mysql', undefined, added);
  t.same(mysql?.params, ['ann', '****']);
  const attribute = maskSqlRequest('SELECT 1', ['v1', 'DE-attr'], 'mysql', ['trace', 'IBAN'], added);
  t.same(attribute?.params, ['v1', '****'], "a query attribute's name is looked up as a key");
});

void t.test('SQL: keyFamilies false masks only the exact keys; the password clauses stay', async (t) => {
  const sql = "UPDATE u SET password = 'a', new_password = 'b', pin = 'c', iban = 'd', api_key = 'e'";
  t.equal(maskSqlSecrets(sql, 'postgres', exactOnly)?.text, "UPDATE u SET password = '****', new_password = 'b', pin = 'c', iban = '****', api_key = '****'");
  t.equal(maskSqlSecrets(sql, 'postgres')?.text, "UPDATE u SET password = '****', new_password = '****', pin = '****', iban = 'd', api_key = '****'", 'the default, for comparison');
  t.equal(maskSqlSecrets("ALTER ROLE r PASSWORD 'role-pw'", 'postgres', exactOnly)?.text, "ALTER ROLE r PASSWORD '****'");
  t.equal(maskSqlSecrets("CREATE USER 'u'@'%' IDENTIFIED BY 'my-pw'", 'mysql', exactOnly)?.text, "CREATE USER 'u'@'%' IDENTIFIED BY '****'");
  t.equal(maskSqlSecrets("UPDATE u SET db_password = 'x' WHERE token_hash = 'y'", 'postgres', exactOnly), undefined, 'family names alone are not keys');
  t.equal(maskSqlRequest('UPDATE u SET new_pin = $1', ['1234'], 'postgres', undefined, exactOnly), undefined);
});

void t.test('SQL: a disabled policy masks nothing, the password clauses included', async (t) => {
  for (const [sql, dialect] of [
    ["ALTER ROLE r PASSWORD 'role-pw'", 'postgres'],
    ["UPDATE u SET password = 'pw' WHERE token = 'tok'", 'postgres'],
    ["CREATE USER 'u'@'%' IDENTIFIED BY 'my-pw'", 'mysql'],
    ["SET PASSWORD = PASSWORD('set-pw')", 'mysql'],
  ] as const) {
    t.equal(maskSqlSecrets(sql, dialect, disabled), undefined, sql);
    t.equal(maskSqlRequest(sql, undefined, dialect, undefined, disabled), undefined, sql);
  }
  t.equal(maskSqlRequest('UPDATE u SET password = $1', ['pw'], 'postgres', undefined, disabled), undefined, 'parameters too');
  t.equal(maskSqlRequest('SELECT 1', ['tok'], 'mysql', ['api_token'], disabled), undefined, 'and attribute names');
});

void t.test('SQL: a statement repeated under another policy is masked under that one', async (t) => {
  const sql = "UPDATE acct SET iban = 'DE-repeat'";
  t.equal(maskSqlSecrets(sql, 'postgres'), undefined);
  t.equal(maskSqlSecrets(sql, 'postgres', added)?.text, "UPDATE acct SET iban = '****'");
  t.equal(maskSqlSecrets(sql, 'postgres'), undefined);
  const pw = "UPDATE u SET password = 'pw'";
  t.ok(maskSqlSecrets(pw, 'postgres'));
  t.equal(maskSqlSecrets(pw, 'postgres', disabled), undefined);
  t.ok(maskSqlSecrets(pw, 'postgres'));
});

void t.test('Redis: fields like JSON keys, keys by their last word, under the policy', async (t) => {
  t.equal(fieldKind(arg('iban')), undefined, 'not a secret by default');
  t.equal(fieldKind(arg('iban'), added), 'secret');
  t.equal(fieldKind(arg('customer_iban'), added), 'secret');
  t.equal(keyNameKind(arg('user:7:iban')), undefined);
  for (const key of ['user:7:iban', 'user:7:IBAN', 'acct/primary_iban', 'cfg:tenant-code', 'cfg.TenantCode']) t.equal(keyNameKind(arg(key), added), 'secret', key);
  for (const key of ['user:7:iban_verified', 'iban:queue', 'user:7:tenant', 'user:7:profile']) t.equal(keyNameKind(arg(key), added), undefined, `${key}: the added key does not end it`);
  t.equal(keyNameKind(arg('user:7:password'), added), 'password', 'the families still count');
  t.same([...(dataSecrets('HSET', args('HSET', 'u', 'name', 'ann', 'iban', 'DE-1', 'pin', '1'), added)?.masked ?? [])], [[5, 'secret'], [7, 'password']]);
  t.same(dataSecrets('MGET', args('MGET', 'u:1:name', 'u:1:iban'), added)?.reply, { shape: 'values', kinds: [undefined, 'secret'] });
  t.equal(dataSecrets('HSET', args('HSET', 'u', 'iban', 'DE-1')), undefined);
});

void t.test('Redis: keyFamilies false keeps the exact keys only', async (t) => {
  t.equal(fieldKind(arg('password'), exactOnly), 'password');
  t.equal(fieldKind(arg('api-key'), exactOnly), 'api_key', 'spelled any way, as JSON keys are');
  t.equal(fieldKind(arg('password_hash'), exactOnly), undefined);
  t.equal(fieldKind(arg('pin'), exactOnly), undefined);
  t.equal(fieldKind(arg('iban'), exactOnly), 'secret');
  t.equal(keyNameKind(arg('user:7:password'), exactOnly), 'password');
  t.equal(keyNameKind(arg('user:7:reset_token'), exactOnly), undefined);
  t.equal(keyNameKind(arg('user:7:reset_token')), 'token', 'the default, for comparison');
  t.equal(keyNameKind(arg('user:7:iban'), exactOnly), 'secret');
});

void t.test('Redis: a disabled policy names no data secret', async (t) => {
  t.equal(dataSecrets('HSET', args('HSET', 'u', 'password', 'pw'), disabled), undefined);
  t.equal(dataSecrets('GET', args('GET', 'user:7:password'), disabled), undefined);
});

void t.test('the prefilter: built once per policy, the default one for policies with the default names', async (t) => {
  const prefilter = namePrefilter(['identified']);
  t.equal(prefilter(added), prefilter(added), 'one matcher per policy');
  t.equal(prefilter(resolveMaskPolicyFromEnv({})), prefilter(DEFAULT_MASK_POLICY), 'a policy that adds no key shares the default matcher');
  t.equal(prefilter(resolveMaskPolicy({ maskEmails: true, patterns: ['literal:xyz-secret'] })), prefilter(DEFAULT_MASK_POLICY));
  t.not(prefilter(added), prefilter(DEFAULT_MASK_POLICY));
  t.notOk(prefilter(added)('SELECT name FROM shipping WHERE company = $1'), 'text naming nothing is skipped');
  t.ok(prefilter(added)("CREATE USER u IDENTIFIED BY 'x'"), 'the words looked for anywhere stay');
  t.ok(prefilter(exactOnly)("CREATE USER u IDENTIFIED BY 'x'"));
  t.notOk(prefilter(exactOnly)('SELECT pin FROM u'), 'without families, a family word alone is skipped');
  t.ok(prefilter(exactOnly)('SELECT p_w_d FROM u'), 'an exact key spelled with separators is found');
});

void t.test('the prefilter finds every name the lookups accept under the policy', async (t) => {
  const rand = rng(23);
  const pieces = ['iban', 'IBAN', 'Iban', 'tenant', 'Tenant', 'TENANT', 'code', 'Code', 'ten', 'ant', 'i', 'ban', 'pass', 'wd', 'Pin', 'api', 'Key', 'x', '7', 'user'];
  const gaps = ['', '', '_', '-', '.', ':', '/', ' ', '__', '\u00e9'];
  const policies = { added, exactOnly, tenant: resolveMaskPolicy({ keyFamilies: false, jsonKeys: ['tenant-code', 'x.api'] }) };
  let checked = 0;
  for (const [label, policy] of Object.entries(policies)) {
    const prefilter = namePrefilter()(policy);
    let misses = 0;
    for (let n = 0; n < 4000; n++) {
      let name = '';
      const count = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < count; i++) name += (i > 0 ? gaps[Math.floor(rand() * gaps.length)] : '') + pieces[Math.floor(rand() * pieces.length)];
      if (keyKind(policy, name) === undefined && storedNameKind(policy, name) === undefined) continue;
      checked++;
      if (!prefilter(`SELECT ${name} FROM t`) && misses++ < 5) t.fail(`${label}: the prefilter missed ${JSON.stringify(name)}`);
    }
    t.equal(misses, 0, `${label}: no name missed`);
  }
  t.ok(checked > 1000, `${checked} secret names checked`);
});
