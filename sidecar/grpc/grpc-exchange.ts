/**
 * A gRPC call as people read it: the HTTP/2 exchange's bodies (length-prefixed, maybe
 * compressed protobuf) become JSON listing each message decoded without a schema, and the
 * status and its message come out of the trailers (or the headers of a trailers-only
 * response). Runs where capture runs, on bodies already cut to the capture limit.
 *
 * Pure; never throws: what cannot be decoded is shown as bytes with a note, not dropped.
 */
import zlib from 'node:zlib';
import type { BodyArrival, Exchange } from '../capture/session.ts';
import type { HttpMessage } from '../../record/record.ts';
import { splitGrpcFrames } from './length-prefixed.ts';
import type { GrpcSchema } from './descriptors.ts';
import { decodeProtobuf, type DecodedMessage, type DecodedValue } from './protobuf-text.ts';
import { decodeWithSchema } from './typed-decode.ts';

export interface GrpcMessageJson {
  /** The message's size on the wire (after compression), from its prefix. */
  size: number;
  compressed?: true;
  /** Only part of the message was captured (the body limit). */
  partial?: true;
  /** Decoded: field names with a schema, field numbers without. */
  message?: DecodedMessage | Record<string, DecodedValue>;
  /** When it is not protobuf: readable text, or `base64:` bytes. */
  raw?: string;
  /** Why it could not be decoded (compression not removable, cut short). */
  error?: string;
  /** When its first byte arrived, in µs after the call started (streaming timelines). */
  at_us?: number;
}

/**
 * `grpc-message` is percent-encoded (gRPC over HTTP/2 spec); a bad escape is kept as is. The
 * text may quote the client's values: the record masker scans both the decoded `grpc_message`
 * and the encoded trailer.
 */
export function decodeGrpcMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function decompress(data: Uint8Array, encoding: string | undefined, max: number): Buffer {
  const opts = { maxOutputLength: Math.max(1, max) };
  if (encoding === 'gzip') return zlib.gunzipSync(data, opts);
  if (encoding === 'deflate') {
    try {
      return zlib.inflateSync(data, opts);
    } catch {
      return zlib.inflateRawSync(data, opts);
    }
  }
  throw new Error(`grpc-encoding ${encoding ?? '(none)'} cannot be removed`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function rawOf(data: Uint8Array): string {
  try {
    const text = utf8.decode(data);
    if (!/[\x00-\x08\x0e-\x1f]/.test(text)) return text;
  } catch {
    // not text
  }
  return `base64:${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')}`;
}

/** The arrival time of body offset `offset`: the last piece that started at or before it. */
function arrivalOf(arrivals: readonly BodyArrival[] | undefined, offset: number): bigint | undefined {
  if (arrivals === undefined || arrivals.length === 0) return undefined;
  let lo = 0;
  let hi = arrivals.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (arrivals[mid][0] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return arrivals[lo][0] <= offset ? arrivals[lo][1] : undefined;
}

function decodeMessages(
  msg: HttpMessage,
  side: 'request' | 'response',
  encoding: string | undefined,
  maxBody: number,
  notes: string[],
  timing: { start: bigint; arrivals?: readonly BodyArrival[] },
  typed?: { schema: GrpcSchema; type: string },
): HttpMessage {
  if (msg.body.length === 0) return msg;
  const split = splitGrpcFrames(msg.body);
  if (split.malformed) {
    notes.push(`${side}.body: not gRPC message framing; shown as captured`);
    return msg;
  }
  const messages: GrpcMessageJson[] = [];
  let budget = maxBody;
  let offset = 0;
  let schemaUsed = 0;
  for (const frame of split.frames) {
    const out: GrpcMessageJson = { size: frame.size };
    const at = arrivalOf(timing.arrivals, offset);
    if (at !== undefined) out.at_us = Number((at - timing.start) / 1000n);
    offset += 5 + frame.size;
    if (frame.compressed) out.compressed = true;
    if (frame.partial) out.partial = true;
    let data: Uint8Array = frame.data;
    if (frame.compressed) {
      if (frame.partial) {
        out.error = 'compressed and cut by the capture limit: not decoded';
        messages.push(out);
        continue;
      }
      try {
        data = decompress(frame.data, encoding, budget);
      } catch (err) {
        out.error = (err as Error).message;
        messages.push(out);
        continue;
      }
    }
    budget = Math.max(0, budget - data.length);
    const named = frame.partial || typed === undefined ? undefined : decodeWithSchema(data, typed.type, typed.schema);
    if (named !== undefined) schemaUsed++;
    const decoded = named ?? (frame.partial ? undefined : decodeProtobuf(data));
    if (decoded !== undefined) out.message = decoded;
    else out.raw = rawOf(data);
    messages.push(out);
  }
  const count = messages.length;
  const how = typed !== undefined && schemaUsed === count ? `as ${typed.type}` : 'without a schema (keys are field numbers)';
  notes.push(`${side}.body: ${count} gRPC message${count === 1 ? '' : 's'} decoded ${how}`);
  const json = JSON.stringify({ messages });
  return { ...msg, body: Buffer.from(json, 'utf8') };
}

/** The exchange of an HTTP/2 stream carrying gRPC, turned into a `grpc` record's fields. */
export function toGrpcExchange(ex: Exchange, maxBody: number, schema?: GrpcSchema): Exchange {
  const out: Exchange = { ...ex, protocol: 'grpc' };
  const notes = [...(ex.notes ?? [])];
  const res = ex.response;
  const status = res?.trailers?.['grpc-status'] ?? res?.headers['grpc-status'];
  if (out.grpc_status === undefined && status !== undefined && /^\d{1,2}$/.test(status)) out.grpc_status = Number(status);
  const message = res?.trailers?.['grpc-message'] ?? res?.headers['grpc-message'];
  if (message !== undefined && message !== '') out.grpc_message = decodeGrpcMessage(message);
  try {
    const arrivals = ex.body_arrivals;
    // With a schema for the method, messages get field and enum names.
    const method = schema !== undefined && ex.path !== undefined ? schema.methods.get(ex.path.split('?')[0]) : undefined;
    const typed = (type: string | undefined) => (method !== undefined && type !== undefined ? { schema: schema!, type } : undefined);
    if (ex.request !== undefined) out.request = decodeMessages(ex.request, 'request', ex.request.headers['grpc-encoding'], maxBody, notes, { start: ex.start, arrivals: arrivals?.request }, typed(method?.input));
    if (res !== undefined) out.response = decodeMessages(res, 'response', res.headers['grpc-encoding'], maxBody, notes, { start: ex.start, arrivals: arrivals?.response }, typed(method?.output));
  } catch {
    notes.push('gRPC messages could not be decoded; shown as captured');
  }
  if (notes.length > 0) out.notes = notes;
  return out;
}
