/**
 * The simple-query protocol (Query, one or more statement results, ReadyForQuery) and the
 * FunctionCall sub-protocol, which is answered the same way.
 *
 * This file exists because a Query is one call with many results: each CommandComplete,
 * EmptyQueryResponse or ErrorResponse closes the current statement's result and the next
 * backend message opens another, so the records can later be matched with the statements of
 * the query text (`exchange.ts`). The call is answered only at ReadyForQuery.
 */
import { type Call, type Conn, count, newCall, skippedNote } from './conn.ts';
import { decodeCommandTag, decodeFields, decodeQuery, decodeRowDescription } from './decode.ts';
import type { PgMessage } from './messages.ts';
import { enqueue, pushItem, shift } from './pending.ts';
import { countCopy, currentResult, dataRow, startCopy } from './result-feed.ts';
import { toPgError } from './result.ts';
import { stopWith } from './stop.ts';

export function onQuery(conn: Conn, msg: PgMessage): void {
  const q = decodeQuery(msg.body, msg.body.length < msg.size);
  if (q === undefined) return stopWith(conn, 'client', 'malformed Query');
  const call = newCall(conn, 'simple');
  call.query = q.query;
  call.requestCut = q.truncated || msg.skipped > 0;
  if (msg.skipped > 0) call.notes.push(skippedNote(msg, 'request.body'));
  count(call, msg, true);
  call.requestEnd = conn.now;
  conn.lastClientCall = call;
  if (!enqueue(conn, call)) return;
  pushItem(conn, 'query', call);
}

/** A backend message while a Query is the head of the queue. */
export function onQueryAnswer(conn: Conn, c: Call, msg: PgMessage, unexpected: () => void): void {
  const now = conn.now;
  if (msg.type === 'Z') {
    const last = c.results[c.results.length - 1];
    if (last !== undefined) {
      last.bytesIn += msg.wireSize;
      last.end = now;
    }
    c.end = now;
    shift(conn);
    return;
  }
  const r = currentResult(conn, c);
  r.bytesIn += msg.wireSize;
  switch (msg.type) {
    case 'T': {
      const cut = msg.body.length < msg.size;
      const cols = decodeRowDescription(msg.body);
      if (cols === undefined && !cut) return stopWith(conn, 'server', 'malformed RowDescription');
      if (cols !== undefined) r.setColumns(cols);
      return;
    }
    case 'D':
      return dataRow(conn, r, msg);
    case 'C':
      r.tag = decodeCommandTag(msg.body);
      r.end = now;
      return;
    case 'I':
      r.empty = true;
      r.end = now;
      return;
    case 'E':
      r.error = toPgError(decodeFields(msg.body));
      r.end = now;
      return;
    case 'G':
    case 'H':
    case 'W':
      return startCopy(r, msg);
    case 'd':
    case 'c':
      return countCopy(r, msg);
    default:
      return unexpected();
  }
}

export function onFunctionCall(conn: Conn, msg: PgMessage): void {
  const call = newCall(conn, 'function');
  call.method = 'FUNCTION CALL';
  count(call, msg, true);
  call.requestEnd = conn.now;
  conn.lastClientCall = call;
  if (!enqueue(conn, call)) return;
  pushItem(conn, 'function', call);
}

/** Answered like a simple query: FunctionCallResponse (or ErrorResponse), then ReadyForQuery. */
export function onFunctionAnswer(conn: Conn, call: Call, msg: PgMessage, unexpected: () => void): void {
  const r = call.results[0];
  r.responseStart ??= conn.now;
  if (msg.type === 'V') r.end = conn.now;
  else if (msg.type === 'E') {
    r.error = toPgError(decodeFields(msg.body));
    r.end = conn.now;
  } else if (msg.type === 'Z') shift(conn);
  else return unexpected();
}
