import t from 'tap';
import { MESH_FALLBACK_NOTE, buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import type { ConnectionMeta } from '../../../sidecar/proxy/connection.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';

const meta: ConnectionMeta = {
  connectionId: 'c1',
  observer: 'outbound',
  client: { ip: '10.0.0.1', port: 40000 },
  dst: { ip: '10.0.0.2', port: 6379 },
  mesh: false,
};
const local = { pod: 'web-1', namespace: 'shop' };

void t.test('what a session masked itself reaches the record and survives the masking policy', async (t) => {
  const record = buildCallRecord(
    {
      protocol: 'redis',
      ordinal: 0,
      start: 1n,
      end: 2n,
      bytes_out: 30,
      bytes_in: 5,
      method: 'AUTH',
      request: { headers: {}, body: Buffer.from('AUTH ****'), body_size: 30, truncated: false },
      redacted: ['request.body'],
      sensitive: ['password'],
    },
    meta,
    local,
  );
  t.same(record.redacted, ['request.body']);
  t.same(record.sensitive, ['password']);
  const masked = maskRecord({ ...record, response: { headers: { 'set-cookie': 'sid=abc' }, body: new Uint8Array(0), body_size: 0, truncated: false } });
  t.ok(masked.redacted.includes('request.body'), 'kept after the policy ran');
  t.ok(masked.redacted.length > 1, 'and the policy added its own findings');
  t.ok(masked.sensitive.includes('password'));
});

void t.test('an exchange without findings gets empty lists of its own', async (t) => {
  const a = buildCallRecord({ protocol: 'tcp', ordinal: 0, start: 1n, end: 2n, bytes_out: 0, bytes_in: 0 }, meta, local);
  t.same(a.redacted, []);
  t.same(a.sensitive, []);
  t.not(a.redacted, a.sensitive);
});

void t.test('body arrival times feed gRPC decoding only: never part of a record', async (t) => {
  const r = buildCallRecord({ protocol: 'grpc', ordinal: 0, start: 1n, end: 2n, bytes_out: 0, bytes_in: 0, body_arrivals: { response: [[0, 1n]] } }, meta, local);
  t.notOk('body_arrivals' in r);
});

void t.test('every field an exchange can carry reaches the record as it was', async (t) => {
  const request = { headers: { a: 'b' }, body: Buffer.from('q'), body_size: 1, truncated: false };
  const response = { headers: {}, body: Buffer.from('r'), body_size: 1, truncated: true };
  const connection = { reused: 2, opened_ns: 1n, closed_by: 'client' } as unknown as NonNullable<Exchange['connection']>;
  const exchange: Required<Omit<Exchange, 'tls_info' | 'redacted' | 'sensitive' | 'body_arrivals'>> = {
    protocol: 'grpc',
    ordinal: 7,
    start: 1_000n,
    request_end: 1_100n,
    response_start: 1_200n,
    end: 9_000n,
    method: 'POST',
    path: '/a.B/C',
    authority: 'svc:80',
    status_code: 200,
    grpc_status: 5,
    grpc_message: 'not found',
    request,
    response,
    error: 'reset',
    error_detail: 'peer reset',
    close_reason: 'fin',
    connection,
    queue_us: 12,
    trace_id: 't'.repeat(32),
    span_id: 's'.repeat(16),
    parent_span_id: 'p'.repeat(16),
    link_confidence: 0.5,
    caused_by_trace_id: 'c'.repeat(32),
    caused_by_span_id: 'd'.repeat(16),
    bytes_out: 30,
    bytes_in: 40,
    notes: ['a note'],
  };
  const record = buildCallRecord(exchange, meta, local) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(exchange)) t.equal(record[key], value, key);
  t.equal(record.elapsed_us, 8);
  t.equal(record.id, 'c1-o7');
  t.same(record.tls, { mesh: false });
  t.notOk('tls_info' in record || 'body_arrivals' in record, 'the builder-only fields stay out');
});

void t.test('a mesh fallback adds its note after the exchange\'s own, without changing the exchange', async (t) => {
  const exchange: Exchange = { protocol: 'http', ordinal: 0, start: 1n, end: 2n, bytes_out: 1, bytes_in: 1, notes: ['first'] };
  const record = buildCallRecord(exchange, { ...meta, meshFallback: true }, local);
  t.same(record.notes, ['first', MESH_FALLBACK_NOTE]);
  t.same(exchange.notes, ['first']);
});
