/**
 * The calls awaiting the server and the answers they await: how backend messages are paired
 * with what the client asked.
 *
 * This file exists because pairing is the one rule every part of the session leans on. Every
 * frontend message the server answers pushes an expectation (an `Item`: startup, Query, Parse,
 * Bind, Describe, Execute, Close, Sync, FunctionCall) and the server answers them strictly in
 * order, so the head of `items` owns each backend message; calls leave `queue` in client order
 * once none of their expectations is left. Here too are the caps on both (beyond them the
 * calls become `capture_overflow` records and capture stops), the skipping of expectations the
 * server discards after an extended-protocol error, and the flush that turns every pending call
 * into records when capture ends early.
 */
import type { RecordError } from '../../record/record.ts';
import { type Call, type CallKind, type Conn, type Item, type ItemKind, newCall, safeEmit, safeEvent, stopParsing } from './conn.ts';
import { exchangesOf, resultExchange } from './exchange.ts';
import type { PgError } from './result.ts';

/** One record saying where capture stopped, when nothing was pending to say it. */
export function marker(conn: Conn, error: RecordError, detail: string): void {
  const now = conn.now;
  safeEmit(conn, { protocol: 'postgres', ordinal: conn.nextOrdinal++, start: now, end: now, bytes_out: 0, bytes_in: 0, error, error_detail: detail });
}

export function nothingPending(conn: Conn): boolean {
  const { draft, startupCall } = conn;
  return (
    conn.queue.length === 0 &&
    (draft === undefined || draft.bytesOut === 0) &&
    (startupCall === undefined || startupCall.emitted || startupCall.queued)
  );
}

function completed(call: Call): boolean {
  // A startup awaits nothing until its StartupMessage is read (after an SSLRequest), yet only
  // its ReadyForQuery or ErrorResponse finishes it.
  if (call.kind === 'startup') return call.end !== undefined;
  return call.items === 0 || (call.kind === 'extended' && (call.results[0].done || call.skippedBy !== undefined));
}

/** Emits the calls at the head of the queue that the server has fully answered. */
export function emitReady(conn: Conn): void {
  const queue = conn.queue;
  while (queue.length > 0 && queue[0].items === 0) {
    const call = queue.shift() as Call;
    call.emitted = true;
    for (const ex of exchangesOf(conn, call)) safeEmit(conn, ex);
  }
}

/** Flushes every pending call: the first unfinished one gets `firstError`, the others `laterError`. */
export function flushPending(conn: Conn, firstError: RecordError, laterError: RecordError, detail?: string): void {
  const { queue, draft, startupCall } = conn;
  if (draft !== undefined && draft.bytesOut > 0) {
    // No cap here: this is the flush the cap itself leads to.
    draft.kind = 'batch';
    draft.queued = true;
    queue.push(draft);
  }
  conn.draft = undefined;
  if (startupCall !== undefined && !startupCall.queued && !startupCall.emitted) {
    startupCall.queued = true;
    queue.unshift(startupCall);
  }
  let first = true;
  for (const call of queue.splice(0, queue.length)) {
    call.emitted = true;
    if (completed(call)) {
      for (const ex of exchangesOf(conn, call)) safeEmit(conn, ex);
      continue;
    }
    call.end = conn.now;
    const error = first ? firstError : laterError;
    first = false;
    for (const ex of exchangesOf(conn, call, error, detail)) safeEmit(conn, ex);
  }
  conn.items.length = 0;
}

/** Too many calls await the server: they become `capture_overflow` records and capture stops. */
function cutBacklog(conn: Conn): void {
  safeEvent(conn, { kind: 'capture_overflow', reason: 'pending_exchanges' });
  flushPending(conn, 'capture_overflow', 'capture_overflow', `more than ${conn.config.maxPending} calls awaiting the server: capture stopped for this connection`);
  stopParsing(conn);
}

/** Queues a call in client order; false when that was one too many (capture stopped). */
export function enqueue(conn: Conn, call: Call): boolean {
  if (conn.queue.length >= conn.config.maxPending) {
    cutBacklog(conn);
    return false;
  }
  call.queued = true;
  conn.queue.push(call);
  return true;
}

/** Awaits one more server answer for `call`, unless the server is discarding up to a Sync. */
export function pushItem(conn: Conn, kind: ItemKind, call: Call | undefined, extra: Partial<Item> = {}): void {
  if (conn.discarding !== undefined && kind !== 'sync') {
    if (call !== undefined && call.results[0]?.error === undefined) call.skippedBy ??= conn.discarding;
    return;
  }
  if (kind === 'sync') conn.discarding = undefined;
  if (conn.items.length >= conn.config.maxItems) {
    cutBacklog(conn);
    return;
  }
  if (call !== undefined) call.items++;
  conn.items.push({ kind, call, ...extra });
}

/** An extended-protocol draft becomes a call of its own (at Execute or Sync). */
export function promote(conn: Conn, call: Call, kind: CallKind): boolean {
  call.kind = kind;
  call.requestEnd = conn.now;
  return enqueue(conn, call);
}

/** The head answer is complete. */
export function shift(conn: Conn): void {
  const item = conn.items.shift();
  if (item?.call !== undefined) item.call.items--;
}

/**
 * ErrorResponse in the extended protocol: the server now discards everything up to Sync, so
 * the expectations before it are dropped and their calls recorded as not executed.
 */
export function skipToSync(conn: Conn, item: Item, err: PgError): void {
  const call = item.call as Call;
  const items = conn.items;
  const r = call.results[0];
  r.error ??= err;
  r.end ??= conn.now;
  r.responseStart ??= conn.now;
  shift(conn);
  while (items.length > 0 && items[0].kind !== 'sync') {
    const dropped = items.shift() as Item;
    const c = dropped.call;
    if (c === undefined) continue;
    c.items--;
    if (c !== call && c.results[0]?.error === undefined) c.skippedBy ??= err;
  }
  if (items.length === 0) conn.discarding = err;
  // A draft the client is still building is discarded too (its Sync has not come).
  const draft = conn.draft;
  if (draft !== undefined && draft !== call && draft.results[0].error === undefined) draft.skippedBy ??= err;
}

/** An ErrorResponse no call awaits (or that comes after its call was answered): a record of its own. */
export function standaloneError(conn: Conn, err: PgError, method?: string): void {
  const now = conn.now;
  const call = newCall(conn, 'batch');
  call.end = now;
  call.responseStart = now;
  const r = call.results[0];
  r.error = err;
  r.responseStart = now;
  r.end = now;
  const out = resultExchange(conn, call, r, undefined, {}, true, undefined, undefined, ['error with no call awaiting an answer']);
  if (method !== undefined) out.method = method;
  delete out.request;
  safeEmit(conn, out);
}
