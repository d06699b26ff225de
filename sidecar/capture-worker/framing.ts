/**
 * Message boundaries of a connection, followed on the forwarding thread so that a chunk over a
 * capture budget skips only what the worker's parser can absorb (bodies it marks as cut) and
 * copies the rest: the connection stays captured after the gap instead of being cut for good.
 *
 * The connection's first chunk chooses what is followed: a server that speaks first with a
 * MySQL greeting (`mysql-framing.ts`); a client whose first byte is 0, the high byte of a
 * PostgreSQL startup packet's length (`pg-framing.ts`); a client that may be opening with the
 * HTTP/2 preface, or a server speaking first otherwise, as an HTTP/2 server may
 * (`h2-framing.ts`). Each gives up as soon as the bytes are not its protocol after all. Anything
 * else (HTTP/1, TLS, Redis, ...) is not followed, at the cost of one comparison, and a chunk over a
 * budget is then skipped whole: the HTTP/1 parser absorbs a gap inside a body by itself.
 */
import { CLIENT_PREFACE } from '../http2/constants.ts';
import { detectMysqlGreeting } from '../mysql/detect.ts';
import { H2Framing } from './h2-framing.ts';
import { MysqlFraming } from './mysql-framing.ts';
import { PgFraming } from './pg-framing.ts';
import type { StreamFraming } from './stream-framing.ts';

/** The framing a connection is followed by, from its first chunk (`fromClient`: who sent it); undefined: none. */
export function openingFraming(fromClient: boolean, chunk: Uint8Array): StreamFraming | undefined {
  if (!fromClient) return detectMysqlGreeting(chunk) !== undefined ? new MysqlFraming() : new H2Framing();
  if (chunk[0] === 0) return new PgFraming();
  return chunk[0] === CLIENT_PREFACE[0] ? new H2Framing() : undefined;
}
