/**
 * One call, two observations: the client sidecar's `outbound` record and the server sidecar's
 * `inbound` record of the same exchange carry the same `connection_id` (a mesh connection keeps
 * the client sidecar's id) and the same `ordinal`. Joining them is pure: records in, calls out,
 * whatever the order, however late a partner arrives, however often a record is re-sent.
 */
import type { CallRecordJson } from '../../record/record-json.ts';
import { callTiming, networkUs, type CallTiming } from './timing.ts';

export type Side = 'client' | 'server';

export interface CallLatency {
  /** What the client sidecar measured (the caller's view). */
  client_us?: number;
  /** What the server sidecar measured (the callee's view). */
  server_us?: number;
  /** client − server when both are known: the network and the two sidecars in between. */
  network_us?: number;
}

type EndpointJson = CallRecordJson['src'];

export interface JoinedCall {
  /** `connection_id:ordinal` (a record clashing with an earlier one of the same side: `…#<record id>`). */
  id: string;
  client?: CallRecordJson;
  server?: CallRecordJson;
  /** Present when only one side observed the call (an unmeshed peer, or the partner not (yet) stored). */
  one_sided?: Side;
  protocol: CallRecordJson['protocol'];
  /** ns since the epoch, decimal string: the client's start when known. */
  start: string;
  method?: string;
  path?: string;
  authority?: string;
  status_code?: number;
  grpc_status?: number;
  error?: CallRecordJson['error'];
  trace_id?: string;
  /** The caller, as the client sidecar names it. */
  src: EndpointJson;
  /** The callee, as the server sidecar names it (its own pod) when it observed the call. */
  dst: EndpointJson;
  /** The three durations of `timing`, kept for clients that read them here. */
  latency: CallLatency;
  /** Where the time went: both latencies, their difference, connect, TLS handshake, first byte, queueing. */
  timing: CallTiming;
}

export const sideOf = (r: Pick<CallRecordJson, 'observer'>): Side => (r.observer === 'outbound' ? 'client' : 'server');

export const callKey = (r: Pick<CallRecordJson, 'connection_id' | 'ordinal'>): string => `${r.connection_id}:${r.ordinal}`;

/** The record id the other side's sidecar gives the same exchange (`<connection_id>-o|i<ordinal>`). */
export function partnerId(r: Pick<CallRecordJson, 'connection_id' | 'ordinal' | 'observer'>): string {
  return `${r.connection_id}-${r.observer === 'outbound' ? 'i' : 'o'}${r.ordinal}`;
}

/** Whether `candidate` is the other observation of `r`'s exchange. */
export function isPartner(r: Pick<CallRecordJson, 'connection_id' | 'ordinal' | 'observer'>, candidate: Pick<CallRecordJson, 'connection_id' | 'ordinal' | 'observer'>): boolean {
  return candidate.connection_id === r.connection_id && candidate.ordinal === r.ordinal && candidate.observer !== r.observer;
}

const JOINED_FIELDS = ['method', 'path', 'authority', 'status_code', 'grpc_status', 'trace_id'] as const;

/**
 * The call's error: the client's, else the server's — but a client that saw the hop reset or
 * closed saw only how a failure behind the server sidecar reached it; when the server's record
 * names that failure (the app was unreachable), the call carries the cause.
 */
function joinedError(client: CallRecordJson | undefined, server: CallRecordJson | undefined): CallRecordJson['error'] {
  const seen = client?.error;
  const cause = server?.error;
  if ((seen === 'reset' || seen === 'closed') && cause === 'upstream_unreachable') return cause;
  return seen ?? cause;
}

/** The call of one or two observations: joined fields from the client's when present. */
export function buildCall(id: string, client: CallRecordJson | undefined, server: CallRecordJson | undefined): JoinedCall {
  const first = client ?? server;
  if (first === undefined) throw new Error('a call needs at least one observation');
  const call: JoinedCall = {
    id,
    protocol: first.protocol,
    start: first.start,
    src: (client ?? server)!.src,
    dst: (server ?? client)!.dst,
    latency: {},
    timing: callTiming(client, server),
  };
  if (client !== undefined) call.client = client;
  if (server !== undefined) call.server = server;
  if (client === undefined || server === undefined) call.one_sided = client !== undefined ? 'client' : 'server';
  const out = call as unknown as Record<string, unknown>;
  for (const key of JOINED_FIELDS) {
    const value = client?.[key] ?? server?.[key];
    if (value !== undefined) out[key] = value;
  }
  const error = joinedError(client, server);
  if (error !== undefined) call.error = error;
  if (client !== undefined) call.latency.client_us = client.elapsed_us;
  if (server !== undefined) call.latency.server_us = server.elapsed_us;
  const network = client !== undefined && server !== undefined ? networkUs(client, server) : undefined;
  if (network !== undefined) call.latency.network_us = network;
  return call;
}

interface Slot {
  id: string;
  client?: CallRecordJson;
  server?: CallRecordJson;
}

export interface AddOutcome {
  /** The call the record belongs to, as it stands now. */
  call: JoinedCall;
  /** False when the record's id was already seen (a re-send): nothing changed. */
  added: boolean;
  /** True when this record opened the call (its first observation). */
  opened: boolean;
}

export interface Joiner {
  add(record: CallRecordJson): AddOutcome;
  /** Every call, in the order of its first observation. */
  calls(): JoinedCall[];
  /** Forget a call (an incremental user done with it); its records, if re-sent, open it again. */
  forget(callId: string): void;
}

/**
 * An incremental join. Each record lands in exactly one call: a re-sent id changes nothing, a
 * second record of the same side and key under another id (which no sidecar sends) opens a call
 * of its own rather than replacing or being dropped.
 */
export function createJoiner(): Joiner {
  const slots = new Map<string, Slot>();
  const callOfRecord = new Map<string, string>();
  const view = (slot: Slot): JoinedCall => buildCall(slot.id, slot.client, slot.server);
  return {
    add(record) {
      const seen = callOfRecord.get(record.id);
      if (seen !== undefined) return { call: view(slots.get(seen)!), added: false, opened: false };
      const side = sideOf(record);
      let id = callKey(record);
      let slot = slots.get(id);
      if (slot !== undefined && slot[side] !== undefined) {
        id = `${id}#${record.id}`;
        slot = slots.get(id);
      }
      const opened = slot === undefined;
      if (slot === undefined) {
        slot = { id };
        slots.set(id, slot);
      }
      slot[side] = record;
      callOfRecord.set(record.id, id);
      return { call: view(slot), added: true, opened };
    },
    calls() {
      return [...slots.values()].map(view);
    },
    forget(callId) {
      const slot = slots.get(callId);
      if (slot === undefined) return;
      slots.delete(callId);
      for (const r of [slot.client, slot.server]) if (r !== undefined) callOfRecord.delete(r.id);
    },
  };
}

/** Calls of these records, in the order of each call's first record (newest first in, newest first out). */
export function joinRecords(records: Iterable<CallRecordJson>): JoinedCall[] {
  const joiner = createJoiner();
  for (const r of records) joiner.add(r);
  return joiner.calls();
}

/**
 * Calls for an API page: `records` are those that matched (newest first, at least `2 × limit`
 * when there are that many: each call holds at most two, so the newest `limit` calls all start
 * within them); a call missing a side gets it from `lookup` (by the partner's deterministic id).
 */
export async function joinWithPartners(
  records: readonly CallRecordJson[],
  limit: number,
  lookup: (id: string) => Promise<CallRecordJson | undefined>,
): Promise<JoinedCall[]> {
  const calls = joinRecords(records).slice(0, limit);
  return Promise.all(
    calls.map(async (call) => {
      const have = (call.client ?? call.server)!;
      // A clashing record's call (`…#id`) is not the exchange its partner belongs to.
      if (call.one_sided === undefined || call.id !== callKey(have)) return call;
      const partner = await lookup(partnerId(have));
      if (partner === undefined || !isPartner(have, partner)) return call;
      return have.observer === 'outbound' ? buildCall(call.id, have, partner) : buildCall(call.id, partner, have);
    }),
  );
}
