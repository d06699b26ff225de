/** The bench's record account: read from real sidecar expositions, lost records split into counted causes and the unaccounted rest. */
import t from 'tap';
import { describeAccount, recordAccount, samples, sidecarCounters } from '../../bench/sidecar-counters.ts';
import { createSidecarMetrics, createSidecarStats, type SidecarStats } from '../../sidecar/metrics.ts';

function sidecar(): { stats: SidecarStats; skipped: Record<string, number>; shipperDropped: Record<string, number>; text: () => Promise<string> } {
  const stats = createSidecarStats();
  const skipped: Record<string, number> = {};
  const shipperDropped: Record<string, number> = {};
  const registry = createSidecarMetrics({
    stats,
    shipper: () => ({ shipped: 0, dropped: shipperDropped }),
    draining: () => false,
    capture: () => ({ inFlightBytes: 0, skippedBytes: skipped, workerRestarts: 0 }),
  });
  return { stats, skipped, shipperDropped, text: () => registry.metrics() };
}

void t.test('samples reads one metric with its labels, and nothing of metrics whose name only starts the same', (t) => {
  const text = ['# HELP a_total x', '# TYPE a_total counter', 'a_total{reason="q\\"x",b="2"} 3', 'a_total_more 9', 'a_total 4', 'a_total{reason="y"} NaN'].join('\n');
  t.same(samples(text, 'a_total'), [
    { labels: { reason: 'q\\"x', b: '2' }, value: 3 },
    { labels: {}, value: 4 },
  ]);
  t.end();
});

void t.test('two sidecars: counters summed, the run is the difference, causes explain the loss', async (t) => {
  const a = sidecar();
  const b = sidecar();
  a.stats.records.emitted = 100;
  b.stats.records.emitted = 100;
  const before = sidecarCounters([await a.text(), await b.text()]);
  t.equal(before.emitted, 200);

  // The run: 1000 requests, so 2000 records expected. Client side: every record made, 5
  // dropped by the shipper's full queue; server side: capture cut twice, 40 calls never made.
  a.stats.records.emitted += 1000;
  a.shipperDropped.queue_full = 5;
  b.stats.records.emitted += 960;
  b.stats.captureOverflow.sidecar_budget = 2;
  b.skipped.sidecar_budget = 3 * 2 ** 20;
  const after = sidecarCounters([await a.text(), await b.text()]);

  const account = recordAccount(before, after, 2000, 1955);
  t.same(account, {
    expected: 2000,
    stored: 1955,
    lost: 45,
    emitted: 1960,
    notMade: 40,
    dropped: { queue_full: 5 },
    cut: { sidecar_budget: 2 },
    skippedBytes: 3 * 2 ** 20,
    unaccounted: 0,
  });
  t.equal(describeAccount(account), '45: 40 not made (cut sidecar_budget 2; 3.0 MiB skipped), 5 dropped (queue_full 5), 0 unaccounted');
});

void t.test('records missing with no counted cause are unaccounted', async (t) => {
  const a = sidecar();
  const before = sidecarCounters([await a.text()]);
  a.stats.records.emitted = 90;
  const after = sidecarCounters([await a.text()]);
  // 100 expected, 90 made with nothing cut or skipped, 85 stored: all 15 are unexplained.
  const account = recordAccount(before, after, 100, 85);
  t.equal(account.unaccounted, 15);
  t.equal(describeAccount(account), '15: 10 not made, 15 unaccounted');
  t.equal(describeAccount(recordAccount(before, after, 100, 100)), '0');
});
