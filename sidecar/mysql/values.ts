/**
 * Column definitions and values: text-protocol rows (length-encoded strings), binary-protocol
 * rows and bound parameters (typed, with a NULL bitmap). Every value becomes text the way the
 * server would print it (`42`, `2024-05-01 10:00:00`, `1.5`), bytes of the binary character set
 * as `\x…` hex, NULL as null. Readers stop where a cut prefix ends and say so.
 */
import { isUtf8 } from 'node:buffer';
import { BINARY_CHARSET, PARAM_UNSIGNED, TYPE, UNSIGNED_FLAG } from './constants.ts';
import { Reader, utf8Prefix } from './packets.ts';

export type Value = string | null;

export interface Column {
  name: string;
  type: number;
  flags: number;
  charset: number;
}

export function parseColumnDefinition(body: Buffer, extendedMetadata: boolean): Column | undefined {
  const r = new Reader(body);
  // catalog, schema, table, org_table, name, org_name
  let name: string | undefined;
  for (let i = 0; i < 6; i++) {
    const s = r.lenencString();
    if (s === undefined) return undefined;
    if (i === 4) name = s;
  }
  if (extendedMetadata && r.lenencBytes() === undefined) return { name: name ?? '', type: TYPE.VAR_STRING, flags: 0, charset: 0 };
  // Length of the fixed fields (0x0c), charset, column length, type, flags.
  const fixed = r.lenenc();
  const charset = r.u16();
  r.u32();
  const type = r.u8();
  const flags = r.u16();
  if (typeof fixed !== 'number' || charset === undefined || type === undefined || flags === undefined) {
    return { name: name ?? '', type: TYPE.VAR_STRING, flags: 0, charset: 0 };
  }
  return { name: name ?? '', type, flags, charset };
}

const STRING_TYPES = new Set<number>([
  TYPE.VARCHAR,
  TYPE.BIT,
  TYPE.TINY_BLOB,
  TYPE.MEDIUM_BLOB,
  TYPE.LONG_BLOB,
  TYPE.BLOB,
  TYPE.VAR_STRING,
  TYPE.STRING,
  TYPE.GEOMETRY,
]);

const hex = (b: Buffer): string => `\\x${b.toString('hex')}`;

function columnText(col: Column | undefined, b: Buffer, cut: boolean): string {
  if (col !== undefined && col.charset === BINARY_CHARSET && STRING_TYPES.has(col.type)) return hex(b);
  return utf8Prefix(b, cut);
}

/** Text for bytes of no known character set: UTF-8 when it is, else hex. */
function looseText(b: Buffer, cut: boolean): string {
  const text = utf8Prefix(b, cut);
  return isUtf8(Buffer.from(text)) && (cut || isUtf8(b)) ? text : hex(b);
}

export interface DecodedRow {
  values: Value[];
  /** The packet was cut inside a value (the last one is a prefix) or before all values. */
  truncated: boolean;
}

/** A text-protocol row: one length-encoded string (or 0xfb NULL) per column. */
export function decodeTextRow(body: Buffer, columns: number, cut: boolean, cols: Column[] | undefined): DecodedRow | undefined {
  const r = new Reader(body);
  const values: Value[] = [];
  const n = cols?.length ?? columns;
  while (values.length < n || (n === 0 && r.left > 0)) {
    if (r.left === 0) {
      if (cut) return { values, truncated: true };
      return values.length === n ? { values, truncated: false } : undefined;
    }
    const len = r.lenenc();
    if (len === null) {
      values.push(null);
      continue;
    }
    if (len === undefined) return cut ? { values, truncated: true } : undefined;
    const b = r.upTo(len);
    const short = b.length < len;
    if (short && !cut) return undefined;
    values.push(columnText(cols?.[values.length], b, short));
    if (short) return { values, truncated: true };
  }
  return r.left === 0 || cut ? { values, truncated: false } : undefined;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** DATE / DATETIME / TIMESTAMP: length byte, then year(2) month day [hour min sec [µs(4)]]. */
function dateText(r: Reader, withTime: boolean): string | undefined {
  const len = r.u8();
  if (len === undefined) return undefined;
  const b = r.bytes(len);
  if (b === undefined) return undefined;
  const y = len >= 4 ? b.readUInt16LE(0) : 0;
  const date = `${pad(y, 4)}-${pad(len >= 4 ? b[2] : 0)}-${pad(len >= 4 ? b[3] : 0)}`;
  if (!withTime) return date;
  let time = `${pad(len >= 7 ? b[4] : 0)}:${pad(len >= 7 ? b[5] : 0)}:${pad(len >= 7 ? b[6] : 0)}`;
  if (len >= 11) time += `.${pad(b.readUInt32LE(7), 6)}`;
  return `${date} ${time}`;
}

/** TIME: length byte, then negative(1) days(4) hour min sec [µs(4)]. */
function timeText(r: Reader): string | undefined {
  const len = r.u8();
  if (len === undefined) return undefined;
  const b = r.bytes(len);
  if (b === undefined) return undefined;
  if (len < 8) return '00:00:00';
  const hours = b.readUInt32LE(1) * 24 + b[5];
  let text = `${b[0] ? '-' : ''}${pad(hours)}:${pad(b[6])}:${pad(b[7])}`;
  if (len >= 12) text += `.${pad(b.readUInt32LE(8), 6)}`;
  return text;
}

function floatText(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(7))) : String(v);
}

/**
 * One binary-protocol value of `type`. `text` renders string-family bytes; undefined when the
 * bytes ran out (a cut prefix), `{ cut: true }` when a string value is a prefix of itself.
 */
export function binaryValue(r: Reader, type: number, unsigned: boolean, text: (b: Buffer, cut: boolean) => string): { value: Value; cut: boolean } | undefined {
  const fixed = (n: number, read: (b: Buffer) => string): { value: Value; cut: boolean } | undefined => {
    const b = r.bytes(n);
    return b === undefined ? undefined : { value: read(b), cut: false };
  };
  switch (type) {
    case TYPE.NULL:
      return { value: null, cut: false };
    case TYPE.TINY:
      return fixed(1, (b) => String(unsigned ? b.readUInt8(0) : b.readInt8(0)));
    case TYPE.SHORT:
    case TYPE.YEAR:
      return fixed(2, (b) => String(unsigned ? b.readUInt16LE(0) : b.readInt16LE(0)));
    case TYPE.LONG:
    case TYPE.INT24:
      return fixed(4, (b) => String(unsigned ? b.readUInt32LE(0) : b.readInt32LE(0)));
    case TYPE.LONGLONG:
      return fixed(8, (b) => String(unsigned ? b.readBigUInt64LE(0) : b.readBigInt64LE(0)));
    case TYPE.FLOAT:
      return fixed(4, (b) => floatText(b.readFloatLE(0)));
    case TYPE.DOUBLE:
      return fixed(8, (b) => String(b.readDoubleLE(0)));
    case TYPE.DATE:
    case TYPE.NEWDATE: {
      const v = dateText(r, false);
      return v === undefined ? undefined : { value: v, cut: false };
    }
    case TYPE.DATETIME:
    case TYPE.TIMESTAMP:
    case TYPE.DATETIME2:
    case TYPE.TIMESTAMP2: {
      const v = dateText(r, true);
      return v === undefined ? undefined : { value: v, cut: false };
    }
    case TYPE.TIME:
    case TYPE.TIME2: {
      const v = timeText(r);
      return v === undefined ? undefined : { value: v, cut: false };
    }
    default: {
      // DECIMAL, strings, blobs, JSON, ENUM, SET, BIT, GEOMETRY: a length-encoded string.
      const len = r.lenenc();
      if (typeof len !== 'number') return undefined;
      const b = r.upTo(len);
      const cut = b.length < len;
      return { value: text(b, cut), cut };
    }
  }
}

/** A binary-protocol row: 0x00, a NULL bitmap offset by 2 bits, then the non-NULL values. */
export function decodeBinaryRow(body: Buffer, cols: Column[], cut: boolean): DecodedRow | undefined {
  const r = new Reader(body, 1);
  const bitmap = r.bytes((cols.length + 7 + 2) >> 3);
  if (bitmap === undefined) return cut ? { values: [], truncated: true } : undefined;
  const values: Value[] = [];
  for (let i = 0; i < cols.length; i++) {
    const bit = i + 2;
    if (bitmap[bit >> 3] & (1 << (bit & 7))) {
      values.push(null);
      continue;
    }
    const col = cols[i];
    const v = binaryValue(r, col.type, (col.flags & UNSIGNED_FLAG) !== 0, (b, c) => columnText(col, b, c));
    if (v === undefined) return cut ? { values, truncated: true } : undefined;
    values.push(v.value);
    if (v.cut) return cut ? { values, truncated: true } : undefined;
  }
  return { values, truncated: false };
}

export interface BoundParams {
  values: Value[];
  /** Types as sent (type byte, unsigned flag), to decode later executes that do not resend them. */
  types: Array<[number, boolean]>;
  names?: string[];
  truncated: boolean;
}

/**
 * The parameters of COM_STMT_EXECUTE from `r` (after stmt id, flags and iteration count).
 * `longData`: parameters sent by COM_STMT_SEND_LONG_DATA (their value is not in the packet).
 */
export function decodeParams(
  r: Reader,
  count: number,
  previousTypes: Array<[number, boolean]> | undefined,
  withNames: boolean,
  longData: Map<number, number>,
  cut: boolean,
): BoundParams | undefined {
  const out: BoundParams = { values: [], types: [], truncated: false };
  if (count === 0) return out;
  const bitmap = r.bytes((count + 7) >> 3);
  const bound = r.u8();
  if (bitmap === undefined || bound === undefined) return cut ? { ...out, truncated: true } : undefined;
  if (bound === 1) {
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const type = r.u8();
      const flag = r.u8();
      if (type === undefined || flag === undefined) return cut ? { ...out, truncated: true } : undefined;
      out.types.push([type, (flag & PARAM_UNSIGNED) !== 0]);
      if (withNames) names.push(r.lenencString() ?? '');
    }
    if (withNames) out.names = names;
  } else if (previousTypes !== undefined && previousTypes.length === count) out.types = previousTypes;
  else out.types = Array.from({ length: count }, (): [number, boolean] => [TYPE.VAR_STRING, false]);
  for (let i = 0; i < count; i++) {
    if (bitmap[i >> 3] & (1 << (i & 7))) {
      out.values.push(null);
      continue;
    }
    const long = longData.get(i);
    if (long !== undefined) {
      out.values.push(`(long data, ${long} bytes)`);
      continue;
    }
    const [type, unsigned] = out.types[i];
    const v = binaryValue(r, type, unsigned, looseText);
    if (v === undefined) return cut ? { ...out, truncated: true } : undefined;
    out.values.push(v.value);
    if (v.cut) return cut ? { ...out, truncated: true } : undefined;
  }
  return out;
}
