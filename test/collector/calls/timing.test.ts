/** Where a call's time went: both latencies, their difference, connect, handshake, first byte, queueing. */
import t from 'tap';
import { addTiming, callTiming, emptyTimingTotals, firstByteUs } from '../../../collector/calls/timing.ts';
import { joinRecords } from '../../../collector/calls/join.ts';
import { recordToJson, type CallRecordJson } from '../../../record/record-json.ts';
import type { CallRecord } from '../../../record/record.ts';
import { callRecord, T0_NS } from '../helpers.ts';

const US = 1000n;

/** A record whose phases are given in µs after its start: request end, response start, end. */
function observed(side: 'client' | 'server', ordinal: number, phases: [number, number, number], extra: Partial<CallRecord> = {}): CallRecordJson {
  const r = callRecord({ id: `k-${side === 'client' ? 'o' : 'i'}${ordinal}`, observer: side === 'client' ? 'outbound' : 'inbound', connectionId: 'k', ordinal, mesh: true, method: 'GET', path: '/x', status: 200 });
  // The server's clock is skewed by a whole second: only differences within a record count.
  const start = T0_NS + (side === 'server' ? 1_000_000_000n : 0n);
  r.start = start;
  r.request_end = start + BigInt(phases[0]) * US;
  r.response_start = start + BigInt(phases[1]) * US;
  r.end = start + BigInt(phases[2]) * US;
  r.elapsed_us = phases[2];
  return recordToJson({ ...r, ...extra });
}

void t.test('a meshed call that opened its connection: every phase, from the right record', async (t) => {
  const client = observed('client', 0, [300, 8_300, 9_000], { connection: { connect_us: 450, tls_handshake_us: 2_100, exchanges: 1 }, queue_us: 120 });
  const server = observed('server', 0, [200, 6_200, 6_500], { connection: { connect_us: 90 } });
  t.same(callTiming(client, server), {
    client_us: 9_000,
    server_us: 6_500,
    network_us: 2_500,
    connect_us: 450,
    tls_handshake_us: 2_100,
    client_first_byte_us: 8_000,
    server_first_byte_us: 6_000,
    queue_us: 120,
  });
  const [call] = joinRecords([server, client]);
  t.same(call.timing, callTiming(client, server), 'the view=call item carries it');
  t.same(call.latency, { client_us: 9_000, server_us: 6_500, network_us: 2_500 }, 'the latency object keeps its fields');
});

void t.test('network time: none when the client gave up, never below 0', async (t) => {
  const gaveUp = { error: 'client_timeout' } as Partial<CallRecord>;
  const client = observed('client', 0, [300, 300, 1_000], gaveUp);
  const server = observed('server', 0, [200, 200, 1_400], gaveUp);
  t.notOk('network_us' in callTiming(client, server), 'each side timed the call to when the end reached it');
  t.same(joinRecords([server, client])[0].latency, { client_us: 1_000, server_us: 1_400 }, 'nor in the latency object');
  const crossed = callTiming(observed('client', 0, [1, 2, 500]), observed('server', 0, [1, 2, 503]));
  t.equal(crossed.network_us, 0, 'two clocks crossing by a few µs read as no network time, not a negative one');
});

void t.test('connect and handshake: the client record first, else the server; only on ordinal 0', async (t) => {
  const server = observed('server', 0, [1, 2, 3], { connection: { connect_us: 90, tls_handshake_us: 800 } });
  t.same(callTiming(observed('client', 0, [1, 2, 3]), server), { client_us: 3, server_us: 3, network_us: 0, connect_us: 90, tls_handshake_us: 800, client_first_byte_us: 1, server_first_byte_us: 1 });
  const reused = observed('client', 4, [1, 2, 3], { connection: { connect_us: 450, exchanges: 5 } });
  t.equal(callTiming(reused, undefined).connect_us, undefined, 'a reused connection was not opened by this call');
  t.same(callTiming(undefined, observed('server', 2, [10, 30, 40], { queue_us: 7 })), { server_us: 40, server_first_byte_us: 20, queue_us: 7 });
});

void t.test('first byte: absent without both instants, never negative', async (t) => {
  t.equal(firstByteUs({ request_end: '1000', response_start: undefined }), undefined);
  t.equal(firstByteUs({ request_end: '5000000', response_start: '3000000' }), 0, 'an early response (before the request ended) counts as no wait');
  t.equal(firstByteUs({ request_end: '1000000', response_start: '3500000' }), 2500);
});

void t.test('totals per phase for an edge', async (t) => {
  const totals = emptyTimingTotals();
  addTiming(totals, { client_us: 100, connect_us: 10 });
  addTiming(totals, { client_us: 300 });
  t.same(totals, { calls: 2, phases: { client_us: { count: 2, sum_us: 400 }, connect_us: { count: 1, sum_us: 10 } } });
});
