/**
 * From finished exchanges to records: off the relay's callback, bounded, masked, counted, and
 * the TCP retry of a truncated UDP answer recognised within its window only.
 */
import t from 'tap';
import dnsPacket from 'dns-packet';
import type { CallRecord } from '../../../record/record.ts';
import { MAX_QUEUED_EXCHANGES, createDnsCapture } from '../../../sidecar/dns/dns-capture.ts';
import { TCP_RETRY_NOTE, TRUNCATED_NOTE, type DnsExchange } from '../../../sidecar/dns/dns-record.ts';
import { createDnsStats } from '../../../sidecar/dns/stats.ts';
import { RETRY_WINDOW_NS, TruncationMemory } from '../../../sidecar/dns/truncation-memory.ts';

const query = (id: number, name = 'big.test') => dnsPacket.encode({ type: 'query', id, questions: [{ name, type: 'A', class: 'IN' }] });
const answer = (id: number, tc: boolean, name = 'big.test') =>
  dnsPacket.encode({ type: 'response', id, flags: tc ? dnsPacket.TRUNCATED_RESPONSE : 0, questions: [{ name, type: 'A', class: 'IN' }], answers: [{ name, type: 'A', ttl: 5, data: '10.0.0.1' }] });

function exchange(over: Partial<DnsExchange> & Pick<DnsExchange, 'transport' | 'query'>): DnsExchange {
  return { connectionId: 'c', ordinal: 0, client: { ip: '10.0.0.9', port: 4000 }, resolver: { ip: '10.96.0.10', port: 53 }, queryAt: 1_000n, endAt: 2_000n, ...over };
}

void t.test('records are made after the relay callback returns, masked, and shipped', async (t) => {
  const stats = createDnsStats();
  const shipped: CallRecord[] = [];
  const capture = createDnsCapture({
    build: { local: { pod: 'p', namespace: 'n', node: 'node-1' }, maxBodyBytes: 64 },
    stats,
    mask: (r) => ({ ...r, redacted: ['masked-by-test'] }),
    ship: (r) => shipped.push(r) > 0,
  });
  capture.offer(exchange({ transport: 'udp', query: query(1), answer: answer(1, false), answerAt: 1_500n }));
  t.equal(shipped.length, 0, 'nothing is built inside offer()');
  await new Promise((r) => setImmediate(r));
  t.equal(shipped.length, 1);
  t.same(shipped[0].redacted, ['masked-by-test'], 'the mask ran');
  t.same(shipped[0].src, { ip: '10.0.0.9', port: 4000, pod: 'p', namespace: 'n', node: 'node-1' });
  t.equal(shipped[0].response!.truncated, true, 'bodies respect the body limit');
  t.ok(shipped[0].response!.body_size > 64, 'with the true size kept');
  t.equal(stats.records.emitted, 1);
});

void t.test('the queue is bounded and counts what it drops; no collector counts too', async (t) => {
  const stats = createDnsStats();
  const capture = createDnsCapture({ build: { local: { pod: 'p', namespace: 'n' }, maxBodyBytes: 1024 }, stats, mask: (r) => r });
  for (let i = 0; i < MAX_QUEUED_EXCHANGES + 10; i++) capture.offer(exchange({ transport: 'udp', query: query(i & 0xffff) }));
  t.equal(stats.records.dropped.capture_queue_full, 10, 'beyond the bound, counted');
  capture.flush();
  t.equal(stats.records.emitted, MAX_QUEUED_EXCHANGES);
  t.equal(stats.records.dropped.no_collector, MAX_QUEUED_EXCHANGES);
  const failing = createDnsCapture({
    build: { local: { pod: 'p', namespace: 'n' }, maxBodyBytes: 1024 },
    stats,
    mask: () => {
      throw new Error('boom');
    },
    ship: () => true,
  });
  failing.offer(exchange({ transport: 'udp', query: query(1) }));
  failing.flush();
  t.equal(stats.records.dropped.mask_error, 1, 'a masking failure drops the record, counted, never unmasked');
});

void t.test('a TCP query after a truncated UDP answer is marked a retry, within the window only', async (t) => {
  const stats = createDnsStats();
  const shipped: CallRecord[] = [];
  const capture = createDnsCapture({ build: { local: { pod: 'p', namespace: 'n' }, maxBodyBytes: 4096 }, stats, mask: (r) => r, ship: (r) => shipped.push(r) > 0 });
  capture.offer(exchange({ transport: 'udp', query: query(1), answer: answer(1, true), answerAt: 1_500n }));
  capture.offer(exchange({ transport: 'tcp', query: query(2), answer: answer(2, false), queryAt: 2_000n, answerAt: 2_100n, client: { ip: '10.0.0.9', port: 5000 } }));
  capture.offer(exchange({ transport: 'udp', query: query(3, 'other.test'), answer: answer(3, true, 'other.test'), answerAt: 1_500n }));
  capture.offer(exchange({ transport: 'tcp', query: query(4, 'other.test'), queryAt: 1_500n + RETRY_WINDOW_NS + 1n, client: { ip: '10.0.0.9', port: 5001 } }));
  capture.offer(exchange({ transport: 'udp', query: query(5), answer: answer(5, true), answerAt: 1_500n }));
  capture.offer(exchange({ transport: 'tcp', query: query(6), queryAt: 2_000n, client: { ip: '10.0.0.8', port: 5002 } }));
  capture.flush();
  t.same(shipped.map((r) => r.notes ?? []), [[TRUNCATED_NOTE], [TCP_RETRY_NOTE], [TRUNCATED_NOTE], [], [TRUNCATED_NOTE], []], 'a retry by the same client in time; not too late, not another client');
  t.equal(stats.truncated, 3);
  const memory = new TruncationMemory();
  for (let i = 0; i < 2000; i++) memory.remember('10.0.0.1', `n${i}`, 1, BigInt(i));
  t.notOk(memory.takeRetry('10.0.0.1', 'n0', 1, 3000n), 'the memory is bounded: the oldest went first');
  t.ok(memory.takeRetry('10.0.0.1', 'N1999', 1, 3000n), 'names compare case-insensitively');
  t.notOk(memory.takeRetry('10.0.0.1', 'n1999', 1, 3000n), 'a retry is taken once');
});
