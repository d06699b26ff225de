/** Ingest limits: a collector holding its maximum of streams refuses more (counted), and the refused sidecar gets in once a stream closes. */
import t from 'tap';
import { startCollector } from '../../collector/collector.ts';
import { resolveCollectorConfig, resolveCollectorOptions } from '../../collector/config.ts';
import { createShipper } from '../../sidecar/shipper/create-shipper.ts';
import { fullRecord } from '../proto/record-fixtures.ts';
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
