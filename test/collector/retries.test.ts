import t from 'tap';
import fc from 'fast-check';
import { createRetryTracker, retryNotBefore } from '../../collector/retries.ts';
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
  // An answer, not a failure: asking again for something NOT_FOUND (or refused) is a new request.
  for (const status of [3, 5, 6, 7, 9, 11, 12, 16]) {
    const answers = createRetryTracker();
    answers.mark(call(500 + status, { protocol: 'grpc', status_code: 200, grpc_status: status }));
    t.equal(answers.mark(call(500 + status, { protocol: 'grpc', status_code: 200, grpc_status: status })).attempt, 1, `gRPC status ${status} starts no chain`);
  }
  for (const status of [1, 2, 4, 8, 10, 13, 14, 15]) {
    const transient = createRetryTracker();
    transient.mark(call(600 + status, { protocol: 'grpc', status_code: 200, grpc_status: status }));
    t.equal(transient.mark(call(600 + status, { protocol: 'grpc', status_code: 200, grpc_status: status })).attempt, 2, `gRPC status ${status} is retried`);
  }
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

void t.test('failed includes client_timeout, 429 and transport errors; the window is at least 5 s', async (t) => {
  const timeouts = createRetryTracker();
  timeouts.mark(call(900, { status_code: undefined, error: 'client_timeout' }));
  t.equal(timeouts.mark(call(901, { status_code: 200 })).attempt, 2, 'a client that gave up and asked again');
  const limited = createRetryTracker();
  limited.mark(call(910, { status_code: 429 }));
  t.equal(limited.mark(call(911, { status_code: 200 })).attempt, 2);
  const short = createRetryTracker({ windowMs: 100 });
  short.mark(call(920));
  t.equal(short.mark(call(924)).attempt, 2, 'a 100 ms window is raised to 5 s');
  t.equal(short.mark(call(940)).attempt, 1);
});

const withRetryAfter = (value: string, status = 429, headers: Record<string, string> = {}): Partial<CallRecord> => ({
  status_code: status,
  response: { headers: { 'retry-after': value, ...headers }, body: new Uint8Array(), body_size: 0, truncated: false },
});

void t.test('Retry-After: honoured or not, in seconds or as an HTTP-date; only after 429 and 503', async (t) => {
  const at = (s: number, extra: Partial<CallRecord> = {}) => call(0, { ...extra, start: BigInt(Math.round(s * 1e9)), end: BigInt(Math.round(s * 1e9)) + S / 100n });
  const seconds = createRetryTracker();
  seconds.mark(at(1000, withRetryAfter('2')));
  const early = seconds.mark(at(1001, { status_code: 200 }));
  t.equal(early.attempt, 2);
  t.equal(early.retry_after_honoured, false, 'retried after 1 s when asked to wait 2');
  const waited = createRetryTracker();
  waited.mark(at(1000, withRetryAfter('2', 503)));
  t.equal(waited.mark(at(1002.02, { status_code: 200 })).retry_after_honoured, true, 'waited the 2 s');
  const date = createRetryTracker();
  // The failure ends at 1_764_000_000.01 s; the date asks for 1_764_000_003 s.
  const asked = new Date(1_764_000_003_000).toUTCString();
  date.mark(at(1_764_000_000, withRetryAfter(asked)));
  t.equal(date.mark(at(1_764_000_001, withRetryAfter(asked, 503))).retry_after_honoured, false, '2 s before the date');
  t.equal(date.mark(at(1_764_000_003, { status_code: 200 })).retry_after_honoured, true, 'at the date');
  const plain = createRetryTracker();
  plain.mark(at(1000, { status_code: 500, response: withRetryAfter('5').response }));
  t.equal(plain.mark(at(1001)).retry_after_honoured, undefined, 'a 500 does not ask for a delay');
  const garbage = createRetryTracker();
  garbage.mark(at(1000, withRetryAfter('soon')));
  t.equal(garbage.mark(at(1001)).retry_after_honoured, undefined, 'an unreadable Retry-After says nothing');
  t.equal(retryNotBefore({ status_code: 429, end: 0n, response: withRetryAfter('Tue, 32 Foo 2025').response }), undefined);
});

void t.test('filters: retry, retry_after_honoured, client_timeout', async (t) => {
  const retries = createRetryTracker();
  const first = retries.mark(call(1100, withRetryAfter('0')));
  const second = retries.mark(call(1101, { status_code: undefined, error: 'client_timeout' }));
  const compile = (text: string) => {
    const f = compileFilter(text);
    if (!isCompiledFilter(f)) throw new Error(`did not compile: ${f.message}`);
    return (r: CallRecord) => f.matches(r);
  };
  t.same([first, second].filter(compile('retry')).map((r) => r.id), [second.id]);
  t.same([first, second].filter(compile('!retry')).map((r) => r.id), [first.id]);
  t.same([first, second].filter(compile('retry_after_honoured')).map((r) => r.id), [second.id]);
  t.same([first, second].filter(compile('has(call.retry_after_honoured)')).map((r) => r.id), [second.id]);
  t.same([first, second].filter(compile('client_timeout && error == "client_timeout"')).map((r) => r.id), [second.id]);
});

/**
 * One generated client's calls to one target: gaps between starts (ms; at least 1, since calls
 * starting at the same instant have no order to find), whether each failed, how long it took.
 */
const attemptsArb = fc.array(fc.record({ gapMs: fc.integer({ min: 1, max: 12_000 }), failed: fc.boolean(), tookMs: fc.integer({ min: 1, max: 3_000 }) }), { minLength: 1, maxLength: 12 });

function stream(spec: { gapMs: number; failed: boolean; tookMs: number }[], prefix: string): CallRecord[] {
  let at = 5_000_000_000_000n;
  return spec.map((s, i) => {
    at += BigInt(s.gapMs) * 1_000_000n;
    return call(0, { id: `${prefix}${i}`, start: at, end: at + BigInt(s.tookMs) * 1_000_000n, status_code: s.failed ? 503 : 200 });
  });
}

/** The rules in their plainest form: walk the calls in order of start. */
function reference(records: CallRecord[], windowNs: bigint): Map<string, [number, string | undefined]> {
  const out = new Map<string, [number, string | undefined]>();
  const sorted = [...records].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let chain: CallRecord[] = [];
  for (const r of sorted) {
    const earlier = chain.filter((c) => c.start <= r.start);
    const ended = earlier.some((c) => c.status_code === 200 && c.end <= r.start);
    const near = earlier.some((c) => c.status_code !== 200 && r.start - c.end <= windowNs && c.end - r.start <= windowNs);
    if (chain.length > 0 && near && !ended) {
      chain.push(r);
      out.set(r.id, [chain.length, chain[0].id]);
    } else {
      chain = [r];
      out.set(r.id, [1, undefined]);
    }
  }
  return out;
}

const marks = (records: CallRecord[]) => new Map(records.map((r) => [r.id, [r.attempt!, r.first_attempt_id] as [number, string | undefined]]));

void t.test('generated streams: the tracker follows the rules, whatever the order records arrive in within a batch', async () => {
  fc.assert(
    fc.property(attemptsArb, fc.integer({ min: 5_000, max: 10_000 }), fc.func(fc.integer()), (spec, windowMs, shuffleKey) => {
      const windowNs = BigInt(windowMs) * 1_000_000n;
      const expected = reference(stream(spec, 'a'), windowNs);
      const inOrder = stream(spec, 'a');
      const tracker = createRetryTracker({ windowMs });
      for (const r of inOrder) tracker.mark(r);
      if (JSON.stringify([...marks(inOrder)]) !== JSON.stringify([...expected])) return false;
      // The same calls arriving in any order within one batch.
      const shuffled = stream(spec, 'a')
        .map((r, i) => ({ r, k: shuffleKey(i) }))
        .sort((x, y) => x.k - y.k)
        .map((x) => x.r);
      createRetryTracker({ windowMs }).markAll(shuffled);
      return JSON.stringify([...marks(shuffled)].sort()) === JSON.stringify([...expected].sort());
    }),
    { numRuns: 300 },
  );
});

void t.test('generated streams: a late record takes its place by start, across batches', async () => {
  fc.assert(
    fc.property(attemptsArb, fc.nat(), (spec, pick) => {
      const windowNs = 10_000_000_000n;
      const records = stream(spec, 'b');
      const expected = reference(records, windowNs);
      // One record arrives last, in a batch of its own, after calls that started after it.
      const late = records[pick % records.length];
      const tracker = createRetryTracker();
      for (const r of records) if (r !== late) tracker.mark(r);
      tracker.mark(late);
      const [attempt, first] = expected.get(late.id)!;
      // Its number counts the attempts that started before it; when it is itself the chain's first, it is 1.
      if (late.attempt !== attempt) return false;
      if (attempt > 1 && late.first_attempt_id !== first) return false;
      // Numbers already given are never duplicated within a chain's later arrivals: each id keeps one mark.
      return records.every((r) => typeof r.attempt === 'number' && r.attempt >= 1);
    }),
    { numRuns: 300 },
  );
});

/** Records whose numbers contradict their start order: a later number on an earlier-started attempt of the same chain. */
function inversions(records: readonly CallRecord[]): string[] {
  const chains = new Map<string, CallRecord[]>();
  for (const r of records) {
    if (r.attempt === undefined) continue;
    const id = r.first_attempt_id ?? r.id;
    chains.set(id, [...(chains.get(id) ?? []), r]);
  }
  const found: string[] = [];
  for (const chain of chains.values()) {
    for (const a of chain) {
      for (const b of chain) if (a.start < b.start && a.attempt! > b.attempt!) found.push(`${a.id}#${a.attempt} (start ${a.start}) before ${b.id}#${b.attempt} (start ${b.start})`);
    }
  }
  return found;
}

void t.test('one client retrying on new connections, seen by two sidecars whose batches interleave: numbers never go back in start order', async (t) => {
  // gateway's two pods share the client's history (same workload). Each exchange is its own
  // connection. Pod a ships a batch once its three quick 503s ended (starts 0, 2, 3 s); pod b's
  // two attempts ended late (a client timeout at 4.5 s, a slow 503 at 4.6 s) and reach the
  // collector in a later batch, with starts (1, 2.5 s) interleaved with pod a's.
  const at = (s: number, pod: string, extra: Partial<CallRecord> = {}) =>
    call(0, { start: BigInt(s * 1000) * 1_000_000n, end: BigInt(s * 1000 + 100) * 1_000_000n, src: { ip: pod === 'a' ? '10.0.0.1' : '10.0.0.7', port: 40000, namespace: 'shop', workload: 'gateway', pod: `gateway-${pod}` }, ...extra });
  const retries = createRetryTracker();
  const podA = retries.markAll([at(1000, 'a'), at(1002, 'a'), at(1003, 'a')]);
  const podB = retries.markAll([at(1001, 'b', { end: 1004_500_000_000n, status_code: undefined, error: 'client_timeout' }), at(1002.5, 'b', { end: 1004_600_000_000n })]);
  const last = retries.markAll([at(1005, 'a', { status_code: 200 })]);
  const all = [...podA, ...podB, ...last];
  t.same(inversions(all), [], 'no attempt started before an attempt of its chain with a lower number');
  t.ok(all.every((r) => r.attempt === 1 ? r.first_attempt_id === undefined : r.first_attempt_id === podA[0].id), 'one chain, named by the attempt at 1000 s');
  t.same(podA.map((r) => r.attempt), [1, 2, 3], 'numbered in start order as they arrived');
  t.equal(podB[0].attempt, 2, 'the attempt that started second is attempt 2');
  t.equal(last[0].attempt, 6, 'the sixth attempt, counted by start, is attempt 6');
});

/** Calls that arrive in batches (of random size), the batches in random order. */
function batched<T>(items: T[], cuts: number[], order: (i: number) => number): T[][] {
  const batches: T[][] = [];
  let from = 0;
  for (const cut of cuts) {
    if (from >= items.length) break;
    const to = Math.min(items.length, from + 1 + (cut % 4));
    batches.push(items.slice(from, to));
    from = to;
  }
  if (from < items.length) batches.push(items.slice(from));
  return batches
    .map((b, i) => ({ b, k: order(i) }))
    .sort((x, y) => x.k - y.k)
    .map((x) => x.b);
}

void t.test('generated streams in batches arriving out of order: within a chain, numbers follow start order', async () => {
  fc.assert(
    fc.property(attemptsArb, fc.array(fc.nat(), { maxLength: 12 }), fc.func(fc.integer()), fc.func(fc.integer()), (spec, cuts, shuffleKey, orderKey) => {
      // Retries close together (so late records land inside chains): starts 1..400 ms apart.
      const close = spec.map((s) => ({ ...s, gapMs: 1 + (s.gapMs % 400) }));
      const records = stream(close, 'c')
        .map((r, i) => ({ r, k: shuffleKey(i) }))
        .sort((x, y) => x.k - y.k)
        .map((x) => x.r);
      const tracker = createRetryTracker();
      for (const batch of batched(records, cuts, orderKey)) tracker.markAll(batch);
      if (inversions(records).length > 0) return false;
      for (const r of records) {
        // Its number is at most its place among the client's tries of this request, by start.
        if (r.attempt! < 1 || r.attempt! > records.filter((c) => c.start < r.start).length + 1) return false;
        if (r.attempt === 1 && r.first_attempt_id !== undefined) return false;
        // The chain's first attempt started first.
        const first = records.find((c) => c.id === r.first_attempt_id);
        if (r.first_attempt_id !== undefined && (first === undefined || first.start > r.start || first.first_attempt_id !== undefined)) return false;
      }
      return true;
    }),
    { numRuns: 1000 },
  );
});

void t.test('a late attempt with no free number between its neighbours shares the later one; the attempts after it count it', async (t) => {
  const retries = createRetryTracker();
  const [a, c] = retries.markAll([call(1200), call(1202)]);
  const [b] = retries.markAll([call(1201)]);
  const [d] = retries.markAll([call(1203)]);
  t.same([a.attempt, b.attempt, c.attempt, d.attempt], [1, 2, 2, 4], 'attempt 4 is the fourth to start; 2 and 2 say nothing of their order');
  t.ok([b, c, d].every((r) => r.first_attempt_id === a.id));
  // With room between the marks given, a late attempt takes its own number.
  const spaced = createRetryTracker();
  const [p, r] = spaced.markAll([call(1300), call(1302)]);
  spaced.mark(call(1303));
  const [q] = spaced.markAll([call(1301)]);
  t.same([p.attempt, q.attempt, r.attempt], [1, 2, 2]);
  const [s] = spaced.markAll([call(0, { start: 1302_500_000_000n, end: 1302_600_000_000n })]);
  t.equal(s.attempt, 3, 'between 2 (1302 s) and 3 (1303 s): 3, its own place would be 4');
});

void t.test('long chains past the attempts kept, arriving in shuffled batches: still no number goes back', async () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ gapMs: fc.integer({ min: 1, max: 300 }), failed: fc.integer({ min: 0, max: 7 }).map((k) => k > 0), tookMs: fc.integer({ min: 1, max: 3_000 }) }), { minLength: 65, maxLength: 150 }),
      fc.array(fc.nat(), { maxLength: 60 }),
      fc.func(fc.integer()),
      fc.func(fc.integer()),
      (spec, cuts, shuffleKey, orderKey) => {
        const records = stream(spec, 'd')
          .map((r, i) => ({ r, k: shuffleKey(i) % 8 }))
          .sort((x, y) => x.k - y.k)
          .map((x) => x.r);
        const tracker = createRetryTracker();
        for (const batch of batched(records, cuts, orderKey)) tracker.markAll(batch);
        return inversions(records).length === 0 && records.every((r) => (r.attempt === 1) === (r.first_attempt_id === undefined));
      },
    ),
    { numRuns: 200 },
  );
});
