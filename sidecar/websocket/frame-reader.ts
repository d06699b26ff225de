/**
 * Incremental WebSocket frame reader (RFC 6455 §5.2), one per direction. Fed copies of the
 * bytes cut anywhere; hands out each frame's header and its payload in pieces (unmasked), so a
 * large frame is never buffered here. Bounded: the header is at most 14 bytes; a payload
 * length beyond 2^53 or a control frame longer than 125 bytes is a framing error.
 */

export interface WsFrameHeader {
  fin: boolean;
  /** RSV1: the frame is compressed (permessage-deflate), on a message's first frame. */
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  length: number;
}

export interface WsFrameHandler {
  onFrameStart(header: WsFrameHeader): void;
  /** Unmasked payload bytes, in order; a view valid only during the call. */
  onFramePayload(data: Uint8Array): void;
  onFrameEnd(): void;
  onError(message: string): void;
}

export const OP_CONTINUATION = 0;
export const OP_TEXT = 1;
export const OP_BINARY = 2;
export const OP_CLOSE = 8;
export const OP_PING = 9;
export const OP_PONG = 10;

const KNOWN_OPCODES = new Set([OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG]);

export class WsFrameReader {
  private readonly handler: WsFrameHandler;
  private head = Buffer.alloc(14);
  private headLen = 0;
  private header: WsFrameHeader | undefined;
  private mask: Uint8Array | undefined;
  private remaining = 0;
  /** Offset into the payload, for the mask's phase. */
  private offset = 0;
  private failed = false;

  constructor(handler: WsFrameHandler) {
    this.handler = handler;
  }

  /** Bytes of the frame in progress still to come (its payload), 0 between frames. */
  get payloadRemaining(): number {
    return this.header === undefined ? 0 : this.remaining;
  }

  get broken(): boolean {
    return this.failed;
  }

  /** `n` payload bytes passed unseen: true when they fell inside the current payload. */
  skip(n: number): boolean {
    if (this.failed || this.header === undefined || n > this.remaining) return false;
    this.remaining -= n;
    this.offset += n;
    if (this.remaining === 0) this.endFrame();
    return true;
  }

  push(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length && !this.failed) {
      if (this.header === undefined) {
        pos = this.readHead(chunk, pos);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - pos);
      const piece = chunk.subarray(pos, pos + take);
      pos += take;
      this.remaining -= take;
      if (this.mask !== undefined) {
        const out = Buffer.allocUnsafe(piece.length);
        for (let i = 0; i < piece.length; i++) out[i] = piece[i] ^ this.mask[(this.offset + i) & 3];
        this.offset += piece.length;
        this.handler.onFramePayload(out);
      } else {
        this.offset += piece.length;
        this.handler.onFramePayload(piece);
      }
      if (this.remaining === 0) this.endFrame();
    }
  }

  private endFrame(): void {
    this.header = undefined;
    this.mask = undefined;
    this.offset = 0;
    this.handler.onFrameEnd();
  }

  private fail(message: string): void {
    this.failed = true;
    this.handler.onError(message);
  }

  /** Reads header bytes; once complete, starts the frame. Returns the new position. */
  private readHead(chunk: Uint8Array, pos: number): number {
    while (pos < chunk.length) {
      this.head[this.headLen++] = chunk[pos++];
      const need = this.headSize();
      if (need !== undefined && this.headLen === need) {
        this.startFrame();
        return pos;
      }
    }
    return pos;
  }

  /** The full header size once the first two bytes are known. */
  private headSize(): number | undefined {
    if (this.headLen < 2) return undefined;
    const len7 = this.head[1] & 0x7f;
    const masked = (this.head[1] & 0x80) !== 0;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
  }

  private startFrame(): void {
    const h = this.head;
    const opcode = h[0] & 0x0f;
    const fin = (h[0] & 0x80) !== 0;
    const masked = (h[1] & 0x80) !== 0;
    const len7 = h[1] & 0x7f;
    let length = len7;
    let at = 2;
    if (len7 === 126) {
      length = h.readUInt16BE(2);
      at = 4;
    } else if (len7 === 127) {
      const big = h.readBigUInt64BE(2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) return this.fail('frame length beyond 2^53');
      length = Number(big);
      at = 10;
    }
    this.headLen = 0;
    if (!KNOWN_OPCODES.has(opcode)) return this.fail(`unknown opcode ${opcode}`);
    if (opcode >= OP_CLOSE && (length > 125 || !fin)) return this.fail('control frame longer than 125 bytes or fragmented');
    this.mask = masked ? Buffer.from(h.subarray(at, at + 4)) : undefined;
    this.header = { fin, rsv1: (h[0] & 0x40) !== 0, opcode, masked, length };
    this.remaining = length;
    this.offset = 0;
    this.handler.onFrameStart(this.header);
    if (length === 0) this.endFrame();
  }
}
