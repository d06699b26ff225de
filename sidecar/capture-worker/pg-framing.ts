/**
 * PostgreSQL message boundaries, followed on the forwarding thread so that a capture that falls
 * behind keeps a pooled connection captured (`framing.ts`).
 *
 * The worker's PostgreSQL session absorbs a gap only inside the content of a message whose
 * content may be cut (`postgres/stop.ts`): Query, Parse, Bind, FunctionCall and CopyData from
 * the client, DataRow and CopyData from the server. A gap anywhere else loses the framing, and
 * the connection was then not captured again: with a pool's long-lived connections, one burst
 * that outran capture darkened them for their lifetime. With the boundaries known, a chunk over
 * a budget copies every message header and every other message whole, the first bytes of a
 * Query, Parse, Bind or FunctionCall (their statement and portal names and the statement's start,
 * which later calls may refer to), and skips only the rest of those contents, CopyData and
 * DataRows. The calls in the gap keep their statements and statuses, with cut parameters and
 * rows (the records say so), and later calls are captured whole.
 *
 * The startup phase (untyped packets, the server's one-byte answer to an SSLRequest or
 * GSSENCRequest) is copied whole; a connection whose server accepts encryption, or whose first
 * packet is not one a server accepts first (`postgres/detect.ts`), is not followed. The cost is a
 * few integer operations per message, with no allocation after the connection's first chunk.
 */
import { startupPacketKnown } from '../postgres/detect.ts';
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE } from '../postgres/messages.ts';
import { ChunkFraming, MAY_SKIP, MUST_COPY, addRun } from './stream-framing.ts';

/** Of a Query, Parse, Bind or FunctionCall, the content bytes always copied: names and the statement's start. */
export const STATEMENT_PREFIX_BYTES = 256;

const Q = 0x51;
const P = 0x50;
const B = 0x42;
const F = 0x46;
const COPY_DATA = 0x64;
const DATA_ROW = 0x44;
const ANSWER_SSL = 0x53;
const ANSWER_GSS = 0x47;
const ANSWER_NO = 0x4e;

/** One direction's position in the message stream. */
class MessageCursor {
  /** Messages carry a type byte (every message but the client's startup-phase packets). */
  typed: boolean;
  /** The server's next byte answers an SSLRequest or GSSENCRequest. */
  answerNext = false;
  /** Header bytes read (untyped: 4, typed: 5); meaningful when `left` is 0. */
  headerAt = 0;
  type = 0;
  length = 0;
  /** Content bytes of the current message still to come. */
  left = 0;
  /** Of those, how many the worker must see. */
  keepLeft = 0;
  /** An untyped packet's code (its first four content bytes) and how many of them were read. */
  code = 0;
  codeAt = 0;

  constructor(typed: boolean) {
    this.typed = typed;
  }
}

/** Content bytes of a typed message the worker must see. */
function keepOf(fromClient: boolean, type: number, content: number): number {
  if (fromClient) {
    if (type === COPY_DATA) return 0;
    if (type === Q || type === P || type === B || type === F) return Math.min(content, STATEMENT_PREFIX_BYTES);
    return content;
  }
  return type === DATA_ROW || type === COPY_DATA ? 0 : content;
}

/**
 * Both directions of one connection, as `StreamFraming` describes. Either call returns false
 * (`split`: -1) once the connection turns out not to be plaintext PostgreSQL; it is not followed
 * after that.
 */
export class PgFraming extends ChunkFraming {
  private readonly client = new MessageCursor(false);
  private readonly server = new MessageCursor(true);

  protected walk(fromClient: boolean, chunk: Uint8Array, runs: number[] | undefined): number {
    const c = fromClient ? this.client : this.server;
    const n = chunk.length;
    let must = 0;
    let i = 0;
    while (i < n) {
      let take: number;
      let kind = MUST_COPY;
      if (c.answerNext) {
        const b = chunk[i];
        c.answerNext = false;
        // Encryption accepted: what follows is not plaintext PostgreSQL.
        if (b === ANSWER_SSL || b === ANSWER_GSS) return this.stop();
        // Anything but a refusal is a message (an old server's ErrorResponse), read as one.
        if (b !== ANSWER_NO) continue;
        take = 1;
      } else if (c.left === 0) {
        const headerBytes = c.typed ? 5 : 4;
        take = Math.min(headerBytes - c.headerAt, n - i);
        for (let k = 0; k < take; k++) {
          const b = chunk[i + k];
          const at = c.typed ? c.headerAt + k - 1 : c.headerAt + k;
          if (at < 0) c.type = b;
          // An untyped packet is at most 10000 bytes long: its length's two high bytes are zero.
          else if (!c.typed && at < 2 && b !== 0) return this.stop();
          else c.length = at === 0 ? b : ((c.length << 8) | b) >>> 0;
        }
        c.headerAt += take;
        if (c.headerAt === headerBytes) {
          c.headerAt = 0;
          if (c.length < 4) return this.stop();
          c.left = c.length - 4;
          c.keepLeft = c.typed ? keepOf(fromClient, c.type, c.left) : c.left;
          c.code = 0;
          c.codeAt = 0;
          if (c.left === 0 && !c.typed) return this.stop();
        }
      } else if (c.keepLeft > 0) {
        take = Math.min(c.keepLeft, n - i);
        if (!c.typed) {
          for (let k = 0; k < take && c.codeAt < 4; k++, c.codeAt++) c.code = ((c.code << 8) | chunk[i + k]) >>> 0;
          if (c.codeAt === 4 && !startupPacketKnown(c.length, c.code)) return this.stop();
        }
        c.keepLeft -= take;
        c.left -= take;
        if (c.left === 0 && !c.typed) this.startupPacketEnded(c);
      } else {
        take = Math.min(c.left, n - i);
        c.left -= take;
        kind = MAY_SKIP;
      }
      i += take;
      if (kind === MUST_COPY) must += take;
      if (runs !== undefined) addRun(runs, kind, take);
    }
    return must;
  }

  /** After an untyped packet: an encryption request awaits the server's answer; a StartupMessage opens the typed phase. */
  private startupPacketEnded(c: MessageCursor): void {
    if (c.code === SSL_REQUEST_CODE || c.code === GSSENC_REQUEST_CODE) this.server.answerNext = true;
    else if (c.code !== CANCEL_REQUEST_CODE) c.typed = true;
  }
}
