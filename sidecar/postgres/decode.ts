/**
 * Reading the content of PostgreSQL messages the framer delivered. Contents may be cut (the
 * framer kept a prefix): decoders then return what is complete and say `truncated`, and a
 * complete but malformed content returns undefined, which the session treats as a parse error.
 */

import { CANCEL_REQUEST_CODE } from './messages.ts';

/** A value as the record shows it: text as UTF-8, binary as `\x` + hex, SQL NULL as null. */
export type PgValue = string | null;

export interface Column {
  name: string;
  /** 0 text, 1 binary (as the server described it). */
  format: number;
}

export interface StartupPacket {
  code: number;
  /** Startup parameters (StartupMessage only). */
  params: Record<string, string>;
  /** CancelRequest: the backend process id (the secret key is never kept). */
  pid?: number;
}

export interface BindContent {
  portal: string;
  statement: string;
  params: PgValue[];
  /** Result column format codes as sent (empty: all text; one: all; else per column). */
  resultFormats: number[];
  truncated: boolean;
}

export interface NotificationContent {
  pid: number;
  channel: string;
  payload: string;
  truncated: boolean;
}

/** A NUL-terminated string at `off`, or undefined when the NUL is missing. */
export function readCString(buf: Buffer, off: number): { value: string; next: number } | undefined {
  const end = buf.indexOf(0, off);
  if (end === -1) return undefined;
  return { value: buf.toString('utf8', off, end), next: end + 1 };
}

/** UTF-8 text of a prefix that may end inside a character: the broken tail is dropped. */
export function utf8Prefix(buf: Buffer, cut: boolean): string {
  if (!cut) return buf.toString('utf8');
  let end = buf.length;
  // Back up over continuation bytes to the last lead byte; drop it when its sequence is incomplete.
  let k = end - 1;
  while (k >= 0 && end - k <= 4 && (buf[k] & 0xc0) === 0x80) k--;
  if (k >= 0) {
    const lead = buf[k];
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (end - k < need) end = k;
  }
  return buf.toString('utf8', 0, end);
}

export function hexValue(buf: Buffer): string {
  return `\\x${buf.toString('hex')}`;
}

/** Format code of column/parameter `i` from a list of codes as the protocol sends it. */
export function formatAt(codes: readonly number[], i: number): number {
  if (codes.length === 0) return 0;
  if (codes.length === 1) return codes[0];
  return codes[i] ?? 0;
}

export function decodeStartup(body: Buffer): StartupPacket | undefined {
  if (body.length < 4) return undefined;
  const code = body.readUInt32BE(0);
  const params: Record<string, string> = {};
  if (code === CANCEL_REQUEST_CODE) {
    if (body.length < 12) return undefined;
    return { code, params, pid: body.readUInt32BE(4) };
  }
  const major = code >>> 16;
  // Protocol 1.x/2.x packets are fixed-size structs, not read. A later major version is read as
  // protocol 3 lays it out (a server refuses it, but the user and database say whose login that
  // was); when it does not parse that way, it names nothing.
  if (major < 3) return { code, params };
  let off = 4;
  while (off < body.length && body[off] !== 0) {
    const name = readCString(body, off);
    const value = name === undefined ? undefined : readCString(body, name.next);
    if (name === undefined || value === undefined) return major === 3 ? undefined : { code, params: {} };
    if (!Object.hasOwn(params, name.value) && name.value !== '__proto__') params[name.value] = value.value;
    off = value.next;
  }
  return { code, params };
}

/** ErrorResponse / NoticeResponse: field code character → value. */
export function decodeFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < body.length && body[off] !== 0) {
    const code = String.fromCharCode(body[off]);
    const value = readCString(body, off + 1);
    if (value === undefined) {
      // A cut content: keep the readable prefix of the last field.
      out[code] = utf8Prefix(body.subarray(off + 1), true);
      break;
    }
    out[code] = value.value;
    off = value.next;
  }
  return out;
}

/**
 * A protocol 2.0 style error (the `legacy` framing's body: type byte, then text): the text is
 * `SEVERITY:  message` and a newline. As error fields, so it reads like any other ErrorResponse.
 */
export function decodeLegacyError(body: Buffer): Record<string, string> {
  const text = body.toString('utf8', 1).replace(/\n$/, '');
  const m = /^([A-Z]+):  ([\s\S]*)$/.exec(text);
  if (m === null) return { M: text };
  return { S: m[1], V: m[1], M: m[2] };
}

export function decodeRowDescription(body: Buffer): Column[] | undefined {
  if (body.length < 2) return undefined;
  const n = body.readUInt16BE(0);
  const cols: Column[] = [];
  let off = 2;
  for (let i = 0; i < n; i++) {
    const name = readCString(body, off);
    if (name === undefined || name.next + 18 > body.length) return undefined;
    cols.push({ name: name.value, format: body.readInt16BE(name.next + 16) });
    off = name.next + 18;
  }
  return cols;
}

export interface DataRowContent {
  /** Complete fields, then possibly one cut field (its bytes so far). */
  values: Array<Buffer | null>;
  /** Number of fields the row declares. */
  count: number;
  truncated: boolean;
}

/** `cut`: the body is a prefix of the content. */
export function decodeDataRow(body: Buffer, cut: boolean): DataRowContent | undefined {
  if (body.length < 2) return cut ? { values: [], count: 0, truncated: true } : undefined;
  const count = body.readUInt16BE(0);
  const values: Array<Buffer | null> = [];
  let off = 2;
  for (let i = 0; i < count; i++) {
    if (off + 4 > body.length) {
      if (cut) return { values, count, truncated: true };
      return undefined;
    }
    const len = body.readInt32BE(off);
    off += 4;
    if (len === -1) {
      values.push(null);
      continue;
    }
    if (len < 0) return undefined;
    if (off + len > body.length) {
      if (!cut) return undefined;
      values.push(body.subarray(off));
      return { values, count, truncated: true };
    }
    values.push(body.subarray(off, off + len));
    off += len;
  }
  return { values, count, truncated: false };
}

export function decodeParse(body: Buffer, cut: boolean): { name: string; query: string; truncated: boolean } | undefined {
  const name = readCString(body, 0);
  if (name === undefined) return cut ? { name: '', query: '', truncated: true } : undefined;
  const query = readCString(body, name.next);
  if (query === undefined) {
    if (!cut) return undefined;
    return { name: name.value, query: utf8Prefix(body.subarray(name.next), true), truncated: true };
  }
  return { name: name.value, query: query.value, truncated: false };
}

export function decodeQuery(body: Buffer, cut: boolean): { query: string; truncated: boolean } | undefined {
  const q = readCString(body, 0);
  if (q === undefined) return cut ? { query: utf8Prefix(body, true), truncated: true } : undefined;
  return { query: q.value, truncated: false };
}

export function decodeBind(body: Buffer, cut: boolean): BindContent | undefined {
  const portal = readCString(body, 0);
  const statement = portal && readCString(body, portal.next);
  if (portal === undefined || statement === undefined) {
    return cut ? { portal: portal?.value ?? '', statement: '', params: [], resultFormats: [], truncated: true } : undefined;
  }
  const out: BindContent = { portal: portal.value, statement: statement.value, params: [], resultFormats: [], truncated: false };
  const short = (): BindContent | undefined => {
    if (!cut) return undefined;
    out.truncated = true;
    return out;
  };
  let off = statement.next;
  if (off + 2 > body.length) return short();
  const nFormats = body.readUInt16BE(off);
  off += 2;
  if (off + 2 * nFormats > body.length) return short();
  const formats: number[] = [];
  for (let i = 0; i < nFormats; i++) formats.push(body.readInt16BE(off + 2 * i));
  off += 2 * nFormats;
  if (off + 2 > body.length) return short();
  const nParams = body.readUInt16BE(off);
  off += 2;
  for (let i = 0; i < nParams; i++) {
    if (off + 4 > body.length) return short();
    const len = body.readInt32BE(off);
    off += 4;
    if (len === -1) {
      out.params.push(null);
      continue;
    }
    if (len < 0) return undefined;
    const binary = formatAt(formats, i) === 1;
    if (off + len > body.length) {
      if (!cut) return undefined;
      const part = body.subarray(off);
      out.params.push(binary ? hexValue(part) : utf8Prefix(part, true));
      out.truncated = true;
      return out;
    }
    const v = body.subarray(off, off + len);
    out.params.push(binary ? hexValue(v) : v.toString('utf8'));
    off += len;
  }
  if (off + 2 > body.length) return short();
  const nResult = body.readUInt16BE(off);
  off += 2;
  if (off + 2 * nResult > body.length) return short();
  for (let i = 0; i < nResult; i++) out.resultFormats.push(body.readInt16BE(off + 2 * i));
  return out;
}

/** Describe / Close: `S` statement or `P` portal, and its name. */
export function decodeTarget(body: Buffer): { kind: 'S' | 'P'; name: string } | undefined {
  if (body.length < 2) return undefined;
  const kind = String.fromCharCode(body[0]);
  if (kind !== 'S' && kind !== 'P') return undefined;
  const name = readCString(body, 1);
  if (name === undefined) return undefined;
  return { kind, name: name.value };
}

export function decodeExecute(body: Buffer): { portal: string; maxRows: number } | undefined {
  const portal = readCString(body, 0);
  if (portal === undefined || portal.next + 4 > body.length) return undefined;
  return { portal: portal.value, maxRows: body.readInt32BE(portal.next) };
}

/** AuthenticationXXX: the request code and, for SASL, the mechanisms offered. */
export function decodeAuth(body: Buffer): { code: number; mechanisms: string[] } | undefined {
  if (body.length < 4) return undefined;
  const code = body.readInt32BE(0);
  const mechanisms: string[] = [];
  if (code === 10) {
    let off = 4;
    while (off < body.length && body[off] !== 0) {
      const m = readCString(body, off);
      if (m === undefined) break;
      mechanisms.push(m.value);
      off = m.next;
    }
  }
  return { code, mechanisms };
}

/** SASLInitialResponse: the mechanism chosen (the response data is never read). */
export function decodeSaslMechanism(body: Buffer): string | undefined {
  return readCString(body, 0)?.value;
}

export function decodeParameterStatus(body: Buffer): { name: string; value: string } | undefined {
  const name = readCString(body, 0);
  const value = name && readCString(body, name.next);
  if (name === undefined || value === undefined) return undefined;
  return { name: name.value, value: value.value };
}

export function decodeNotification(body: Buffer, cut: boolean): NotificationContent | undefined {
  if (body.length < 4) return undefined;
  const pid = body.readUInt32BE(0);
  const channel = readCString(body, 4);
  if (channel === undefined) return cut ? { pid, channel: utf8Prefix(body.subarray(4), true), payload: '', truncated: true } : undefined;
  const payload = readCString(body, channel.next);
  if (payload === undefined) {
    if (!cut) return undefined;
    return { pid, channel: channel.value, payload: utf8Prefix(body.subarray(channel.next), true), truncated: true };
  }
  return { pid, channel: channel.value, payload: payload.value, truncated: false };
}

export function decodeCommandTag(body: Buffer): string {
  const tag = readCString(body, 0);
  return tag === undefined ? utf8Prefix(body, true) : tag.value;
}

/** The row count a command tag reports (`INSERT 0 5` → 5, `SELECT 3` → 3), if any. */
export function tagRowCount(tag: string): number | undefined {
  const m = /^(?:INSERT \d+ (\d+)|(?:SELECT|UPDATE|DELETE|MERGE|FETCH|MOVE|COPY) (\d+))$/.exec(tag);
  if (m === null) return undefined;
  return Number(m[1] ?? m[2]);
}
