import t from 'tap';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
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
