/**
 * Frontend messages: how much of each the framer keeps, and which part of the session it goes
 * to.
 *
 * This file exists to keep the client side's routing in one table, apart from what each part
 * does with its messages. What is kept is decided before a message is read: startup packets
 * whole, query text up to the body limit plus a margin, small control messages up to 64 KiB,
 * FunctionCall and CopyData bodies not at all (they are counted), and a PasswordMessage only
 * when it can name a SASL mechanism. A message type the protocol does not allow from a client
 * is a parse error.
 */
import { type Conn, SMALL_KEEP } from './conn.ts';
import { onBind, onDescribeOrClose, onExecute, onFlush, onParse, onSync } from './extended.ts';
import type { PgMessage } from './messages.ts';
import { onClientCopy } from './result-feed.ts';
import { onFunctionCall, onQuery } from './simple-query.ts';
import { onPasswordMessage, onStartupPacket, passwordKeep } from './startup.ts';
import { stopWith } from './stop.ts';

export function onClientMessage(conn: Conn, msg: PgMessage): void {
  switch (msg.type) {
    case '':
      return onStartupPacket(conn, msg);
    case 'p':
      return onPasswordMessage(conn, msg);
    case 'Q':
      return onQuery(conn, msg);
    case 'P':
      return onParse(conn, msg);
    case 'B':
      return onBind(conn, msg);
    case 'D':
    case 'C':
      return onDescribeOrClose(conn, msg);
    case 'E':
      return onExecute(conn, msg);
    case 'S':
      return onSync(conn, msg);
    case 'H':
      return onFlush(conn, msg);
    case 'X':
      return;
    case 'F':
      return onFunctionCall(conn, msg);
    case 'd':
    case 'c':
    case 'f':
      return onClientCopy(conn, msg);
    default:
      return stopWith(conn, 'client', `unexpected frontend message '${msg.type}'`);
  }
}

export function clientKeep(conn: Conn, type: string, size: number): number {
  switch (type) {
    case '':
      return size;
    case 'Q':
    case 'P':
    case 'B':
      return Math.min(size, conn.config.queryKeep);
    case 'F':
    case 'd':
      return 0;
    case 'p':
      return passwordKeep(conn, size);
    default:
      return Math.min(size, SMALL_KEEP);
  }
}
