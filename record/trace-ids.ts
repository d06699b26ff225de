/**
 * The stateless trace and span id derivations every component must agree on.
 *
 * Sidecars and collector both compute these from facts both ends of a hop share (the mesh
 * connection id the client sidecar hands over, the exchange's ordinal, the request's headers):
 * the collector to name spans, the sidecar to link an outbound call to the inbound call that
 * caused it without asking anyone. Changing a formula here splits traces across versions, so
 * it is part of the wire contract. The precedence of trace contexts (which header wins) lives in
 * `collector/otel/ids.ts`; the sidecar follows the same order.
 */
import { hash } from 'node:crypto';

const ALL_ZERO = /^0+$/;

function hashHex(input: string, bytes: number): string {
  const hex = hash('sha256', input, 'hex').slice(0, bytes * 2);
  // An all-zero id is invalid in OTel; a hash of zeros is vanishingly unlikely, but cheap to rule out.
  return ALL_ZERO.test(hex) ? hex.slice(0, -1) + '1' : hex;
}

/** The CLIENT span of exchange `ordinal` on a connection (the `outbound` record's span). */
export function clientSpanId(connectionId: string, ordinal: number): string {
  return hashHex(`client|${connectionId}|${ordinal}`, 8);
}

/** The SERVER span of the same exchange (the `inbound` record's span). */
export function serverSpanId(connectionId: string, ordinal: number): string {
  return hashHex(`server|${connectionId}|${ordinal}`, 8);
}

/** The trace of an exchange that brought no trace context at all. */
export function derivedTraceId(connectionId: string, ordinal: number): string {
  return hashHex(`trace|${connectionId}|${ordinal}`, 16);
}

/** The trace of every hop that forwards the same `x-request-id` (and no better context). */
export function requestIdTraceId(requestId: string): string {
  return hashHex(`x-request-id|${requestId}`, 16);
}
