/**
 * Ingest limits: a collector holding its maximum of streams refuses more (counted), and the
 * refused sidecar gets in once a stream closes; records over a sidecar's rate are refused.
 */
import t from 'tap';
import { startCollector } from '../../collector/collector.ts';
import { resolveCollectorConfig, resolveCollectorOptions } from '../../collector/config.ts';
import { createIngestRateLimiter } from '../../collector/ingest-rate.ts';
import { createShipper } from '../../sidecar/shipper/create-shipper.ts';
import { fullRecord, sizedRecord } from '../proto/record-fixtures.ts';
import { metricValue, waitFor } from './helpers.ts';

void t.test('--max-ingest-streams: the stream beyond the limit is refused, counted, and retried', async (t) => {
  const collector = await startCollector(resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', maxIngestStreams: 1 }));
  t.teardown(() => collector.close({ force: true }));
  const options = { collectorAddr: `127.0.0.1:${collector.grpcPort}`, batchLingerMs: 5, backoffBaseMs: 20, backoffCapMs: 100 };
  const first = createShipper(options);
  first.offer(fullRecord(1));
  await waitFor('the first sidecar ships', () => first.stats().shipped === 1);
  const second = createShipper(options);
  t.teardown(() => second.close({ drainMs: 0 }));
  second.offer(fullRecord(2));
  await waitFor('the second stream refused', async () => (await metricValue(collector, 'meshtap_collector_ingest_streams_refused_total')) >= 1);
  t.equal(second.stats().shipped, 0, 'nothing shipped while refused');
  await first.close({ drainMs: 1000 });
  await waitFor('the second sidecar gets in after the first leaves', () => second.stats().shipped === 1, 20_000);
  t.equal(await collector.store.count(), 2, 'nothing lost');
  t.equal(resolveCollectorConfig({ 'max-ingest-streams': '10' }, {}).maxIngestStreams, 10);
  t.throws(() => resolveCollectorConfig({}, { MESHTAP_COLLECTOR_MAX_INGEST_STREAMS: '0' }), { message: /MESHTAP_COLLECTOR_MAX_INGEST_STREAMS must be a positive integer/ });
});

void t.test('the ingest rate limit: a token bucket per sidecar, burst then the rate', async (t) => {
  const limiter = createIngestRateLimiter({ recordsPerSecond: 100, burstSeconds: 2 });
  t.equal(limiter.take('a', 150, 0), 150, 'a full bucket takes a burst of two seconds of the rate');
  t.equal(limiter.take('a', 100, 0), 50, 'then only what is left');
  t.equal(limiter.take('a', 100, 0), 0, 'and nothing more at once');
  t.equal(limiter.take('a', 100, 500), 50, 'half a second later, half a second of the rate');
  t.equal(limiter.take('b', 100, 500), 100, 'another sidecar has its own bucket');
  t.equal(createIngestRateLimiter({ recordsPerSecond: 0 }).take('a', 1e6, 0), 1e6, '0: no limit');
  limiter.take('c', 1, 100_000);
  t.equal(limiter.buckets, 1, 'idle buckets are forgotten');
});

void t.test('--max-ingest-rate: records over a sidecar\'s rate are refused in the ack, counted, and not sent again', async (t) => {
  const collector = await startCollector(resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', maxIngestRate: 50 }));
  t.teardown(() => collector.close({ force: true }));
  const shipper = createShipper({ collectorAddr: `127.0.0.1:${collector.grpcPort}`, batchLingerMs: 5, backoffBaseMs: 20, backoffCapMs: 100 });
  t.teardown(() => shipper.close({ drainMs: 0 }));
  // 300 records at once: the bucket holds two seconds of 50 per second.
  for (let i = 0; i < 300; i++) shipper.offer(fullRecord(1000 + i));
  await waitFor('every batch acked', () => shipper.stats().shipped + shipper.stats().dropped.rejected === 300);
  const stored = await collector.store.count();
  t.ok(stored >= 100 && stored < 200, `about the burst stored (${stored})`);
  t.equal(shipper.stats().shipped, stored, 'the shipper counts what was stored as shipped');
  t.equal(shipper.stats().dropped.rejected, 300 - stored, 'and the refused records as rejected, not resent');
  t.equal(await metricValue(collector, 'meshtap_collector_records_rejected_total', { reason: 'rate_limited' }), 300 - stored, 'counted by the collector');
  t.equal(resolveCollectorConfig({ 'max-ingest-rate': '0' }, {}).maxIngestRate, 0, '0 is accepted (no limit)');
  t.equal(resolveCollectorConfig({}, {}).maxIngestRate, 20_000, 'the default');
  t.throws(() => resolveCollectorConfig({}, { MESHTAP_COLLECTOR_MAX_INGEST_RATE: 'fast' }), { message: /MESHTAP_COLLECTOR_MAX_INGEST_RATE must be a number of records per second/ });
});

void t.test('--max-ingest-message-bytes: a batch over the limit is refused in its ack, counted, and the stream keeps serving', async (t) => {
  const collector = await startCollector(resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', maxIngestMessageBytes: 64 * 1024 }));
  t.teardown(() => collector.close({ force: true }));
  const options = { collectorAddr: `127.0.0.1:${collector.grpcPort}`, batchLingerMs: 5, backoffBaseMs: 20, backoffCapMs: 100, maxSendAttempts: 2 };
  const big = createShipper(options);
  t.teardown(() => big.close({ drainMs: 0 }));
  big.offer(sizedRecord(1, 200 * 1024));
  await waitFor('the oversized batch refused', async () => (await metricValue(collector, 'meshtap_collector_batches_rejected_total', { reason: 'too_large' })) >= 1);
  await waitFor('the shipper counts it, not to be sent again', () => big.stats().dropped.collector_error === 1);
  t.equal(await collector.store.count(), 0, 'nothing stored from it');
  big.offer(fullRecord(2));
  await waitFor('the same stream carries the next batch', () => big.stats().shipped === 1);
  t.equal(big.stats().streamBreaks, 0, 'the stream was not broken');
  t.equal(resolveCollectorConfig({}, {}).maxIngestMessageBytes, 4 * 1024 * 1024, 'the default: four of the shipper\'s batches');
  t.throws(() => resolveCollectorConfig({ 'max-ingest-message-bytes': 'big' }, {}), { message: /--max-ingest-message-bytes must be a positive integer/ });
});
