/**
 * The server's generic replies: OK (0x00, or 0xfe ending rows under CLIENT_DEPRECATE_EOF), ERR
 * (0xff) and EOF (0xfe, short). Tolerant of cut prefixes: what is missing stays unset.
 */
import { CLIENT, STATUS } from './constants.ts';
import { Reader, type MysqlPacket, utf8Prefix } from './packets.ts';

export interface OkReply {
  affectedRows: number;
  lastInsertId: number;
  status: number;
  warnings: number;
  info?: string;
  /** The default database after this statement (session tracking). */
  schema?: string;
}

const SESSION_TRACK_SCHEMA = 1;

export function parseOk(body: Buffer, caps: number): OkReply | undefined {
  const r = new Reader(body, 1);
  const affectedRows = r.lenenc();
  const lastInsertId = r.lenenc();
  if (typeof affectedRows !== 'number' || typeof lastInsertId !== 'number') return undefined;
  const ok: OkReply = { affectedRows, lastInsertId, status: 0, warnings: 0 };
  if (caps & (CLIENT.PROTOCOL_41 | CLIENT.TRANSACTIONS)) ok.status = r.u16() ?? 0;
  if (caps & CLIENT.PROTOCOL_41) ok.warnings = r.u16() ?? 0;
  if (r.left === 0) return ok;
  if (caps & CLIENT.SESSION_TRACK) {
    const info = r.lenencString();
    if (info) ok.info = info;
    if (ok.status & STATUS.SESSION_STATE_CHANGED) {
      const total = r.lenenc();
      if (typeof total === 'number') {
        const end = Math.min(body.length, r.off + total);
        while (r.off < end) {
          const type = r.u8();
          const data = r.lenencBytes();
          if (type === undefined || data === undefined || data === null) break;
          if (type === SESSION_TRACK_SCHEMA) {
            const schema = new Reader(data).lenencString();
            if (schema !== undefined) ok.schema = schema;
          }
        }
      }
    }
  } else {
    const info = r.rest().toString('utf8');
    if (info) ok.info = info;
  }
  return ok;
}

export interface ServerError {
  code: number;
  sqlstate: string;
  message: string;
  /** `ERROR 1146 (42S02): Table 'shop.nope' doesn't exist` */
  detail: string;
}

/** MariaDB's progress report rides in an ERR packet with this code; it is not an error. */
export const PROGRESS_REPORT = 0xffff;

export function parseErr(body: Buffer, cut: boolean): ServerError {
  const r = new Reader(body, 1);
  const code = r.u16() ?? 0;
  let sqlstate = '';
  if (r.left >= 6 && body[r.off] === 0x23) {
    sqlstate = body.toString('latin1', r.off + 1, r.off + 6);
    r.off += 6;
  }
  const message = utf8Prefix(r.rest(), cut);
  const detail = `ERROR ${code}${sqlstate ? ` (${sqlstate})` : ''}: ${message}`;
  return { code, sqlstate, message, detail };
}

export interface EofReply {
  warnings: number;
  status: number;
}

export function parseEof(body: Buffer): EofReply {
  const r = new Reader(body, 1);
  return { warnings: r.u16() ?? 0, status: r.u16() ?? 0 };
}

/** An EOF packet (or, under CLIENT_DEPRECATE_EOF, the OK that replaces it) ending rows or columns. */
export function isTerminator(p: MysqlPacket, deprecateEof: boolean): boolean {
  if (p.first !== 0xfe) return false;
  return deprecateEof ? p.size < 0xffffff : p.size < 9;
}

/** The status flags of a terminator: an EOF packet, or the OK replacing it under CLIENT_DEPRECATE_EOF. */
export function terminatorStatus(p: MysqlPacket, caps: number): EofReply & { ok?: OkReply } {
  if ((caps & CLIENT.DEPRECATE_EOF) === 0) return parseEof(p.body);
  const ok = parseOk(p.body, caps);
  return ok === undefined ? { warnings: 0, status: 0 } : { warnings: ok.warnings, status: ok.status, ok };
}
