/**
 * One HTTP/1 exchange while it is being captured, and how it becomes an `Exchange`: the two
 * phase machines (request and response, checked transitions) and the final assembly (the
 * messages from `capture/message-capture.ts`, notes, timing).
 *
 * Pure data and functions: the session owns the queue of these and decides when each is done.
 */
import type { Exchange } from '../capture/session.ts';
import { buildHttpMessage, newMessageCapture, type MessageCapture } from '../capture/message-capture.ts';
import type { RecordError } from '../../record/record.ts';
import { stateError } from './errors.ts';
import type { TransferCodings } from './framing.ts';
import { buildHeaderRecord } from './headers.ts';
import type { Http1HeaderList } from './parser.ts';

export type RequestPhase = 'request_head' | 'request_body' | 'request_done';
export type ResponsePhase = 'awaiting_response' | 'response_head' | 'response_body' | 'response_done';
type Phase = RequestPhase | ResponsePhase;

const NEXT: Record<Phase, readonly Phase[]> = {
  request_head: ['request_body'],
  request_body: ['request_done'],
  request_done: [],
  awaiting_response: ['response_head'],
  response_head: ['response_body', 'awaiting_response'],
  response_body: ['response_done'],
  response_done: [],
};

export interface PendingExchange {
  ordinal: number;
  req: RequestPhase;
  res: ResponsePhase;
  /** No request was seen (the server spoke first). */
  responseOnly: boolean;
  start: bigint;
  requestEnd?: bigint;
  /** First byte of the response message in progress (interim or final). */
  messageStart?: bigint;
  responseStart?: bigint;
  end?: bigint;
  method?: string;
  path?: string;
  authority?: string;
  statusCode?: number;
  /** Current response head is an interim 1xx. */
  interim: boolean;
  /** Upgrade asked for by the request (Upgrade header value), or 'CONNECT'. */
  upgrade?: string;
  request?: MessageCapture;
  response?: MessageCapture;
  bytesOut: number;
  bytesIn: number;
  traceId?: string;
  parentSpanId?: string;
  notes: string[];
}

export function advanceRequest(ex: PendingExchange, to: RequestPhase): void {
  if (!NEXT[ex.req].includes(to)) throw stateError(`exchange ${ex.ordinal}: ${ex.req} -> ${to}`);
  ex.req = to;
}

export function advanceResponse(ex: PendingExchange, to: ResponsePhase): void {
  if (!NEXT[ex.res].includes(to)) throw stateError(`exchange ${ex.ordinal}: ${ex.res} -> ${to}`);
  ex.res = to;
}

/** A message's capture; `transfer`: the codings its body still carries past the chunked framing (removed when the record is built). */
export function newCapture(list: Http1HeaderList, transfer?: TransferCodings): MessageCapture {
  const cap = newMessageCapture(buildHeaderRecord(list));
  if (transfer !== undefined) cap.transfer = transfer;
  return cap;
}

/** The exchange as the record builder wants it; `now` ends one that has no end of its own. */
export function buildExchange(ex: PendingExchange, now: bigint, maxBody: number, error?: RecordError, detail?: string): Exchange {
  const notes = ex.notes.slice();
  const redacted: string[] = [];
  const out: Exchange = {
    protocol: 'http',
    ordinal: ex.ordinal,
    start: ex.start,
    end: ex.end ?? now,
    bytes_out: ex.bytesOut,
    bytes_in: ex.bytesIn,
  };
  if (ex.requestEnd !== undefined) out.request_end = ex.requestEnd;
  if (ex.responseStart !== undefined) out.response_start = ex.responseStart;
  if (ex.method !== undefined) out.method = ex.method;
  if (ex.path !== undefined) out.path = ex.path;
  if (ex.authority !== undefined) out.authority = ex.authority;
  if (ex.statusCode !== undefined) out.status_code = ex.statusCode;
  if (ex.request !== undefined) out.request = buildHttpMessage(ex.request, 'request', notes, maxBody, redacted);
  if (ex.response !== undefined) out.response = buildHttpMessage(ex.response, 'response', notes, maxBody, redacted);
  if (error !== undefined) out.error = error;
  if (detail !== undefined) out.error_detail = detail;
  if (ex.traceId !== undefined) out.trace_id = ex.traceId;
  if (ex.parentSpanId !== undefined) out.parent_span_id = ex.parentSpanId;
  if (notes.length > 0) out.notes = notes;
  // Bodies left out because a transfer coding could not be removed (never shipped coded).
  if (redacted.length > 0) out.redacted = redacted;
  return out;
}
