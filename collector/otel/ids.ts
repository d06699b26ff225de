/**
 * Trace and span ids for a call record, derived so that both sidecars of one call produce the
 * same ids without the collector holding any state: a collector replica that sees only the
 * client side and another that sees only the server side still emit a correctly parented pair.
 *
 * - Span ids: first 8 bytes of sha256(`client|<connection_id>|<ordinal>`) for the CLIENT span,
 *   sha256(`server|<connection_id>|<ordinal>`) for the SERVER span. Meshed sidecars share the
 *   connection id (the client sidecar hands it over after the mTLS handshake), so each side can
 *   compute the other side's span id.
 * - Trace id, first match wins:
 *   1. `traceparent` (W3C) on the request: its trace id; its parent id becomes the CLIENT span's parent;
 *   2. B3, single `b3` header or `x-b3-traceid` + `x-b3-spanid`: the same, 64-bit ids left-padded;
 *   3. `trace_id`/`parent_span_id` already parsed into the record by the sidecar (headers that
 *      did not survive into the record, or protocols whose context is not in headers);
 *   4. `x-request-id`: first 16 bytes of sha256(`x-request-id|<value>`), no parent. Every hop
 *      that forwards the same request id lands in the same trace;
 *   5. otherwise first 16 bytes of sha256(`trace|<connection_id>|<ordinal>`), no parent.
 * - The SERVER span's parent is the CLIENT span when the hop was meshed (`tls.mesh`), since the
 *   client sidecar then exists and shares the connection id. An unmeshed inbound record has no
 *   CLIENT span anywhere, so its SERVER span takes the incoming parent directly (or none).
 *
 * Both sidecars see the same request bytes (they forward them unchanged), so the headers, hence
 * the trace id, agree on both sides.
 */
import type { CallRecord } from '../../record/record.ts';
import { clientSpanId, derivedTraceId, requestIdTraceId, serverSpanId } from '../../record/trace-ids.ts';

/**
 * Where a trace id came from. `linked`: the sidecar linked an outbound call without context to
 * the inbound request in flight (the record has `link_confidence`). A record whose `trace_id`
 * ingest already filled keeps the source it was filled from (`derived`, `x-request-id`).
 */
export type TraceContextSource = 'traceparent' | 'b3' | 'record' | 'linked' | 'x-request-id' | 'derived';

/** Context the request brought with it (or the one made up for it). */
export interface IncomingTraceContext {
  /** 32 lower-case hex digits. */
  readonly traceId: string;
  /** The caller's span id (16 hex digits), when the request carried one. */
  readonly parentSpanId?: string;
  /** The `tracestate` header, kept only alongside a valid `traceparent`. */
  readonly traceState?: string;
  readonly source: TraceContextSource;
}

/** Ids of the one span a record becomes. */
export interface RecordSpanIds {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly traceState?: string;
  readonly source: TraceContextSource;
}

const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const ALL_ZERO = /^0+$/;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
/** Bound on what is hashed or kept from a header: a hostile request cannot make us hash megabytes. */
const MAX_HEADER_CHARS = 512;

// The hashes themselves are shared with the sidecar (it links calls with them): record/trace-ids.ts.
export { clientSpanId, serverSpanId, derivedTraceId, requestIdTraceId };

function normTraceId(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const id = raw.trim().toLowerCase();
  if (HEX32.test(id)) return ALL_ZERO.test(id) ? undefined : id;
  if (HEX16.test(id)) return ALL_ZERO.test(id) ? undefined : `0000000000000000${id}`;
  return undefined;
}

function normSpanId(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const id = raw.trim().toLowerCase();
  return HEX16.test(id) && !ALL_ZERO.test(id) ? id : undefined;
}

export interface ParsedTraceparent {
  readonly traceId: string;
  readonly parentSpanId: string;
  readonly flags: number;
}

/** W3C trace-context `traceparent`; undefined when absent or invalid. */
export function parseTraceparent(value: string | undefined): ParsedTraceparent | undefined {
  if (value === undefined || value.length > MAX_HEADER_CHARS) return undefined;
  // Repeated headers arrive joined with ", "; the spec says to take none then, but the first
  // is what most propagators use and both sides see the same bytes anyway.
  const first = value.split(',')[0].trim().toLowerCase();
  const m = TRACEPARENT.exec(first);
  if (m === null) return undefined;
  // Version ff is forbidden; version 00 carries exactly four fields.
  if (m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return undefined;
  const traceId = normTraceId(m[2]);
  const parentSpanId = normSpanId(m[3]);
  if (traceId === undefined || parentSpanId === undefined) return undefined;
  return { traceId, parentSpanId, flags: Number.parseInt(m[4], 16) };
}

export interface ParsedB3 {
  readonly traceId: string;
  readonly parentSpanId: string;
}

/** B3 single header (`{trace}-{span}[-{sampled}[-{parent}]]`) or the multi-header pair. */
export function parseB3(headers: Readonly<Record<string, string>>): ParsedB3 | undefined {
  const single = headers.b3;
  if (single !== undefined && single.length <= MAX_HEADER_CHARS) {
    const parts = single.trim().split('-');
    if (parts.length >= 2) {
      const traceId = normTraceId(parts[0]);
      const parentSpanId = normSpanId(parts[1]);
      if (traceId !== undefined && parentSpanId !== undefined) return { traceId, parentSpanId };
    }
  }
  const traceId = normTraceId(headers['x-b3-traceid']);
  const parentSpanId = normSpanId(headers['x-b3-spanid']);
  if (traceId !== undefined && parentSpanId !== undefined) return { traceId, parentSpanId };
  return undefined;
}

/**
 * What the ids hash: the connection id, which sidecars always send. A record without one (a
 * hand-made or foreign record) hashes its own id instead, so such records never share one trace.
 */
function exchangeOf(record: CallRecord): string {
  return record.connection_id !== '' ? record.connection_id : `record|${record.id}`;
}

/** Which source a `trace_id` already on the record stands for (ingest fills it for every record). */
function recordSource(record: CallRecord, traceId: string, requestId: string | undefined): TraceContextSource {
  if (record.link_confidence !== undefined) return 'linked';
  if (traceId === derivedTraceId(exchangeOf(record), record.ordinal)) return 'derived';
  if (requestId !== undefined && requestId !== '' && requestId.length <= MAX_HEADER_CHARS && traceId === requestIdTraceId(requestId)) return 'x-request-id';
  return 'record';
}

/** The context a request carries, by the precedence in this module's header comment. */
export function resolveIncomingContext(record: CallRecord): IncomingTraceContext {
  const headers = record.request?.headers ?? {};
  const tp = parseTraceparent(headers.traceparent);
  if (tp !== undefined) {
    const ts = headers.tracestate;
    const traceState = ts !== undefined && ts.trim() !== '' && ts.length <= MAX_HEADER_CHARS ? ts.trim() : undefined;
    return { traceId: tp.traceId, parentSpanId: tp.parentSpanId, source: 'traceparent', ...(traceState !== undefined ? { traceState } : {}) };
  }
  const b3 = parseB3(headers);
  if (b3 !== undefined) return { traceId: b3.traceId, parentSpanId: b3.parentSpanId, source: 'b3' };
  const requestId = headers['x-request-id']?.trim();
  const recordTrace = normTraceId(record.trace_id);
  if (recordTrace !== undefined) {
    const parent = normSpanId(record.parent_span_id);
    return { traceId: recordTrace, source: recordSource(record, recordTrace, requestId), ...(parent !== undefined ? { parentSpanId: parent } : {}) };
  }
  if (requestId !== undefined && requestId !== '' && requestId.length <= MAX_HEADER_CHARS) {
    return { traceId: requestIdTraceId(requestId), source: 'x-request-id' };
  }
  return { traceId: derivedTraceId(exchangeOf(record), record.ordinal), source: 'derived' };
}

/**
 * The ids of the span a record becomes: an `outbound` record is the CLIENT span, an `inbound`
 * record the SERVER span.
 */
export function deriveSpanIds(record: CallRecord): RecordSpanIds {
  const incoming = resolveIncomingContext(record);
  const base = {
    traceId: incoming.traceId,
    source: incoming.source,
    ...(incoming.traceState !== undefined ? { traceState: incoming.traceState } : {}),
  };
  if (record.observer === 'outbound') {
    return {
      ...base,
      spanId: clientSpanId(exchangeOf(record), record.ordinal),
      ...(incoming.parentSpanId !== undefined ? { parentSpanId: incoming.parentSpanId } : {}),
    };
  }
  const spanId = serverSpanId(exchangeOf(record), record.ordinal);
  if (record.tls.mesh) return { ...base, spanId, parentSpanId: clientSpanId(exchangeOf(record), record.ordinal) };
  return { ...base, spanId, ...(incoming.parentSpanId !== undefined ? { parentSpanId: incoming.parentSpanId } : {}) };
}
