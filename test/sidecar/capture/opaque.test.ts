import t from 'tap';
import { createOpaqueSession } from '../../../sidecar/capture/opaque.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';

void t.test('counts both ways and emits one exchange at close', async (t) => {
  const got: Exchange[] = [];
  const s = createOpaqueSession({ maxBodyBytes: 10, emit: (e) => got.push(e), event: () => {} });
  s.serverData(Buffer.from('220 smtp ready\r\n'), 5n);
  s.clientData(Buffer.from('EHLO x\r\n'), 7n);
  s.clientEnd(8n);
  s.serverEnd(9n);
  t.same(got, [], 'nothing before close');
  s.close(10n, 'fin');
  s.close(11n, 'fin');
  s.clientData(Buffer.from('late'), 12n);
  t.same(got, [{ protocol: 'tcp', ordinal: 0, start: 5n, end: 10n, bytes_out: 8, bytes_in: 16, close_reason: 'fin' }]);
});

void t.test('reset is an error; protocol and start can be given', async (t) => {
  const got: Exchange[] = [];
  const s = createOpaqueSession({ maxBodyBytes: 10, emit: (e) => got.push(e), event: () => {} }, 'tls', { start: 1n, ordinal: 3 });
  s.clientData(new Uint8Array(3), 2n);
  s.close(4n, 'reset');
  t.same(got, [{ protocol: 'tls', ordinal: 3, start: 1n, end: 4n, bytes_out: 3, bytes_in: 0, close_reason: 'reset', error: 'reset' }]);
});

void t.test('a throwing sink does not escape', async (t) => {
  const s = createOpaqueSession({
    maxBodyBytes: 1,
    emit: () => {
      throw new Error('down');
    },
    event: () => {},
  });
  t.doesNotThrow(() => s.close(1n, 'fin'));
});
