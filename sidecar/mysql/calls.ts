/**
 * One command and its answer. The server answers commands strictly in order, each with a
 * shape its command decides (OK/ERR, result sets, a prepared statement's metadata, an
 * authentication dialogue), so the oldest command still waiting owns each server packet and
 * `feedReply` advances that command's reading state packet by packet.
 */
import { STATUS } from './constants.ts';
import { type Greeting, type LoginRequest, parseAuthSwitch } from './handshake.ts';
import { Reader, type MysqlPacket, utf8Prefix } from './packets.ts';
import { PROGRESS_REPORT, isTerminator, parseEof, parseErr, parseOk, terminatorStatus, type OkReply, type ServerError } from './replies.ts';
import { type ResultLimits, StatementResult } from './result-set.ts';
import { type Column, type Value, decodeBinaryRow, decodeTextRow, parseColumnDefinition } from './values.ts';

export type CallKind = 'login' | 'query' | 'prepare' | 'execute' | 'fetch' | 'simple' | 'field_list' | 'none';

type ReadState =
  | 'first'
  | 'columns'
  | 'columns-eof'
  | 'rows'
  | 'prep-params'
  | 'prep-params-eof'
  | 'prep-columns'
  | 'prep-columns-eof'
  | 'done';

export interface Statement {
  id: number;
  query: string | undefined;
  truncated: boolean;
  paramCount: number;
  columns?: Column[];
  paramTypes?: Array<[number, boolean]>;
  /** Parameters sent by COM_STMT_SEND_LONG_DATA since the last execute: bytes per parameter. */
  longData: Map<number, number>;
  /** Wire bytes of those COM_STMT_SEND_LONG_DATA packets, counted into the next execute. */
  longDataWire: number;
}

export interface LoginState {
  greeting?: Greeting;
  request?: LoginRequest;
  /** Authentication plugin names in the order they were asked for (greeting/client, then switches). */
  plugins: string[];
  /** One masked line per client authentication message. */
  secrets: string[];
  ok?: OkReply;
  error?: ServerError;
}

export interface Call {
  kind: CallKind;
  command: number;
  method?: string;
  start: bigint;
  requestEnd?: bigint;
  responseStart?: bigint;
  end?: bigint;
  bytesOut: number;
  bytesIn: number;
  requestSize: number;
  /** The database the command ran in (for COM_INIT_DB: the one it switches to). */
  database?: string;
  query?: string;
  requestCut: boolean;
  params?: Value[];
  paramNames?: string[];
  statementId?: number;
  statement?: Statement;
  results: StatementResult[];
  notes: string[];
  done: boolean;
  /** A LOAD DATA LOCAL INFILE: the client sends the file's content before the server answers. */
  infile: boolean;
  login?: LoginState;
  /** An execute of a statement still being prepared: its parameters, read once the prepare is answered. */
  deferred?: { body: Buffer; flags: number; cut: boolean; prepare: Call };
  /** COM_STMT_PREPARE's answer. */
  prepared?: { id: number; params: number; columns: Column[]; columnCount: number; warnings: number };
  state: ReadState;
  left: number;
}

export interface ConnState {
  /** Negotiated capabilities (what both sides set). */
  caps: number;
  deprecateEof: boolean;
  /** The column count of a result set is followed by a metadata-follows byte. */
  metadataFlag: boolean;
  extendedMetadata: boolean;
  database?: string;
}

export class MalformedPacket extends Error {}

export function newCall(kind: CallKind, command: number, start: bigint, database: string | undefined): Call {
  return {
    kind,
    command,
    start,
    bytesOut: 0,
    bytesIn: 0,
    requestSize: 0,
    database,
    requestCut: false,
    results: [],
    notes: [],
    done: kind === 'none',
    infile: false,
    state: 'first',
    left: 0,
  };
}

/** The result that the next packet belongs to (a new one after a finished one). */
export function currentResult(call: Call, limits: ResultLimits, now: bigint): StatementResult {
  let r = call.results[call.results.length - 1];
  if (r === undefined || r.done) {
    r = new StatementResult(limits);
    r.responseStart = now;
    call.results.push(r);
  }
  return r;
}

/** Bytes of the next server packet worth keeping. */
export function replyKeep(call: Call | undefined, size: number, first: number, limits: ResultLimits, now: bigint, small: number): number {
  if (call?.state === 'rows' && first !== 0xfe && first !== 0xff) return currentResult(call, limits, now).rowKeep(size);
  return Math.min(size, small);
}

const endResult = (r: StatementResult, now: bigint): void => {
  r.done = true;
  r.end = now;
};

function finish(call: Call, now: bigint): void {
  call.done = true;
  call.state = 'done';
  call.end = now;
}

/** After a result: another follows when the server says so. */
function afterResult(call: Call, status: number, now: bigint): void {
  if (status & STATUS.MORE_RESULTS_EXISTS) call.state = 'first';
  else finish(call, now);
}

function failWith(call: Call, r: StatementResult, p: MysqlPacket, now: bigint): void {
  r.error = parseErr(p.body, p.body.length < p.size);
  endResult(r, now);
  finish(call, now);
}

function afterColumns(call: Call, conn: ConnState, r: StatementResult): void {
  if (call.kind === 'execute' && call.statement !== undefined) call.statement.columns = r.columns.slice();
  call.state = conn.deprecateEof ? 'rows' : 'columns-eof';
}

function malformed(what: string): never {
  throw new MalformedPacket(what);
}

/** One server packet for `call`, the oldest command awaiting an answer. */
export function feedReply(call: Call, p: MysqlPacket, conn: ConnState, limits: ResultLimits, now: bigint): void {
  const cut = p.body.length < p.size;
  if (call.kind === 'login') return feedLogin(call, p, now);
  if (p.first === 0xff && p.body.length >= 3 && p.body.readUInt16LE(1) === PROGRESS_REPORT) {
    call.notes.push('progress report');
    return;
  }
  switch (call.kind) {
    case 'prepare':
      return feedPrepare(call, p, conn, limits, now);
    case 'simple': {
      const r = currentResult(call, limits, now);
      r.bytesIn += p.wireSize;
      if (p.first === 0xff) return failWith(call, r, p, now);
      if (p.first === 0x00) r.ok = parseOk(p.body, conn.caps);
      else if (p.first === 0xfe && p.size < 9) r.warnings = parseEof(p.body).warnings;
      else r.text = utf8Prefix(p.body, cut);
      endResult(r, now);
      return finish(call, now);
    }
    case 'field_list': {
      const r = currentResult(call, limits, now);
      r.bytesIn += p.wireSize;
      r.columnCount ??= 0;
      if (p.first === 0xff) return failWith(call, r, p, now);
      if (p.first === 0xfe && p.size < 9) {
        endResult(r, now);
        return finish(call, now);
      }
      const col = parseColumnDefinition(p.body, conn.extendedMetadata);
      if (col === undefined && !cut) malformed('column definition');
      if (col !== undefined) r.addColumn(col);
      r.columnCount = r.columns.length;
      return;
    }
    default:
      return feedResults(call, p, conn, limits, now);
  }
}

function feedResults(call: Call, p: MysqlPacket, conn: ConnState, limits: ResultLimits, now: bigint): void {
  const cut = p.body.length < p.size;
  const r = currentResult(call, limits, now);
  r.bytesIn += p.wireSize;
  if (p.first === 0xff) return failWith(call, r, p, now);
  switch (call.state) {
    case 'first': {
      if (p.first === 0x00 && call.kind !== 'fetch') {
        const ok = parseOk(p.body, conn.caps);
        if (ok === undefined) malformed('OK packet');
        r.ok = ok;
        if (ok.schema !== undefined) conn.database = ok.schema;
        endResult(r, now);
        return afterResult(call, ok.status, now);
      }
      if (p.first === 0xfb) {
        call.infile = true;
        r.notes.push(`LOAD DATA LOCAL INFILE: the client sends ${JSON.stringify(utf8Prefix(p.body.subarray(1), cut))} (content not captured)`);
        return;
      }
      const rd = new Reader(p.body);
      const count = rd.lenenc();
      if (typeof count !== 'number' || count === 0) malformed('column count');
      r.columnCount = count;
      const follows = conn.metadataFlag ? rd.u8() !== 0 : true;
      if (follows) {
        call.state = 'columns';
        call.left = count;
        return;
      }
      const cached = call.statement?.columns;
      if (cached !== undefined) r.setColumns(cached);
      else r.notes.push('column metadata skipped by the server and not seen before');
      return afterColumns(call, conn, r);
    }
    case 'columns': {
      const col = parseColumnDefinition(p.body, conn.extendedMetadata);
      if (col === undefined && !cut) malformed('column definition');
      r.addColumn(col ?? { name: `$${r.columns.length + 1}`, type: 0xfd, flags: 0, charset: 0 });
      if (--call.left === 0) afterColumns(call, conn, r);
      return;
    }
    case 'columns-eof': {
      if (!isTerminator(p, false)) malformed('EOF after column definitions');
      const eof = parseEof(p.body);
      if (eof.status & STATUS.CURSOR_EXISTS) {
        r.notes.push('cursor opened: rows are fetched by COM_STMT_FETCH');
        endResult(r, now);
        return finish(call, now);
      }
      call.state = 'rows';
      return;
    }
    case 'rows': {
      if (isTerminator(p, conn.deprecateEof)) {
        const st = terminatorStatus(p, conn.caps);
        r.warnings = st.warnings;
        endResult(r, now);
        return afterResult(call, call.kind === 'fetch' ? 0 : st.status, now);
      }
      if (p.skipped > 0) r.noteSkippedRow(p.skipped);
      if (p.body.length === 0 && p.size > 0) return r.addRow(undefined);
      const binary = call.kind === 'execute' || call.kind === 'fetch';
      const row = binary
        ? decodeBinaryRow(p.body, r.columns, cut)
        : decodeTextRow(p.body, r.columnCount ?? r.columns.length, cut, r.columns.length > 0 ? r.columns : undefined);
      if (row === undefined) malformed('row');
      return r.addRow(row);
    }
    default:
      malformed(`packet after the answer to ${call.method ?? 'a command'} ended`);
  }
}

function feedPrepare(call: Call, p: MysqlPacket, conn: ConnState, limits: ResultLimits, now: bigint): void {
  const cut = p.body.length < p.size;
  if (p.first === 0xff) {
    const r = currentResult(call, limits, now);
    r.bytesIn += p.wireSize;
    return failWith(call, r, p, now);
  }
  const next = (): void => {
    const pr = call.prepared;
    if (pr === undefined) return finish(call, now);
    if (call.state === 'first' && pr.params > 0) {
      call.state = 'prep-params';
      call.left = pr.params;
    } else if ((call.state === 'first' || call.state.startsWith('prep-params')) && pr.columnCount > 0) {
      call.state = 'prep-columns';
      call.left = pr.columnCount;
    } else finish(call, now);
  };
  switch (call.state) {
    case 'first': {
      if (p.first !== 0x00) malformed('COM_STMT_PREPARE answer');
      const r = new Reader(p.body, 1);
      const id = r.u32();
      const columnCount = r.u16();
      const params = r.u16();
      if (id === undefined || columnCount === undefined || params === undefined) malformed('COM_STMT_PREPARE OK');
      r.u8();
      const warnings = r.u16() ?? 0;
      const follows = conn.metadataFlag && r.left > 0 ? r.u8() !== 0 : true;
      call.prepared = { id, params, columns: [], columnCount, warnings };
      if (!follows) return finish(call, now);
      return next();
    }
    case 'prep-params':
    case 'prep-columns': {
      if (call.state === 'prep-columns') {
        const col = parseColumnDefinition(p.body, conn.extendedMetadata);
        if (col === undefined && !cut) malformed('column definition');
        if (col !== undefined) call.prepared?.columns.push(col);
      }
      if (--call.left > 0) return;
      if (!conn.deprecateEof) {
        call.state = call.state === 'prep-params' ? 'prep-params-eof' : 'prep-columns-eof';
        return;
      }
      return next();
    }
    case 'prep-params-eof':
    case 'prep-columns-eof':
      if (!isTerminator(p, false)) malformed('EOF after definitions');
      return next();
    default:
      malformed('packet after a prepared statement answer ended');
  }
}

function feedLogin(call: Call, p: MysqlPacket, now: bigint): void {
  const login = call.login as LoginState;
  switch (p.first) {
    case 0x00:
      login.ok = parseOk(p.body, 0x200);
      return finish(call, now);
    case 0xff:
      login.error = parseErr(p.body, p.body.length < p.size);
      return finish(call, now);
    case 0xfe: {
      // A switch to the same plugin only renews the scramble.
      const plugin = parseAuthSwitch(p.body);
      if (plugin && plugin !== login.plugins[login.plugins.length - 1]) login.plugins.push(plugin);
      return;
    }
    case 0x01:
      if (p.size === 2 && p.body[1] === 3) call.notes.push('fast authentication (cached)');
      else if (p.size === 2 && p.body[1] === 4) call.notes.push('full authentication requested');
      return;
    default:
      // Other plugin-specific data: neither kept nor interpreted.
      return;
  }
}
