/**
 * HTTP/2 capture session (h2c with prior knowledge, or after an HTTP/1.1 `Upgrade: h2c`): two
 * frame readers, two HPACK decoders and a table of recorded streams.
 *
 * This file is the connection: it reads frames in each direction, assembles and decodes header
 * blocks, applies SETTINGS, and implements `CaptureSession` (time, gaps, stop, close). What a
 * frame means for a stream is handed to `stream-table.ts`; one stream's state and record are in
 * `stream.ts`. Header blocks are decoded in wire order per direction whether or not their stream
 * is recorded (over the stream cap, over the body limit, already reset): the HPACK dynamic table
 * is connection state, and a block skipped once makes every later block decode wrong. For the
 * same reason a gap in the bytes cannot be bridged outside a DATA payload: `resync` stops
 * observing the connection instead of guessing.
 *
 * Like the HTTP/1 session it never throws: malformed framing or HPACK becomes a `parse_error`
 * event and error records for the streams in flight, and the session stops observing (the
 * proxy keeps forwarding).
 */
import type { CaptureContext, CaptureSession, Exchange, RequestStartInfo } from '../capture/session.ts';
import type { RecordError } from '../../record/record.ts';
import { describeError } from '../../lib/errors.ts';
import { DEFAULT_MAX_FRAME_SIZE, FLAG, FRAME, MAX_MAX_FRAME_SIZE, SETTING } from './constants.ts';
import { FrameReader, type FrameHeader, type FrameReaderHandler } from './frame-reader.ts';
import { HpackDecoder } from './hpack.ts';
import type { H2cUpgradeRequest, Side } from './stream.ts';
import { StreamTable, type BlockInfo } from './stream-table.ts';

export type { H2cUpgradeRequest } from './stream.ts';

export interface Http2SessionOptions {
  /** Streams recorded at once; beyond, new streams are only followed for HPACK. Default 256. */
  maxOpenStreams?: number;
  /** A header block (HEADERS/PUSH_PROMISE + CONTINUATION) larger than this stops capture. Default 256 KiB. */
  maxHeaderBlockBytes?: number;
  /** Decoded header fields kept per block (name + value + 32 each); the rest are counted. Default 256 KiB. */
  maxHeaderListBytes?: number;
  /** Largest HPACK dynamic table followed per direction. Default 1 MiB. */
  maxHeaderTableSize?: number;
  /** Ordinal of the first stream (after HTTP/1 exchanges on the same connection). Default 0. */
  firstOrdinal?: number;
}

export const DEFAULT_MAX_OPEN_STREAMS = 256;
export const DEFAULT_MAX_HEADER_BLOCK_BYTES = 256 * 1024;

/** A header block being assembled from HEADERS/PUSH_PROMISE and CONTINUATION frames. */
interface Block extends BlockInfo {
  kind: 'headers' | 'push';
  chunks: Uint8Array[];
  size: number;
}

interface Direction {
  side: Side;
  reader: FrameReader;
  /** Decodes the header blocks this direction sends. */
  decoder: HpackDecoder;
  block?: Block;
}

export function createHttp2Session(ctx: CaptureContext, options: Http2SessionOptions = {}): CaptureSession {
  return createCore(ctx, options, undefined);
}

/**
 * Continue an HTTP/1.1 connection after `101 Switching Protocols` to h2c: the client sends the
 * connection preface, the server starts with its SETTINGS, and the upgraded request is stream 1
 * (its response comes on stream 1).
 */
export function createH2cUpgradeSession(ctx: CaptureContext, firstRequest: H2cUpgradeRequest, options: Http2SessionOptions = {}): CaptureSession {
  return createCore(ctx, options, firstRequest);
}

/** SETTINGS entries as [id, value] pairs. */
function settingsOf(payload: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let o = 0; o + 6 <= payload.length; o += 6) {
    const id = (payload[o] << 8) | payload[o + 1];
    const value = ((payload[o + 2] << 24) | (payload[o + 3] << 16) | (payload[o + 4] << 8) | payload[o + 5]) >>> 0;
    out.push([id, value]);
  }
  return out;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function createCore(ctx: CaptureContext, options: Http2SessionOptions, upgrade: H2cUpgradeRequest | undefined): CaptureSession {
  const maxBody = Math.max(0, ctx.maxBodyBytes);
  const maxBlock = options.maxHeaderBlockBytes ?? DEFAULT_MAX_HEADER_BLOCK_BYTES;
  const maxList = options.maxHeaderListBytes ?? 256 * 1024;
  const tableOptions = { maxTableSize: options.maxHeaderTableSize };

  let mode: 'h2' | 'stopped' | 'closed' = 'h2';
  let now = 0n;

  const safeEmit = (exchange: Exchange): void => {
    try {
      ctx.emit(exchange);
    } catch {
      // A failing sink must not break parsing of the connection.
    }
  };
  const safeEvent = (event: Parameters<CaptureContext['event']>[0]): void => {
    try {
      ctx.event(event);
    } catch {
      // Metrics are best effort.
    }
  };

  const safeRequestStarted = (info: RequestStartInfo): void => {
    try {
      ctx.requestStarted?.(info);
    } catch {
      // Linking is best effort: it never breaks parsing of the connection.
    }
  };

  const streams = new StreamTable({
    maxOpen: options.maxOpenStreams ?? DEFAULT_MAX_OPEN_STREAMS,
    maxList,
    maxBody,
    firstOrdinal: options.firstOrdinal ?? 0,
    now: () => now,
    emit: safeEmit,
    event: safeEvent,
    ...(ctx.requestStarted !== undefined ? { requestStarted: safeRequestStarted } : {}),
  });

  /** Capture stops for the connection: every open stream is flushed with `error`. */
  const stopAll = (error: RecordError, detail: string, note: string): void => {
    mode = 'stopped';
    client.reader.stop();
    server.reader.stop();
    streams.flushAll(error, detail, note);
  };

  const parseError = (side: Side, detail: string): void => {
    if (mode !== 'h2') return;
    const full = `HTTP/2 ${side}: ${detail}`;
    safeEvent({ kind: 'parse_error', side, detail: full });
    stopAll('parse', full, 'capture stopped for this connection (not HTTP/2 framing as expected)');
  };

  const completeBlock = (d: Direction): void => {
    const b = d.block;
    d.block = undefined;
    if (b === undefined) return;
    const bytes = b.chunks.length === 1 ? b.chunks[0] : Buffer.concat(b.chunks, b.size);
    const result = d.decoder.decode(bytes, maxList);
    if (!result.ok) {
      parseError(d.side, result.error);
      return;
    }
    const { fields, omitted } = result.block;
    if (b.kind === 'push') streams.pushPromise(b, fields, omitted);
    else if (d.side === 'client') streams.clientHeaders(b, fields, omitted);
    else streams.serverHeaders(b, fields, omitted);
  };

  /**
   * A side's SETTINGS bound what the other side sends: its header blocks and frame sizes.
   * `strict`: an illegal value is a parse error (a SETTINGS frame); otherwise it is ignored
   * (the HTTP2-Settings header of an upgrade request, read before the session has started).
   */
  const settings = (by: Side, payload: Uint8Array, strict = true): void => {
    const peer = by === 'client' ? server : client;
    for (const [id, value] of settingsOf(payload)) {
      if (id === SETTING.HEADER_TABLE_SIZE) peer.decoder.allowTableSize(value);
      else if (id === SETTING.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) {
          if (!strict) continue;
          parseError(by, `SETTINGS_MAX_FRAME_SIZE ${value} outside ${DEFAULT_MAX_FRAME_SIZE}..${MAX_MAX_FRAME_SIZE}`);
          return;
        }
        peer.reader.allowFrameSize(value);
      }
    }
  };

  const handlerFor = (get: () => Direction): FrameReaderHandler => ({
    onFrameStart(h: FrameHeader) {
      const d = get();
      const bytes = 9 + h.length;
      if (h.type === FRAME.HEADERS || h.type === FRAME.PUSH_PROMISE) {
        if (h.type === FRAME.PUSH_PROMISE && d.side === 'client') {
          parseError('client', 'PUSH_PROMISE sent by the client');
          return;
        }
        d.block = {
          kind: h.type === FRAME.HEADERS ? 'headers' : 'push',
          streamId: h.streamId,
          endStream: h.type === FRAME.HEADERS && (h.flags & FLAG.END_STREAM) !== 0,
          start: now,
          frameBytes: bytes,
          chunks: [],
          size: 0,
        };
        return;
      }
      if (h.type === FRAME.CONTINUATION) {
        if (d.block !== undefined) d.block.frameBytes += bytes;
        return;
      }
      streams.countFrame(d.side, h.streamId, bytes);
    },
    onPushPromise(_h, promised) {
      const b = get().block;
      if (b !== undefined) b.streamId = promised;
    },
    onHeaderFragment(_h, data) {
      const d = get();
      const b = d.block;
      if (b === undefined) return;
      b.size += data.length;
      if (b.size > maxBlock) {
        parseError(d.side, `header block over ${maxBlock} bytes: HPACK state cannot be followed`);
        return;
      }
      b.chunks.push(Uint8Array.from(data));
    },
    onData(h, data) {
      streams.data(get().side, h.streamId, data);
    },
    onDataSkipped(h, n) {
      streams.dataSkipped(get().side, h.streamId, n);
    },
    onFrameEnd(h, payload) {
      const d = get();
      switch (h.type) {
        case FRAME.HEADERS:
        case FRAME.PUSH_PROMISE:
        case FRAME.CONTINUATION:
          if ((h.flags & FLAG.END_HEADERS) !== 0) completeBlock(d);
          return;
        case FRAME.DATA:
          if ((h.flags & FLAG.END_STREAM) !== 0) streams.endStream(d.side, h.streamId);
          return;
        case FRAME.SETTINGS:
          if ((h.flags & FLAG.ACK) === 0 && payload !== undefined) settings(d.side, payload);
          return;
        case FRAME.RST_STREAM:
          if (payload !== undefined) streams.reset(h.streamId, d.side, u32(payload, 0));
          return;
        case FRAME.GOAWAY:
          if (payload !== undefined) streams.goaway(d.side, u32(payload, 0) & 0x7fffffff, u32(payload, 4));
          return;
        default:
          // PING, WINDOW_UPDATE, PRIORITY and unknown (extension) frames: consumed.
          return;
      }
    },
    onError(detail) {
      parseError(get().side, detail);
    },
  });

  const client: Direction = {
    side: 'client',
    reader: new FrameReader(handlerFor(() => client), { expectPreface: true }),
    decoder: new HpackDecoder(tableOptions),
  };
  const server: Direction = {
    side: 'server',
    reader: new FrameReader(handlerFor(() => server), { expectPreface: false }),
    decoder: new HpackDecoder(tableOptions),
  };

  if (upgrade !== undefined) {
    now = upgrade.start;
    // The client's SETTINGS rode in the upgrade request (RFC 7540 §3.2.1).
    const h2settings = upgrade.headers['http2-settings'];
    if (h2settings !== undefined) {
      settings('client', Buffer.from(h2settings.trim(), 'base64url'), false);
    }
    streams.adoptUpgrade(upgrade);
  }

  const guard = (side: Side, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      if (mode !== 'h2') return;
      try {
        parseError(side, `internal: ${describeError(err)}`);
      } catch {
        mode = 'stopped';
      }
    }
  };

  const skip = (d: Direction, n: number, t: bigint): boolean => {
    if (mode !== 'h2') return true;
    now = t;
    let absorbed = false;
    guard(d.side, () => {
      absorbed = d.reader.skip(n);
    });
    return absorbed || mode !== 'h2';
  };

  return {
    clientData(chunk, t) {
      if (mode !== 'h2') return;
      now = t;
      guard('client', () => client.reader.push(chunk));
    },
    serverData(chunk, t) {
      if (mode !== 'h2') return;
      now = t;
      guard('server', () => server.reader.push(chunk));
    },
    skipClient(n, t) {
      return skip(client, n, t);
    },
    skipServer(n, t) {
      return skip(server, n, t);
    },
    resync(t, reason) {
      if (mode !== 'h2') return;
      now = t;
      const detail = `capture fell behind forwarding (${reason}): HPACK state lost, capture stopped for this connection`;
      try {
        stopAll('capture_overflow', detail, 'HPACK state lost: later calls on this connection are not captured');
      } catch {
        mode = 'stopped';
      }
    },
    clientEnd(t) {
      now = t;
    },
    serverEnd(t) {
      now = t;
    },
    close(t, reason) {
      if (mode !== 'h2') {
        mode = 'closed';
        return;
      }
      now = t;
      mode = 'closed';
      try {
        streams.closeAll(reason);
      } catch {
        // Nothing more can be done for this connection's records.
      }
    },
  };
}
