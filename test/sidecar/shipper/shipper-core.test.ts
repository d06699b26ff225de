import t from 'tap';
import { resolveShipperConfig, type ShipperOptions } from '../../../sidecar/shipper/config.ts';
import type { DropReason, ShipperMetrics } from '../../../sidecar/shipper/metrics.ts';
import { createShipperCore, type ShipperEvent } from '../../../sidecar/shipper/shipper.ts';
import type { CallRecord } from '../../../record/record.ts';
import { minimalRecord, sizedRecord } from '../../proto/record-fixtures.ts';
import { createFakeTransport, createManualClock } from './fakes.ts';

function setup(options: Partial<ShipperOptions> = {}, extra: { metrics?: ShipperMetrics } = {}) {
  const clock = createManualClock();
  const transport = createFakeTransport();
  const events: ShipperEvent[] = [];
  const config = resolveShipperConfig({ collectorAddr: '127.0.0.1:1', batchLingerMs: 0, ...options });
  const shipper = createShipperCore(config, { clock, transport, random: () => 0.5, log: (e) => events.push(e), metrics: extra.metrics });
  return { clock, transport, shipper, events };
}

const ids = (records: { id: string }[]) => records.map((r) => r.id);
const records = (n: number, from = 0): CallRecord[] => Array.from({ length: n }, (_, i) => minimalRecord(from + i));

void t.test('unacked batches are re-sent, in order, after the stream breaks', async (t) => {
  const { clock, transport, shipper, events } = setup({ maxInFlightBatches: 2, batchMaxRecords: 2 });
  await clock.advance(0);
  for (const r of records(5)) t.ok(shipper.offer(r));
  await clock.advance(0);
  const first = transport.current();
  t.same(first.sent.map((b) => ids(b.records)), [['min-0', 'min-1'], ['min-2', 'min-3']], 'two batches in flight, the third waits');
  first.ack(1);
  await clock.advance(0);
  t.same(ids(first.sent[2].records), ['min-4'], 'an ack frees a slot');
  first.breakStream('collector went away');
  t.equal(shipper.stats().connected, false);
  t.equal(shipper.stats().queueRecords, 3, 'unacked records back in the queue');
  const reconnect = events.find((e) => e.event === 'stream_closed');
  t.equal(reconnect?.delayMs, 50, 'backoff with the injected jitter (0.5 * 100 ms)');
  await clock.advance(49);
  t.equal(transport.streams.length, 1, 'no reconnect before the backoff ran out');
  await clock.advance(1);
  const second = transport.current();
  t.not(second, first, 'a new stream');
  t.same(second.sent.map((b) => [String(b.seq), ...ids(b.records)]), [['1', 'min-2', 'min-3'], ['2', 'min-4']], 're-sent oldest first, seq restarts');
  second.ack(1);
  second.ack(2);
  await clock.advance(0);
  const s = shipper.stats();
  t.equal(s.shipped, 5);
  t.equal(s.droppedTotal, 0);
  t.equal(s.batchesResent, 2);
  t.equal(s.streamBreaks, 1);
  t.equal(s.heldBytes, 0, 'nothing held once all is acked');
});

void t.test('records are dropped as stream_broken after maxSendAttempts broken streams', async (t) => {
  const { clock, transport, shipper } = setup({ maxSendAttempts: 2 });
  await clock.advance(0);
  shipper.offer(minimalRecord(1));
  await clock.advance(0);
  transport.current().breakStream();
  await clock.advance(10_000);
  t.equal(transport.streams.length, 2);
  t.equal(transport.current().sent.length, 1, 'second attempt');
  transport.current().breakStream();
  await clock.advance(10_000);
  t.equal(transport.current().sent.length, 0, 'not sent a third time');
  t.equal(shipper.stats().dropped.stream_broken, 1);
  t.equal(shipper.stats().heldBytes, 0);
});

void t.test('drop reasons: too_large, queue_full, collector_unavailable, rejected, collector_error', async (t) => {
  const { clock, transport, shipper } = setup({ batchMaxBytes: 4096, maxQueueBytes: 8192, maxInFlightBatches: 1, batchMaxRecords: 1 });
  await clock.advance(0);
  t.notOk(shipper.offer(sizedRecord(0, 5000)), 'bigger than a batch');
  t.equal(shipper.stats().dropped.too_large, 1);

  // connected, one batch in flight and never acked: the queue fills
  let accepted = 0;
  for (let i = 0; i < 20; i++) if (shipper.offer(sizedRecord(i, 1000))) accepted++;
  t.ok(accepted >= 4 && accepted < 20, `some accepted (${accepted})`);
  t.equal(shipper.stats().dropped.queue_full, 20 - accepted, 'the rest counted queue_full while connected');

  // collector gone: the same overflow is collector_unavailable
  transport.down = true;
  transport.current().breakStream();
  t.notOk(shipper.offer(sizedRecord(99, 1000)));
  t.equal(shipper.stats().dropped.collector_unavailable, 1);

  transport.down = false;
  await clock.advance(100);
  const stream = transport.current();
  t.equal(stream.sent.length, 1);
  stream.ack(1, 0, { rejected: 1, rejections: [{ index: 0, reason: 'bad_time' }] });
  await clock.advance(0);
  t.equal(shipper.stats().dropped.rejected, 1, 'refused by the collector');
  stream.ack(2, 0, { error: 'store failed' });
  await clock.advance(0);
  t.equal(shipper.stats().dropped.collector_error, 1);
  const s = shipper.stats();
  t.equal(s.offered, s.shipped + s.droppedTotal + s.queueRecords + s.inFlightRecords, 'every offered record is accounted for');
});

void t.test('offer never throws and counts what it refuses', async (t) => {
  const { shipper } = setup();
  t.equal(shipper.offer(null as unknown as CallRecord), false);
  t.equal(shipper.offer({ id: 'x' } as unknown as CallRecord), false);
  t.equal(shipper.stats().dropped.rejected, 2);
  await shipper.close({ drainMs: 0 });
});

void t.test('batches by linger time when below the count and byte limits', async (t) => {
  const { clock, transport, shipper } = setup({ batchLingerMs: 100, batchMaxRecords: 3 });
  await clock.advance(0);
  shipper.offer(minimalRecord(1));
  shipper.offer(minimalRecord(2));
  await clock.advance(50);
  t.equal(transport.current().sent.length, 0, 'waits for more');
  await clock.advance(50);
  t.same(ids(transport.current().sent[0].records), ['min-1', 'min-2'], 'sent when the oldest waited 100 ms');
  for (const r of records(3, 10)) shipper.offer(r);
  await clock.advance(0);
  t.equal(transport.current().sent.length, 2, 'a full batch goes at once');
});

void t.test('close drains what it can, then counts the rest as shutdown', async (t) => {
  const { clock, transport, shipper } = setup({ batchLingerMs: 60_000 });
  await clock.advance(0);
  for (const r of records(3)) shipper.offer(r);
  await clock.advance(0);
  t.equal(transport.current().sent.length, 0, 'lingering');
  const closing = shipper.close({ drainMs: 1000 });
  await clock.advance(0);
  t.equal(transport.current().sent.length, 1, 'close flushes at once');
  t.notOk(shipper.offer(minimalRecord(9)), 'no new records while closing');
  transport.current().ack(1);
  const final = await closing;
  t.equal(final.shipped, 3);
  t.equal(final.dropped.shutdown, 1, 'the record offered during close');
  t.ok(transport.current().ended, 'stream half-closed after the drain');

  const down = setup();
  down.transport.down = true;
  await down.clock.advance(0);
  for (const r of records(4)) down.shipper.offer(r);
  const closing2 = down.shipper.close({ drainMs: 500 });
  await down.clock.advance(500);
  const s = await closing2;
  t.equal(s.dropped.shutdown, 4, 'undeliverable records counted at the deadline');
  t.equal(s.closed, true);
  t.ok(down.transport.closed);
});

void t.test('metrics hooks see every count; a throwing hook breaks nothing', async (t) => {
  const seen: Record<string, number> = {};
  const bump = (k: string, n = 1) => (seen[k] = (seen[k] ?? 0) + n);
  const metrics: ShipperMetrics = {
    recordsOffered: (n) => bump('offered', n),
    recordsShipped: (n) => bump('shipped', n),
    recordsDropped: (reason: DropReason, n) => bump(`dropped:${reason}`, n),
    batchSent: () => {
      throw new Error('broken metrics');
    },
    streamConnected: () => bump('connected'),
  };
  const { clock, transport, shipper, events } = setup({ batchMaxBytes: 2048 }, { metrics });
  await clock.advance(0);
  shipper.offer(minimalRecord(1));
  shipper.offer(sizedRecord(2, 4000));
  await clock.advance(0);
  transport.current().ack(1);
  await clock.advance(0);
  t.same(seen, { connected: 1, offered: 2, 'dropped:too_large': 1, shipped: 1 });
  t.ok(events.some((e) => e.event === 'metrics_hook_failed'));
});
