/**
 * gRPC message framing over HTTP/2 DATA frames ("Length-Prefixed-Message" in the gRPC over
 * HTTP/2 spec): a 1-byte compressed flag, a 4-byte big-endian length, the message. Pure: the
 * reader takes whatever chunks the stream delivers, split anywhere, and hands back whole
 * messages.
 */

/** The 5-byte prefix. */
export const FRAME_HEADER_BYTES = 5;

/** One message framed, uncompressed. */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + message.length);
  out.set(message, FRAME_HEADER_BYTES);
  return writeFrameHeader(out);
}

/**
 * Frames in place a message written after `FRAME_HEADER_BYTES` of headroom (the rest of
 * `framed`): fills in the prefix, uncompressed, and returns `framed`.
 */
export function writeFrameHeader(framed: Buffer): Buffer {
  if (framed.length < FRAME_HEADER_BYTES) throw new RangeError(`a framed message needs ${FRAME_HEADER_BYTES} bytes of prefix, got ${framed.length} bytes`);
  framed[0] = 0;
  framed.writeUInt32BE(framed.length - FRAME_HEADER_BYTES, 1);
  return framed;
}

/** Why a peer's bytes cannot be read as gRPC messages; `kind` picks the status the call ends with. */
export class FrameError extends Error {
  readonly kind: 'compressed' | 'too_large' | 'truncated';
  constructor(kind: FrameError['kind'], message: string) {
    super(message);
    this.name = 'FrameError';
    this.kind = kind;
  }
}

export interface MessageReader {
  /** The messages this chunk completes (possibly none). Throws `FrameError`; after a throw the reader is unusable. */
  push(chunk: Uint8Array): Buffer[];
  /** Call at the end of the stream: throws `FrameError` when a message was cut short. */
  finish(): void;
  /** Bytes held of a message not yet complete. */
  readonly pending: number;
}

/**
 * An incremental reader. We never send `grpc-accept-encoding`, so a compressed message is a
 * protocol error, not something to inflate; a length over `maxMessageBytes` is refused before
 * any of it is buffered.
 */
export function createMessageReader(maxMessageBytes: number): MessageReader {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  let headerFill = 0;
  let body: Buffer | undefined;
  let bodyFill = 0;
  let failed: FrameError | undefined;

  return {
    push(chunk) {
      if (failed) throw failed;
      const out: Buffer[] = [];
      let pos = 0;
      while (pos < chunk.length) {
        if (body === undefined) {
          const take = Math.min(FRAME_HEADER_BYTES - headerFill, chunk.length - pos);
          header.set(chunk.subarray(pos, pos + take), headerFill);
          headerFill += take;
          pos += take;
          if (headerFill < FRAME_HEADER_BYTES) break;
          const flag = header[0];
          const length = header.readUInt32BE(1);
          if (flag !== 0) {
            failed = new FrameError('compressed', flag === 1 ? 'the server sent a compressed message, but no compression was negotiated' : `invalid message flag ${flag}`);
            throw failed;
          }
          if (length > maxMessageBytes) {
            failed = new FrameError('too_large', `received a message of ${length} bytes, more than the limit of ${maxMessageBytes}`);
            throw failed;
          }
          headerFill = 0;
          if (length === 0) {
            out.push(Buffer.alloc(0));
            continue;
          }
          body = Buffer.allocUnsafe(length);
          bodyFill = 0;
        }
        const take = Math.min(body.length - bodyFill, chunk.length - pos);
        body.set(chunk.subarray(pos, pos + take), bodyFill);
        bodyFill += take;
        pos += take;
        if (bodyFill === body.length) {
          out.push(body);
          body = undefined;
        }
      }
      return out;
    },
    finish() {
      if (failed) throw failed;
      if (headerFill > 0 || body !== undefined) {
        const got = body === undefined ? `${headerFill} of the ${FRAME_HEADER_BYTES} prefix bytes` : `${bodyFill} of ${body.length} bytes`;
        failed = new FrameError('truncated', `the stream ended inside a message (${got})`);
        throw failed;
      }
    },
    get pending() {
      return body === undefined ? headerFill : FRAME_HEADER_BYTES + bodyFill;
    },
  };
}
