/**
 * A record's times are when forwarding read the bytes (`seenAt`, taken before the write), not
 * when the hand-off was called after it: the peer's sidecar may record the forwarded bytes in
 * between. A real worker thread, the hand-off as the proxy calls it.
 */
import t from 'tap';
import { collectorMessageType } from '../../../record/codec.ts';
import { createEpochClock } from '../../../sidecar/clock.ts';
import { createCaptureHandOff } from '../../../sidecar/capture-worker/hand-off.ts';
import { createSidecarStats } from '../../../sidecar/metrics.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const recordType = collectorMessageType('meshtap.v1.CallRecord');

void t.test('clientData/serverData with seenAt: the record starts and ends at those times', async (t) => {
  const stats = createSidecarStats();
  const records: { start: string; end: string; path?: string }[] = [];
  const clock = createEpochClock();
  const handOff = createCaptureHandOff({
    worker: { maxBodyBytes: 1024, detectTimeoutMs: 50, local: { pod: 'web', namespace: 'shop' }, mask: {}, shipping: true },
    clock,
    stats,
    onRecords: (batch) => {
      for (const r of batch) records.push(recordType.toObject(recordType.decode(r), { longs: String }) as { start: string; end: string; path?: string });
    },
  });
  t.teardown(() => handOff.close(2000));
  await handOff.ready();
  const capture = handOff.open({ connectionId: 'seen-at', observer: 'outbound', client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 8080 }, mesh: false }, stats.outbound);
  const requestSeen = performance.now() - 40;
  const responseSeen = performance.now() - 20;
  capture.clientData(Buffer.from('GET /seen-at HTTP/1.1\r\nhost: web\r\ncontent-length: 0\r\n\r\n'), requestSeen);
  capture.serverData(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), responseSeen);
  capture.close('fin');
  await waitFor('the record', () => records.length === 1, 10_000);
  const wall = (ms: number): number => performance.timeOrigin + ms;
  const startMs = Number(BigInt(records[0].start) / 1000n) / 1000;
  const endMs = Number(BigInt(records[0].end) / 1000n) / 1000;
  t.equal(records[0].path, '/seen-at');
  t.ok(Math.abs(startMs - wall(requestSeen)) < 1, `starts when the request was read (off by ${(startMs - wall(requestSeen)).toFixed(3)} ms), not 40 ms later`);
  t.ok(Math.abs(endMs - wall(responseSeen)) < 1, `ends when the response was read (off by ${(endMs - wall(responseSeen)).toFixed(3)} ms)`);
});
