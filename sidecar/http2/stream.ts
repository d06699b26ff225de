/**
 * One HTTP/2 stream as the capture follows it, and the `Exchange` it becomes.
 *
 * This file exists so that what a stream *is* stays apart from how the connection moves it
 * along: the state kept per stream (request and response bodies, trailers, timings, byte
 * counts, notes), the two ways a stream comes to be (a decoded request header block, or the
 * HTTP/1.1 request of an h2c upgrade) and the one way it leaves (a record, content-decoded like
 * HTTP/1). Nothing here knows about frames, HPACK or other streams; `stream-table.ts` decides
 * when streams open and end, `session.ts` reads the frames.
 */
import type { Exchange } from '../capture/session.ts';
import { buildHttpMessage, newMessageCapture, type MessageCapture } from '../capture/message-capture.ts';
import type { RecordError } from '../../record/record.ts';
import { resolveTraceContext } from '../http1/trace-context.ts';
import { splitHeaderList } from './headers.ts';
import { octetText } from '../http1/octet-text.ts';
import type { HeaderField } from './hpack.ts';

export type Side = 'client' | 'server';

/** The HTTP/1.1 request that asked for `Upgrade: h2c`; it is stream 1 of the HTTP/2 connection. */
export interface H2cUpgradeRequest {
  method: string;
  path: string;
  authority?: string;
  headers: Record<string, string>;
  body: Uint8Array;
  start: bigint;
  /** True body size when `body` is only what was captured. Default `body.length`. */
  body_size?: number;
  request_end?: bigint;
  /** Wire bytes of the HTTP/1.1 request. Default 0. */
  bytes_out?: number;
}

export interface Stream {
  id: number;
  ordinal: number;
  start: bigint;
  requestEnd?: bigint;
  responseStart?: bigint;
  method?: string;
  path?: string;
  authority?: string;
  statusCode?: number;
  grpc: boolean;
  grpcStatus?: number;
  request: MessageCapture;
  response?: MessageCapture;
  reqDone: boolean;
  resDone: boolean;
  pushed: boolean;
  bytesOut: number;
  bytesIn: number;
  notes: string[];
  traceId?: string;
  parentSpanId?: string;
}

function isGrpc(headers: Record<string, string>): boolean {
  return (headers['content-type'] ?? '').toLowerCase().startsWith('application/grpc');
}

function setTrace(s: Stream, headers: Record<string, string>): void {
  const trace = resolveTraceContext(headers);
  if (trace !== undefined) {
    s.traceId = trace.trace_id;
    s.parentSpanId = trace.parent_span_id;
  }
}

/** A stream opened by a request header block (HEADERS, or PUSH_PROMISE when `pushed`). */
export function streamFromHeaders(id: number, ordinal: number, start: bigint, fields: readonly HeaderField[], pushed: boolean): Stream {
  const { pseudo, headers } = splitHeaderList(fields);
  const s: Stream = {
    id,
    ordinal,
    start,
    grpc: isGrpc(headers),
    request: newMessageCapture(headers),
    reqDone: false,
    resDone: false,
    pushed,
    bytesOut: 0,
    bytesIn: 0,
    notes: [],
  };
  if (s.grpc) s.request.arrivals = [];
  if (pseudo[':method'] !== undefined) s.method = pseudo[':method'];
  if (pseudo[':path'] !== undefined) s.path = octetText(pseudo[':path']);
  const authority = pseudo[':authority'] ?? headers.host;
  if (authority !== undefined) s.authority = authority;
  setTrace(s, headers);
  return s;
}

/** Stream 1 of an upgraded connection: its request is already complete (sent as HTTP/1.1). */
export function streamFromUpgrade(upgrade: H2cUpgradeRequest, ordinal: number, maxBody: number): Stream {
  const body = upgrade.body;
  const request = newMessageCapture({ ...upgrade.headers });
  request.chunks.push(Buffer.from(body.subarray(0, maxBody)));
  request.captured = Math.min(body.length, maxBody);
  request.size = upgrade.body_size ?? body.length;
  const s: Stream = {
    id: 1,
    ordinal,
    start: upgrade.start,
    requestEnd: upgrade.request_end ?? upgrade.start,
    method: upgrade.method,
    path: upgrade.path,
    grpc: isGrpc(upgrade.headers),
    request,
    reqDone: true,
    resDone: false,
    pushed: false,
    bytesOut: upgrade.bytes_out ?? 0,
    bytesIn: 0,
    notes: ['upgraded from HTTP/1.1 (h2c)'],
  };
  const authority = upgrade.authority ?? upgrade.headers.host;
  if (authority !== undefined) s.authority = authority;
  setTrace(s, upgrade.headers);
  return s;
}

export function grpcStatusOf(headers: Record<string, string>): number | undefined {
  const raw = headers['grpc-status'];
  if (raw === undefined || !/^\d{1,10}$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

/** The stream's record, ending at `end`. */
export function toExchange(s: Stream, end: bigint, maxBody: number, error?: RecordError, detail?: string): Exchange {
  const notes = s.notes.slice();
  const out: Exchange = {
    protocol: s.grpc ? 'grpc' : 'http2',
    ordinal: s.ordinal,
    start: s.start,
    end,
    bytes_out: s.bytesOut,
    bytes_in: s.bytesIn,
  };
  if (s.requestEnd !== undefined) out.request_end = s.requestEnd;
  if (s.responseStart !== undefined) out.response_start = s.responseStart;
  if (s.method !== undefined) out.method = s.method;
  if (s.path !== undefined) out.path = s.path;
  if (s.authority !== undefined) out.authority = s.authority;
  if (s.statusCode !== undefined) out.status_code = s.statusCode;
  if (s.grpcStatus !== undefined) out.grpc_status = s.grpcStatus;
  out.request = buildHttpMessage(s.request, 'request', notes, maxBody);
  if (s.response !== undefined) out.response = buildHttpMessage(s.response, 'response', notes, maxBody);
  if (error !== undefined) out.error = error;
  if (detail !== undefined) out.error_detail = detail;
  if (s.traceId !== undefined) out.trace_id = s.traceId;
  if (s.parentSpanId !== undefined) out.parent_span_id = s.parentSpanId;
  if (notes.length > 0) out.notes = notes;
  if (s.grpc) {
    const arrivals: NonNullable<Exchange['body_arrivals']> = {};
    if (s.request.arrivals !== undefined) arrivals.request = s.request.arrivals;
    if (s.response?.arrivals !== undefined) arrivals.response = s.response.arrivals;
    out.body_arrivals = arrivals;
  }
  return out;
}
