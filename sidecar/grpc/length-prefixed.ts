/**
 * gRPC's message framing inside an HTTP/2 body: each message is a 1-byte compressed flag, a
 * 4-byte big-endian length, then the message. The body may be cut by the capture limit, so the
 * last message can be partial; its true size is still known from its prefix.
 */

export interface GrpcFrame {
  compressed: boolean;
  /** The message's length as its prefix says. */
  size: number;
  /** What was captured of it (all of it unless `partial`). */
  data: Uint8Array;
  partial: boolean;
}

export interface SplitResult {
  frames: GrpcFrame[];
  /** Bytes left that do not even hold a 5-byte prefix (a body cut inside one), or a bad flag. */
  leftover: number;
  /** True when a frame carried a flag other than 0 or 1: the body is not gRPC framing. */
  malformed: boolean;
}

/** At most this many messages are split out of one body (a stream of tiny messages stays bounded). */
export const MAX_FRAMES = 1000;

export function splitGrpcFrames(body: Uint8Array): SplitResult {
  const frames: GrpcFrame[] = [];
  let pos = 0;
  while (pos + 5 <= body.length && frames.length < MAX_FRAMES) {
    const flag = body[pos];
    if (flag > 1) return { frames, leftover: body.length - pos, malformed: true };
    const size = ((body[pos + 1] << 24) >>> 0) + (body[pos + 2] << 16) + (body[pos + 3] << 8) + body[pos + 4];
    const start = pos + 5;
    const end = Math.min(body.length, start + size);
    frames.push({ compressed: flag === 1, size, data: body.subarray(start, end), partial: end - start < size });
    pos = start + size;
  }
  return { frames, leftover: Math.max(0, body.length - pos), malformed: false };
}
