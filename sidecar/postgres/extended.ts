/**
 * The extended-query protocol: Parse, Bind, Describe, Close, Execute, Flush and Sync from the
 * client, and the server's answer to each.
 *
 * This file exists because the extended protocol has state that outlives a message: named (and
 * unnamed) statements and portals are remembered per connection (at most `maxPrepared` of
 * each, oldest forgotten) so that an Execute's record can carry the statement text, the bound
 * parameters and the column names a Describe returned. Messages before an Execute gather in a
 * draft call; each Execute becomes a call, and a batch with no Execute (Parse/Describe + Sync)
 * is one call of its own named after what it did. After an ErrorResponse the server discards
 * everything up to Sync (`skipToSync` in `pending.ts`); an ErrorResponse at Sync is the commit
 * of the implicit transaction failing.
 */
import { type Call, type Conn, type Item, type Portal, type Statement, count, newCall, skippedNote } from './conn.ts';
import { decodeBind, decodeCommandTag, decodeExecute, decodeFields, decodeParse, decodeRowDescription, decodeTarget } from './decode.ts';
import { resolveColumns } from './exchange.ts';
import type { PgMessage } from './messages.ts';
import { promote, pushItem, shift, skipToSync, standaloneError } from './pending.ts';
import { countCopy, dataRow, startCopy } from './result-feed.ts';
import { toPgError } from './result.ts';
import { stopWith } from './stop.ts';

/** Backend message that completes each of these, with nothing else in between. */
const COMPLETIONS: Record<string, string> = { parse: '1', bind: '2', close: '3' };

function remember<T>(conn: Conn, map: Map<string, T>, key: string, value: T): void {
  map.delete(key);
  if (map.size >= conn.config.maxPrepared) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}

function takeDraft(conn: Conn): Call {
  conn.draft ??= newCall(conn, 'batch');
  return conn.draft;
}

export function onParse(conn: Conn, msg: PgMessage): void {
  const p = decodeParse(msg.body, msg.body.length < msg.size);
  if (p === undefined) return stopWith(conn, 'client', 'malformed Parse');
  const d = takeDraft(conn);
  count(d, msg, true);
  const statement: Statement = { query: p.query, truncated: p.truncated || msg.skipped > 0 };
  remember(conn, conn.statements, p.name, statement);
  d.method ??= 'PARSE';
  d.query ??= p.query;
  if (p.name) d.statementName ??= p.name;
  if (statement.truncated) d.requestCut = true;
  if (msg.skipped > 0) d.notes.push(skippedNote(msg, 'request.body'));
  pushItem(conn, 'parse', d, { statement });
}

export function onBind(conn: Conn, msg: PgMessage): void {
  const b = decodeBind(msg.body, msg.body.length < msg.size);
  if (b === undefined) return stopWith(conn, 'client', 'malformed Bind');
  const d = takeDraft(conn);
  count(d, msg, true);
  const statement = conn.statements.get(b.statement);
  const portal: Portal = {
    statementName: b.statement,
    statement,
    params: b.params,
    paramsTruncated: b.truncated || msg.skipped > 0,
    resultFormats: b.resultFormats,
  };
  remember(conn, conn.portals, b.portal, portal);
  d.method ??= 'BIND';
  if (msg.skipped > 0) d.notes.push(skippedNote(msg, 'request.body'));
  pushItem(conn, 'bind', d, { portal });
}

/** Describe (`D`) or Close (`C`) of a statement or a portal. */
export function onDescribeOrClose(conn: Conn, msg: PgMessage): void {
  const target = decodeTarget(msg.body);
  if (target === undefined) return stopWith(conn, 'client', `malformed ${msg.type === 'D' ? 'Describe' : 'Close'}`);
  const { statements, portals } = conn;
  const d = takeDraft(conn);
  count(d, msg, true);
  const map = target.kind === 'S' ? statements : portals;
  const extra: Partial<Item> = target.kind === 'S' ? { statement: statements.get(target.name) } : { portal: portals.get(target.name) };
  if (msg.type === 'C') map.delete(target.name);
  d.method ??= msg.type === 'D' ? 'DESCRIBE' : 'CLOSE';
  if (msg.type === 'D' && target.kind === 'S' && target.name) d.statementName ??= target.name;
  if (msg.type === 'D' && target.kind === 'S' && d.query === undefined) d.query = extra.statement?.query;
  pushItem(conn, msg.type === 'D' ? 'describe' : 'close', d, extra);
}

export function onExecute(conn: Conn, msg: PgMessage): void {
  const e = decodeExecute(msg.body);
  if (e === undefined) return stopWith(conn, 'client', 'malformed Execute');
  const call = takeDraft(conn);
  conn.draft = undefined;
  count(call, msg, true);
  const portal = conn.portals.get(e.portal);
  call.portal = portal;
  call.statement = portal?.statement;
  call.portalName = e.portal;
  call.statementName = portal?.statementName;
  call.query = portal?.statement?.query;
  call.params = portal?.params ?? [];
  if (portal === undefined) call.notes.push(`portal "${e.portal}" was bound before capture saw it`);
  else if (portal.statement === undefined) call.notes.push(`statement "${portal.statementName}" was prepared before capture saw it`);
  if (portal?.statement?.truncated || portal?.paramsTruncated) call.requestCut = true;
  if (portal !== undefined) call.results[0].resultFormats = portal.resultFormats;
  if (e.maxRows > 0) call.notes.push(`row limit ${e.maxRows} per Execute`);
  conn.lastBatchCall = call;
  conn.lastClientCall = call;
  if (!promote(conn, call, 'extended')) return;
  pushItem(conn, 'execute', call);
}

export function onSync(conn: Conn, msg: PgMessage): void {
  let target: Call | undefined;
  const { draft, lastBatchCall } = conn;
  if (draft !== undefined) {
    target = draft;
    conn.draft = undefined;
    count(target, msg, true);
    if (!promote(conn, target, 'batch')) return;
  } else if (lastBatchCall !== undefined && !lastBatchCall.emitted) {
    target = lastBatchCall;
    count(target, msg, true);
  }
  conn.lastBatchCall = undefined;
  pushItem(conn, 'sync', target);
}

/** Flush (`H`): asks for no answer of its own; its bytes belong to the batch being built. */
export function onFlush(conn: Conn, msg: PgMessage): void {
  if (conn.draft !== undefined) count(conn.draft, msg, true);
}

/** A backend message while a Parse, Bind, Close, Describe or Execute is the head of the queue. */
export function onExtendedAnswer(conn: Conn, head: Item, msg: PgMessage, unexpected: () => void): void {
  const c = head.call as Call;
  const now = conn.now;
  if (msg.type === 'E') return skipToSync(conn, head, toPgError(decodeFields(msg.body)));
  const r = c.results[0];
  r.responseStart ??= now;
  if (COMPLETIONS[head.kind] !== undefined) {
    if (msg.type !== COMPLETIONS[head.kind]) return unexpected();
    shift(conn);
    return;
  }
  if (head.kind === 'describe') {
    if (msg.type === 't') return;
    if (msg.type === 'n') return shift(conn);
    if (msg.type !== 'T') return unexpected();
    const cut = msg.body.length < msg.size;
    const cols = decodeRowDescription(msg.body);
    if (cols === undefined && !cut) return stopWith(conn, 'server', 'malformed RowDescription');
    if (cols !== undefined) {
      if (head.statement !== undefined) head.statement.columns = cols;
      if (head.portal !== undefined) head.portal.columns = cols;
      c.described = cols;
    }
    shift(conn);
    return;
  }
  // execute
  switch (msg.type) {
    case 'D':
      resolveColumns(c, r);
      return dataRow(conn, r, msg);
    case 'C':
      r.tag = decodeCommandTag(msg.body);
      r.end = now;
      return shift(conn);
    case 'I':
      r.empty = true;
      r.end = now;
      return shift(conn);
    case 's':
      r.suspended = true;
      r.end = now;
      r.notes.push('portal suspended: the Execute row limit was reached');
      return shift(conn);
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

/** The answer to a Sync: ReadyForQuery, or an ErrorResponse first when the implicit commit failed. */
export function onSyncAnswer(conn: Conn, call: Call | undefined, msg: PgMessage, unexpected: () => void): void {
  if (msg.type === 'Z') {
    if (call !== undefined) {
      if (call.kind === 'batch') call.end = conn.now;
      call.results[0].end ??= conn.now;
    }
    return shift(conn);
  }
  if (msg.type === 'E') {
    // An error at Sync: the implicit transaction's commit failed.
    const err = toPgError(decodeFields(msg.body));
    if (call !== undefined && call.results[0].error === undefined) {
      call.results[0].error = err;
      call.results[0].notes.push('error at Sync (commit of the implicit transaction)');
    } else standaloneError(conn, err, 'SYNC');
    return;
  }
  return unexpected();
}
