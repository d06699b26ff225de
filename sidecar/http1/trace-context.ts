/**
 * Trace context carried by a request: W3C `traceparent`, else B3 (single `b3` header or the
 * `x-b3-*` pair). Ids are lower-case hex; 64-bit B3 trace ids are left-padded to 128 bits as
 * OpenTelemetry does, so both propagation styles land in the same trace id space.
 */
export interface TraceContext {
  trace_id: string;
  parent_span_id: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const ZERO = /^0+$/;

function traceId(raw: string): string | undefined {
  const id = raw.toLowerCase();
  if (HEX32.test(id)) return ZERO.test(id) ? undefined : id;
  if (HEX16.test(id)) return ZERO.test(id) ? undefined : `0000000000000000${id}`;
  return undefined;
}

function spanId(raw: string): string | undefined {
  const id = raw.toLowerCase();
  return HEX16.test(id) && !ZERO.test(id) ? id : undefined;
}

export function resolveTraceContext(headers: Record<string, string>): TraceContext | undefined {
  const tp = headers.traceparent;
  if (tp !== undefined) {
    const m = TRACEPARENT.exec(tp.trim());
    // Version ff is forbidden; version 00 must not carry extra fields.
    if (m !== null && m[1] !== 'ff' && !(m[1] === '00' && m[5] !== undefined)) {
      const t = traceId(m[2]);
      const s = spanId(m[3]);
      if (t !== undefined && s !== undefined) return { trace_id: t, parent_span_id: s };
    }
  }
  const b3 = headers.b3;
  if (b3 !== undefined) {
    const parts = b3.trim().split('-');
    if (parts.length >= 2) {
      const t = traceId(parts[0]);
      const s = spanId(parts[1]);
      if (t !== undefined && s !== undefined) return { trace_id: t, parent_span_id: s };
    }
  }
  const xt = headers['x-b3-traceid'];
  const xs = headers['x-b3-spanid'];
  if (xt !== undefined && xs !== undefined) {
    const t = traceId(xt.trim());
    const s = spanId(xs.trim());
    if (t !== undefined && s !== undefined) return { trace_id: t, parent_span_id: s };
  }
  return undefined;
}
