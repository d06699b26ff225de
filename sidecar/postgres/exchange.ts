/**
 * How a finished (or abandoned) PostgreSQL call becomes its `Exchange` records.
 *
 * This file exists because what a record says is one concern, apart from when a call is
 * finished (`pending.ts`) and from reading the protocol: the startup record (authentication
 * method and server parameters, the client's secrets already masked), the request body JSON
 * kept valid within the body limit (query text shortened first, then long parameters), the
 * response from a statement's result, and a simple query's statements split into one record
 * each only when the boundaries are certain. Secrets a statement carries (`PASSWORD '…'`, values
 * of secret columns, and the bound parameters in their place) are masked in each record's request
 * (`../mask/sql-secrets.ts`, under the session's masking policy) before its JSON is built, and in
 * its error when the server quotes them. Result columns that read a secret column under another
 * name (`SELECT password AS pw`, `lower(token)`) are masked in the rows before the response JSON
 * is built (`../mask/sql-result-columns.ts`); columns named as secrets are the JSON masker's.
 * `error` always goes to the part that did not complete. Pure given the connection state: it
 * emits nothing.
 */
import type { HttpMessage, RecordError } from '../../record/record.ts';
import type { Exchange } from '../capture/session.ts';
import { columnsToMask, secretResultColumns } from '../mask/sql-result-columns.ts';
import { maskErrorEchoes, maskSqlRequest } from '../mask/sql-secrets.ts';
import type { Call, Conn, StartupState } from './conn.ts';
import { type PgValue, tagRowCount, utf8Prefix } from './decode.ts';
import { type StatementResult, namedFields } from './result.ts';
import { firstKeyword, splitStatements } from './split-sql.ts';

const AUTH_LABELS: Record<number, string> = { 2: 'kerberos', 3: 'cleartext', 5: 'md5', 6: 'scm', 7: 'gss', 9: 'sspi', 10: 'sasl' };

function jsonBody(value: unknown, max: number): { body: Buffer; cut: boolean } {
  const json = Buffer.from(JSON.stringify(value));
  if (json.length <= max) return { body: json, cut: false };
  return { body: Buffer.from(utf8Prefix(json.subarray(0, Math.max(0, max)), true)), cut: true };
}

function identity(conn: Conn): Record<string, string> {
  const h: Record<string, string> = {};
  const p = conn.startupCall?.startup?.params;
  if (p?.user !== undefined) h.user = p.user;
  const db = p?.database ?? p?.user;
  if (db !== undefined) h.database = db;
  return h;
}

function database(conn: Conn): string | undefined {
  const p = conn.startupCall?.startup?.params;
  return p?.database ?? p?.user;
}

export function base(conn: Conn, call: Call, ordinal: number): Exchange {
  const out: Exchange = { protocol: 'postgres', ordinal, start: call.start, end: call.end ?? conn.now, bytes_out: 0, bytes_in: 0 };
  if (call.requestEnd !== undefined) out.request_end = call.requestEnd;
  const path = database(conn);
  if (path !== undefined) out.path = path;
  return out;
}

function withError(out: Exchange, error: RecordError | undefined, detail: string | undefined): void {
  if (error !== undefined) out.error = error;
  if (detail !== undefined) out.error_detail = detail;
}

function startupExchange(conn: Conn, call: Call, error?: RecordError, detail?: string): Exchange {
  const st = call.startup as StartupState;
  const out = base(conn, call, conn.nextOrdinal++);
  out.method = 'STARTUP';
  out.bytes_out = call.bytesOut;
  out.bytes_in = call.bytesIn;
  const db = st.params.database ?? st.params.user;
  if (db !== undefined) out.path = db;
  else delete out.path;
  const body = Buffer.from(st.secrets.join('\n'));
  out.request = { headers: { ...st.params }, body, body_size: call.requestSize, truncated: false, content_type: 'text/plain' };
  if (st.secrets.length > 0) {
    out.redacted = ['request.body'];
    out.sensitive = ['password'];
  }
  if (call.responseStart !== undefined) {
    out.response_start = call.responseStart;
    const headers: Record<string, string> = {};
    if (st.authCode === 10) headers.auth = `sasl ${st.mechanism ?? st.mechanisms.join(',')}`;
    else if (st.authCode !== undefined) headers.auth = AUTH_LABELS[st.authCode] ?? `auth ${st.authCode}`;
    else if (st.authOk) headers.auth = 'trust';
    if (st.pid !== undefined) headers.backend_pid = String(st.pid);
    for (const [k, v] of Object.entries(st.server)) if (!(k.toLowerCase() in headers)) headers[k.toLowerCase()] = v;
    let rbody: Uint8Array = Buffer.alloc(0);
    if (st.error !== undefined) {
      headers.severity = st.error.severity;
      headers.sqlstate = st.error.sqlstate;
      headers.message = st.error.message;
      rbody = jsonBody({ error: namedFields(st.error.fields) }, conn.config.maxBody).body;
    }
    out.response = { headers, body: rbody, body_size: call.bytesIn, truncated: false, content_type: st.error ? 'application/json' : 'text/plain' };
  }
  if (st.error !== undefined && error === undefined) withError(out, 'server_error', st.error.detail);
  else withError(out, error, detail);
  if (call.notes.length > 0) out.notes = call.notes.slice();
  return out;
}

/**
 * The request body within the body limit, still valid JSON: the query text is shortened
 * first, then long parameters; only if that is not enough are the bytes cut.
 */
function requestMessage(maxBody: number, headers: Record<string, string>, value: Record<string, unknown>, size: number, cut: boolean): HttpMessage {
  let json = Buffer.from(JSON.stringify(value));
  let shortened = false;
  if (json.length > maxBody && typeof value.query === 'string') {
    let query = value.query;
    while (json.length > maxBody && query.length > 0) {
      query = query.slice(0, Math.max(0, query.length - Math.max(1, json.length - maxBody)));
      json = Buffer.from(JSON.stringify({ ...value, query }));
    }
    value = { ...value, query };
    shortened = true;
  }
  if (json.length > maxBody && Array.isArray(value.parameters)) {
    const params = (value.parameters as PgValue[]).map((p) => (p !== null && p.length > 64 ? p.slice(0, 64) : p));
    json = Buffer.from(JSON.stringify({ ...value, parameters: params }));
    shortened = true;
  }
  const { body, cut: jsonCut } = json.length > maxBody ? jsonBody(JSON.parse(json.toString()), maxBody) : { body: json, cut: false };
  return { headers, body, body_size: size, truncated: cut || shortened || jsonCut, content_type: 'application/json' };
}

/** Column names for a result that had no RowDescription of its own: from a Describe. */
export function resolveColumns(call: Call, r: StatementResult): void {
  if (r.columns !== undefined) return;
  const cols = call.portal?.columns ?? call.statement?.columns ?? call.described;
  if (cols !== undefined) r.setColumns(cols);
}

export function resultExchange(
  conn: Conn,
  call: Call,
  r: StatementResult | undefined,
  text: string | undefined,
  headersExtra: Record<string, string>,
  first: boolean,
  error: RecordError | undefined,
  detail: string | undefined,
  extraNotes: string[],
): Exchange {
  const out = base(conn, call, conn.nextOrdinal++);
  out.bytes_out = (first ? call.bytesOut : 0) + (r?.bytesOut ?? 0);
  out.bytes_in = call.kind === 'simple' ? (r?.bytesIn ?? 0) : call.bytesIn;
  if (r?.end !== undefined) out.end = r.end;
  const notes = first ? call.notes.slice() : [];
  const tagCount = r?.tag !== undefined ? tagRowCount(r.tag) : undefined;
  // A batch without an Execute prepared or described something; it ran nothing.
  const method =
    (call.kind === 'batch' ? call.method : undefined) ||
    r?.tag?.split(' ')[0] ||
    (text !== undefined ? firstKeyword(text) : undefined) ||
    call.method;
  if (method !== undefined && method !== '') out.method = method;
  const headers = { ...identity(conn), ...headersExtra };
  const value: Record<string, unknown> = {};
  const params = call.kind === 'extended' ? call.params : undefined;
  const secrets = maskSqlRequest(text, params, 'postgres', undefined, conn.config.maskPolicy);
  if (text !== undefined) value.query = secrets?.query ?? text;
  if (params !== undefined) value.parameters = secrets?.params ?? params;
  if (secrets !== undefined) {
    out.redacted = secrets.redacted;
    out.sensitive = secrets.sensitive;
  }
  out.request = requestMessage(conn.config.maxBody, headers, value, call.requestSize, call.requestCut);
  if (r !== undefined && (r.responseStart !== undefined || r.done)) {
    if (call.kind !== 'simple') resolveColumns(call, r);
    const derived = r.rows.length > 0 && text !== undefined ? secretResultColumns(text, 'postgres', conn.config.maskPolicy) : undefined;
    if (derived !== undefined) {
      const rows = r.maskColumns(columnsToMask(derived, r.columns?.map((c) => c.name)));
      if (rows.redacted.length > 0) {
        out.redacted = [...(out.redacted ?? []), ...rows.redacted];
        out.sensitive = [...new Set([...(out.sensitive ?? []), ...rows.sensitive])];
      }
    }
    out.response_start = r.responseStart ?? call.responseStart ?? out.end;
    out.response = r.toResponse(tagCount);
    if (call.kind !== 'simple') out.response.body_size = call.bytesIn;
    notes.push(...r.notes);
    if (r.copy !== undefined) {
      notes.push(`copy ${r.copy.direction}: ${r.copy.messages} messages, ${r.copy.bytes} bytes (data not captured)`);
    }
  }
  notes.push(...extraNotes);
  if (r?.error !== undefined && error === undefined) withError(out, 'server_error', r.error.detail);
  else if (call.skippedBy !== undefined && error === undefined) withError(out, 'server_error', `not executed: ${call.skippedBy.detail}`);
  else withError(out, error, detail);
  if (notes.length > 0) out.notes = notes;
  if (secrets !== undefined) out.redacted?.push(...maskErrorEchoes(out, secrets.values));
  return out;
}

/** The records of one call; `error` goes to the part that did not complete. */
export function exchangesOf(conn: Conn, call: Call, error?: RecordError, detail?: string): Exchange[] {
  if (call.kind === 'startup') return [startupExchange(conn, call, error, detail)];
  if (call.kind !== 'simple') {
    const headers: Record<string, string> = {};
    if (call.statementName) headers.statement = call.statementName;
    if (call.portalName) headers.portal = call.portalName;
    const r = call.results[0];
    const failed = error !== undefined && !(r.done || call.skippedBy !== undefined) ? error : undefined;
    return [resultExchange(conn, call, r, call.query, headers, true, failed, failed && detail, [])];
  }
  // Simple query: a leftover result holding only notices belongs to the one before it.
  const results = call.results.slice();
  const lastR = results[results.length - 1];
  if (results.length > 1 && !lastR.done && lastR.rowsSeen === 0 && lastR.columns === undefined && lastR.copy === undefined && error === undefined) {
    results.pop();
    results[results.length - 1].notes.push(...lastR.notes);
    results[results.length - 1].bytesIn += lastR.bytesIn;
  }
  const query = call.query ?? '';
  const texts = call.requestCut ? undefined : splitStatements(query);
  const failedAt = results.findIndex((r) => r.error !== undefined);
  const incomplete = error !== undefined || failedAt !== -1;
  const split =
    texts !== undefined && results.length > 0 && (incomplete ? results.length <= texts.length : results.length === texts.length);
  const n = split ? texts.length : results.length;
  if (results.length === 0) {
    const failed = call.skippedBy === undefined ? error : undefined;
    return [resultExchange(conn, call, undefined, query, {}, true, failed, failed && detail, [])];
  }
  return results.map((r, i) => {
    const headers: Record<string, string> = n > 1 ? { part: `${i + 1}/${n}` } : {};
    const last = i === results.length - 1;
    const notes: string[] = [];
    if (!split && results.length > 1) notes.push('statement boundaries not certain: the request holds the whole query text');
    if (r.error !== undefined && split && texts.length > i + 1) notes.push(`${texts.length - i - 1} later statement(s) of the query not run`);
    const failed = last && error !== undefined && !r.done ? error : undefined;
    return resultExchange(conn, call, r, split ? texts[i] : query, headers, i === 0, failed, failed && detail, notes);
  });
}
