/**
 * Reading one client command packet (sequence id 0) into a call: the SQL text, a prepared
 * statement's bound parameters, the database of COM_INIT_DB, the user of COM_CHANGE_USER (its
 * authentication data stepped over). What it changes on the connection's statements (long
 * data, closing) it does through `env`.
 */
import { type ConnState, type Statement, currentResult, newCall, type Call } from './calls.ts';
import { CLIENT, COM, COMMAND_NAMES } from './constants.ts';
import { parseChangeUser } from './handshake.ts';
import { type MysqlPacket, Reader, utf8Prefix } from './packets.ts';
import { MASK } from './records.ts';
import type { ResultLimits } from './result-set.ts';
import { decodeParams } from './values.ts';

/** COM_STMT_EXECUTE flag (MySQL 8): a parameter count precedes the parameters. */
const PARAMETER_COUNT_AVAILABLE = 0x08;

export interface CommandEnv {
  conn: ConnState;
  now: bigint;
  limits: ResultLimits;
  /** The statement of an id (0xffffffff: the last one prepared). */
  statementOf: (id: number) => Statement | undefined;
  forget: (id: number) => void;
  /** The newest COM_STMT_PREPARE still awaiting its answer. */
  pendingPrepare: () => Call | undefined;
}

/** A call to queue; `stop`: nothing after it is parsed; `error`: not the protocol; neither: no call. */
export interface CommandResult {
  call?: Call;
  stop?: boolean;
  error?: string;
}

const fail = (error: string): CommandResult => ({ error });

/** Statement id -1 (MariaDB): the statement prepared last. */
export const ANY_STATEMENT = 0xffffffff;

/** Decodes an execute's parameters from `r` into `call`; false when they are malformed. */
export function bindParams(call: Call, st: Statement, r: Reader, flags: number, conn: ConnState, cut: boolean): boolean {
  let count = st.paramCount;
  if (flags & PARAMETER_COUNT_AVAILABLE && conn.caps & CLIENT.QUERY_ATTRIBUTES) {
    const n = r.lenenc();
    count = typeof n === 'number' ? n : count;
  }
  const params = decodeParams(r, count, st.paramTypes, (conn.caps & CLIENT.QUERY_ATTRIBUTES) !== 0, st.longData, cut);
  if (params === undefined) return false;
  call.params = params.values;
  if (params.names?.some((n) => n !== '')) call.paramNames = params.names;
  if (params.truncated) call.requestCut = true;
  if (params.types.length > 0) st.paramTypes = params.types;
  call.bytesOut += st.longDataWire;
  call.requestSize += st.longDataWire;
  st.longData = new Map();
  st.longDataWire = 0;
  return true;
}

export function readCommand(p: MysqlPacket, env: CommandEnv): CommandResult {
  const { conn, now, limits } = env;
  const command = p.first;
  if (command === undefined) return fail('empty command packet');
  const cut = p.body.length < p.size;
  const r = new Reader(p.body, 1);
  const call = newCall('simple', command, now, conn.database);
  call.method = COMMAND_NAMES[command] ?? `COM_0x${command.toString(16).padStart(2, '0')}`;
  call.bytesOut = p.wireSize;
  call.requestSize = p.wireSize;
  call.requestEnd = now;
  call.requestCut = cut || p.skipped > 0;
  if (p.skipped > 0) call.notes.push(`request.body: ${p.skipped} bytes not captured (capture fell behind forwarding)`);
  const needStatement = (id: number): Statement | undefined => {
    const st = env.statementOf(id);
    call.statementId = id;
    call.statement = st;
    call.query = st?.query;
    if (st === undefined) call.notes.push(`statement ${id} was prepared before capture saw it`);
    else if (st.truncated) call.requestCut = true;
    return st;
  };
  switch (command) {
    case COM.QUERY: {
      call.kind = 'query';
      if (conn.caps & CLIENT.QUERY_ATTRIBUTES) {
        const count = r.lenenc();
        r.lenenc();
        if (typeof count !== 'number') return fail('malformed COM_QUERY attributes');
        if (count > 0) {
          const attrs = decodeParams(r, count, undefined, true, new Map(), cut);
          if (attrs === undefined) return fail('malformed COM_QUERY attributes');
          call.params = attrs.values;
          call.paramNames = attrs.names;
        }
      }
      call.query = utf8Prefix(r.rest(), call.requestCut);
      break;
    }
    case COM.STMT_PREPARE:
      call.kind = 'prepare';
      call.query = utf8Prefix(r.rest(), call.requestCut);
      break;
    case COM.STMT_EXECUTE:
    case COM.STMT_BULK_EXECUTE: {
      call.kind = 'execute';
      const id = r.u32();
      const flags = command === COM.STMT_EXECUTE ? r.u8() : r.u16();
      if (id === undefined || flags === undefined) return fail('malformed COM_STMT_EXECUTE');
      const st = needStatement(id);
      if (command === COM.STMT_BULK_EXECUTE) {
        call.notes.push('bulk execute: parameters not decoded');
        break;
      }
      if (r.u32() === undefined) return fail('malformed COM_STMT_EXECUTE');
      if (flags & 0x07) call.notes.push(`cursor type ${flags & 0x07}`);
      const pending = id === ANY_STATEMENT && st === undefined ? env.pendingPrepare() : undefined;
      if (pending !== undefined) {
        // Pipelined after its COM_STMT_PREPARE: bound once the server says how many parameters.
        call.notes.pop();
        call.deferred = { body: p.body.subarray(r.off), flags, cut, prepare: pending };
        break;
      }
      if (st !== undefined && !bindParams(call, st, r, flags, conn, cut)) return fail('malformed COM_STMT_EXECUTE parameters');
      break;
    }
    case COM.STMT_FETCH: {
      call.kind = 'fetch';
      const id = r.u32();
      const rows = r.u32();
      if (id === undefined || rows === undefined) return fail('malformed COM_STMT_FETCH');
      const st = needStatement(id);
      call.notes.push(`fetch up to ${rows} rows`);
      call.state = 'rows';
      const res = currentResult(call, limits, now);
      res.columnCount = st?.columns?.length ?? 0;
      res.setColumns(st?.columns ?? []);
      res.responseStart = undefined;
      break;
    }
    case COM.STMT_CLOSE:
    case COM.STMT_SEND_LONG_DATA:
    case COM.STMT_RESET: {
      const id = r.u32();
      if (id === undefined) return fail('malformed statement command');
      if (command === COM.STMT_SEND_LONG_DATA) {
        const st = env.statementOf(id);
        const param = r.u16();
        if (st !== undefined && param !== undefined) {
          st.longData.set(param, (st.longData.get(param) ?? 0) + Math.max(0, p.size - 7));
          st.longDataWire += p.wireSize;
        }
        return {};
      }
      const st = needStatement(id);
      if (command === COM.STMT_CLOSE) {
        call.kind = 'none';
        call.done = true;
        call.end = now;
        env.forget(st?.id ?? id);
      } else if (st !== undefined) st.longData = new Map();
      break;
    }
    case COM.INIT_DB: {
      const db = utf8Prefix(r.rest(), cut);
      call.database = db;
      call.query = `USE ${db}`;
      break;
    }
    case COM.QUIT:
      return {};
    case COM.CHANGE_USER: {
      const req = parseChangeUser(p.body, conn.caps, cut);
      if (req === undefined) return fail('malformed COM_CHANGE_USER');
      call.kind = 'login';
      call.database = req.database;
      call.login = { request: req, plugins: req.authPlugin !== undefined ? [req.authPlugin] : [], secrets: [`auth ${MASK}`] };
      break;
    }
    case COM.FIELD_LIST:
      call.kind = 'field_list';
      call.query = new Reader(p.body, 1).nulString(true);
      break;
    case COM.PROCESS_INFO:
      call.kind = 'query';
      break;
    case COM.BINLOG_DUMP:
    case COM.BINLOG_DUMP_GTID:
      call.kind = 'none';
      call.done = true;
      call.notes.push('replication stream: not captured');
      return { call, stop: true };
  }
  return { call };
}

