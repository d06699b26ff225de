/**
 * Message boundaries of a connection, followed on the forwarding thread so that a chunk over a
 * capture budget skips only what the worker's parser can absorb (bodies it marks as cut) and
 * copies the rest: the connection stays captured after the gap instead of being cut for good.
 *
 * A new connection is followed as HTTP/2 (`h2-framing.ts`), whose client may be answered before
 * its preface arrives. When its client's very first byte rules HTTP/2 out and the server has sent
 * nothing, a PostgreSQL startup packet may be next (`pg-framing.ts`). Anything else is not
 * followed, and a chunk over a budget is then skipped whole, as before.
 */
import { H2Framing } from './h2-framing.ts';
import { PgFraming } from './pg-framing.ts';
import type { StreamFraming } from './stream-framing.ts';

/** How a new connection is followed until its first bytes tell otherwise. */
export function firstFraming(): StreamFraming {
  return new H2Framing();
}

/**
 * What follows a framing that gave up on a chunk copied whole: PostgreSQL when HTTP/2 was ruled
 * out at the client's first byte, before any server byte, and the chunk opens like a PostgreSQL
 * client; otherwise nothing.
 */
export function framingAfter(previous: StreamFraming, fromClient: boolean, chunk: Uint8Array): StreamFraming | undefined {
  if (!fromClient || !(previous instanceof H2Framing) || !previous.offAtFirstClientByte) return undefined;
  return PgFraming.follow(chunk);
}
