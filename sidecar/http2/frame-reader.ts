/**
 * Incremental HTTP/2 frame reader for one direction of a connection.
 *
 * Capture sees the connection as arbitrary chunks and must not hold whole frames: a DATA frame
 * may be 16 MiB and the body limit much smaller. So the reader keeps only the 9-byte frame
 * header and the few prefix bytes of a frame (pad length, priority, promised stream id) and
 * hands DATA and header-block bytes on as they arrive, padding already removed. Only the
 * small control frames the session must read (SETTINGS, RST_STREAM, GOAWAY) are collected,
 * up to a cap.
 *
 * The framing checks are the ones that tell HTTP/2 from garbage and keep the framing in step
 * (preface, frame size, stream 0 rules, CONTINUATION sequencing, fixed control frame sizes);
 * flow control and stream states are the session's business, or nobody's.
 */
import { CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, FLAG, FRAME, FRAME_HEADER_BYTES, MAX_MAX_FRAME_SIZE } from './constants.ts';

export interface FrameHeader {
  /** Payload length (without the 9-byte header). */
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

export interface FrameReaderHandler {
  /** The client preface was read (client side only). */
  onPreface?(): void;
  /** A frame header was read; its payload follows. */
  onFrameStart(h: FrameHeader): void;
  /** PUSH_PROMISE: the promised stream id, before the promise's header block fragment. */
  onPushPromise?(h: FrameHeader, promisedStreamId: number): void;
  /** A piece of a header block fragment (HEADERS, PUSH_PROMISE, CONTINUATION), padding removed. */
  onHeaderFragment(h: FrameHeader, data: Uint8Array): void;
  /** A piece of DATA, padding removed. The bytes are only valid during the call. */
  onData(h: FrameHeader, data: Uint8Array): void;
  /** `n` DATA bytes of the current frame passed unseen (`skip`). */
  onDataSkipped?(h: FrameHeader, n: number): void;
  /** The frame ended. `payload` holds SETTINGS, RST_STREAM and GOAWAY payloads (capped). */
  onFrameEnd(h: FrameHeader, payload: Uint8Array | undefined): void;
  /** The bytes are not HTTP/2 framing: the reader stops. */
  onError(detail: string): void;
}

export interface FrameReaderOptions {
  /** The client side starts with the 24-byte connection preface. */
  expectPreface: boolean;
  /** Control frame payload kept at most (GOAWAY debug data can be long). Default 64 KiB. */
  maxControlBytes?: number;
}

type Phase = 'preface' | 'header' | 'prefix' | 'content' | 'padding' | 'stopped';

const KEPT_TYPES = new Set<number>([FRAME.SETTINGS, FRAME.RST_STREAM, FRAME.GOAWAY]);
const FRAGMENT_TYPES = new Set<number>([FRAME.HEADERS, FRAME.PUSH_PROMISE, FRAME.CONTINUATION]);
const STREAM_TYPES = new Set<number>([FRAME.DATA, FRAME.HEADERS, FRAME.PRIORITY, FRAME.RST_STREAM, FRAME.PUSH_PROMISE, FRAME.CONTINUATION]);
const CONNECTION_TYPES = new Set<number>([FRAME.SETTINGS, FRAME.PING, FRAME.GOAWAY]);
const FIXED_LENGTH: Record<number, number> = { [FRAME.PING]: 8, [FRAME.RST_STREAM]: 4, [FRAME.PRIORITY]: 5, [FRAME.WINDOW_UPDATE]: 4 };

export class FrameReader {
  private phase: Phase;
  private prefacePos = 0;
  private readonly head = new Uint8Array(FRAME_HEADER_BYTES);
  private headPos = 0;
  private h: FrameHeader = { length: 0, type: 0, flags: 0, streamId: 0 };
  private readonly prefix = new Uint8Array(10);
  private prefixNeed = 0;
  private prefixPos = 0;
  private contentLeft = 0;
  private padLeft = 0;
  private kept: Uint8Array[] | undefined;
  private keptBytes = 0;
  /** Stream whose header block awaits CONTINUATION frames, or 0. */
  private continuation = 0;
  private sawFrame = false;
  private maxFrame = DEFAULT_MAX_FRAME_SIZE;
  private readonly maxControl: number;
  private readonly handler: FrameReaderHandler;

  constructor(handler: FrameReaderHandler, options: FrameReaderOptions) {
    this.handler = handler;
    this.phase = options.expectPreface ? 'preface' : 'header';
    this.maxControl = options.maxControlBytes ?? 64 * 1024;
  }

  /**
   * The receiving side advertised SETTINGS_MAX_FRAME_SIZE = `n` (already range-checked). Like
   * the HPACK bound it only grows: the sender may not have seen a smaller value yet.
   */
  allowFrameSize(n: number): void {
    if (n > this.maxFrame) this.maxFrame = Math.min(n, MAX_MAX_FRAME_SIZE);
  }

  get stopped(): boolean {
    return this.phase === 'stopped';
  }

  /** Inside a frame whose header was read (its payload bytes are pending). */
  get inFrame(): boolean {
    return this.phase === 'prefix' || this.phase === 'content' || this.phase === 'padding';
  }

  get frame(): FrameHeader {
    return this.h;
  }

  stop(): void {
    this.phase = 'stopped';
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && this.phase !== 'stopped') {
      switch (this.phase) {
        case 'preface': {
          while (i < chunk.length && this.prefacePos < CLIENT_PREFACE.length) {
            if (chunk[i] !== CLIENT_PREFACE[this.prefacePos]) {
              this.fail(`bytes do not start with the HTTP/2 client preface (mismatch at byte ${this.prefacePos})`);
              return;
            }
            i++;
            this.prefacePos++;
          }
          if (this.prefacePos === CLIENT_PREFACE.length) {
            this.phase = 'header';
            this.handler.onPreface?.();
          }
          break;
        }
        case 'header': {
          const take = Math.min(FRAME_HEADER_BYTES - this.headPos, chunk.length - i);
          this.head.set(chunk.subarray(i, i + take), this.headPos);
          this.headPos += take;
          i += take;
          if (this.headPos === FRAME_HEADER_BYTES) {
            this.headPos = 0;
            this.beginFrame();
          }
          break;
        }
        case 'prefix': {
          const take = Math.min(this.prefixNeed - this.prefixPos, chunk.length - i);
          this.prefix.set(chunk.subarray(i, i + take), this.prefixPos);
          this.prefixPos += take;
          i += take;
          if (this.prefixPos === this.prefixNeed) this.endPrefix();
          break;
        }
        case 'content': {
          const take = Math.min(this.contentLeft, chunk.length - i);
          const piece = chunk.subarray(i, i + take);
          i += take;
          this.contentLeft -= take;
          this.deliver(piece);
          if (this.phase === 'content' && this.contentLeft === 0) this.afterContent();
          break;
        }
        case 'padding': {
          const take = Math.min(this.padLeft, chunk.length - i);
          i += take;
          this.padLeft -= take;
          if (this.padLeft === 0) this.endFrame();
          break;
        }
      }
    }
  }

  /**
   * `n` bytes passed unseen. Absorbed only inside a DATA frame's payload after its pad length
   * (the framing stays known: the frame's end is still counted down); anywhere else the reader
   * would lose the frame boundaries, so it refuses.
   */
  skip(n: number): boolean {
    if (n === 0) return this.phase !== 'stopped';
    if (this.h.type !== FRAME.DATA || (this.phase !== 'content' && this.phase !== 'padding')) return false;
    if (n > this.contentLeft + this.padLeft) return false;
    const content = Math.min(n, this.contentLeft);
    this.contentLeft -= content;
    this.padLeft -= n - content;
    if (content > 0) this.handler.onDataSkipped?.(this.h, content);
    if ((this.phase as Phase) === 'stopped') return true;
    if (this.contentLeft > 0) return true;
    if (this.padLeft > 0) this.phase = 'padding';
    else this.endFrame();
    return true;
  }

  private fail(detail: string): void {
    this.phase = 'stopped';
    this.handler.onError(detail);
  }

  private beginFrame(): void {
    const b = this.head;
    const h: FrameHeader = {
      length: (b[0] << 16) | (b[1] << 8) | b[2],
      type: b[3],
      flags: b[4],
      streamId: ((b[5] & 0x7f) << 24) | (b[6] << 16) | (b[7] << 8) | b[8],
    };
    this.h = h;
    const problem = this.check(h);
    if (problem !== undefined) {
      this.fail(problem);
      return;
    }
    this.sawFrame = true;
    const padded = (h.flags & FLAG.PADDED) !== 0 && (h.type === FRAME.DATA || h.type === FRAME.HEADERS || h.type === FRAME.PUSH_PROMISE);
    this.prefixNeed = (padded ? 1 : 0) + (h.type === FRAME.HEADERS && (h.flags & FLAG.PRIORITY) !== 0 ? 5 : 0) + (h.type === FRAME.PUSH_PROMISE ? 4 : 0);
    if (this.prefixNeed > h.length) {
      this.fail(`${h.length}-byte frame of type ${h.type} too short for its flags`);
      return;
    }
    this.prefixPos = 0;
    this.kept = KEPT_TYPES.has(h.type) ? [] : undefined;
    this.keptBytes = 0;
    if (h.type === FRAME.HEADERS || h.type === FRAME.PUSH_PROMISE) {
      this.continuation = (h.flags & FLAG.END_HEADERS) === 0 ? h.streamId : 0;
    } else if (h.type === FRAME.CONTINUATION && (h.flags & FLAG.END_HEADERS) !== 0) {
      this.continuation = 0;
    }
    this.handler.onFrameStart(h);
    if (this.phase === 'stopped') return;
    if (this.prefixNeed > 0) {
      this.phase = 'prefix';
      return;
    }
    this.contentLeft = h.length;
    this.padLeft = 0;
    if (this.contentLeft > 0) this.phase = 'content';
    else this.endFrame();
  }

  private check(h: FrameHeader): string | undefined {
    if (h.length > this.maxFrame) return `frame of ${h.length} bytes over SETTINGS_MAX_FRAME_SIZE ${this.maxFrame}`;
    if (this.continuation !== 0 && (h.type !== FRAME.CONTINUATION || h.streamId !== this.continuation)) {
      return `frame of type ${h.type} on stream ${h.streamId} inside a header block of stream ${this.continuation}`;
    }
    if (h.type === FRAME.CONTINUATION && this.continuation === 0) return `CONTINUATION on stream ${h.streamId} without a header block`;
    if (!this.sawFrame && (h.type !== FRAME.SETTINGS || (h.flags & FLAG.ACK) !== 0)) return `first frame is of type ${h.type}, not SETTINGS`;
    if (STREAM_TYPES.has(h.type) && h.streamId === 0) return `frame of type ${h.type} on stream 0`;
    if (CONNECTION_TYPES.has(h.type) && h.streamId !== 0) return `frame of type ${h.type} on stream ${h.streamId}`;
    const fixed = FIXED_LENGTH[h.type];
    if (fixed !== undefined && h.length !== fixed) return `frame of type ${h.type} with length ${h.length}, not ${fixed}`;
    if (h.type === FRAME.SETTINGS && (h.length % 6 !== 0 || ((h.flags & FLAG.ACK) !== 0 && h.length !== 0))) return `SETTINGS frame with length ${h.length}`;
    if (h.type === FRAME.GOAWAY && h.length < 8) return `GOAWAY frame with length ${h.length}`;
    return undefined;
  }

  private endPrefix(): void {
    const h = this.h;
    const padded = (h.flags & FLAG.PADDED) !== 0 && h.type !== FRAME.CONTINUATION;
    const padLength = padded ? this.prefix[0] : 0;
    const content = h.length - this.prefixNeed - padLength;
    if (content < 0) {
      this.fail(`padding of ${padLength} bytes longer than the ${h.length}-byte frame`);
      return;
    }
    if (h.type === FRAME.PUSH_PROMISE) {
      const o = padded ? 1 : 0;
      const p = this.prefix;
      const promised = ((p[o] & 0x7f) << 24) | (p[o + 1] << 16) | (p[o + 2] << 8) | p[o + 3];
      this.handler.onPushPromise?.(h, promised);
      if (this.phase === 'stopped') return;
    }
    this.contentLeft = content;
    this.padLeft = padLength;
    if (content > 0) this.phase = 'content';
    else this.afterContent();
  }

  private deliver(piece: Uint8Array): void {
    if (piece.length === 0) return;
    const t = this.h.type;
    if (t === FRAME.DATA) this.handler.onData(this.h, piece);
    else if (FRAGMENT_TYPES.has(t)) this.handler.onHeaderFragment(this.h, piece);
    else if (this.kept !== undefined && this.keptBytes < this.maxControl) {
      const take = piece.subarray(0, this.maxControl - this.keptBytes);
      this.kept.push(Uint8Array.from(take));
      this.keptBytes += take.length;
    }
  }

  private afterContent(): void {
    if (this.padLeft > 0) this.phase = 'padding';
    else this.endFrame();
  }

  private endFrame(): void {
    const h = this.h;
    let payload: Uint8Array | undefined;
    if (this.kept !== undefined) payload = this.kept.length === 1 ? this.kept[0] : Buffer.concat(this.kept, this.keptBytes);
    this.kept = undefined;
    this.phase = 'header';
    this.handler.onFrameEnd(h, payload);
  }
}
