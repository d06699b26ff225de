/**
 * HTTP/2 frame boundaries, followed on the forwarding thread so that a capture that falls
 * behind loses only what it can afford to lose.
 *
 * When a chunk does not fit the hand-off's budgets, the whole chunk used to be skipped. On an
 * HTTP/2 connection that cut the capture for the rest of the connection whenever the gap held
 * anything but DATA payload: header blocks carry HPACK state that every later block depends on
 * (`http2/session.ts`), so a gRPC client's one long-lived connection went dark after a single
 * burst. With the boundaries known, the hand-off copies the bytes the worker must see (the
 * preface, frame headers, whole non-DATA frames, a DATA frame's pad length) and skips only DATA
 * payloads, which the worker's frame reader absorbs: those calls' bodies are cut (the records
 * say so), and the connection's later calls are captured whole.
 *
 * The cost on the forwarding thread is a few integer operations per frame, with no allocation;
 * a connection whose client does not open with the HTTP/2 preface stops being followed at its
 * first client chunk (an `Upgrade: h2c` connection is not followed: its first gap still cuts).
 * The frames are not validated here: the worker validates them, and stops capturing a
 * connection whose framing is wrong, after which skips are moot.
 */
import { CLIENT_PREFACE, FLAG, FRAME, FRAME_HEADER_BYTES } from '../http2/constants.ts';
import { ChunkFraming, MAY_SKIP, MUST_COPY, addRun } from './stream-framing.ts';

/** One direction's position in the frame stream. */
class FrameCursor {
  /** Bytes of the client preface still to come (the client side only). */
  preface: number;
  /** Bytes of the current frame header read (0 to 8); meaningful when `payloadLeft` is 0. */
  headerAt = 0;
  length = 0;
  type = 0;
  /** Payload bytes of the current frame still to come. */
  payloadLeft = 0;
  /** Of those, how many the worker must see (all of a non-DATA frame; a DATA frame's pad length). */
  keepLeft = 0;

  constructor(preface: number) {
    this.preface = preface;
  }
}

/**
 * Both directions of one connection. `advance` follows a chunk that was copied whole; `split`
 * follows a chunk and describes it as runs to copy or skip. Either returns false (`split`: -1)
 * once the connection turns out not to be HTTP/2; it is not followed after that.
 */
export class H2Framing extends ChunkFraming {
  private readonly client = new FrameCursor(CLIENT_PREFACE.length);
  private readonly server = new FrameCursor(0);

  protected walk(fromClient: boolean, chunk: Uint8Array, runs: number[] | undefined): number {
    const c = fromClient ? this.client : this.server;
    const n = chunk.length;
    let must = 0;
    let i = 0;
    while (i < n) {
      let take: number;
      let kind = MUST_COPY;
      if (c.preface > 0) {
        take = Math.min(c.preface, n - i);
        const at = CLIENT_PREFACE.length - c.preface;
        for (let k = 0; k < take; k++) {
          if (chunk[i + k] !== CLIENT_PREFACE[at + k]) return this.stop();
        }
        c.preface -= take;
      } else if (c.payloadLeft === 0) {
        take = Math.min(FRAME_HEADER_BYTES - c.headerAt, n - i);
        for (let k = 0; k < take; k++) {
          const b = chunk[i + k];
          const at = c.headerAt + k;
          if (at < 3) c.length = at === 0 ? b : (c.length << 8) | b;
          else if (at === 3) c.type = b;
          else if (at === 4) c.keepLeft = c.type !== FRAME.DATA ? -1 : (b & FLAG.PADDED) !== 0 ? 1 : 0;
        }
        c.headerAt += take;
        if (c.headerAt === FRAME_HEADER_BYTES) {
          c.headerAt = 0;
          c.payloadLeft = c.length;
          c.keepLeft = c.keepLeft === -1 ? c.length : Math.min(c.keepLeft, c.length);
        }
      } else if (c.keepLeft > 0) {
        take = Math.min(c.keepLeft, n - i);
        c.keepLeft -= take;
        c.payloadLeft -= take;
      } else {
        take = Math.min(c.payloadLeft, n - i);
        c.payloadLeft -= take;
        kind = MAY_SKIP;
      }
      i += take;
      if (kind === MUST_COPY) must += take;
      if (runs !== undefined) addRun(runs, kind, take);
    }
    return must;
  }
}
