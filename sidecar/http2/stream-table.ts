/**
 * The streams of one HTTP/2 connection that are being recorded: which exist, when each opens
 * and ends, and when its record is emitted.
 *
 * This file exists because stream bookkeeping is a concern of its own, apart from reading
 * frames (`session.ts`) and from a single stream's state (`stream.ts`). HTTP/2 multiplexes, so
 * records are keyed by stream id and emitted when both directions ended, on RST_STREAM, on a
 * refusing GOAWAY, or when capture stops or the connection closes, in whatever order that
 * happens. Here live the rules that span streams: ordinals, the cap on open streams, which ids
 * may open a stream (client odd, push even, always increasing), and GOAWAY's last-stream-id.
 * It is fed decoded header lists and frame events; it never sees bytes or HPACK.
 */
import type { CaptureContext, CloseReason, Exchange } from '../capture/session.ts';
import type { RecordError } from '../../record/record.ts';
import { errorCodeName } from './constants.ts';
import { splitHeaderList } from './headers.ts';
import type { HeaderField } from './hpack.ts';
import { captureBodyBytes, newMessageCapture, skipBodyBytes } from '../capture/message-capture.ts';
import {
  grpcStatusOf,
  streamFromHeaders,
  streamFromUpgrade,
  toExchange,
  type H2cUpgradeRequest,
  type Side,
  type Stream,
} from './stream.ts';

/** What the table needs of a complete header block (HEADERS/PUSH_PROMISE + CONTINUATION). */
export interface BlockInfo {
  /** The stream the block is for (the promised one for PUSH_PROMISE). */
  streamId: number;
  endStream: boolean;
  start: bigint;
  /** Wire bytes of the block's frames, 9-byte headers included. */
  frameBytes: number;
}

export interface StreamTableOptions {
  maxOpen: number;
  /** The decoder's limit on kept header fields, named in the note when fields were dropped. */
  maxList: number;
  maxBody: number;
  firstOrdinal: number;
  /** The session's current time (of the bytes being handled). */
  now: () => bigint;
  /** Hands a record on; must not throw. */
  emit: (exchange: Exchange) => void;
  /** Reports an event; must not throw. */
  event: (event: Parameters<CaptureContext['event']>[0]) => void;
  /** A client stream's request head was read (see `CaptureContext.requestStarted`); must not throw. */
  requestStarted?: CaptureContext['requestStarted'];
}

function closeError(reason: CloseReason): RecordError {
  if (reason === 'reset' || reason === 'error') return 'reset';
  if (reason === 'timeout') return 'timeout';
  if (reason === 'capture_overflow') return 'capture_overflow';
  return 'closed';
}

export class StreamTable {
  private readonly o: StreamTableOptions;
  private nextOrdinal: number;
  /** Recorded streams still open, in ordinal order (Map keeps insertion order). */
  private readonly streams = new Map<number, Stream>();
  /** Highest stream id opened by each side: a HEADERS at or below it is not a new stream. */
  private lastClientStream = 0;
  private lastPushStream = 0;
  /** Last-stream-id of a GOAWAY sent by each side (streams of the other side above it are refused). */
  private readonly goawayLast: Record<Side, number | undefined> = { client: undefined, server: undefined };

  constructor(options: StreamTableOptions) {
    this.o = options;
    this.nextOrdinal = options.firstOrdinal;
  }

  /** Stream 1 of an h2c upgrade, opened before any HTTP/2 frame. */
  adoptUpgrade(upgrade: H2cUpgradeRequest): void {
    const s = streamFromUpgrade(upgrade, this.nextOrdinal++, this.o.maxBody);
    this.streams.set(1, s);
    this.lastClientStream = 1;
    this.o.requestStarted?.({ ordinal: s.ordinal, start: s.start, headers: s.request.headers });
  }

  /** A request header block, or the request's trailers when the stream is already open. */
  clientHeaders(b: BlockInfo, fields: HeaderField[], omitted: number): void {
    const existing = this.streams.get(b.streamId);
    if (existing !== undefined) {
      existing.bytesOut += b.frameBytes;
      if (existing.reqDone) return;
      existing.request.trailers = splitHeaderList(fields).headers;
      this.omittedNote(existing, 'request.trailers', omitted);
      if (b.endStream) this.endRequest(existing);
      return;
    }
    // Even ids are the server's; ids at or below the last one are finished or not recorded.
    if (b.streamId % 2 === 0 || b.streamId <= this.lastClientStream) return;
    this.lastClientStream = b.streamId;
    const s = this.open(b.streamId, b.start, fields, false);
    if (s === undefined) return;
    this.o.requestStarted?.({ ordinal: s.ordinal, start: s.start, headers: s.request.headers });
    s.bytesOut += b.frameBytes;
    this.omittedNote(s, 'request.headers', omitted);
    const refusedBy = this.goawayLast.server;
    if (refusedBy !== undefined && s.id > refusedBy) {
      this.finish(s, 'reset', `GOAWAY received before the stream (last stream ${refusedBy})`);
      return;
    }
    if (b.endStream) this.endRequest(s);
  }

  /** Response headers (1xx noted and skipped), or the response's trailers. */
  serverHeaders(b: BlockInfo, fields: HeaderField[], omitted: number): void {
    const s = this.streams.get(b.streamId);
    if (s === undefined) return;
    s.bytesIn += b.frameBytes;
    const { pseudo, headers } = splitHeaderList(fields);
    if (s.response === undefined) {
      const status = Number(pseudo[':status']);
      if (status >= 100 && status < 200) {
        s.notes.push(status === 100 ? '100-continue' : `interim ${status}`);
        return;
      }
      s.response = newMessageCapture(headers);
      if (s.grpc) s.response.arrivals = [];
      if (Number.isInteger(status)) s.statusCode = status;
      s.responseStart = b.start;
      this.omittedNote(s, 'response.headers', omitted);
      if (s.grpc && b.endStream) {
        // Trailers-only response: the status travels in the only header block.
        s.grpcStatus = grpcStatusOf(headers);
        const trailers: Record<string, string> = {};
        if (headers['grpc-status'] !== undefined) trailers['grpc-status'] = headers['grpc-status'];
        if (headers['grpc-message'] !== undefined) trailers['grpc-message'] = headers['grpc-message'];
        if (Object.keys(trailers).length > 0) s.response.trailers = trailers;
      }
    } else {
      if (s.resDone) return;
      s.response.trailers = headers;
      this.omittedNote(s, 'response.trailers', omitted);
      if (s.grpc) s.grpcStatus = grpcStatusOf(headers);
    }
    if (b.endStream) this.endResponse(s);
  }

  /** A PUSH_PROMISE: opens the promised stream with its request already complete. */
  pushPromise(b: BlockInfo, fields: HeaderField[], omitted: number): void {
    if (b.streamId % 2 !== 0 || b.streamId <= this.lastPushStream) return;
    this.lastPushStream = b.streamId;
    const s = this.open(b.streamId, b.start, fields, true);
    if (s === undefined) return;
    s.bytesIn += b.frameBytes;
    s.notes.push('server push');
    this.omittedNote(s, 'request.headers', omitted);
    s.reqDone = true;
    s.requestEnd = b.start;
    const refusedBy = this.goawayLast.client;
    if (refusedBy !== undefined && s.id > refusedBy) this.finish(s, 'reset', `GOAWAY received before the stream (last stream ${refusedBy})`);
  }

  /** Counts a frame (other than a header block's) on its stream. */
  countFrame(side: Side, streamId: number, bytes: number): void {
    const s = this.streams.get(streamId);
    if (s === undefined || streamId === 0) return;
    if (side === 'client') s.bytesOut += bytes;
    else s.bytesIn += bytes;
  }

  /** A piece of a DATA payload. */
  data(side: Side, streamId: number, data: Uint8Array): void {
    const s = this.streams.get(streamId);
    if (s === undefined) return;
    const cap = side === 'client' ? s.request : s.response;
    if (cap !== undefined && captureBodyBytes(cap, data, this.o.maxBody, this.o.now())) this.o.event({ kind: 'body_truncated' });
  }

  /** DATA payload bytes that passed unseen. */
  dataSkipped(side: Side, streamId: number, n: number): void {
    const s = this.streams.get(streamId);
    if (s === undefined) return;
    const cap = side === 'client' ? s.request : s.response;
    if (cap !== undefined && skipBodyBytes(cap, n, this.o.maxBody)) this.o.event({ kind: 'body_truncated' });
  }

  /** END_STREAM on a DATA frame. */
  endStream(side: Side, streamId: number): void {
    const s = this.streams.get(streamId);
    if (s === undefined) return;
    if (side === 'client') this.endRequest(s);
    else this.endResponse(s);
  }

  reset(streamId: number, by: Side, code: number): void {
    const s = this.streams.get(streamId);
    if (s === undefined) return;
    const name = errorCodeName(code);
    if (by === 'server' && code === 0 && s.resDone) {
      // The server answered in full and stopped the upload: allowed (RFC 9113 §8.1).
      s.notes.push('request cut short by the server (RST_STREAM NO_ERROR after the response)');
      this.finish(s);
      return;
    }
    s.notes.push(`reset by the ${by}`);
    // CANCEL from the client after its whole request: it no longer wanted the answer (a gRPC
    // deadline, an aborted fetch). Other codes are the client objecting, not giving up.
    const gaveUp = by === 'client' && name === 'CANCEL' && s.reqDone && !s.resDone;
    this.finish(s, gaveUp ? 'client_timeout' : 'reset', `RST_STREAM ${name}`);
  }

  goaway(by: Side, last: number, code: number): void {
    const prev = this.goawayLast[by];
    this.goawayLast[by] = prev === undefined ? last : Math.min(prev, last);
    // The sender refuses streams the other side opened above `last`: those were never processed.
    const parity = by === 'server' ? 1 : 0;
    const detail = `GOAWAY ${errorCodeName(code)} (last stream ${last})`;
    for (const s of [...this.streams.values()]) {
      if (s.id % 2 === parity && s.id > last) {
        s.notes.push(`refused by the ${by}'s GOAWAY`);
        this.finish(s, 'reset', detail);
      }
    }
  }

  /** Capture stopped: every open stream is emitted with `error`, or a marker record when none was open. */
  flushAll(error: RecordError, detail: string, note: string): void {
    const open = [...this.streams.values()];
    this.streams.clear();
    if (open.length === 0) this.marker(error, detail, note);
    for (const s of open) {
      s.notes.push(note);
      this.o.emit(toExchange(s, this.o.now(), this.o.maxBody, error, detail));
    }
  }

  /** The connection closed: open streams get the close reason (a finished response with an unfinished request only a note). */
  closeAll(reason: CloseReason): void {
    const error = closeError(reason);
    for (const s of [...this.streams.values()]) {
      if (s.resDone && !s.reqDone) {
        s.notes.push('request incomplete');
        this.finish(s);
      } else {
        this.finish(s, error, `connection closed (${reason}) with the stream open`);
      }
    }
  }

  /** Opens a recorded stream, or returns undefined (and counts it) over the stream cap. */
  private open(id: number, start: bigint, fields: readonly HeaderField[], pushed: boolean): Stream | undefined {
    if (this.streams.size >= this.o.maxOpen) {
      this.o.event({ kind: 'capture_overflow', reason: 'pending_exchanges' });
      return undefined;
    }
    const s = streamFromHeaders(id, this.nextOrdinal++, start, fields, pushed);
    this.streams.set(id, s);
    return s;
  }

  private finish(s: Stream, error?: RecordError, detail?: string): void {
    this.streams.delete(s.id);
    this.o.emit(toExchange(s, this.o.now(), this.o.maxBody, error, detail));
  }

  /** A record for a connection that failed with nothing in flight, so the failure is seen. */
  private marker(error: RecordError, detail: string, note: string): void {
    const now = this.o.now();
    this.o.emit({ protocol: 'http2', ordinal: this.nextOrdinal++, start: now, end: now, bytes_out: 0, bytes_in: 0, error, error_detail: detail, notes: [note] });
  }

  private endRequest(s: Stream): void {
    if (s.reqDone) return;
    s.reqDone = true;
    s.requestEnd = this.o.now();
    this.maybeDone(s);
  }

  private endResponse(s: Stream): void {
    if (s.resDone) return;
    s.resDone = true;
    this.maybeDone(s);
  }

  private maybeDone(s: Stream): void {
    if (s.reqDone && s.resDone) this.finish(s);
  }

  private omittedNote(s: Stream, what: string, omitted: number): void {
    if (omitted > 0) s.notes.push(`${what}: ${omitted} header fields over the ${this.o.maxList}-byte limit not kept`);
  }
}
