/**
 * Feeding a statement's result from the messages that simple and extended queries share:
 * DataRows, and COPY in either direction.
 *
 * This file exists because both query protocols fill a `StatementResult` the same way once a
 * statement runs, and only the choice of result differs: a simple query opens a new result per
 * statement that answers, an Execute has exactly one. Rows go to the result within its limits
 * (a row whose content was not kept is still counted); COPY data, from the client or the
 * server, is only counted (messages and bytes), never stored.
 */
import type { Call, Conn } from './conn.ts';
import { decodeDataRow } from './decode.ts';
import type { PgMessage } from './messages.ts';
import { StatementResult } from './result.ts';
import { stopWith } from './stop.ts';

/** The result backend messages now go to: a simple query's current statement, else the one result. */
export function currentResult(conn: Conn, call: Call): StatementResult {
  if (call.kind !== 'simple') return call.results[0];
  let r = call.results[call.results.length - 1];
  if (r === undefined || r.done) {
    r = new StatementResult(conn.config.limits);
    r.responseStart = conn.now;
    call.results.push(r);
  }
  return r;
}

export function dataRow(conn: Conn, r: StatementResult, msg: PgMessage): void {
  const cut = msg.body.length < msg.size;
  if (msg.skipped > 0) r.noteSkipped('response.body', 'row', msg.skipped);
  if (msg.body.length === 0 && msg.size > 0) {
    r.addRow(undefined, true);
    return;
  }
  const row = decodeDataRow(msg.body, cut);
  if (row === undefined) return stopWith(conn, 'server', 'malformed DataRow');
  r.addRow(row, cut);
}

/** CopyInResponse (`G`), CopyOutResponse (`H`) or CopyBothResponse (`W`). */
export function startCopy(r: StatementResult, msg: PgMessage): void {
  r.copy = { direction: msg.type === 'G' ? 'in' : msg.type === 'H' ? 'out' : 'both', messages: 0, bytes: 0 };
}

/** The server's CopyData (`d`) or CopyDone (`c`). */
export function countCopy(r: StatementResult, msg: PgMessage): void {
  if (r.copy !== undefined && msg.type === 'd') {
    r.copy.messages++;
    r.copy.bytes += msg.size;
  }
}

/** The result a COPY belongs to: the last one that started a COPY, else the call's last one. */
function copyResult(conn: Conn, call: Call): StatementResult {
  for (let i = call.results.length - 1; i >= 0; i--) if (call.results[i].copy !== undefined) return call.results[i];
  if (call.results.length === 0) call.results.push(new StatementResult(conn.config.limits));
  return call.results[call.results.length - 1];
}

/** The client's CopyData (`d`), CopyDone (`c`) or CopyFail (`f`): counted into the last call. */
export function onClientCopy(conn: Conn, msg: PgMessage): void {
  const call = conn.lastClientCall;
  if (call === undefined || call.emitted) return;
  const r = copyResult(conn, call);
  r.bytesOut += msg.wireSize;
  if (r.copy !== undefined && msg.type === 'd') {
    r.copy.messages++;
    r.copy.bytes += msg.size;
  }
  if (msg.skipped > 0) r.noteSkipped('request.body', 'CopyData message', msg.skipped);
}
