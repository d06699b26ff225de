import t from 'tap';
import { createBackoff } from '../../../lib/backoff.ts';
import { decideBatch } from '../../../sidecar/shipper/batcher.ts';
import { createByteQueue } from '../../../sidecar/shipper/byte-queue.ts';
import { resolveShipperConfig } from '../../../sidecar/shipper/config.ts';

void t.test('byte queue: bounded by bytes, queued plus reserved', async (t) => {
  const q = createByteQueue<string>(100);
  t.ok(q.tryPush('a', 40, 1));
  t.ok(q.tryPush('b', 40, 2));
  t.notOk(q.tryPush('c', 21, 3), 'would exceed 100 bytes');
  t.ok(q.tryPush('c', 20, 3), 'exactly 100 fits');
  t.notOk(q.tryPush('d', 1, 4), 'full');
  t.equal(q.queuedBytes, 100);
  t.equal(q.queuedRecords, 3);
  t.equal(q.oldestAt(), 1);

  const taken = q.take(10, 80);
  t.same(taken.map((e) => e.item), ['a', 'b'], 'takes up to the byte limit');
  t.equal(q.queuedBytes, 20);
  t.equal(q.reservedBytes, 80);
  t.notOk(q.tryPush('d', 1, 4), 'reserved (in-flight) bytes still count against the bound');

  q.restore(taken);
  t.same(q.take(10, 1000).map((e) => e.item), ['a', 'b', 'c'], 'restored entries come first, in order');
  t.equal(q.reservedRecords, 3);
  q.release(q.drain());
  t.equal(q.queuedRecords, 0);
});

void t.test('byte queue: take limits, oversized first entry, release frees room', async (t) => {
  const q = createByteQueue<number>(1000);
  for (let i = 0; i < 10; i++) q.tryPush(i, 50, i);
  t.same(q.take(3, 1000).map((e) => e.item), [0, 1, 2], 'record count limit');
  const big = createByteQueue<number>(1000);
  big.tryPush(1, 500, 0);
  big.tryPush(2, 10, 0);
  t.same(big.take(10, 100).map((e) => e.item), [1], 'a first entry over the byte limit still goes alone');
  const batch = q.take(2, 1000);
  t.equal(q.reservedBytes, 250);
  q.release(batch);
  t.equal(q.reservedBytes, 150);
  t.equal(q.reservedRecords, 3);
  t.equal(q.queuedRecords, 5);
  t.equal(q.oldestAt(), 5);
});

void t.test('byte queue: stays FIFO across many pushes and takes (compaction)', async (t) => {
  const q = createByteQueue<number>(1e9);
  const out: number[] = [];
  let pushed = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 100; i++) q.tryPush(pushed++, 1, 0);
    const taken = q.take(77, 1e9);
    q.release(taken);
    out.push(...taken.map((e) => e.item));
    if (round % 7 === 0) {
      const again = q.take(5, 1e9);
      q.restore(again);
    }
  }
  out.push(...q.drain().map((e) => e.item));
  t.same(out, Array.from({ length: pushed }, (_, i) => i));
});

void t.test('batcher: count, bytes, linger, flush', async (t) => {
  const limits = { maxRecords: 256, maxBytes: 1000, lingerMs: 100 };
  t.same(decideBatch({ queuedRecords: 0, queuedBytes: 0, oldestAt: undefined }, 0, limits), { send: false, waitMs: undefined });
  t.same(decideBatch({ queuedRecords: 256, queuedBytes: 10, oldestAt: 0 }, 0, limits), { send: true }, 'full by count');
  t.same(decideBatch({ queuedRecords: 2, queuedBytes: 1000, oldestAt: 0 }, 0, limits), { send: true }, 'full by bytes');
  t.same(decideBatch({ queuedRecords: 2, queuedBytes: 10, oldestAt: 1000 }, 1030, limits), { send: false, waitMs: 70 }, 'lingers');
  t.same(decideBatch({ queuedRecords: 2, queuedBytes: 10, oldestAt: 1000 }, 1100, limits), { send: true }, 'linger over');
  t.same(decideBatch({ queuedRecords: 2, queuedBytes: 10, oldestAt: 1000 }, 1001, limits, true), { send: true }, 'flush');
});

void t.test('backoff: exponential ceilings, full jitter, cap, reset', async (t) => {
  const draws: number[] = [];
  let r = 0.999999;
  const b = createBackoff({ baseMs: 100, capMs: 10_000, random: () => r });
  for (let i = 0; i < 10; i++) draws.push(b.next());
  t.same(draws, [99, 199, 399, 799, 1599, 3199, 6399, 9999, 9999, 9999], 'doubles up to the cap');
  t.equal(b.attempts, 10);
  r = 0;
  t.equal(b.next(), 0, 'full jitter reaches 0');
  r = 0.5;
  b.reset();
  t.same([b.next(), b.next(), b.next()], [50, 100, 200], 'reset starts over');
  for (let i = 0; i < 2000; i++) b.next();
  t.equal(b.next(), 5000, 'no overflow after many attempts');
  const spread = createBackoff({ baseMs: 100, capMs: 10_000, random: Math.random });
  const values = Array.from({ length: 200 }, () => {
    spread.reset();
    spread.next();
    spread.next();
    return spread.next();
  });
  t.ok(values.every((v) => v >= 0 && v < 400), 'third attempt within [0, 400)');
  t.ok(new Set(values).size > 50, 'jittered');
});

void t.test('shipper config: defaults, validation with key and value', async (t) => {
  const c = resolveShipperConfig({ collectorAddr: '127.0.0.1:9090' });
  t.equal(c.maxQueueBytes, 16 * 1024 * 1024);
  t.equal(c.batchMaxRecords, 256);
  t.equal(c.batchMaxBytes, 1024 * 1024);
  t.equal(c.batchLingerMs, 100);
  t.equal(c.backoffBaseMs, 100);
  t.equal(c.backoffCapMs, 10_000);
  t.ok(Object.isFrozen(c));
  t.throws(() => resolveShipperConfig({ collectorAddr: 'nowhere' }), { code: 'SC_ERR_SHIPPER_CONFIG', message: /collectorAddr="nowhere"/ });
  t.throws(() => resolveShipperConfig({ collectorAddr: 'a:1', maxQueueBytes: -1 }), { message: /maxQueueBytes=-1/ });
  t.throws(() => resolveShipperConfig({ collectorAddr: 'a:1', queueBytes: 5 } as never), { message: /queueBytes|unrecognized/i }, 'unknown keys fail');
  t.throws(() => resolveShipperConfig({ collectorAddr: 'a:1', maxQueueBytes: 10, batchMaxBytes: 100 }), { message: /batchMaxBytes/ });
  t.ok(resolveShipperConfig({ collectorAddr: '[::1]:9090' }));
});
