/**
 * Where the time of one call went, from its two observations. Pure: records in, numbers out,
 * so the call list, the call detail and a per-edge summary (the service map) can share it.
 *
 * Each sidecar times the exchange on its own clock, so only differences taken within one record
 * are meaningful; the one cross-record number (`network_us`) subtracts two durations, never two
 * instants, and is therefore immune to clock skew between the nodes.
 */
import type { CallRecordJson } from '../../record/record-json.ts';

export interface CallTiming {
  /** What the client sidecar measured (the caller's view). */
  client_us?: number;
  /** What the server sidecar measured (the callee's view). */
  server_us?: number;
  /**
   * client − server when both are known: the network and the two sidecars in between. Absent
   * when the client gave up (`client_timeout`): each side then timed the call to when the end
   * reached it, so the server's time is not inside the client's. At least 0 (the two clocks'
   * readings of a hop of a few µs can cross).
   */
  network_us?: number;
  /** The TCP connect, when this call opened its connection (from the client's record, else the server's). */
  connect_us?: number;
  /** The meshtap mTLS handshake, when this call opened its connection (same sourcing as `connect_us`). */
  tls_handshake_us?: number;
  /** Request fully sent → first response byte, as the client sidecar saw it. */
  client_first_byte_us?: number;
  /** Request fully received → first response byte, as the server sidecar saw it: the app's think time. */
  server_first_byte_us?: number;
  /** Waiting behind earlier requests on the connection (HTTP/1 pipelining), the client's figure else the server's. */
  queue_us?: number;
}

type Times = Pick<CallRecordJson, 'request_end' | 'response_start'>;

/** response_start − request_end in µs, when both are known and in that order (a response may start early). */
export function firstByteUs(r: Times): number | undefined {
  if (r.request_end === undefined || r.response_start === undefined) return undefined;
  const ns = BigInt(r.response_start) - BigInt(r.request_end);
  return ns < 0n ? 0 : Number(ns / 1000n);
}

/** The opening facts of the connection, only from the exchange that opened it (ordinal 0). */
function opening(r: CallRecordJson | undefined, key: 'connect_us' | 'tls_handshake_us'): number | undefined {
  if (r === undefined || r.ordinal !== 0) return undefined;
  return r.connection?.[key];
}

/** `network_us` of a call with both observations (see `CallTiming`), or undefined. */
export function networkUs(client: CallRecordJson, server: CallRecordJson): number | undefined {
  if (client.error === 'client_timeout' || server.error === 'client_timeout') return undefined;
  return Math.max(0, client.elapsed_us - server.elapsed_us);
}

export function callTiming(client: CallRecordJson | undefined, server: CallRecordJson | undefined): CallTiming {
  const t: CallTiming = {};
  if (client !== undefined) t.client_us = client.elapsed_us;
  if (server !== undefined) t.server_us = server.elapsed_us;
  const network = client !== undefined && server !== undefined ? networkUs(client, server) : undefined;
  if (network !== undefined) t.network_us = network;
  const connect = opening(client, 'connect_us') ?? opening(server, 'connect_us');
  if (connect !== undefined) t.connect_us = connect;
  const handshake = opening(client, 'tls_handshake_us') ?? opening(server, 'tls_handshake_us');
  if (handshake !== undefined) t.tls_handshake_us = handshake;
  const clientFirst = client === undefined ? undefined : firstByteUs(client);
  if (clientFirst !== undefined) t.client_first_byte_us = clientFirst;
  const serverFirst = server === undefined ? undefined : firstByteUs(server);
  if (serverFirst !== undefined) t.server_first_byte_us = serverFirst;
  const queue = client?.queue_us ?? server?.queue_us;
  if (queue !== undefined) t.queue_us = queue;
  return t;
}

/** Per-phase sums over many calls, for an edge's "where the time went" (averages = sum / count). */
export interface TimingTotals {
  calls: number;
  /** Per field: how many calls had it, and its sum. */
  phases: Partial<Record<keyof CallTiming, { count: number; sum_us: number }>>;
}

export function addTiming(totals: TimingTotals, timing: CallTiming): TimingTotals {
  totals.calls++;
  for (const [key, value] of Object.entries(timing) as [keyof CallTiming, number | undefined][]) {
    if (value === undefined) continue;
    const phase = (totals.phases[key] ??= { count: 0, sum_us: 0 });
    phase.count++;
    phase.sum_us += value;
  }
  return totals;
}

export const emptyTimingTotals = (): TimingTotals => ({ calls: 0, phases: {} });
