import t from 'tap';
import { createRetryTracker } from '../../collector/retries.ts';
import { compileFilter, isCompiledFilter } from '../../collector/filter/compile.ts';
import type { CallRecord } from '../../record/record.ts';

const S = 1_000_000_000n;
let n = 0;
function call(at: number, extra: Partial<CallRecord> = {}): CallRecord {
  n++;
  const start = BigInt(at) * S;
  return {
    id: `r${n}`,
    protocol: 'http',
    observer: 'outbound',
    connection_id: `c${n}`,
    ordinal: 0,
    start,
    end: start + S / 10n,
    elapsed_us: 100_000,
    src: { ip: '10.0.0.1', port: 40000 + n, namespace: 'shop', workload: 'gateway' },
    dst: { ip: '10.0.0.2', port: 8080 },
    tls: { mesh: true },
    method: 'POST',
    path: '/charge',
    status_code: 503,
    request: { headers: {}, body: Buffer.from('{"amount":5}'), body_size: 12, truncated: false },
    bytes_in: 0,
    bytes_out: 0,
    redacted: [],
    sensitive: [],
    ...extra,
  };
}

void t.test('a repeat after a failure is attempt 2, 3, … naming the first; a success ends the chain', async (t) => {
  const retries = createRetryTracker();
  const first = retries.mark(call(100));
  const second = retries.mark(call(101));
  const third = retries.mark(call(103, { status_code: 200 }));
  const after = retries.mark(call(104, { status_code: 200 }));
  t.same([first.attempt, second.attempt, third.attempt, after.attempt], [1, 2, 3, 1]);
  t.equal(first.first_attempt_id, undefined);
  t.equal(second.first_attempt_id, first.id);
  t.equal(third.first_attempt_id, first.id);
  t.equal(after.first_attempt_id, undefined, 'the success ended the chain: a new request starts over');
});

void t.test('not a retry: another body, target, method or client; outside the window; other protocols untouched', async (t) => {
  const retries = createRetryTracker({ windowMs: 5000 });
  retries.mark(call(200));
  t.equal(retries.mark(call(201, { request: { headers: {}, body: Buffer.from('{"amount":6}'), body_size: 12, truncated: false } })).attempt, 1, 'another body');
  t.equal(retries.mark(call(201, { path: '/refund' })).attempt, 1, 'another target');
  t.equal(retries.mark(call(201, { method: 'PUT' })).attempt, 1, 'another method');
  t.equal(retries.mark(call(201, { src: { ip: '10.0.0.9', port: 1, namespace: 'shop', workload: 'frontend' } })).attempt, 1, 'another client');
  t.equal(retries.mark(call(201, { observer: 'inbound' })).attempt, 1, 'the other side counts its own');
  t.equal(retries.mark(call(201)).attempt, 2, 'the same request again is');
  t.equal(retries.mark(call(230)).attempt, 1, 'half a minute later it is a new first attempt');
  const redis = retries.mark(call(231, { protocol: 'redis', method: 'GET' }));
  t.equal(redis.attempt, undefined, 'only HTTP, HTTP/2 and gRPC');
  const polls = createRetryTracker();
  t.same([0, 1, 2].map((i) => polls.mark(call(300 + i, { method: 'GET', path: '/healthz', status_code: 200, request: undefined })).attempt), [1, 1, 1], 'polling that succeeds is not retrying');
  const grpc = createRetryTracker();
  grpc.mark(call(400, { protocol: 'grpc', status_code: 200, grpc_status: 14 }));
  t.equal(grpc.mark(call(401, { protocol: 'grpc', status_code: 200, grpc_status: 0 })).attempt, 2, 'UNAVAILABLE then retried');
  const resets = createRetryTracker();
  resets.mark(call(500, { status_code: undefined, error: 'reset' }));
  t.equal(resets.mark(call(502)).attempt, 2, 'a reset (a client timeout) then retried');
});

void t.test('bounded: the oldest chains are forgotten', async (t) => {
  const retries = createRetryTracker({ maxChains: 10 });
  for (let i = 0; i < 100; i++) retries.mark(call(600, { path: `/p${i}` }));
  t.equal(retries.size, 10);
});

void t.test('filters: attempt and first_attempt_id', async (t) => {
  const retries = createRetryTracker();
  const a = retries.mark(call(700));
  const b = retries.mark(call(701));
  const f = compileFilter(`attempt > 1 && first_attempt_id == "${a.id}"`);
  if (!isCompiledFilter(f)) throw new Error('did not compile');
  t.same([a, b].filter((r) => f.matches(r)).map((r) => r.id), [b.id]);
});

void t.test('a burst of concurrent retries after one failure is one chain, even once one succeeds', async (t) => {
  const retries = createRetryTracker();
  const first = retries.mark(call(800));
  // Six retries start together right after the failure; the first to finish succeeds.
  const burst = [0, 1, 2, 3, 4, 5].map((i) => retries.mark(call(801, { status_code: i === 0 ? 200 : 503 })));
  t.same(burst.map((r) => r.attempt), [2, 3, 4, 5, 6, 7]);
  t.ok(burst.every((r) => r.first_attempt_id === first.id));
  t.equal(retries.mark(call(803, { status_code: 200 })).attempt, 1, 'a call started after the success is a new first attempt');
});
