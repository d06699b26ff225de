import t from 'tap';
import { buildActivation, FILTER_VARIABLES } from '../../../collector/filter/variables.ts';
import { RECORDS } from './fixtures.ts';

const byId = (id: string) => {
  const r = RECORDS.find((x) => x.id === id);
  if (r === undefined) throw new Error(id);
  return r;
};

void t.test('scalars become CEL values; absent fields stay absent', async (t) => {
  const http = buildActivation(byId('r01'));
  t.equal(http.status_code, 503n);
  t.equal(http.elapsed_us, 150000n);
  t.equal(http.method, 'POST');
  t.equal(http.http, true);
  t.equal(http.grpc, false);
  t.equal(http.mesh, true);
  t.equal(http.tls_app, false);
  t.equal(http.grpc_status, undefined);

  const tcp = buildActivation(byId('r06'));
  for (const name of ['method', 'path', 'authority', 'status_code', 'grpc_status', 'trace_id', 'request', 'response']) {
    t.equal(tcp[name], undefined, `${name} is absent on an opaque TCP record`);
  }
  t.equal(tcp.error, 'reset');
  t.equal(tcp.tcp, true);
});

void t.test('endpoints: present fields only, labels always a map', async (t) => {
  const src = buildActivation(byId('r06')).src as Map<string, unknown>;
  t.same([...src.keys()].sort(), ['ip', 'labels', 'port']);
  t.equal(src.get('port'), 51000n);
  t.same([...(src.get('labels') as Map<string, string>)], []);
  const dst = buildActivation(byId('r09')).dst as Map<string, unknown>;
  t.same([...(dst.get('labels') as Map<string, string>)], [
    ['app', 'orders'],
    ['version', 'v2'],
  ]);
});

void t.test('messages: lower-case headers, lossy UTF-8 bodies, optional content type', async (t) => {
  const record = { ...byId('r04') };
  record.request = { ...record.request!, headers: { 'Content-Type': 'application/grpc', 'X-Trace': 'a', 'x-trace': 'b' } };
  const request = buildActivation(record).request as Map<string, unknown>;
  const headers = request.get('headers') as Map<string, string>;
  t.equal(headers.get('content-type'), 'application/grpc');
  t.equal(headers.get('x-trace'), 'a, b', 'names that differ only in case are joined');
  t.equal(request.get('body'), '\u0000\u0000\u0000\u0000\u0005\uFFFD\uFFFDABC');
  t.equal(request.get('body_size'), 10n);
  t.equal(request.get('truncated'), false);
  const noType = buildActivation(byId('r08')).response as Map<string, unknown>;
  t.notOk(noType.has('content_type'));
  const skipped = buildActivation(byId('r01'), { decodeBodies: false }).request as Map<string, unknown>;
  t.notOk(skipped.has('body'), 'bodies are left out when the filter does not read them');
  t.ok(skipped.has('headers'));
});

void t.test('start and end are exact timestamps', async (t) => {
  const a = buildActivation(byId('r06'));
  const start = a.start as { seconds: bigint; nanos: number };
  t.equal(start.seconds, 1700000005n);
  t.equal(start.nanos, 123);
  const end = a.end as { seconds: bigint; nanos: number };
  t.equal(end.seconds, 1700000010n, 'start + 5 s elapsed');
  t.equal(end.nanos, 123);
});

void t.test('call holds every present top-level field', async (t) => {
  const call = buildActivation(byId('r06')).call as Map<string, unknown>;
  t.ok(call.has('id'));
  t.ok(call.has('error'));
  t.notOk(call.has('status_code'));
  t.notOk(call.has('request'));
  t.notOk(call.has('call'), 'no self reference');
  t.ok(Object.hasOwn(FILTER_VARIABLES, 'call'));
});

void t.test('connection facts, queue_us and link_confidence: bound when present, filterable', async (t) => {
  const { compileFilter, isCompiledFilter } = await import('../../../collector/filter/compile.ts');
  const base = byId('r01');
  const opened = { ...base, id: 'c0', connection: { connect_us: 850, tls_handshake_us: 2100, exchanges: 1 } };
  const reused = { ...base, id: 'c1', ordinal: 1, queue_us: 30_000, connection: { exchanges: 2, half_closed_by: 'client' as const } };
  const gaveUp = { ...base, id: 'c2', error: 'client_timeout' as const, connection: { exchanges: 3, reset_by: 'client' as const } };
  const serverReset = { ...base, id: 'c3', error: 'reset' as const, link_confidence: 0.5, connection: { exchanges: 1, reset_by: 'server' as const } };
  const none = { ...base, id: 'c4', connection: undefined, queue_us: undefined, link_confidence: undefined };
  const records = [opened, reused, gaveUp, serverReset, none];

  const activation = buildActivation(opened);
  const connection = activation.connection as Map<string, unknown>;
  t.same([...connection], [['connect_us', 850n], ['tls_handshake_us', 2100n], ['exchanges', 1n]]);
  t.same([...(buildActivation(none).connection as Map<string, unknown>)], [], 'no facts: an empty struct, fields unbound');
  t.equal(buildActivation(reused).queue_us, 30_000n);
  t.equal(buildActivation(none).queue_us, undefined);
  t.equal(buildActivation(serverReset).link_confidence, 0.5);
  t.equal(buildActivation(none).link_confidence, undefined);

  for (const [filter, ids] of [
    ['connection.connect_us > 500', ['c0']],
    ['connection.tls_handshake_us >= 2100', ['c0']],
    ['connection.reset_by == "server"', ['c3']],
    ['connection.half_closed_by == "client"', ['c1']],
    ['connection.exchanges > 1', ['c1', 'c2']],
    ['has(connection.reset_by)', ['c2', 'c3']],
    ['queue_us > 10000', ['c1']],
    ['error == "client_timeout"', ['c2']],
    ['link_confidence < 1.0', ['c3']],
    ['has(call.connection) && !has(call.queue_us)', ['c0', 'c2', 'c3', 'c4']],
  ] as const) {
    const compiled = compileFilter(filter);
    if (!isCompiledFilter(compiled)) {
      t.fail(`${filter}: ${compiled.code} ${compiled.message}`);
      continue;
    }
    t.same(records.filter((r) => compiled.matches(r)).map((r) => r.id), ids, filter);
  }
  t.ok('connection' in FILTER_VARIABLES && 'queue_us' in FILTER_VARIABLES && 'link_confidence' in FILTER_VARIABLES, 'declared');
});

void t.test('caused_by_trace_id and caused_by_span_id: bound when present, filterable', async (t) => {
  const { compileFilter, isCompiledFilter } = await import('../../../collector/filter/compile.ts');
  const base = byId('r01');
  const joined = { ...base, id: 'j1', caused_by_trace_id: 'cd'.repeat(16), caused_by_span_id: 'ab'.repeat(8) };
  const plain = { ...base, id: 'j2', caused_by_trace_id: undefined, caused_by_span_id: undefined };
  t.equal(buildActivation(joined).caused_by_trace_id, 'cd'.repeat(16));
  t.equal(buildActivation(plain).caused_by_trace_id, undefined);
  for (const [filter, ids] of [
    ['has(call.caused_by_trace_id)', ['j1']],
    [`caused_by_span_id == "${'ab'.repeat(8)}"`, ['j1']],
    ['!has(call.caused_by_trace_id)', ['j2']],
  ] as const) {
    const compiled = compileFilter(filter);
    if (!isCompiledFilter(compiled)) throw new Error(`${filter}: ${compiled.message}`);
    t.same([joined, plain].filter((r) => compiled.matches(r)).map((r) => r.id), ids, filter);
  }
});
