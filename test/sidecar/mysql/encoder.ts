/** A small MySQL protocol encoder for tests: packets of both directions, built by hand. */
import { CLIENT, COM, TYPE } from '../../../sidecar/mysql/constants.ts';

export const u8 = (n: number): Buffer => Buffer.from([n & 0xff]);
export const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
export const cat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts);
export const cstr = (s: string): Buffer => cat(Buffer.from(s), u8(0));

export function lenenc(n: number): Buffer {
  if (n < 0xfb) return u8(n);
  if (n <= 0xffff) return cat(u8(0xfc), u16(n));
  if (n <= 0xffffff) return cat(u8(0xfd), Buffer.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff]));
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}
export const lstr = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return cat(lenenc(b.length), b);
};

/** One logical packet (split into 0xffffff-byte physical packets as the protocol does). */
export function pkt(seq: number, payload: Buffer): Buffer {
  const out: Buffer[] = [];
  let off = 0;
  let s = seq;
  for (;;) {
    const len = Math.min(0xffffff, payload.length - off);
    out.push(Buffer.from([len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, s & 0xff]), payload.subarray(off, off + len));
    off += len;
    s++;
    if (len < 0xffffff) break;
  }
  return cat(...out);
}

/** What a MySQL 8 server advertises (CLIENT_SSL included, no compression). */
export const SERVER_CAPS =
  CLIENT.LONG_PASSWORD | 0x4 | CLIENT.CONNECT_WITH_DB | CLIENT.PROTOCOL_41 | CLIENT.SSL | CLIENT.TRANSACTIONS | CLIENT.SECURE_CONNECTION |
  0x10000 | CLIENT.MULTI_RESULTS | CLIENT.PLUGIN_AUTH | CLIENT.CONNECT_ATTRS | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT.DEPRECATE_EOF;

export const CLIENT_CAPS =
  CLIENT.LONG_PASSWORD | CLIENT.PROTOCOL_41 | CLIENT.TRANSACTIONS | CLIENT.SECURE_CONNECTION | 0x10000 | CLIENT.MULTI_RESULTS |
  CLIENT.PLUGIN_AUTH | CLIENT.CONNECT_ATTRS | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA;

export function greeting(o: { version?: string; id?: number; plugin?: string; caps?: number; mariadbCaps?: number } = {}): Buffer {
  const caps = o.caps ?? SERVER_CAPS;
  const scramble = Buffer.from('0123456789abcdefghij');
  return pkt(
    0,
    cat(
      u8(0x0a),
      cstr(o.version ?? '8.0.36'),
      u32(o.id ?? 4711),
      scramble.subarray(0, 8),
      u8(0),
      u16(caps & 0xffff),
      u8(0xff),
      u16(2),
      u16(caps >>> 16),
      u8(21),
      Buffer.alloc(6),
      u32(o.mariadbCaps ?? 0),
      scramble.subarray(8),
      u8(0),
      cstr(o.plugin ?? 'mysql_native_password'),
    ),
  );
}

export interface LoginOptions {
  user?: string;
  db?: string;
  auth?: Buffer;
  plugin?: string;
  attrs?: Record<string, string>;
  caps?: number;
  deprecateEof?: boolean;
  mariadbCaps?: number;
}

export function clientCaps(o: LoginOptions): number {
  let caps = o.caps ?? CLIENT_CAPS;
  if (o.db !== undefined) caps |= CLIENT.CONNECT_WITH_DB;
  if (o.deprecateEof) caps |= CLIENT.DEPRECATE_EOF;
  return caps >>> 0;
}

export function handshakeResponse(o: LoginOptions = {}, seq = 1): Buffer {
  const caps = clientCaps(o);
  const attrs = Object.entries(o.attrs ?? {}).map(([k, v]) => cat(lstr(k), lstr(v)));
  const attrBlock = cat(...attrs);
  return pkt(
    seq,
    cat(
      u32(caps),
      u32(16 * 1024 * 1024),
      u8(45),
      Buffer.alloc(19),
      u32(o.mariadbCaps ?? 0),
      cstr(o.user ?? 'app'),
      lstr(o.auth ?? Buffer.alloc(0)),
      o.db !== undefined ? cstr(o.db) : Buffer.alloc(0),
      cstr(o.plugin ?? 'mysql_native_password'),
      o.attrs !== undefined ? cat(lenenc(attrBlock.length), attrBlock) : Buffer.alloc(0),
    ),
  );
}

export const sslRequest = (caps = CLIENT_CAPS | CLIENT.SSL): Buffer => pkt(1, cat(u32(caps), u32(16 * 1024 * 1024), u8(45), Buffer.alloc(23)));

export const okPayload = (o: { affected?: number; insertId?: number; status?: number; warnings?: number; info?: string; header?: number } = {}): Buffer =>
  cat(u8(o.header ?? 0), lenenc(o.affected ?? 0), lenenc(o.insertId ?? 0), u16(o.status ?? 2), u16(o.warnings ?? 0), Buffer.from(o.info ?? ''));
export const ok = (seq: number, o: Parameters<typeof okPayload>[0] = {}): Buffer => pkt(seq, okPayload(o));
export const err = (seq: number, code: number, state: string, message: string): Buffer => pkt(seq, cat(u8(0xff), u16(code), Buffer.from(`#${state}`), Buffer.from(message)));
export const eof = (seq: number, status = 2, warnings = 0): Buffer => pkt(seq, cat(u8(0xfe), u16(warnings), u16(status)));

export interface Col {
  name: string;
  type?: number;
  charset?: number;
  flags?: number;
}

export const colDef = (c: Col): Buffer =>
  cat(lstr('def'), lstr('shop'), lstr('t'), lstr('t'), lstr(c.name), lstr(c.name), u8(0x0c), u16(c.charset ?? 45), u32(255), u8(c.type ?? TYPE.VAR_STRING), u16(c.flags ?? 0), u8(0), u16(0));

export const textRow = (values: Array<string | null>): Buffer => cat(...values.map((v) => (v === null ? u8(0xfb) : lstr(v))));

/** A text result set from sequence `seq` on: count, definitions, [EOF], rows, EOF or OK(0xfe). */
export function resultSet(seq: number, cols: Col[], rows: Array<Array<string | null>>, o: { deprecateEof?: boolean; status?: number } = {}): Buffer {
  const out: Buffer[] = [pkt(seq++, lenenc(cols.length))];
  for (const c of cols) out.push(pkt(seq++, colDef(c)));
  if (!o.deprecateEof) out.push(eof(seq++));
  for (const r of rows) out.push(pkt(seq++, textRow(r)));
  const status = o.status ?? 2;
  out.push(o.deprecateEof ? ok(seq++, { header: 0xfe, status }) : eof(seq++, status));
  return cat(...out);
}

export const query = (sql: string): Buffer => pkt(0, cat(u8(COM.QUERY), Buffer.from(sql)));
export const prepare = (sql: string): Buffer => pkt(0, cat(u8(COM.STMT_PREPARE), Buffer.from(sql)));

export function prepareOk(seq: number, id: number, params: number, cols: Col[], o: { deprecateEof?: boolean } = {}): Buffer {
  const out: Buffer[] = [pkt(seq++, cat(u8(0), u32(id), u16(cols.length), u16(params), u8(0), u16(0)))];
  if (params > 0) {
    for (let i = 0; i < params; i++) out.push(pkt(seq++, colDef({ name: '?' })));
    if (!o.deprecateEof) out.push(eof(seq++));
  }
  if (cols.length > 0) {
    for (const c of cols) out.push(pkt(seq++, colDef(c)));
    if (!o.deprecateEof) out.push(eof(seq++));
  }
  return cat(...out);
}

export type Param = { type: number; value: Buffer | null; unsigned?: boolean };
export const int32 = (n: number): Param => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return { type: TYPE.LONG, value: b };
};
export const int64 = (n: bigint): Param => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(n);
  return { type: TYPE.LONGLONG, value: b };
};
export const double = (n: number): Param => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(n);
  return { type: TYPE.DOUBLE, value: b };
};
export const str = (s: string | Buffer, type: number = TYPE.VAR_STRING): Param => ({ type, value: lstr(s) });
export const nul = (): Param => ({ type: TYPE.NULL, value: null });

export function execute(id: number, params: Param[], bound = true): Buffer {
  const bitmap = Buffer.alloc((params.length + 7) >> 3);
  params.forEach((p, i) => {
    if (p.value === null) bitmap[i >> 3] |= 1 << (i & 7);
  });
  const types = bound ? cat(...params.map((p) => cat(u8(p.type), u8(p.unsigned ? 0x80 : 0)))) : Buffer.alloc(0);
  const values = cat(...params.map((p) => p.value ?? Buffer.alloc(0)));
  const paramBlock = params.length > 0 ? cat(bitmap, u8(bound ? 1 : 0), types, values) : Buffer.alloc(0);
  return pkt(0, cat(u8(COM.STMT_EXECUTE), u32(id), u8(0), u32(1), paramBlock));
}

/** A binary row: 0x00, NULL bitmap offset by 2, values (already encoded). */
export function binaryRow(values: Array<Buffer | null>): Buffer {
  const bitmap = Buffer.alloc((values.length + 9) >> 3);
  values.forEach((v, i) => {
    if (v === null) bitmap[(i + 2) >> 3] |= 1 << ((i + 2) & 7);
  });
  return cat(u8(0), bitmap, ...values.map((v) => v ?? Buffer.alloc(0)));
}

export function binaryResultSet(seq: number, cols: Col[], rows: Array<Array<Buffer | null>>, o: { deprecateEof?: boolean } = {}): Buffer {
  const out: Buffer[] = [pkt(seq++, lenenc(cols.length))];
  for (const c of cols) out.push(pkt(seq++, colDef(c)));
  if (!o.deprecateEof) out.push(eof(seq++));
  for (const r of rows) out.push(pkt(seq++, binaryRow(r)));
  out.push(o.deprecateEof ? ok(seq++, { header: 0xfe }) : eof(seq++));
  return cat(...out);
}

export const command = (com: number, ...parts: Buffer[]): Buffer => pkt(0, cat(u8(com), ...parts));
