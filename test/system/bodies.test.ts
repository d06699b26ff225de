/**
 * Large bodies cross both sidecars byte-exact while the records keep only the first
 * MESHTAP_MAX_BODY_BYTES with the true size; a client reset mid-response leaves error records.
 */
import t from 'tap';
import type { CallRecordJson } from '../../record/record-json.ts';
import { MeshLab } from './harness.ts';

const lab = await MeshLab.start();
t.teardown(() => lab.destroy());

const FIVE_MIB = 5 * 1024 * 1024;
const LIMIT = 65536;

function capturedBytes(m: CallRecordJson['request']): number {
  if (!m) return -1;
  return 'text' in m.body ? Buffer.byteLength(m.body.text) : Buffer.from(m.body.base64, 'base64').length;
}

void t.test('a 5 MiB upload arrives byte-exact; the records keep 64 KiB and the true size', async (t) => {
  const result = await lab.runClient<{ status: number; sent_sha256: string; answer: { sha256: string; size: number } }>(
    'upload',
    lab.appUrl('/sha256?upload=1'),
    String(FIVE_MIB),
  );
  t.equal(result.status, 200);
  t.same(result.answer, { sha256: result.sent_sha256, size: FIVE_MIB }, 'the app hashed exactly what the client sent');
  const calls = await lab.waitForCalls('upload records', (c) => c.path === '/sha256?upload=1');
  for (const record of calls) {
    t.match(record.request, { body_size: FIVE_MIB, truncated: true }, `${record.observer}: true size kept`);
    t.equal(capturedBytes(record.request), LIMIT, `${record.observer}: body cut at the limit`);
    t.equal(record.status_code, 200, `${record.observer}: the response is paired (error ${record.error ?? 'none'}, notes ${JSON.stringify(record.notes ?? [])})`);
    t.ok(record.bytes_out > FIVE_MIB, `${record.observer}: bytes_out counts the whole request`);
  }
});

void t.test('a 5 MiB download arrives byte-exact', async (t) => {
  const result = await lab.runClient<{ status: number; size: number; sha256: string; header_sha256: string }>(
    'download',
    lab.appUrl(`/bytes?n=${FIVE_MIB}&seed=42`),
  );
  t.equal(result.status, 200);
  t.equal(result.size, FIVE_MIB);
  t.equal(result.sha256, result.header_sha256, 'what arrived is what the app sent');
  const calls = await lab.waitForCalls('download records', (c) => c.path === `/bytes?n=${FIVE_MIB}&seed=42`);
  for (const record of calls) {
    t.match(record.response, { body_size: FIVE_MIB, truncated: true }, `${record.observer}: true size kept`);
    t.equal(capturedBytes(record.response), LIMIT, `${record.observer}: body cut at the limit`);
    t.ok(record.bytes_in > FIVE_MIB, `${record.observer}: bytes_in counts the whole response`);
  }
});

void t.test('a client reset in the middle of a response leaves client_timeout records on both sides', async (t) => {
  const path = '/stream?chunks=100&ms=20';
  const result = await lab.runClient<{ status: number; received_before_reset: number }>('reset-mid-response', lab.appUrl(path));
  t.equal(result.status, 200);
  t.ok(result.received_before_reset < 100 * 64 * 1024, 'the client reset before the end');
  const calls = await lab.waitForCalls('reset records', (c) => c.path === path);
  for (const record of calls) {
    // The client gave up on the call: both sidecars saw the reset come from the client's side.
    t.equal(record.error, 'client_timeout', `${record.observer}: error client_timeout`);
    t.equal(record.connection?.reset_by, 'client', `${record.observer}: reset by the client`);
    t.equal(record.status_code, 200, `${record.observer}: the status seen before the reset is kept`);
  }
  const outbound = calls.find((c) => c.observer === 'outbound');
  t.ok(outbound, 'the client sidecar recorded it');
  t.ok(calls.some((c) => c.observer === 'inbound'), 'the server sidecar recorded it');
});

void t.test('an app that resets its side shows as a reset to the client and in the records', async (t) => {
  const result = await lab.clientExec('curl', ['-sS', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}', lab.appUrl('/reset')]).catch((err: Error) => ({
    stdout: '',
    stderr: err.message,
  }));
  t.match(result.stderr, /reset|Recv failure|Empty reply/i, 'curl saw the connection fail');
  const calls = await lab.waitForCalls('app reset records', (c) => c.path === '/reset');
  for (const record of calls) t.ok(record.error === 'reset' || record.error === 'unpaired', `${record.observer}: error ${record.error}`);
});

void t.test('nothing is left behind', async (t) => {
  t.same(lab.sidecars.client.proc.exitCode, undefined, 'the client sidecar ran throughout');
  t.same(lab.sidecars.server.proc.exitCode, undefined, 'the server sidecar ran throughout');
  await lab.destroy();
  t.same(await lab.leftovers(), []);
});
