/**
 * Header filters pushed down as a pre-filter on the stored record's bytes (`instr(record, ?)`):
 * no row whose record the filter matches is ever dropped, whichever form the row keeps (its
 * protobuf, or the JSON text of rows stored before), with generated header names and values
 * (case, commas, quotes, escapes, non-ASCII) and needles cut from them.
 */
import t from 'tap';
import fc from 'fast-check';
import { DatabaseSync } from 'node:sqlite';
import { compileFilter, isCompiledFilter, type CompiledFilter } from '../../../collector/filter/compile.ts';
import { buildSqlPushdown } from '../../../collector/filter/pushdown.ts';
import { CALLS_INSERT_SQL, CALLS_SCHEMA, callsRow } from '../../../collector/store/calls-schema.ts';
import { storedRecord } from '../../../collector/store/stored-record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { CallRecord } from '../../../record/record.ts';
import { RECORDS } from './fixtures.ts';

function compiled(source: string): CompiledFilter {
  const f = compileFilter(source);
  if (!isCompiledFilter(f)) throw new Error(`${source} does not compile: ${f.message}`);
  return f;
}

const base = RECORDS.find((r) => r.request !== undefined && r.response !== undefined)!;

function withHeaders(id: string, request: Record<string, string>, response: Record<string, string> = {}): CallRecord {
  return { ...base, id, request: { ...base.request!, headers: request }, response: { ...base.response!, headers: response } };
}

/** Every record twice: as its protobuf (`p-…`) and as the JSON text of rows stored before (`j-…`). */
function table(records: readonly CallRecord[]): DatabaseSync {
  const db = new DatabaseSync(':memory:');
  db.exec(CALLS_SCHEMA);
  const insert = db.prepare(CALLS_INSERT_SQL);
  for (const r of records) {
    insert.run(...callsRow({ ...r, id: `p-${r.id}` }, 0n, storedRecord({ ...r, id: `p-${r.id}` })));
    insert.run(...callsRow({ ...r, id: `j-${r.id}` }, 0n, JSON.stringify(recordToJson({ ...r, id: `j-${r.id}` }))));
  }
  return db;
}

function rows(db: DatabaseSync, source: string): string[] {
  const p = buildSqlPushdown(compiled(source));
  return (db.prepare(`SELECT id FROM calls WHERE ${p.where} ORDER BY id`).all(...p.params) as Array<{ id: string }>).map((r) => r.id);
}

function matches(records: readonly CallRecord[], source: string): string[] {
  const f = compiled(source);
  return records
    .flatMap((r) => [{ ...r, id: `p-${r.id}` }, { ...r, id: `j-${r.id}` }])
    .filter((r) => f.matches(r))
    .map((r) => r.id)
    .sort();
}

void t.test('header filters become a pre-filter on the stored record; needles that could be escaped or joined are not pushed', async (t) => {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  t.same(buildSqlPushdown(compiled('request.headers["x-request-id"] == "abc-1"')), { where: 'instr(record, ?) > 0', params: [utf8('abc-1')], residual: true });
  t.same(buildSqlPushdown(compiled('"abc-1" == call.response.headers["x-id"]')), { where: 'instr(record, ?) > 0', params: [utf8('abc-1')], residual: true });
  t.same(buildSqlPushdown(compiled('http && request.trailers["grpc-status"].startsWith("1")')), {
    where: '(protocol = ?) AND (instr(record, ?) > 0)',
    params: ['http', utf8('1')],
    residual: true,
  });
  t.same(buildSqlPushdown(compiled('request.headers["user-agent"].contains("curl/8")')).params, [utf8('curl/8')]);
  t.same(buildSqlPushdown(compiled('request.headers["x"].endsWith("é")')).params, [utf8('é')]);
  t.same(buildSqlPushdown(compiled('request.headers["x"] == "abc" || http')).where, '(instr(record, ?) > 0) OR (protocol = ?)', 'either pre-filter');
  for (const unpushed of [
    'request.headers["x"] == ""',
    'request.headers["x"] == "a, b"',
    'request.headers["x"] == "say \\"hi\\""',
    'request.headers["x"] == "back\\\\slash"',
    'request.headers["x"] == "tab\\there"',
    'request.headers["x"] != "abc"',
    '!(request.headers["x"] == "abc")',
    'request.headers["x"].matches("abc")',
    'src.labels["app"] == "abc"',
  ]) {
    t.same(buildSqlPushdown(compiled(unpushed)).where, '1', unpushed);
  }
});

void t.test('a header value the filter asks for: the rows with it, whichever form they are stored in', async (t) => {
  const records = [
    withHeaders('a', { 'x-request-id': 'needle-42', accept: '*/*' }),
    withHeaders('b', { 'x-request-id': 'other' }, { 'x-request-id': 'needle-42' }),
    withHeaders('c', { 'user-agent': 'curl/8.5 (x86_64) “quoted” ü' }),
    withHeaders('d', {}),
  ];
  const db = table(records);
  t.teardown(() => db.close());
  t.same(rows(db, 'request.headers["x-request-id"] == "needle-42"'), ['j-a', 'j-b', 'p-a', 'p-b'], 'a pre-filter: b holds the bytes in its response');
  t.same(matches(records, 'request.headers["x-request-id"] == "needle-42"'), ['j-a', 'p-a']);
  t.same(rows(db, 'request.headers["user-agent"].contains("“quoted” ü")'), ['j-c', 'p-c']);
  t.same(rows(db, 'request.headers["x-request-id"] == "nowhere"'), []);
});

const headerName = fc.constantFrom('x-id', 'X-Id', 'x-Id', 'accept', 'user-agent', 'grpc-status', 'x-ü');
const headerValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('needle-42', 'a, b', 'say "hi"', 'back\\slash', 'tab\there', 'ünï “x”', '😀 emoji', '\u2028line', '0', ''),
);
const headers = fc.dictionary(headerName, headerValue, { maxKeys: 4 });

void t.test('property: no record the filter matches is dropped by the pre-filter', async (t) => {
  let pushed = 0;
  fc.assert(
    fc.property(fc.array(fc.tuple(headers, headers), { minLength: 1, maxLength: 4 }), fc.nat(), fc.nat(), fc.constantFrom('==', 'contains', 'startsWith', 'endsWith'), fc.constantFrom('request.headers', 'call.response.headers', 'request.trailers'), (pairs, pick, cut, op, map) => {
      const records = pairs.map(([req, res], i) => {
        const r = withHeaders(`r${i}`, req, res);
        return map === 'request.trailers' ? { ...r, request: { ...r.request!, trailers: req } } : r;
      });
      // A name and a needle taken from the records, so matches exist.
      const all = records.flatMap((r) => [...Object.entries(r.request!.headers), ...Object.entries(r.response!.headers)]);
      const [name, value] = all.length > 0 ? all[pick % all.length] : ['x-id', 'needle'];
      const from = value.length === 0 ? 0 : cut % value.length;
      const needle = op === '==' ? value : value.slice(from, from + 1 + (cut % 5));
      const key = JSON.stringify(name.toLowerCase());
      const literal = JSON.stringify(needle);
      const source = op === '==' ? `${map}[${key}] == ${literal}` : `${map}[${key}].${op}(${literal})`;
      const f = compileFilter(source);
      if (!isCompiledFilter(f)) return;
      if (buildSqlPushdown(f).where !== '1') pushed++;
      const db = table(records);
      try {
        const got = rows(db, source);
        for (const id of matches(records, source)) if (!got.includes(id)) throw new Error(`${id} matches ${source} but the pre-filter drops it`);
      } finally {
        db.close();
      }
    }),
    { numRuns: 400 },
  );
  t.ok(pushed > 100, `most generated filters were pushed (${pushed})`);
});
