/** The shipper's log lines: an unreachable collector is a warning at the default level, once a minute. */
import t from 'tap';
import { CONNECT_WARN_EVERY_MS, createShipperLog } from '../../../sidecar/shipper/shipper-log.ts';

void t.test('connect failures: the first and then one a minute warn, with the count; connected says after how many', async (t) => {
  let now = 1_000_000;
  const line = createShipperLog('collector.example:9400', () => now);
  const first = line({ event: 'connect_failed', detail: '14 UNAVAILABLE: Invalid URL', delayMs: 1000 });
  t.equal(first.level, 'warn');
  t.match(first.message, /cannot reach the collector/);
  t.match(first.fields, { collector: 'collector.example:9400', failures: 1, detail: '14 UNAVAILABLE: Invalid URL' });
  now += 5000;
  t.equal(line({ event: 'connect_failed', detail: 'again' }).level, 'debug', 'the retries in between are debug');
  now += CONNECT_WARN_EVERY_MS;
  const later = line({ event: 'connect_failed', detail: 'still' });
  t.equal(later.level, 'warn', 'a minute on, again');
  t.equal(later.fields.failures, 3);
  const connected = line({ event: 'connected' });
  t.equal(connected.level, 'info');
  t.equal(connected.fields.after_failures, 3);
  t.equal(line({ event: 'connect_failed' }).level, 'warn', 'a new outage warns at once');
  t.equal(line({ event: 'connected' }).level, 'info');
  t.same(line({ event: 'connected' }).fields, { event: 'connected' }, 'no count without failures');
  t.equal(line({ event: 'stream_closed', detail: 'x' }).level, 'info');
  t.equal(line({ event: 'unexpected_ack' }).level, 'debug');
});
