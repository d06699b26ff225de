/**
 * One HTTP message's headers and body while an HTTP/1 or HTTP/2 session follows it: bytes
 * kept up to the body limit (all counted), gaps counted, and the `HttpMessage` it becomes
 * (content-decoded for display, notes for what could not be decoded or captured). Shared so
 * both HTTP versions keep and report bodies the same way.
 *
 * An HTTP/1 body may also carry transfer codings besides its chunked framing (`Transfer-Encoding:
 * gzip, chunked`). They are removed first (they were applied last), then the content codings;
 * a transfer coding that cannot be removed leaves the body out of the record with a note, as
 * masking leaves out a content coding it cannot scan — only here, since masking reads the
 * content coding alone and would take the still-coded bytes for a plain body.
 */
import type { BodyArrival } from './session.ts';
import { decodeBody, decodeTransferCodings } from './decode-body.ts';
import type { HttpMessage } from '../../record/record.ts';

export interface MessageCapture {
  headers: Record<string, string>;
  trailers?: Record<string, string>;
  chunks: Buffer[];
  captured: number;
  size: number;
  /** Body bytes that passed unseen (capture fell behind); nothing after them is kept. */
  skipped?: number;
  /** When body pieces arrived, for messages framed inside bodies (gRPC); absent otherwise. */
  arrivals?: BodyArrival[];
  /**
   * HTTP/1: transfer codings the kept bytes still carry (`left`, in the order applied; never
   * empty) and the message's whole Transfer-Encoding (`all`, for notes). Absent for most bodies.
   */
  transfer?: { readonly all: readonly string[]; readonly left: readonly string[] };
}

/** Arrivals kept per message at most; later pieces share the last time. */
export const MAX_ARRIVALS = 1000;

export function newMessageCapture(headers: Record<string, string>): MessageCapture {
  return { headers, chunks: [], captured: 0, size: 0 };
}

/**
 * Keeps body bytes up to `maxBody`, counts all; with `at`, notes when they arrived (one entry
 * per arrival time, so pieces that came together share it however they were cut). True when
 * this piece crossed the body limit.
 */
export function captureBodyBytes(cap: MessageCapture, data: Uint8Array, maxBody: number, at?: bigint): boolean {
  const before = cap.size;
  const arrivals = cap.arrivals;
  if (at !== undefined && arrivals !== undefined && arrivals.length < MAX_ARRIVALS && arrivals.at(-1)?.[1] !== at) arrivals.push([before, at]);
  cap.size += data.byteLength;
  // After a gap the bytes would not follow what was kept: count them only.
  if (cap.captured < maxBody && cap.skipped === undefined) {
    const take = Math.min(maxBody - cap.captured, data.byteLength);
    cap.chunks.push(Buffer.from(data.subarray(0, take)));
    cap.captured += take;
  }
  return before <= maxBody && cap.size > maxBody;
}

/** Counts `n` body bytes that passed unseen. True when this crossed the body limit. */
export function skipBodyBytes(cap: MessageCapture | undefined, n: number, maxBody: number): boolean {
  if (cap === undefined) return false;
  const before = cap.size;
  cap.size += n;
  cap.skipped = (cap.skipped ?? 0) + n;
  return before <= maxBody && cap.size > maxBody;
}

/**
 * The record's message: the body freed of its transfer codings, content-decoded for display,
 * notes for what went wrong. A body left out (a transfer coding that could not be removed) is
 * listed in `redacted` when given.
 */
export function buildHttpMessage(cap: MessageCapture, side: 'request' | 'response', notes: string[], maxBody: number, redacted?: string[]): HttpMessage {
  const encoding = cap.headers['content-encoding'];
  let raw: Uint8Array = cap.chunks.length === 1 ? cap.chunks[0] : Buffer.concat(cap.chunks, cap.captured);
  let complete = cap.captured === cap.size;
  let body: Uint8Array;
  let truncated: boolean;
  let withheld = false;
  if (cap.transfer !== undefined && raw.length > 0) {
    const plain = decodeTransferCodings(raw, cap.transfer.left, { maxOutputBytes: maxBody, inputComplete: complete });
    if (plain.error === undefined) {
      raw = plain.body;
      complete = !plain.truncated;
    } else {
      // Never the coded bytes: masking would take them for a plain body and find nothing.
      withheld = true;
      notes.push(`${side}.body: left out: transfer-encoding ${cap.transfer.all.join(', ')} could not be removed (${plain.error}), so it could not be scanned for secrets`);
      redacted?.push(`${side}.body`);
    }
  }
  if (withheld) {
    body = new Uint8Array(0);
    truncated = true;
  } else {
    const decoded = decodeBody(raw, encoding, { maxOutputBytes: maxBody, inputComplete: complete });
    if (decoded.error !== undefined) notes.push(`${side}.body: ${decoded.error}`);
    body = decoded.body;
    truncated = decoded.truncated;
  }
  if (cap.skipped !== undefined) notes.push(`${side}.body: ${cap.skipped} bytes not captured (capture fell behind forwarding)`);
  const msg: HttpMessage = { headers: cap.headers, body, body_size: cap.size, truncated };
  if (cap.trailers !== undefined) msg.trailers = cap.trailers;
  const ct = cap.headers['content-type'];
  if (ct !== undefined) msg.content_type = ct;
  if (encoding !== undefined) msg.content_encoding = encoding;
  return msg;
}
