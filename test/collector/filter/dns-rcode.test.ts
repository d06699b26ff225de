/**
 * `dns_rcode` in filters: the variable, its pushdown to the store's `dns_rcode` column agreeing
 * with the in-memory evaluation, and the migration that adds the column to an older database.
 */
import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { compileFilter, isCompiledFilter, type CompiledFilter } from '../../../collector/filter/compile.ts';
import { buildSqlPushdown } from '../../../collector/filter/pushdown.ts';
import { CALLS_INSERT_SQL, CALLS_SCHEMA, SCHEMA_VERSION, callsRow } from '../../../collector/store/calls-schema.ts';
import { legacySchema } from '../store/legacy-schema.ts';
import { migrate } from '../../../collector/store/migrate.ts';
import { recordToJson } from '../../../record/record-json.ts';
import { DNS_RECORDS } from '../dns-records.ts';
import { RECORDS } from './fixtures.ts';

const ALL = [...RECORDS, ...DNS_RECORDS];

function compiled(source: string): CompiledFilter {
  const f = compileFilter(source);
  if (!isCompiledFilter(f)) throw new Error(`${source} does not compile: ${f.message}`);
  return f;
}

function insertAll(db: DatabaseSync): void {
  const insert = db.prepare(CALLS_INSERT_SQL);
  for (const r of ALL) insert.run(...callsRow(r, 0n, JSON.stringify(recordToJson(r))));
}

const FILTERS: Array<[string, string[]]> = [
  ['dns_rcode == "NXDOMAIN"', ['dns-nx']],
  ['dns && dns_rcode != "NOERROR"', ['dns-nx', 'dns-servfail']],
  ['dns_rcode in ["SERVFAIL", "REFUSED"]', ['dns-servfail']],
  ["has(call.dns_rcode)", ['dns-a', 'dns-nx', 'dns-servfail', 'dns-srv']],
  ["dns && !has(call.dns_rcode)", ['dns-timeout']],
  ['dns_rcode.startsWith("NX")', ['dns-nx']],
  ['call.dns_rcode == "NOERROR" && method == "SRV"', ['dns-srv']],
  ['dns && (dns_rcode == "NXDOMAIN" || error == "timeout")', ['dns-nx', 'dns-timeout']],
  ['!(dns_rcode == "NOERROR")', ['dns-nx', 'dns-servfail']],
];

void t.test('the variable: a DNS record\'s rcode; absent elsewhere, as an absent field is', async (t) => {
  for (const [source, ids] of FILTERS) {
    t.same(ALL.filter((r) => compiled(source).matches(r)).map((r) => r.id).sort(), [...ids].sort(), source);
  }
  t.notOk(compiled('dns_rcode == ""').matches(RECORDS[0]), 'an HTTP record has no rcode, not an empty one');
  const wrong = compileFilter('dns_rcode == 3');
  t.notOk(isCompiledFilter(wrong), 'a string: comparing it to an int is a type error');
});

void t.test('pushdown to the dns_rcode column agrees with the in-memory evaluation', async (t) => {
  const db = new DatabaseSync(':memory:');
  t.teardown(() => db.close());
  db.exec(CALLS_SCHEMA);
  insertAll(db);
  t.same(buildSqlPushdown(compiled('dns_rcode == "NXDOMAIN"')), { where: 'dns_rcode = ?', params: ['NXDOMAIN'], residual: false });
  for (const [source] of FILTERS) {
    const f = compiled(source);
    const pushdown = buildSqlPushdown(f);
    t.notOk(pushdown.residual && pushdown.where === '1', `${source}: pushed down (${pushdown.where})`);
    const rows = (db.prepare(`SELECT record FROM calls WHERE ${pushdown.where}`).all(...pushdown.params) as Array<{ record: string }>).map((r) => (JSON.parse(r.record) as { id: string }).id);
    const inMemory = ALL.filter((r) => f.matches(r)).map((r) => r.id);
    const sqlThenResidual = pushdown.residual ? ALL.filter((r) => rows.includes(r.id) && f.matches(r)).map((r) => r.id) : rows;
    t.same([...sqlThenResidual].sort(), [...inMemory].sort(), `${source}: SQL and CEL agree`);
  }
});

void t.test('migration: a schema 1 database gains the column, filled from the stored records', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dns-rcode-migrate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'old.db');
  // Schema 1: the table without dns_rcode (nor the columns of later versions).
  const schema1 = legacySchema(1);
  const old = new DatabaseSync(path);
  old.exec(schema1.schema);
  t.notMatch(schema1.schema, /dns_rcode/, 'the schema 1 table has no dns_rcode');
  const insert = old.prepare(schema1.insertSql);
  for (const r of ALL) insert.run(...schema1.row(r));
  old.exec('PRAGMA user_version = 1');
  old.close();

  const db = new DatabaseSync(path);
  t.teardown(() => db.close());
  migrate(db, path);
  t.equal((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, SCHEMA_VERSION);
  const rows = db.prepare('SELECT id, dns_rcode FROM calls ORDER BY id').all() as Array<{ id: string; dns_rcode: string | null }>;
  const expected = ALL.map((r) => ({ id: r.id, dns_rcode: r.dns_rcode ?? null })).sort((a, b) => (a.id < b.id ? -1 : 1));
  t.same(rows.map((r) => ({ ...r })), expected, 'every row\'s rcode from its record; NULL for others');
  const f = compiled('dns_rcode == "NXDOMAIN"');
  const pushdown = buildSqlPushdown(f);
  t.same((db.prepare(`SELECT id FROM calls WHERE ${pushdown.where}`).all(...pushdown.params) as Array<{ id: string }>).map((r) => r.id), ['dns-nx'], 'filters work on migrated rows');
  migrate(db, path);
  t.pass('migrating again is a no-op');
});
