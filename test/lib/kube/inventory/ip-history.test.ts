import t from 'tap';
import { IpHistory } from '../../../../lib/kube/inventory/ip-history.ts';

const ip = '10.0.0.1';

void t.test('open, close, lookup with and without grace', async (t) => {
  const h = new IpHistory<string>();
  h.open(ip, 'a', 100n);
  h.close(ip, 'a', 200n);
  h.open(ip, 'b', 250n);
  t.equal(h.lookup(ip, 150n, 0n), 'a');
  t.equal(h.lookup(ip, 200n, 0n), undefined, 'intervals are half-open');
  t.equal(h.lookup(ip, 240n, 0n), undefined, 'a gap');
  t.equal(h.lookup(ip, 240n, 20n), 'b', 'nearest within the grace');
  t.equal(h.lookup(ip, 210n, 20n), 'a');
  t.equal(h.lookup(ip, 90n, 5n), undefined);
  t.equal(h.lookup(ip, 10_000n, 0n), 'b', 'open ended');
  t.equal(h.lookup('10.0.0.2', 150n, 1000n), undefined);
  h.open(ip, 'b', 300n);
  t.same(h.intervals(ip).map((e) => [e.key, e.from, e.to]), [['a', 100n, 200n], ['b', 250n, undefined]], 're-opening an open holding changes nothing');
  h.close(ip, 'a', 400n);
  t.equal(h.lookup(ip, 400n, 0n), 'b', 'closing someone who no longer holds it changes nothing');
});

void t.test('a newer claim closes the open holder; history is never rewritten', async (t) => {
  const h = new IpHistory<string>();
  h.open(ip, 'a', 100n);
  h.open(ip, 'b', 150n);
  t.same(h.intervals(ip).map((e) => [e.key, e.from, e.to]), [['a', 100n, 150n], ['b', 150n, undefined]]);
  h.close(ip, 'b', 180n);
  h.open(ip, 'c', 170n);
  t.same(h.intervals(ip).at(-1), { key: 'c', from: 180n }, 'starts where the previous one ended');
  h.open(ip, 'd', 50n, 400n);
  t.same(
    h.intervals(ip).map((e) => [e.key, e.from, e.to]),
    [['a', 100n, 150n], ['b', 150n, 180n], ['c', 180n, 400n], ['d', 400n, undefined]],
    'a claim dated before the open holder began takes over when it was seen',
  );
  t.equal(h.lookup(ip, 175n, 0n), 'b');
  t.equal(h.lookup(ip, 399n, 0n), 'c');
});

void t.test('closed holdings learnt late fill gaps only', async (t) => {
  const h = new IpHistory<string>();
  h.open(ip, 'live', 500n);
  h.insertClosed(ip, 'past', 100n, 200n);
  h.insertClosed(ip, 'overlapping', 450n, 600n);
  h.insertClosed(ip, 'inside-open', 700n, 800n);
  h.insertClosed(ip, 'straddle', 150n, 300n);
  t.same(
    h.intervals(ip).map((e) => [e.key, e.from, e.to]),
    [
      ['past', 100n, 200n],
      ['straddle', 200n, 300n],
      ['overlapping', 450n, 500n],
      ['live', 500n, undefined],
    ],
  );
  h.insertClosed(ip, 'empty', 10n, 10n);
  t.equal(h.lookup(ip, 10n, 0n), undefined);
});

void t.test('pruning and the per-address bound', async (t) => {
  const h = new IpHistory<string>({ maxPerAddress: 3 });
  for (let i = 0; i < 6; i++) {
    h.open(ip, `p${i}`, BigInt(i * 100));
    h.close(ip, `p${i}`, BigInt(i * 100 + 50));
  }
  t.same(h.intervals(ip).map((e) => e.key), ['p3', 'p4', 'p5'], 'oldest closed holdings dropped first');
  t.same(h.prune(460n), ['p3', 'p4']);
  t.equal(h.holds(ip, 'p5'), true);
  t.same(h.prune(10_000n), ['p5']);
  t.equal(h.size, 0, 'an address with no history is forgotten');
});
