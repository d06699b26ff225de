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
