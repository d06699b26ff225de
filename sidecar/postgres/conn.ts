/**
 * What one PostgreSQL connection's capture remembers, shared by every part of the session.
 *
 * This file exists because the session is split by concern (pairing, startup, extended and
 * simple query, records, hand-off, stopping) while all of them read and move the same state:
 * the clock of the chunk being parsed, the calls awaiting the server, the named statements and
 * portals, the two framers. Here are that state's shape, the call and expectation types the
 * parts exchange, and the few helpers every part needs (a new call, byte counting, emitting
 * without letting a sink break parsing). It decides nothing about the protocol.
 */
import type { CaptureContext, CaptureEvent, CaptureSession, Exchange } from '../capture/session.ts';
import type { MaskPolicy } from '../mask/policy.ts';
import type { Column, PgValue } from './decode.ts';
import type { PgFramer, PgMessage } from './messages.ts';
import { type PgError, type ResultLimits, StatementResult } from './result.ts';

/** Kept of small control messages (errors, notices, names). */
export const SMALL_KEEP = 64 * 1024;

export type CallKind = 'startup' | 'simple' | 'extended' | 'batch' | 'function';
export type ItemKind = 'startup' | 'query' | 'parse' | 'bind' | 'describe' | 'execute' | 'close' | 'sync' | 'function';

export interface Statement {
  query: string | undefined;
  truncated: boolean;
  columns?: Column[];
}

export interface Portal {
  statementName: string;
  statement: Statement | undefined;
  params: PgValue[];
  paramsTruncated: boolean;
  resultFormats: number[];
  columns?: Column[];
}

export interface StartupState {
  params: Record<string, string>;
  /** First authentication request that was not AuthenticationOk (continuations excluded). */
  authCode?: number;
  mechanisms: string[];
  mechanism?: string;
  /** AuthenticationOk seen. */
  authOk?: boolean;
  /** What the client's authentication messages were, each with its secret replaced. */
  secrets: string[];
  server: Record<string, string>;
  pid?: number;
  error?: PgError;
  /**
   * The protocol version asked for when it is not 3.x (`9.0`, `2.0`): the server refuses it with
   * an ErrorResponse, and nothing else it could answer is readable.
   */
  unsupported?: string;
}

export interface Call {
  kind: CallKind;
  start: bigint;
  requestEnd?: bigint;
  responseStart?: bigint;
  end?: bigint;
  bytesOut: number;
  bytesIn: number;
  /** Bytes of the request messages (body_size). */
  requestSize: number;
  requestCut: boolean;
  /** Expectations of this call still awaiting the server. */
  items: number;
  queued: boolean;
  emitted: boolean;
  notes: string[];
  /** For batches without an Execute: what the batch did (`PARSE`, `DESCRIBE`, …). */
  method?: string;
  query?: string;
  statementName?: string;
  portalName?: string;
  params?: PgValue[];
  portal?: Portal;
  statement?: Statement;
  /** Columns a Describe of this call's batch returned. */
  described?: Column[];
  /** Simple query: one per statement that answered; otherwise exactly one. */
  results: StatementResult[];
  /** Not executed: an earlier message of its batch failed. */
  skippedBy?: PgError;
  startup?: StartupState;
}

/** One server answer awaited, owned by a call (a Sync after nothing owns none). */
export interface Item {
  kind: ItemKind;
  call?: Call;
  statement?: Statement;
  portal?: Portal;
}

export interface HeldChunk {
  data: Buffer;
  now: bigint;
}

/** The session's options, resolved. */
export interface ConnConfig {
  maxBody: number;
  maxPending: number;
  /** Server answers awaited at most. */
  maxItems: number;
  maxHeld: number;
  maxPrepared: number;
  limits: ResultLimits;
  /** Kept of a Query, Parse or Bind. */
  queryKeep: number;
  /** The masking policy: which column names hold secrets in statements, and whether to mask them. */
  maskPolicy: MaskPolicy;
}

export interface Conn {
  readonly ctx: CaptureContext;
  readonly config: ConnConfig;
  mode: 'pg' | 'tail' | 'stopped' | 'closed';
  /** Time of the chunk being parsed. */
  now: bigint;
  nextOrdinal: number;
  /** The session that took the connection after an SSL/GSS answer or a direct ClientHello. */
  tail: CaptureSession | undefined;
  clientSeen: number;
  /** When the client's first byte came: the start of a startup cut short before its first packet was read. */
  clientStart: bigint | undefined;
  /** Calls in client order, emitted from the head once answered. */
  readonly queue: Call[];
  /** Server answers awaited, in order. */
  readonly items: Item[];
  /** Extended-protocol messages since the last Execute/Sync, not yet a call. */
  draft: Call | undefined;
  /** The last Execute since the last Sync (the Sync's answer is counted into it). */
  lastBatchCall: Call | undefined;
  /** Where client COPY data goes. */
  lastClientCall: Call | undefined;
  /** After an ErrorResponse with no Sync sent yet: the server discards until one comes. */
  discarding: PgError | undefined;
  startupCall: Call | undefined;
  lastAuthRequest: number | undefined;
  awaitingAnswer: 'ssl' | 'gss' | undefined;
  holding: boolean;
  held: HeldChunk[];
  heldBytes: number;
  readonly statements: Map<string, Statement>;
  readonly portals: Map<string, Portal>;
  readonly clientFramer: PgFramer;
  readonly serverFramer: PgFramer;
}

/** A connection's state before its framers exist (they are built around it). */
export function initialConn(ctx: CaptureContext, config: ConnConfig): Omit<Conn, 'clientFramer' | 'serverFramer'> {
  return {
    ctx,
    config,
    mode: 'pg',
    now: 0n,
    nextOrdinal: 0,
    tail: undefined,
    clientSeen: 0,
    clientStart: undefined,
    queue: [],
    items: [],
    draft: undefined,
    lastBatchCall: undefined,
    lastClientCall: undefined,
    discarding: undefined,
    startupCall: undefined,
    lastAuthRequest: undefined,
    awaitingAnswer: undefined,
    holding: false,
    held: [],
    heldBytes: 0,
    statements: new Map(),
    portals: new Map(),
  };
}

export function newCall(conn: Conn, kind: CallKind): Call {
  return {
    kind,
    start: conn.now,
    bytesOut: 0,
    bytesIn: 0,
    requestSize: 0,
    requestCut: false,
    items: 0,
    queued: false,
    emitted: false,
    notes: [],
    results: kind === 'simple' || kind === 'startup' ? [] : [new StatementResult(conn.config.limits)],
  };
}

/**
 * The connection's startup call, made by its first startup-phase packet (an SSLRequest or the
 * StartupMessage), or by the close when the connection ended before one was read (`start`).
 */
export function startupCallOf(conn: Conn, start?: bigint): Call {
  conn.startupCall ??= { ...newCall(conn, 'startup'), ...(start !== undefined ? { start } : {}), startup: { params: {}, mechanisms: [], secrets: [], server: {} } };
  return conn.startupCall;
}

export function safeEmit(conn: Conn, exchange: Exchange): void {
  try {
    conn.ctx.emit(exchange);
  } catch {
    // A failing sink must not break parsing of the connection.
  }
}

export function safeEvent(conn: Conn, event: CaptureEvent): void {
  try {
    conn.ctx.event(event);
  } catch {
    // Metrics are best effort.
  }
}

/** Counts a client message into `call` (and into its request size when it is part of the request). */
export function count(call: Call | undefined, msg: PgMessage, request: boolean): void {
  if (call === undefined) return;
  call.bytesOut += msg.wireSize;
  if (request) call.requestSize += msg.wireSize;
}

export function skippedNote(msg: PgMessage, what: string): string {
  return `${what}: ${msg.skipped} bytes not captured (capture fell behind forwarding)`;
}

/** Stops observing the connection for good (bytes still flow). */
export function stopParsing(conn: Conn): void {
  conn.mode = 'stopped';
  conn.clientFramer.paused = true;
  conn.serverFramer.paused = true;
  conn.held = [];
}
