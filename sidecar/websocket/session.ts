/**
 * WebSocket capture after an HTTP/1.1 `101 Switching Protocols` (RFC 6455): frames read per
 * direction, client frames unmasked, fragmented messages reassembled, permessage-deflate
 * inflated for display, control frames (ping, pong, close with its code and reason) kept.
 *
 * One record per message (`protocol: "ws"`, tied to the upgrade call by the connection id and
 * path): what the client sent is the record's `request`, what the server sent its `response`;
 * `method` is the opcode (`TEXT`, `BINARY`, `PING`, `PONG`, `CLOSE`). At most
 * `maxMessages` records per connection; the rest are counted into one last record at close.
 *
 * Pure, incremental, never throws out of its methods.
 */
import type { CaptureContext, CaptureSession, CloseReason, Exchange } from '../capture/session.ts';
import type { HttpMessage } from '../../record/record.ts';
import type { UpgradeInfo } from '../http1/upgrade.ts';
import { createInflater, negotiatedDeflate, MAX_INFLATED, type Inflater } from './deflate.ts';
import { OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, WsFrameReader, type WsFrameHeader } from './frame-reader.ts';

export interface WebSocketSessionOptions {
  /** Message records per connection at most. Default 1000. */
  maxMessages?: number;
}

export const DEFAULT_MAX_MESSAGES = 1000;

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

export function createWebSocketSession(ctx: CaptureContext, upgrade: UpgradeInfo, options: WebSocketSessionOptions = {}): CaptureSession {
  const maxBody = Math.max(0, ctx.maxBodyBytes);
  const maxMessages = options.maxMessages ?? DEFAULT_MAX_MESSAGES;
  const deflate = negotiatedDeflate(upgrade.responseHeaders['sec-websocket-extensions']);
  let ordinal = 0;
  let dropped = 0;
  let now = upgrade.at;
  let stopped = false;
  let closed = false;

  const emit = (exchange: Exchange): void => {
    try {
      ctx.emit(exchange);
    } catch {
      // A failing sink must not break parsing.
    }
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

  const finish = (m: Message, fromClient: boolean, error?: Exchange['error']): void => {
    if (ordinal >= maxMessages) {
      dropped++;
      return;
    }
    const notes: string[] = [];
    const dir = fromClient ? client : server;
    const side = fromClient ? 'request' : 'response';
    const msg = bodyOf(m, side, m.opcode === OP_CLOSE ? undefined : dir.inflater, notes);
    if (m.opcode === OP_CLOSE) {
      msg.body = closeText(m);
      msg.truncated = false;
    }
    if (m.frames > 1) notes.push(`${m.frames} frames`);
    const ex: Exchange = {
      protocol: 'ws',
      ordinal: ordinal++,
      start: m.start,
      end: now,
      method: OPCODE_NAMES[m.opcode] ?? `OPCODE ${m.opcode}`,
      bytes_out: fromClient ? m.wire : 0,
      bytes_in: fromClient ? 0 : m.wire,
    };
    if (upgrade.request.path !== undefined) ex.path = upgrade.request.path;
    if (upgrade.request.authority !== undefined) ex.authority = upgrade.request.authority;
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

  const direction = (fromClient: boolean): Direction => {
    const d: Direction = {
      fin: false,
      reader: new WsFrameReader({
        onFrameStart(h: WsFrameHeader) {
          d.fin = h.fin;
          const headerBytes = 2 + (h.length > 65535 ? 8 : h.length > 125 ? 2 : 0) + (h.masked ? 4 : 0);
          if (h.opcode >= OP_CLOSE) {
            d.control = { opcode: h.opcode, compressed: false, frames: 1, start: now, chunks: [], kept: 0, size: 0, wire: headerBytes + h.length, skipped: 0 };
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
            d.data = { opcode: h.opcode, compressed: h.rsv1, frames: 1, start: now, chunks: [], kept: 0, size: 0, wire: headerBytes + h.length, skipped: 0 };
          }
          d.current = d.data;
        },
        onFramePayload(data) {
          const m = d.current;
          if (m === undefined) return;
          m.size += data.length;
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
          ctx.event({ kind: 'parse_error', side: fromClient ? 'client' : 'server', detail: `websocket: ${message}` });
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
    server.inflater = createInflater(deflate.server);
  }

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
      return stopped || closed || client.reader.skip(n);
    },
    skipServer(n, t) {
      now = t;
      return stopped || closed || server.reader.skip(n);
    },
    clientEnd(t) {
      now = t;
    },
    serverEnd(t) {
      now = t;
    },
    close(t: bigint, reason: CloseReason) {
      if (closed) return;
      closed = true;
      now = t;
      const error = reason === 'reset' || reason === 'error' ? 'reset' : reason === 'timeout' ? 'timeout' : reason === 'capture_overflow' ? 'capture_overflow' : 'closed';
      for (const [d, fromClient] of [[client, true], [server, false]] as const) {
        if (d.data !== undefined) finish(d.data, fromClient, error);
        if (d.control !== undefined) finish(d.control, fromClient, error);
      }
      if (dropped > 0) {
        ctx.event({ kind: 'capture_overflow', reason: 'message_records' });
        emit({
          protocol: 'ws',
          ordinal: ordinal++,
          start: t,
          end: t,
          error: 'capture_overflow',
          error_detail: `${dropped} more WebSocket messages were forwarded but not recorded (at most ${maxMessages} per connection)`,
          bytes_out: 0,
          bytes_in: 0,
        });
      }
    },
  };
}
