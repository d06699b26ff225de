/**
 * WebSocket capture after an HTTP/1.1 `101 Switching Protocols` (RFC 6455): frames read per
 * direction, client frames unmasked, fragmented messages reassembled, permessage-deflate
 * inflated for display, control frames (ping, pong, close with its code and reason) kept.
 *
 * One record per message (`protocol: "ws"`, tied to the upgrade call by the connection id and
 * path): what the client sent is the record's `request`, what the server sent its `response`;
 * `method` is the opcode (`TEXT`, `BINARY`, `PING`, `PONG`, `CLOSE`).
 *
 * Bounded per connection by rate, never by lifetime: a token bucket (`burst` messages, refilled
 * at `messagesPerSecond`) admits a message when its first frame starts. A message not admitted
 * is still followed (its frames, and with context takeover its inflation, so later messages stay
 * readable) but its bytes are not kept. When it ends it is counted at once: one
 * `capture_overflow` event (`reason: "ws_message_rate"`) per message, and into the next marker
 * record (`error: "capture_overflow"`), emitted at most once per `markerIntervalMs` while
 * messages are being dropped and at close, saying how many messages (from which side, how many
 * bytes) were not recorded since the previous one. Recorded + counted = messages seen.
 *
 * Pure, incremental, never throws out of its methods.
 */
import type { CaptureContext, CaptureEvent, CaptureSession, CloseReason, Exchange } from '../capture/session.ts';
import type { HttpMessage } from '../../record/record.ts';
import type { UpgradeInfo } from '../http1/upgrade.ts';
import { createInflater, negotiatedDeflate, MAX_INFLATED, type Inflater } from './deflate.ts';
import { OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, WsFrameReader, type WsFrameHeader } from './frame-reader.ts';

export interface WebSocketSessionOptions {
  /** Messages recorded per second per connection, sustained (the bucket's refill). Default 100. */
  messagesPerSecond?: number;
  /** Messages recorded in a burst (the bucket's size, full when the connection upgrades). Default 1000; `Infinity`: no bound. */
  burst?: number;
  /** Shortest time between two overflow marker records of one connection. Default 1000 ms. */
  markerIntervalMs?: number;
}

export const DEFAULT_MESSAGES_PER_SECOND = 100;
export const DEFAULT_MESSAGE_BURST = 1000;
export const DEFAULT_MARKER_INTERVAL_MS = 1000;
/** The `capture_overflow` reason counted once per message not recorded. */
export const MESSAGE_RATE_REASON = 'ws_message_rate';

/** The capture session, and what it holds (for its bounds). */
export interface WebSocketSession extends CaptureSession {
  /** Message bytes held now, both directions (in-progress messages; not the inflaters' 32 KiB windows). */
  heldBytes(): number;
}

const OPCODE_NAMES: Record<number, string> = { [OP_TEXT]: 'TEXT', [OP_BINARY]: 'BINARY', [OP_CLOSE]: 'CLOSE', [OP_PING]: 'PING', [OP_PONG]: 'PONG' };

/** A message (or control frame) being received in one direction. */
interface Message {
  opcode: number;
  compressed: boolean;
  frames: number;
  start: bigint;
  chunks: Buffer[];
  kept: number;
  size: number;
  wire: number;
  skipped: number;
  /** Admitted by the rate bound: it becomes a record. Otherwise it is only counted. */
  recorded: boolean;
}

interface Direction {
  reader: WsFrameReader;
  /** The data message being reassembled across frames. */
  data?: Message;
  /** The control frame in progress (they may interleave with a fragmented message). */
  control?: Message;
  /** Where payload bytes of the current frame go. */
  current?: Message;
  /** FIN of the frame in progress. */
  fin: boolean;
  inflater?: Inflater;
  /** The inflater carries context from message to message: a message not recorded is still inflated. */
  takeover: boolean;
  /** A close frame was seen: the first one is recorded whatever the rate. */
  closeSeen: boolean;
}

const CLOSE_CODES: Record<number, string> = {
  1000: 'normal closure',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status',
  1006: 'abnormal closure',
  1007: 'invalid payload',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'missing extension',
  1011: 'internal error',
};

/** An option as given when it is a number ≥ 0 (`Infinity`: no bound), else its default. */
function nonNegative(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && value >= 0 ? value : fallback;
}

export function createWebSocketSession(ctx: CaptureContext, upgrade: UpgradeInfo, options: WebSocketSessionOptions = {}): WebSocketSession {
  const maxBody = Math.max(0, ctx.maxBodyBytes);
  const rate = nonNegative(options.messagesPerSecond, DEFAULT_MESSAGES_PER_SECOND);
  const burst = nonNegative(options.burst, DEFAULT_MESSAGE_BURST);
  const intervalMs = nonNegative(options.markerIntervalMs, DEFAULT_MARKER_INTERVAL_MS);
  const markerIntervalNs = BigInt(Math.round((Number.isFinite(intervalMs) ? intervalMs : DEFAULT_MARKER_INTERVAL_MS) * 1e6));
  const deflate = negotiatedDeflate(upgrade.responseHeaders['sec-websocket-extensions']);
  let ordinal = 0;
  let now = upgrade.at;
  let stopped = false;
  let closed = false;
  /** The rate bound: messages that may still be recorded, refilled with time. */
  let tokens = burst;
  let refilledAt = upgrade.at;
  /** Messages not recorded since the last marker record. */
  const pending = { messages: 0, client: 0, server: 0, bytesOut: 0, bytesIn: 0, since: 0n };
  let lastMarkerAt: bigint | undefined;

  const emit = (exchange: Exchange): void => {
    try {
      ctx.emit(exchange);
    } catch {
      // A failing sink must not break parsing.
    }
  };

  const event = (e: CaptureEvent): void => {
    try {
      ctx.event(e);
    } catch {
      // A failing counter must not break parsing.
    }
  };

  const withTarget = (ex: Exchange): Exchange => {
    if (upgrade.request.path !== undefined) ex.path = upgrade.request.path;
    if (upgrade.request.authority !== undefined) ex.authority = upgrade.request.authority;
    return ex;
  };

  /** A token for one more record, if the bucket has one (refilled for the time since the last look). */
  const admit = (): boolean => {
    if (now > refilledAt) {
      tokens = Math.min(burst, tokens + (Number(now - refilledAt) / 1e9) * rate);
      refilledAt = now;
    }
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };

  /** One record counting the messages not recorded since the previous one. */
  const marker = (): void => {
    const n = pending.messages;
    const counts = `${pending.client} from the client, ${pending.server} from the server`;
    emit(
      withTarget({
        protocol: 'ws',
        ordinal: ordinal++,
        start: pending.since,
        end: now,
        error: 'capture_overflow',
        error_detail: `${n} WebSocket ${n === 1 ? 'message was' : 'messages were'} forwarded but not recorded since the last record saying so (${counts}): this connection sent more than ${rate} per second beyond a burst of ${burst}`,
        bytes_out: pending.bytesOut,
        bytes_in: pending.bytesIn,
      }),
    );
    lastMarkerAt = now;
    pending.messages = pending.client = pending.server = pending.bytesOut = pending.bytesIn = 0;
  };

  /** The marker, when messages wait to be reported and the last one is old enough. */
  const markerIfDue = (): void => {
    if (pending.messages > 0 && (lastMarkerAt === undefined || now - lastMarkerAt >= markerIntervalNs)) marker();
  };

  /** A message not recorded has ended: counted now, reported by the next marker. */
  const notRecorded = (m: Message, fromClient: boolean): void => {
    if (pending.messages === 0) pending.since = m.start;
    pending.messages++;
    if (fromClient) {
      pending.client++;
      pending.bytesOut += m.wire;
    } else {
      pending.server++;
      pending.bytesIn += m.wire;
    }
    event({ kind: 'capture_overflow', reason: MESSAGE_RATE_REASON });
    markerIfDue();
  };

  const bodyOf = (m: Message, side: 'request' | 'response', inflater: Inflater | undefined, notes: string[]): HttpMessage => {
    let body: Uint8Array = m.chunks.length === 1 ? m.chunks[0] : Buffer.concat(m.chunks, m.kept);
    let truncated = m.kept < m.size;
    if (m.compressed && inflater !== undefined) {
      if (truncated) {
        inflater.lose();
        notes.push(`${side}.body: compressed message cut by the capture limit, shown compressed`);
      } else {
        try {
          const out = inflater.inflate(body, maxBody);
          body = out.data;
          truncated = out.truncated;
          notes.push(`${side}.body: permessage-deflate removed`);
        } catch (err) {
          // What this message added to the context is unknown: later messages must not guess.
          inflater.lose();
          notes.push(`${side}.body: permessage-deflate not removed: ${(err as Error).message}`);
        }
      }
    }
    if (body.length > maxBody) {
      body = body.subarray(0, maxBody);
      truncated = true;
    }
    if (m.skipped > 0) notes.push(`${side}.body: ${m.skipped} bytes not captured (capture fell behind forwarding)`);
    const text = m.opcode === OP_TEXT || m.opcode === OP_CLOSE;
    return { headers: {}, body, body_size: m.size, truncated, content_type: text ? 'text/plain; charset=utf-8' : 'application/octet-stream' };
  };

  const closeText = (m: Message): Buffer => {
    const raw = m.chunks.length === 1 ? m.chunks[0] : Buffer.concat(m.chunks, m.kept);
    if (raw.length < 2) return Buffer.from('no status');
    const code = raw.readUInt16BE(0);
    const reason = raw.subarray(2).toString('utf8');
    return Buffer.from(`${code} ${CLOSE_CODES[code] ?? ''}${reason ? `: ${reason}` : ''}`.replace(/ +:/, ':').trim());
  };

  /** A message not recorded still moves its direction's deflate context along. */
  const followContext = (m: Message, dir: Direction): void => {
    if (!m.compressed || dir.inflater === undefined || !dir.takeover) return;
    if (m.kept < m.size) {
      dir.inflater.lose();
      return;
    }
    try {
      dir.inflater.inflate(m.chunks.length === 1 ? m.chunks[0] : Buffer.concat(m.chunks, m.kept), 0);
    } catch {
      dir.inflater.lose();
    }
  };

  const finish = (m: Message, fromClient: boolean, error?: Exchange['error']): void => {
    const dir = fromClient ? client : server;
    if (!m.recorded) {
      followContext(m, dir);
      notRecorded(m, fromClient);
      return;
    }
    markerIfDue();
    const notes: string[] = [];
    const side = fromClient ? 'request' : 'response';
    const msg = bodyOf(m, side, m.opcode === OP_CLOSE ? undefined : dir.inflater, notes);
    if (m.opcode === OP_CLOSE) {
      msg.body = closeText(m);
      msg.truncated = false;
    }
    if (m.frames > 1) notes.push(`${m.frames} frames`);
    const ex = withTarget({
      protocol: 'ws',
      ordinal: ordinal++,
      start: m.start,
      end: now,
      method: OPCODE_NAMES[m.opcode] ?? `OPCODE ${m.opcode}`,
      bytes_out: fromClient ? m.wire : 0,
      bytes_in: fromClient ? 0 : m.wire,
    });
    if (fromClient) {
      ex.request = msg;
      ex.request_end = now;
    } else {
      ex.response = msg;
      ex.response_start = m.start;
    }
    if (error !== undefined) ex.error = error;
    if (notes.length > 0) ex.notes = notes;
    emit(ex);
  };

  /** A message (or control frame) begins: admitted to be recorded, or only to be counted. */
  const begin = (d: Direction, opcode: number, compressed: boolean, wire: number): Message => {
    // The first close frame of a direction says why the connection ends: recorded whatever the rate.
    const firstClose = opcode === OP_CLOSE && !d.closeSeen;
    if (opcode === OP_CLOSE) d.closeSeen = true;
    return { opcode, compressed, frames: 1, start: now, chunks: [], kept: 0, size: 0, wire, skipped: 0, recorded: firstClose || admit() };
  };

  const direction = (fromClient: boolean): Direction => {
    const d: Direction = {
      fin: false,
      takeover: false,
      closeSeen: false,
      reader: new WsFrameReader({
        onFrameStart(h: WsFrameHeader) {
          d.fin = h.fin;
          markerIfDue();
          const headerBytes = 2 + (h.length > 65535 ? 8 : h.length > 125 ? 2 : 0) + (h.masked ? 4 : 0);
          if (h.opcode >= OP_CLOSE) {
            d.control = begin(d, h.opcode, false, headerBytes + h.length);
            d.current = d.control;
            return;
          }
          if (h.opcode === OP_CONTINUATION) {
            if (d.data === undefined) {
              d.current = undefined;
              return;
            }
            d.data.frames++;
            d.data.wire += headerBytes + h.length;
          } else {
            // A new data message; one left unfinished is flushed as cut.
            if (d.data !== undefined) finish(d.data, fromClient, 'parse');
            d.data = begin(d, h.opcode, h.rsv1, headerBytes + h.length);
          }
          d.current = d.data;
        },
        onFramePayload(data) {
          const m = d.current;
          if (m === undefined) return;
          m.size += data.length;
          // Bytes of a message not recorded are not kept, unless the deflate context needs them.
          if (!m.recorded && !(m.compressed && d.takeover)) return;
          // Compressed messages are kept whole (to a bound) so they can be inflated.
          const cap = m.compressed ? Math.max(maxBody, Math.min(MAX_INFLATED, 1024 * 1024)) : maxBody;
          if (m.kept < cap && m.skipped === 0) {
            const take = Math.min(cap - m.kept, data.length);
            m.chunks.push(Buffer.from(data.subarray(0, take)));
            m.kept += take;
          }
        },
        onFrameEnd() {
          const m = d.current;
          d.current = undefined;
          if (m === undefined) return;
          if (m === d.control) {
            d.control = undefined;
            finish(m, fromClient);
          } else if (m === d.data && d.fin) {
            d.data = undefined;
            finish(m, fromClient);
          }
        },
        onError(message) {
          event({ kind: 'parse_error', side: fromClient ? 'client' : 'server', detail: `websocket: ${message}` });
          stopped = true;
        },
      }),
    };
    return d;
  };

  const client = direction(true);
  const server = direction(false);
  if (deflate !== undefined) {
    client.inflater = createInflater(deflate.client);
    client.takeover = !deflate.client.noContextTakeover;
    server.inflater = createInflater(deflate.server);
    server.takeover = !deflate.server.noContextTakeover;
  }

  /** `n` bytes passed unseen: absorbed when they fall inside the frame in progress (its message says so). */
  const skip = (d: Direction, n: number): boolean => {
    const m = d.current;
    const inside = n <= d.reader.payloadRemaining;
    // Counted before the reader moves on: the skip may end the frame and finish the message.
    if (m !== undefined && inside) {
      m.size += n;
      m.skipped += n;
    }
    return d.reader.skip(n);
  };

  const held = (d: Direction): number => (d.data?.kept ?? 0) + (d.control?.kept ?? 0);

  return {
    clientData(chunk, t) {
      if (stopped || closed) return;
      now = t;
      client.reader.push(chunk);
    },
    serverData(chunk, t) {
      if (stopped || closed) return;
      now = t;
      server.reader.push(chunk);
    },
    skipClient(n, t) {
      now = t;
      return stopped || closed || skip(client, n);
    },
    skipServer(n, t) {
      now = t;
      return stopped || closed || skip(server, n);
    },
    clientEnd(t) {
      now = t;
      if (!closed) markerIfDue();
    },
    serverEnd(t) {
      now = t;
      if (!closed) markerIfDue();
    },
    close(t: bigint, reason: CloseReason) {
      if (closed) return;
      closed = true;
      now = t;
      const error = reason === 'reset' || reason === 'error' ? 'reset' : reason === 'timeout' ? 'timeout' : reason === 'capture_overflow' ? 'capture_overflow' : 'closed';
      for (const [d, fromClient] of [[client, true], [server, false]] as const) {
        if (d.data !== undefined) finish(d.data, fromClient, error);
        if (d.control !== undefined) finish(d.control, fromClient, error);
        d.data = d.control = d.current = undefined;
      }
      // Whatever was not reported yet, whenever the last marker was.
      if (pending.messages > 0) marker();
    },
    heldBytes() {
      return held(client) + held(server);
    },
  };
}
