/** Joining both sidecars' observations into calls: exactly once, in any order, however late. */
import fc from 'fast-check';
import t from 'tap';
import { buildCall, callKey, createJoiner, joinRecords, joinWithPartners, partnerId, type JoinedCall } from '../../../collector/calls/join.ts';
import { createLiveJoiner } from '../../../collector/calls/live-join.ts';
import { callOfRecord, findCall, looksLikeRecordId, missingCallMessage, parseCallId, recordIdsOf, unknownIdMessage } from '../../../collector/calls/call-id.ts';
import { recordToJson, type CallRecordJson } from '../../../record/record-json.ts';
import { callRecord } from '../helpers.ts';

/** One observation as the sidecars name it: `<connection_id>-o|i<ordinal>`. */
function observation(conn: string, ordinal: number, side: 'client' | 'server', extra: Partial<Parameters<typeof callRecord>[0]> = {}): CallRecordJson {
  const observer = side === 'client' ? 'outbound' : 'inbound';
  return recordToJson(
    callRecord({
      id: `${conn}-${side === 'client' ? 'o' : 'i'}${ordinal}`,
      observer,
      connectionId: conn,
      ordinal,
      mesh: true,
      method: 'POST',
      path: `/pay/${ordinal}`,
      status: side === 'client' ? 503 : 500,
      elapsedMs: side === 'client' ? 12 : 9.5,
      src: side === 'client' ? { workload: 'frontend', namespace: 'shop', pod: 'frontend-1' } : { ip: '10.244.0.5', namespace: 'shop' },
      dst: side === 'client' ? { service: 'payment', namespace: 'shop' } : { workload: 'payment', pod: 'payment-7d9f', namespace: 'shop' },
      ...extra,
    }),
  );
}

void t.test('a meshed call: one call, both observations, joined fields, latencies', async (t) => {
  const client = observation('c1', 3, 'client');
  const server = observation('c1', 3, 'server');
  for (const order of [
    [client, server],
    [server, client],
    [server, client, server, client],
  ]) {
    const calls = joinRecords(order);
    t.equal(calls.length, 1, 'one call');
    const call = calls[0];
    t.equal(call.id, 'c1:3');
    t.same(call.client, client, 'the client observation, whole');
    t.same(call.server, server, 'the server observation, whole');
    t.notOk('one_sided' in call);
    t.equal(call.status_code, 503, 'status from the client');
    t.equal(call.method, 'POST');
    t.equal(call.path, '/pay/3');
    t.equal(call.protocol, 'http');
    t.equal(call.start, client.start);
    t.same(call.src, client.src, 'caller as the client names it');
    t.same(call.dst, server.dst, 'callee as the server names it (its own pod)');
    t.same(call.latency, { client_us: 12_000, server_us: 9_500, network_us: 2_500 });
  }
  t.equal(partnerId(client), 'c1-i3');
  t.equal(partnerId(server), 'c1-o3');
  t.equal(callKey(client), 'c1:3');
});

void t.test('one side only: marked, fields from the side there is', async (t) => {
  const server = observation('c2', 0, 'server', { mesh: false, error: 'reset' });
  const [call] = joinRecords([server]);
  t.equal(call.one_sided, 'server');
  t.notOk('client' in call);
  t.equal(call.status_code, 500);
  t.equal(call.error, 'reset');
  t.same(call.src, server.src);
  t.same(call.dst, server.dst);
  t.same(call.latency, { server_us: 9_500 });
  const client = observation('c3', 0, 'client');
  const [alone] = joinRecords([client]);
  t.equal(alone.one_sided, 'client');
  t.same(alone.dst, client.dst, 'no server observation: the client names the callee');
  t.same(alone.latency, { client_us: 12_000 });
  t.throws(() => buildCall('x', undefined, undefined));
});

void t.test('joined fields come from the client when present, else the server', async (t) => {
  const client = observation('c4', 1, 'client', { status: undefined, error: 'timeout', traceId: 'T1' });
  const server = observation('c4', 1, 'server', { status: 200, traceId: 'T1' });
  const [call] = joinRecords([server, client]);
  t.equal(call.error, 'timeout', 'the client gave up');
  t.equal(call.status_code, 200, 'the client saw no status: the server\'s');
  t.equal(call.trace_id, 'T1');
});

void t.test('a client that saw the hop reset gets the cause the server sidecar recorded', async (t) => {
  // The app's port is closed: the server sidecar records upstream_unreachable, the client's sees a reset.
  for (const seen of ['reset', 'closed'] as const) {
    const client = observation('c4u', 0, 'client', { status: undefined, error: seen });
    const server = observation('c4u', 0, 'server', { status: undefined, error: 'upstream_unreachable' });
    for (const order of [[client, server], [server, client]]) t.equal(joinRecords(order)[0].error, 'upstream_unreachable', `${seen}: the cause`);
  }
  // Other pairs keep the client's own error.
  const timedOut = observation('c4v', 0, 'client', { status: undefined, error: 'client_timeout' });
  const unreachable = observation('c4v', 0, 'server', { status: undefined, error: 'upstream_unreachable' });
  t.equal(joinRecords([timedOut, unreachable])[0].error, 'client_timeout', 'the client gave up first');
  const reset = observation('c4w', 0, 'client', { status: undefined, error: 'reset' });
  const serverReset = observation('c4w', 0, 'server', { status: undefined, error: 'reset' });
  t.equal(joinRecords([reset, serverReset])[0].error, 'reset');
  t.equal(joinRecords([observation('c4x', 0, 'client', { status: undefined, error: 'reset' })])[0].error, 'reset', 'alone: its own');
});

void t.test('pipelined and keep-alive exchanges on one connection stay apart by ordinal', async (t) => {
  const records = [0, 1, 2, 3].flatMap((n) => [observation('ka', n, 'client'), observation('ka', n, 'server')]);
  const calls = joinRecords(records.reverse());
  t.same(calls.map((c) => [c.id, c.client?.id, c.server?.id]), [
    ['ka:3', 'ka-o3', 'ka-i3'],
    ['ka:2', 'ka-o2', 'ka-i2'],
    ['ka:1', 'ka-o1', 'ka-i1'],
    ['ka:0', 'ka-o0', 'ka-i0'],
  ]);
});

void t.test('a second record of the same side under another id gets a call of its own', async (t) => {
  const first = observation('c5', 0, 'client');
  const clash = { ...observation('c5', 0, 'client'), id: 'other-id' };
  const server = observation('c5', 0, 'server');
  const calls = joinRecords([first, clash, server, clash]);
  t.same(calls.map((c) => [c.id, c.client?.id ?? null, c.server?.id ?? null]), [
    ['c5:0', 'c5-o0', 'c5-i0'],
    ['c5:0#other-id', 'other-id', null],
  ]);
});

void t.test('joinWithPartners: a call missing a side gets it by id; limit counts calls', async (t) => {
  const store = new Map<string, CallRecordJson>();
  const all = [observation('a', 0, 'client'), observation('a', 0, 'server'), observation('b', 0, 'client'), observation('b', 0, 'server'), observation('c', 0, 'client', { mesh: false })];
  for (const r of all) store.set(r.id, r);
  const asked: string[] = [];
  const lookup = async (id: string): Promise<CallRecordJson | undefined> => {
    asked.push(id);
    return store.get(id);
  };
  // Only the server side of `a` and the client side of `b` matched.
  const calls = await joinWithPartners([store.get('a-i0')!, store.get('b-o0')!, store.get('c-o0')!], 10, lookup);
  t.same(calls.map((c) => [c.id, c.client?.id ?? null, c.server?.id ?? null, c.one_sided ?? null]), [
    ['a:0', 'a-o0', 'a-i0', null],
    ['b:0', 'b-o0', 'b-i0', null],
    ['c:0', 'c-o0', null, 'client'],
  ]);
  t.same(asked.sort(), ['a-o0', 'b-i0', 'c-i0']);
  t.equal((await joinWithPartners([store.get('a-i0')!, store.get('a-o0')!, store.get('b-o0')!], 1, lookup)).length, 1, 'limit in calls');
  // A record stored under the partner's id that is not its partner is not joined.
  const liar = await joinWithPartners([store.get('c-o0')!], 1, async () => ({ ...observation('zz', 9, 'server'), id: 'c-i0' }));
  t.equal(liar[0].one_sided, 'client');
});

void t.test('call ids: parsed, and the call found from its records as joinRecords makes it', async (t) => {
  t.same(parseCallId('6b163e0ba85e03b702407a5a:0'), { connectionId: '6b163e0ba85e03b702407a5a', ordinal: 0 });
  t.same(parseCallId('a:b:12'), { connectionId: 'a:b', ordinal: 12 }, 'the ordinal is after the last colon');
  t.same(parseCallId('c5:0#other-id'), { connectionId: 'c5', ordinal: 0, clashing: 'other-id' });
  for (const id of ['6b163e0ba85e03b702407a5a-o0', 'c5', ':0', 'c5:', 'c5:01', 'c5:-1', 'c5:0#', 'c5:99999999999']) t.equal(parseCallId(id), undefined, id);
  t.ok(looksLikeRecordId('6b163e0ba85e03b702407a5a-o0'));
  t.ok(looksLikeRecordId('c5-i12'));
  t.notOk(looksLikeRecordId('c5:0'));
  t.same(recordIdsOf(parseCallId('c5:3')!), ['c5-o3', 'c5-i3']);
  t.same(recordIdsOf(parseCallId('c5:3#x')!), ['x']);

  const client = observation('c5', 0, 'client');
  const server = observation('c5', 0, 'server');
  const clash = { ...observation('c5', 0, 'client'), id: 'other-id' };
  const stored = new Map([client, server, clash, { ...observation('zz', 1, 'client'), id: 'c6-o0' }].map((r) => [r.id, r]));
  const lookup = async (id: string): Promise<CallRecordJson | undefined> => stored.get(id);
  const [joined, clashing] = joinRecords([client, clash, server]);
  t.same(await findCall('c5:0', parseCallId('c5:0')!, lookup), joined, 'both sides, as joined');
  t.same(await findCall('c5:0#other-id', parseCallId('c5:0#other-id')!, lookup), clashing, 'a clashing record: its call alone');
  stored.delete('c5-o0');
  t.match(await findCall('c5:0', parseCallId('c5:0')!, lookup), { id: 'c5:0', server, one_sided: 'server' }, 'one side found');
  t.equal(await findCall('c6:0', parseCallId('c6:0')!, lookup), undefined, 'a record under the id that is not of that exchange is not taken');
  t.equal(await findCall('c7:0', parseCallId('c7:0')!, lookup), undefined);
  t.equal(missingCallMessage('c7:0', parseCallId('c7:0')!), 'no call with id "c7:0": looked for its records "c7-o0" (the client\'s) and "c7-i0" (the server\'s), found neither');
  t.equal(missingCallMessage('c7:0#x', parseCallId('c7:0#x')!), 'no call with id "c7:0#x": looked for its record "x", found none');
  t.equal(unknownIdMessage('c7-o0'), 'no call with id "c7-o0"');
  t.match(unknownIdMessage('nope'), /^no call with id "nope": an id is a record id .* or a call id \(<connection id>:<n>, as view=call gives it\)$/);

  stored.set('c5-o0', client);
  t.same(await callOfRecord(server, lookup), joined, 'a record\'s call: the record and its partner');
  t.match(await callOfRecord(observation('c8', 2, 'client'), lookup), { id: 'c8:2', one_sided: 'client' });
});

// ---- the property: exactly once, any order, late, re-sent ----

const exchanges = fc.uniqueArray(
  fc.record({
    conn: fc.constantFrom('k1', 'k2', 'k3', 'k4'),
    ordinal: fc.nat({ max: 5 }),
    sides: fc.constantFrom<('client' | 'server')[]>(['client', 'server'], ['client'], ['server']),
  }),
  { selector: (e) => `${e.conn}:${e.ordinal}`, maxLength: 20 },
);

/** The exchanges' records, re-sends (same id) and, sometimes, clashing ids, in a random order. */
const stream = exchanges.chain((xs) => {
  const records = xs.flatMap((x) => x.sides.map((side) => observation(x.conn, x.ordinal, side)));
  return fc
    .record({
      resend: fc.array(fc.nat({ max: Math.max(0, records.length - 1) }), { maxLength: records.length === 0 ? 0 : 10 }),
      clash: fc.array(fc.nat({ max: Math.max(0, records.length - 1) }), { maxLength: records.length === 0 ? 0 : 2 }),
      order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 40, maxLength: 40 }),
    })
    .map(({ resend, clash, order }) => {
      const extra = [...resend.map((i) => records[i]), ...[...new Set(clash)].map((i) => ({ ...records[i], id: `${records[i].id}-clash` }))];
      const all = [...records, ...extra];
      const keyed = all.map((r, i) => ({ r, k: order[i % order.length] + i * 1e-9 }));
      keyed.sort((a, b) => a.k - b.k);
      return { exchanges: xs, records: keyed.map((x) => x.r) };
    });
});

function checkExactlyOnce(records: readonly CallRecordJson[], calls: readonly JoinedCall[]): void {
  const seen = new Map<string, number>();
  for (const call of calls) {
    if (call.client === undefined && call.server === undefined) throw new Error(`call ${call.id} is empty`);
    if (call.client !== undefined && call.client.observer !== 'outbound') throw new Error(`call ${call.id}: an inbound record as the client`);
    if (call.server !== undefined && call.server.observer !== 'inbound') throw new Error(`call ${call.id}: an outbound record as the server`);
    if (call.client !== undefined && call.server !== undefined && callKey(call.client) !== callKey(call.server)) throw new Error(`call ${call.id} joins two exchanges`);
    if ((call.one_sided !== undefined) !== (call.client === undefined || call.server === undefined)) throw new Error(`call ${call.id}: one_sided wrong`);
    for (const r of [call.client, call.server]) if (r !== undefined) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
  }
  for (const r of records) if (seen.get(r.id) !== 1) throw new Error(`record ${r.id} is in ${seen.get(r.id) ?? 0} calls`);
  if (seen.size !== new Set(records.map((r) => r.id)).size) throw new Error('a call holds a record that was not given');
}

void t.test('live joiner stop(): waiting calls are dropped unemitted, their timers cleared, a lookup in flight emits nothing', async (t) => {
  const timers = new Map<number, () => void>();
  let next = 0;
  const emitted: JoinedCall[] = [];
  const asked: string[] = [];
  let answer: (r: CallRecordJson | undefined) => void = () => {};
  const live = createLiveJoiner({
    waitMs: 1000,
    emit: (c) => emitted.push(c),
    lookup: (id) => {
      asked.push(id);
      return new Promise((resolve) => (answer = resolve));
    },
    setTimer: (fn) => {
      timers.set(++next, fn);
      return next;
    },
    clearTimer: (h) => timers.delete(h as number),
  });
  live.add(observation('a', 0, 'client'));
  live.add(observation('b', 0, 'client'));
  t.equal(live.pending(), 2);
  t.equal(timers.size, 2, 'a timer per waiting call');
  // b's wait runs out: its partner is being asked for when the output goes away.
  const bTimer = [...timers][1];
  timers.delete(bTimer[0]);
  bTimer[1]();
  t.same(asked, ['b-i0']);
  live.stop();
  t.equal(live.pending(), 0);
  t.equal(timers.size, 0, 'every timer cleared');
  live.add(observation('d', 0, 'client', { mesh: false }));
  live.flush();
  answer(observation('b', 0, 'server'));
  await live.idle();
  t.same(emitted, [], 'nothing emitted after stop: not the looked-up call, not a complete one');
});

void t.test('property: every record lands in exactly one call, no call has two records of one side', async (t) => {
  fc.assert(
    fc.property(stream, ({ exchanges: xs, records }) => {
      const calls = joinRecords(records);
      checkExactlyOnce(records, calls);
      // Every exchange seen by both sides is one call with both (the first-arrived of a clash wins the key).
      for (const x of xs) {
        const call = calls.find((c) => c.id === `${x.conn}:${x.ordinal}`);
        if (call === undefined) throw new Error(`exchange ${x.conn}:${x.ordinal} has no call`);
        if (x.sides.length === 2 && (call.client === undefined || call.server === undefined)) throw new Error(`exchange ${call.id} not joined`);
      }
      const clashes = new Set(records.filter((r) => r.id.endsWith('-clash')).map((r) => r.id)).size;
      if (calls.length !== xs.length + clashes) throw new Error(`${calls.length} calls for ${xs.length} exchanges and ${clashes} clashes`);
      // Order does not change what is joined with what (without clashes, which are order-dependent by nature).
      if (clashes === 0) {
        const pairs = (cs: JoinedCall[]) => cs.map((c) => `${c.id}=${c.client?.id}/${c.server?.id}`).sort();
        const reversed = joinRecords([...records].reverse());
        if (JSON.stringify(pairs(reversed)) !== JSON.stringify(pairs(calls))) throw new Error('order changed the join');
      }
    }),
    { numRuns: 1500 },
  );
  t.pass('1500 random record streams');
});

void t.test('property: the incremental joiner, fed one record at a time, agrees', async (t) => {
  fc.assert(
    fc.property(stream, ({ records }) => {
      const joiner = createJoiner();
      let added = 0;
      for (const r of records) if (joiner.add(r).added) added++;
      if (added !== new Set(records.map((r) => r.id)).size) throw new Error('a re-sent record was added again, or a new one not');
      checkExactlyOnce(records, joiner.calls());
    }),
    { numRuns: 500 },
  );
  t.pass('500 random record streams');
});

void t.test('property: the live joiner emits every record exactly once, whatever arrives late', async (t) => {
  await fc.assert(
    fc.asyncProperty(stream, fc.array(fc.nat({ max: 3000 }), { minLength: 40, maxLength: 40 }), async ({ records }, gaps) => {
      // A fake clock: timers fire when time passes them.
      let now = 0;
      const timers = new Map<number, { at: number; fn: () => void }>();
      let next = 0;
      const advance = (ms: number) => {
        now += ms;
        for (const [id, timer] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
          if (timer.at <= now && timers.has(id)) {
            timers.delete(id);
            timer.fn();
          }
        }
      };
      const emitted: JoinedCall[] = [];
      const live = createLiveJoiner({
        waitMs: 2000,
        emit: (c) => emitted.push(c),
        setTimer: (fn, ms) => {
          timers.set(++next, { at: now + ms, fn });
          return next;
        },
        clearTimer: (h) => timers.delete(h as number),
      });
      records.forEach((r, i) => {
        advance(gaps[i % gaps.length]);
        live.add(r);
      });
      advance(1000);
      live.flush();
      if (live.pending() !== 0) throw new Error('pending after flush');
      checkExactlyOnce(records, emitted);
    }),
    { numRuns: 500 },
  );
  t.pass('500 random record streams with random delays');
});
