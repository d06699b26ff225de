import t from 'tap';
import fc from 'fast-check';
import { DatabaseSync } from 'node:sqlite';
import { compileFilter, isCompiledFilter, type CompiledFilter } from '../../../collector/filter/compile.ts';
import { buildSqlPushdown, CALLS_COLUMNS, type SqlPushdown } from '../../../collector/filter/pushdown.ts';
import type { CallRecord } from '../../../record/record.ts';
import { CASES } from './cases.ts';
import { RECORDS, createCallsTable } from './fixtures.ts';

const db = new DatabaseSync(':memory:');
createCallsTable(db);
t.teardown(() => db.close());

function compiled(source: string): CompiledFilter {
  const f = compileFilter(source);
  if (!isCompiledFilter(f)) throw new Error(`${source} does not compile: ${f.message}`);
  return f;
}

function rowIds(pushdown: SqlPushdown): string[] {
  const rows = db.prepare(`SELECT id FROM calls WHERE ${pushdown.where} ORDER BY id`).all(...pushdown.params) as Array<{ id: string }>;
  return rows.map((r) => r.id);
}

function matchIds(filter: CompiledFilter, records: readonly CallRecord[] = RECORDS): string[] {
  return records.filter((r) => filter.matches(r)).map((r) => r.id);
}

void t.test('the fixture table has every pushdown column', async (t) => {
  // The fixture is the store's own table, which also holds columns no filter reaches (seq, record, …).
  const columns = new Set((db.prepare('PRAGMA table_info(calls)').all() as Array<{ name: string }>).map((c) => c.name));
  t.same(Object.keys(CALLS_COLUMNS).filter((c) => !columns.has(c)), [], 'no pushdown column is missing from the table');
  t.ok(Object.keys(CALLS_COLUMNS).length >= 27, 'every filterable field has its column');
});

const EXPECTED_SQL: Array<[string, SqlPushdown]> = [
  ['', { where: '1', params: [], residual: false }],
  ['http', { where: 'protocol = ?', params: ['http'], residual: false }],
  ['!mesh', { where: 'NOT (mesh = 1)', params: [], residual: false }],
  ['tls.mesh == false', { where: 'mesh = 0', params: [], residual: false }],
  [
    'http && method == "POST" && status_code >= 500 && dst.namespace == "shop"',
    { where: '(protocol = ?) AND (method = ?) AND (status_code >= ?) AND (dst_namespace = ?)', params: ['http', 'POST', 500, 'shop'], residual: false },
  ],
  ['500 <= status_code', { where: 'status_code >= ?', params: [500], residual: false }],
  ['call.status_code != 200', { where: 'status_code != ?', params: [200], residual: false }],
  ['status_code in [200, 204]', { where: 'status_code IN (?, ?)', params: [200, 204], residual: false }],
  ['method in []', { where: '(method != method)', params: [], residual: false }],
  ['path.startsWith("/api/")', { where: 'substr(path, 1, ?) = ?', params: [5, '/api/'], residual: false }],
  ['path.startsWith("/ü%_")', { where: 'substr(path, 1, ?) = ?', params: [4, '/ü%_'], residual: false }],
  ['authority.endsWith(".shop")', { where: 'substr(authority, ?) = ?', params: [-5, '.shop'], residual: false }],
  ['path.contains("")', { where: '(path = path)', params: [], residual: false }],
  ['!has(src.pod)', { where: 'NOT (src_pod IS NOT NULL)', params: [], residual: false }],
  [
    'start > timestamp("2023-11-14T22:13:25.000000123Z")',
    { where: 'start_ns > CAST(? AS INTEGER)', params: ['1700000005000000123'], residual: false },
  ],
  ['dst.namespace == "shop" || dst.namespace == "auth"', { where: '(dst_namespace = ?) OR (dst_namespace = ?)', params: ['shop', 'auth'], residual: false }],
  // Partly pushed: the body search stays for the compiled filter.
  ['http && response.body.contains("order-42")', { where: 'protocol = ?', params: ['http'], residual: true }],
  ['grpc && grpc_status != 0 && "jwt" in sensitive', { where: '(protocol = ?) AND (grpc_status != ?)', params: ['grpc', 0], residual: true }],
  // Not pushed at all.
  ['response.body.contains("order-42")', { where: '1', params: [], residual: true }],
  ['http || response.body.contains("x")', { where: '1', params: [], residual: true }],
  ['!(http && request.truncated)', { where: '1', params: [], residual: true }],
  ['path.matches("^/api")', { where: '1', params: [], residual: true }],
  ['dst.port == 5432', { where: '1', params: [], residual: true }],
  ['http ? status_code > 1 : true', { where: '1', params: [], residual: true }],
  ['[1].exists(status_code, status_code == 1)', { where: '1', params: [], residual: true }],
  // Unsafe to push: SQLite and CEL may order such text differently, and 2^53 + 1 is not a JS number.
  ['path < "\uE000"', { where: '1', params: [], residual: true }],
  ['elapsed_us > 9007199254740993', { where: '1', params: [], residual: true }],
  // A type mismatch SQLite would coerce is left to the compiled filter.
  ['method in ["GET", dyn(1)]', { where: '1', params: [], residual: true }],
];

void t.test('simple filters become the expected SQL', async (t) => {
  for (const [source, expected] of EXPECTED_SQL) {
    t.same(buildSqlPushdown(compiled(source)), expected, source);
  }
});

void t.test('for every table filter the SQL rows contain the matches, and equal them when nothing is residual', async (t) => {
  let exact = 0;
  for (const { filter } of CASES) {
    const f = compiled(filter);
    const pushdown = buildSqlPushdown(f);
    const rows = rowIds(pushdown);
    const matches = matchIds(f);
    t.ok(
      matches.every((id) => rows.includes(id)),
      `${JSON.stringify(filter)}: rows ${rows.join(',')} ⊇ matches ${matches.join(',')}`,
    );
    if (!pushdown.residual) {
      exact++;
      t.same(rows, matches, `${JSON.stringify(filter)} is pushed down entirely`);
    }
  }
  t.ok(exact >= 30, `most table filters are pushed down entirely (${exact})`);
});

void t.test('the pushed-down part restricts: filters on columns select fewer rows', async (t) => {
  t.same(rowIds(buildSqlPushdown(compiled('http && response.body.contains("order-42")'))), ['r01', 'r02', 'r08', 'r09', 'r10', 'r12']);
  t.same(rowIds(buildSqlPushdown(compiled('start >= timestamp("2023-11-14T22:13:25.000000123Z") && start < timestamp("2023-11-14T22:13:28Z")'))), [
    'r06',
    'r07',
    'r08',
  ]);
});

// Random filters built from pushable and non-pushable predicates over the fixture values.
const textFields = [
  'id',
  'protocol',
  'observer',
  'method',
  'path',
  'authority',
  'error',
  'trace_id',
  'call.method',
  ...['ip', 'namespace', 'pod', 'workload', 'service', 'node', 'identity'].flatMap((f) => [`src.${f}`, `dst.${f}`]),
];
const intFields = ['status_code', 'grpc_status', 'elapsed_us', 'call.status_code'];
const textValues = [
  '',
  'GET',
  'POST',
  'http',
  'tcp',
  'inbound',
  'shop',
  'shop-staging',
  'auth',
  'data',
  'frontend',
  'payment',
  'frontend-7d9f',
  'node-a',
  '/api/',
  '/api/orders/42',
  '/api/ünïcode/😀',
  'ü',
  '😀',
  '\uE000',
  '.shop',
  'payment.shop',
  'reset',
  'timeout',
  '10.244.0.21',
  'spiffe://cluster.local/ns/shop/sa/payment',
  '%',
  '_',
  'r05',
  '4bf92f3577b34da6a3ce929d0e0e4736',
];
const intValues = ['0', '14', '200', '204', '401', '404', '503', '2300', '100000', '100001', '1e6', '200.0', '-1', '99.5', '5u', '9007199254740993'];
const timestamps = ['2023-11-14T22:13:20Z', '2023-11-14T22:13:25.000000123Z', '2023-11-14T22:13:25.000000124Z', '2023-11-14T22:13:31.000000123Z'];
const comparisons = ['==', '!=', '<', '<=', '>', '>='];
const quote = (s: string): string => JSON.stringify(s);

const atom: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom(...textFields), fc.constantFrom(...comparisons), fc.constantFrom(...textValues)).map(([f, op, v]) => `${f} ${op} ${quote(v)}`),
  fc.tuple(fc.constantFrom(...intFields), fc.constantFrom(...comparisons), fc.constantFrom(...intValues)).map(([f, op, v]) => `${f} ${op} ${v}`),
  fc.tuple(fc.constantFrom(...intValues), fc.constantFrom(...comparisons), fc.constantFrom(...intFields)).map(([v, op, f]) => `${v} ${op} ${f}`),
  fc.tuple(fc.constantFrom('start', 'call.start'), fc.constantFrom(...comparisons), fc.constantFrom(...timestamps)).map(([f, op, v]) => `${f} ${op} timestamp(${quote(v)})`),
  fc.tuple(fc.constantFrom(...textFields), fc.constantFrom('startsWith', 'endsWith', 'contains'), fc.constantFrom(...textValues)).map(([f, m, v]) => `${f}.${m}(${quote(v)})`),
  fc.tuple(fc.constantFrom(...textFields), fc.subarray(textValues, { maxLength: 4 })).map(([f, vs]) => `${f} in [${vs.map(quote).join(', ')}]`),
  fc.tuple(fc.constantFrom(...intFields), fc.subarray(intValues.slice(0, 10), { maxLength: 4 })).map(([f, vs]) => `${f} in [${vs.join(', ')}]`),
  fc.constantFrom('http', 'http2', 'grpc', 'tcp', 'redis', 'mesh', 'tls.mesh', 'call.mesh', 'mesh == false', 'true', 'false'),
  fc.constantFrom('has(src.pod)', 'has(dst.namespace)', 'has(call.status_code)', 'has(call.error)', 'has(call.grpc_status)', 'has(call.trace_id)'),
  // Never pushed down: these exercise the residual.
  fc.constantFrom(
    'tls_app',
    'request.body.contains("order")',
    'response.body.contains("order-42")',
    '"jwt" in sensitive',
    'dst.port == 5432',
    'path.matches("^/api/orders")',
    'request.headers["content-type"].contains("json")',
    'src.labels["app"] == "frontend"',
    'method.lowerAscii() == "get"',
    'status_code / (elapsed_us - 2300) > 0',
    'size(redacted) > 0',
  ),
);

const { filter } = fc.letrec<{ filter: string }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atom,
    fc.tuple(tie('filter'), tie('filter')).map(([a, b]) => `(${a} && ${b})`),
    fc.tuple(tie('filter'), tie('filter')).map(([a, b]) => `(${a} || ${b})`),
    tie('filter').map((a) => `!(${a})`),
    fc.tuple(tie('filter'), tie('filter'), tie('filter')).map(([a, b, c]) => `(${a} ? ${b} : ${c})`),
  ),
}));

void t.test('property: random combinations keep rows(where) ⊇ matches, exact when not residual', async (t) => {
  let pushedEntirely = 0;
  let partly = 0;
  fc.assert(
    fc.property(filter, (source) => {
      const f = compileFilter(source);
      if (!isCompiledFilter(f)) throw new Error(`generated filter does not compile: ${source}: ${f.message}`);
      const pushdown = buildSqlPushdown(f);
      const rows = rowIds(pushdown);
      const matches = matchIds(f);
      for (const id of matches) if (!rows.includes(id)) throw new Error(`${id} matches ${source} but ${pushdown.where} excludes it`);
      if (!pushdown.residual) {
        pushedEntirely++;
        if (rows.join() !== matches.join()) throw new Error(`${source}: exact pushdown ${pushdown.where} selects ${rows} but matches are ${matches}`);
      } else if (pushdown.where !== '1') {
        partly++;
      }
    }),
    { numRuns: 1500 },
  );
  t.ok(pushedEntirely > 150, `many generated filters were pushed down entirely (${pushedEntirely})`);
  t.ok(partly > 50, `many were pushed down in part (${partly})`);
});

void t.test('property: the pushdown of any compiling filter is valid SQL and never throws', async (t) => {
  const seeds = CASES.map((c) => c.filter).filter((s) => s.length > 0);
  fc.assert(
    fc.property(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 3 }),
      (seed, edits) => {
        let s = seed;
        for (const [pos, del, ins] of edits) {
          const at = pos % (s.length + 1);
          s = s.slice(0, at) + ins + s.slice(at + del);
        }
        const f = compileFilter(s);
        if (!isCompiledFilter(f)) return;
        const pushdown = buildSqlPushdown(f);
        const rows = rowIds(pushdown);
        for (const id of matchIds(f)) if (!rows.includes(id)) throw new Error(`${id} matches ${s} but ${pushdown.where} excludes it`);
      },
    ),
    { numRuns: 2000 },
  );
  t.pass('no throw');
});
