/**
 * Backend messages: how much of each the framer keeps, the asynchronous ones, and which
 * awaited answer each of the others belongs to.
 *
 * This file exists to keep the server side's routing in one place, apart from what each part
 * does with its answers. NotificationResponse is a record of its own; NoticeResponse and
 * ParameterStatus may come at any time and are placed where they land (the head call); every
 * other message is handed to the part that owns the head expectation (`pending.ts`). An
 * ErrorResponse with nothing awaiting is recorded alone; any other message then, or one the
 * head does not allow, is a parse error. An ErrorResponse before the StartupMessage was read
 * (after an SSLRequest) belongs to the startup all the same.
 */
import { type Call, type Conn, SMALL_KEEP, safeEmit } from './conn.ts';
import { decodeFields, decodeNotification, decodeParameterStatus, utf8Prefix } from './decode.ts';
import { onAnswer, releaseHeld } from './encryption.ts';
import { onExtendedAnswer, onSyncAnswer } from './extended.ts';
import type { PgMessage } from './messages.ts';
import { standaloneError } from './pending.ts';
import { currentResult } from './result-feed.ts';
import { toPgError } from './result.ts';
import { onFunctionAnswer, onQueryAnswer } from './simple-query.ts';
import { onStartupAnswer, onStartupRefused } from './startup.ts';
import { stopWith } from './stop.ts';

const ROW_DESCRIPTION_KEEP = 1024 * 1024;

export function serverKeep(conn: Conn, type: string, size: number): number {
  switch (type) {
    case 'D': {
      const head = conn.items[0];
      if (head?.call === undefined || (head.kind !== 'query' && head.kind !== 'execute')) return 0;
      return currentResult(conn, head.call).rowKeep(size);
    }
    case 'd':
      return 0;
    case 'T':
      return Math.min(size, ROW_DESCRIPTION_KEEP);
    default:
      return Math.min(size, SMALL_KEEP);
  }
}

function notification(conn: Conn, msg: PgMessage): void {
  const n = decodeNotification(msg.body, msg.body.length < msg.size);
  if (n === undefined) return stopWith(conn, 'server', 'malformed NotificationResponse');
  const { now } = conn;
  const maxBody = conn.config.maxBody;
  const payload = Buffer.from(n.payload);
  safeEmit(conn, {
    protocol: 'postgres',
    ordinal: conn.nextOrdinal++,
    start: now,
    response_start: now,
    end: now,
    method: 'NOTIFY',
    path: n.channel,
    response: {
      headers: { channel: n.channel, pid: String(n.pid) },
      body: payload.length > maxBody ? Buffer.from(utf8Prefix(payload.subarray(0, maxBody), true)) : payload,
      body_size: msg.size,
      truncated: n.truncated || payload.length > maxBody,
      content_type: 'text/plain',
    },
    bytes_out: 0,
    bytes_in: msg.wireSize,
  });
}

export function onServerMessage(conn: Conn, msg: PgMessage): void {
  if (msg.type === 'answer') return onAnswer(conn, msg);
  if (conn.awaitingAnswer !== undefined) {
    // An ErrorResponse instead of an answer: the server refused the request outright.
    conn.awaitingAnswer = undefined;
    releaseHeld(conn);
    if (conn.mode !== 'pg') return;
  }
  if (msg.type === 'A') return notification(conn, msg);
  const head = conn.items[0];
  const call = head?.call;
  if (call !== undefined) {
    call.bytesIn += msg.wireSize;
    call.responseStart ??= conn.now;
  }
  if (msg.type === 'N') {
    const fields = decodeFields(msg.body);
    const note = `notice: ${toPgError(fields).detail}`;
    if (call === undefined) return;
    if (call.kind === 'startup') call.notes.push(note);
    else {
      const r = currentResult(conn, call);
      if (call.kind === 'simple') r.bytesIn += msg.wireSize;
      r.notes.push(note);
    }
    return;
  }
  if (msg.type === 'S') {
    const ps = decodeParameterStatus(msg.body);
    if (ps === undefined) return stopWith(conn, 'server', 'malformed ParameterStatus');
    if (call?.startup !== undefined) call.startup.server[ps.name] = ps.value;
    return;
  }
  if (head === undefined) {
    const startup = conn.startupCall;
    if (msg.type === 'E' && startup !== undefined && !startup.queued && !startup.emitted) return onStartupRefused(conn, startup, msg);
    if (msg.type === 'E') return standaloneError(conn, toPgError(decodeFields(msg.body)));
    return stopWith(conn, 'server', `backend message '${msg.type}' with nothing awaiting it`);
  }
  const unexpected = (): void => stopWith(conn, 'server', `backend message '${msg.type}' while awaiting an answer to ${head.kind}`);
  switch (head.kind) {
    case 'startup':
      return onStartupAnswer(conn, call as Call, msg, unexpected);
    case 'query':
      return onQueryAnswer(conn, call as Call, msg, unexpected);
    case 'function':
      return onFunctionAnswer(conn, call as Call, msg, unexpected);
    case 'parse':
    case 'bind':
    case 'close':
    case 'describe':
    case 'execute':
      return onExtendedAnswer(conn, head, msg, unexpected);
    case 'sync':
      return onSyncAnswer(conn, call, msg, unexpected);
  }
}
