/**
 * The sidecar's Prometheus client (lib/prom/) against prom-client, the reference the collector
 * and webhook use: the same metrics fed the same values write the same exposition text; and
 * what prom-client refuses, this refuses too.
 */
import * as reference from 'prom-client';
import t from 'tap';
import { Counter, Gauge, Histogram, PROMETHEUS_CONTENT_TYPE, Registry, registerProcessMetrics } from '../../../lib/prom/index.ts';

type Feed = {
  counter: (labels: Record<string, string>, n: number) => void;
  plain: (n: number) => void;
  gauge: (labels: Record<string, string>, v: number) => void;
  hist: (v: number) => void;
};

function drive(feed: Feed): void {
  feed.counter({ direction: 'outbound', protocol: 'http' }, 3);
  feed.counter({ direction: 'inbound', protocol: 'a "quoted"\\ value\nwith a newline' }, 2);
  feed.counter({ direction: 'outbound', protocol: 'http' }, 4);
  feed.plain(1.5);
  feed.gauge({ direction: 'inbound' }, -2);
  feed.gauge({ direction: 'outbound' }, 1e21);
  feed.gauge({ direction: 'inbound' }, 0.25);
  for (const v of [0.0005, 0.001, 0.003, 0.2, 7, 1000]) feed.hist(v);
}

const HELP = 'Help with a backslash \\ and a\nnewline.';
const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

void t.test('writes what prom-client writes for the same counters, gauges and histogram', async (t) => {
  const ours = new Registry();
  const c = new Counter({ name: 'x_connections_total', help: HELP, labelNames: ['direction', 'protocol'], registers: [ours] });
  const p = new Counter({ name: 'x_plain_total', help: 'Plain.', registers: [ours] });
  new Counter({ name: 'x_untouched_total', help: 'Never counted.', registers: [ours] });
  const g = new Gauge({ name: 'x_active', help: 'Active.', labelNames: ['direction'], registers: [ours] });
  const h = new Histogram({ name: 'x_ack_seconds', help: 'Ack.', buckets: BUCKETS, registers: [ours] });
  const theirs = new reference.Registry();
  const rc = new reference.Counter({ name: 'x_connections_total', help: HELP, labelNames: ['direction', 'protocol'], registers: [theirs] });
  const rp = new reference.Counter({ name: 'x_plain_total', help: 'Plain.', registers: [theirs] });
  new reference.Counter({ name: 'x_untouched_total', help: 'Never counted.', registers: [theirs] });
  const rg = new reference.Gauge({ name: 'x_active', help: 'Active.', labelNames: ['direction'], registers: [theirs] });
  const rh = new reference.Histogram({ name: 'x_ack_seconds', help: 'Ack.', buckets: BUCKETS, registers: [theirs] });
  drive({ counter: (l, n) => c.inc(l, n), plain: (n) => p.inc(n), gauge: (l, v) => g.set(l, v), hist: (v) => h.observe(v) });
  drive({ counter: (l, n) => rc.inc(l, n), plain: (n) => rp.inc(n), gauge: (l, v) => rg.set(l, v), hist: (v) => rh.observe(v) });
  t.equal(await ours.metrics(), await theirs.metrics());
  t.equal(ours.contentType, theirs.contentType);
  t.equal(PROMETHEUS_CONTENT_TYPE, reference.Registry.PROMETHEUS_CONTENT_TYPE);
});

void t.test('collect() runs before every scrape; reset() forgets label sets', async (t) => {
  const registry = new Registry();
  const totals: Record<string, number> = { a: 1 };
  let scrapes = 0;
  new Counter({
    name: 'x_by_reason_total',
    help: 'By reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      scrapes++;
      this.reset();
      for (const [reason, n] of Object.entries(totals)) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: 'x_level',
    help: 'Level.',
    registers: [registry],
    collect() {
      this.set(totals.a * 10);
    },
  });
  t.match(await registry.metrics(), /^x_by_reason_total\{reason="a"\} 1$/m);
  delete totals.a;
  totals.b = 5;
  const text = await registry.metrics();
  t.notMatch(text, /reason="a"/, 'a label set gone from the source is gone from the scrape');
  t.match(text, /^x_by_reason_total\{reason="b"\} 5$/m);
  t.match(text, /^x_level NaN$/m, 'a value that is not a number is written as NaN');
  t.equal(scrapes, 2);
});

void t.test('what prom-client refuses is refused, with the metric named', async (t) => {
  const registry = new Registry();
  const c = new Counter({ name: 'x_total', help: 'X.', labelNames: ['reason'], registers: [registry] });
  t.throws(() => c.inc({ reason: 'a' }, -1), /x_total: a counter goes up/);
  t.throws(() => c.inc({ reason: 'a' }, Infinity), /finite/);
  t.throws(() => c.inc({ other: 'a' }), /x_total: label reason is required/);
  t.throws(() => c.inc({ reason: 'a', other: 'b' }), /x_total: unknown label other/);
  t.throws(() => c.inc(), /labels reason are required/);
  t.throws(() => new Counter({ name: 'x_total', help: 'again', registers: [registry] }), /already registered/);
  t.throws(() => new Counter({ name: 'bad-name', help: 'X.' }), /invalid metric name "bad-name"/);
  t.throws(() => new Gauge({ name: 'x_g', help: 'X.', labelNames: ['__reserved'] }), /invalid label name/);
  t.throws(() => new Histogram({ name: 'x_h', help: 'X.', buckets: [] }), /buckets/);
  t.throws(() => new Histogram({ name: 'x_h', help: 'X.', buckets: [1], labelNames: ['le'] }), /"le"/);
  const plain = new Gauge({ name: 'x_plain', help: 'X.' });
  t.throws(() => plain.set({ reason: 'a' }, 1), /has no labels/);
  new Gauge({
    name: 'x_broken',
    help: 'Throws at scrape.',
    registers: [registry],
    collect() {
      throw new Error('source gone');
    },
  });
  await t.rejects(registry.metrics(), /source gone/, 'a failing collect fails the scrape, not the process');
});

void t.test('labelled histograms and label values that are numbers', async (t) => {
  const ours = new Registry();
  const theirs = new reference.Registry();
  // Given out of order, our buckets are sorted (prom-client's counts come out wrong then).
  const h = new Histogram({ name: 'x_size_bytes', help: 'Size.', labelNames: ['code'], buckets: [100, 10, 1000], registers: [ours] });
  const rh = new reference.Histogram({ name: 'x_size_bytes', help: 'Size.', labelNames: ['code'], buckets: [10, 100, 1000], registers: [theirs] });
  for (const [code, v] of [[200, 5], [500, 50], [200, 5000], [200, 10]] as const) {
    h.observe({ code }, v);
    rh.observe({ code }, v);
  }
  t.equal(await ours.metrics(), await theirs.metrics());
  t.same(h.buckets, [10, 100, 1000]);
});

void t.test('the process metrics carry the usual names and live values', async (t) => {
  const registry = new Registry();
  registerProcessMetrics(registry);
  const text = await registry.metrics();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  for (const name of ['process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes']) {
    t.ok(value(name) > 0, `${name} > 0`);
  }
  t.ok(Math.abs(value('process_start_time_seconds') - (Date.now() / 1000 - process.uptime())) < 2, 'start time');
  t.ok(Math.abs(value('process_resident_memory_bytes') - process.memoryUsage.rss()) < 64 * 1024 * 1024, 'RSS is this process');
  t.match(text, new RegExp(`^nodejs_version_info\\{version="${process.version}",major="\\d+",minor="\\d+",patch="\\d+"\\} 1$`, 'm'));
  t.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
  const before = value('process_cpu_seconds_total');
  const until = performance.now() + 30;
  while (performance.now() < until);
  const after = Number(/^process_cpu_seconds_total (\S+)$/m.exec(await registry.metrics())?.[1]);
  t.ok(after > before, 'CPU read afresh at each scrape');
});
