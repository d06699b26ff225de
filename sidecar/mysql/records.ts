/**
 * Turning finished (or abandoned) calls into `Exchange`s: the login, one record per result of
 * a query or an execute (a multi-statement query split at its statement boundaries when that is
 * certain), one for everything else. Secrets a statement carries (`IDENTIFIED BY '…'`, values of
 * secret columns, and the bound parameters in their place) are masked in each record's request
 * (`../mask/sql-secrets.ts`, under the session's masking policy) before its JSON is built, and in
 * its error when the server quotes them. Result columns that read a secret column under another
 * name (``SELECT password AS `pw` ``, `lower(token)`) are masked in the rows before the response
 * JSON is built (`../mask/sql-result-columns.ts`); columns named as secrets are the JSON masker's.
 */
import type { HttpMessage, RecordError } from '../../record/record.ts';
import type { Exchange } from '../capture/session.ts';
import type { MaskPolicy } from '../mask/policy.ts';
import { columnsToMask, secretResultColumns } from '../mask/sql-result-columns.ts';
import { maskErrorEchoes, maskSqlRequest } from '../mask/sql-secrets.ts';
import type { Call, LoginState } from './calls.ts';
import { utf8Prefix } from './packets.ts';
import type { ResultLimits, StatementResult } from './result-set.ts';
import { firstKeyword, splitStatements } from './split-sql.ts';

/** What replaces every secret the client sends during authentication. */
export const MASK = '****';

export interface RecordContext {
  limits: ResultLimits;
  now: bigint;
  nextOrdinal: () => number;
  user: string | undefined;
  /** The masking policy: which column and attribute names hold secrets, and whether to mask them. */
  maskPolicy: MaskPolicy;
}

const withError = (out: Exchange, error: RecordError | undefined, detail: string | undefined): void => {
  if (error !== undefined) out.error = error;
  if (detail !== undefined) out.error_detail = detail;
};

function base(call: Call, rc: RecordContext): Exchange {
  const out: Exchange = { protocol: 'mysql', ordinal: rc.nextOrdinal(), start: call.start, end: call.end ?? rc.now, bytes_out: 0, bytes_in: 0 };
  if (call.requestEnd !== undefined) out.request_end = call.requestEnd;
  if (call.database !== undefined) out.path = call.database;
  return out;
}

function identity(call: Call, rc: RecordContext): Record<string, string> {
  const h: Record<string, string> = {};
  if (rc.user !== undefined) h.user = rc.user;
  if (call.database !== undefined) h.database = call.database;
  return h;
}

/**
 * The request body within the body limit, still valid JSON: the query text is shortened first,
 * then long parameters; only if that is not enough are the bytes cut.
 */
function requestMessage(headers: Record<string, string>, value: Record<string, unknown>, size: number, cut: boolean, max: number): HttpMessage {
  let json = Buffer.from(JSON.stringify(value));
  let shortened = false;
  if (json.length > max && typeof value.query === 'string') {
    let query = value.query;
    while (json.length > max && query.length > 0) {
      query = query.slice(0, Math.max(0, query.length - Math.max(1, json.length - max)));
      json = Buffer.from(JSON.stringify({ ...value, query }));
    }
    value = { ...value, query };
    shortened = true;
  }
  if (json.length > max && Array.isArray(value.parameters)) {
    const params = (value.parameters as Array<string | null>).map((p) => (p !== null && p.length > 64 ? p.slice(0, 64) : p));
    json = Buffer.from(JSON.stringify({ ...value, parameters: params }));
    shortened = true;
  }
  let jsonCut = false;
  if (json.length > max) {
    json = Buffer.from(utf8Prefix(json.subarray(0, Math.max(0, max)), true));
    jsonCut = true;
  }
  return { headers, body: json, body_size: size, truncated: cut || shortened || jsonCut, content_type: 'application/json' };
}

export function loginExchange(call: Call, rc: RecordContext, error?: RecordError, detail?: string): Exchange {
  const login = call.login as LoginState;
  const out = base(call, rc);
  const req = login.request;
  if (req?.database !== undefined) out.path = req.database;
  else delete out.path;
  out.method = call.method ?? 'CONNECT';
  out.bytes_out = call.bytesOut;
  out.bytes_in = call.bytesIn;
  const notes = call.notes.slice();
  if (req !== undefined) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.attributes)) headers[k] = v;
    if (req.user !== undefined) headers.user = req.user;
    if (req.database !== undefined) headers.database = req.database;
    if (req.incomplete) notes.push('handshake response cut: attributes may be missing');
    out.request = { headers, body: Buffer.from(login.secrets.join('\n')), body_size: call.requestSize, truncated: false, content_type: 'text/plain' };
    out.redacted = ['request.body'];
    out.sensitive = ['password'];
  }
  if (call.responseStart !== undefined || login.greeting !== undefined) {
    out.response_start = call.responseStart ?? call.start;
    const headers: Record<string, string> = {};
    const plugin = login.plugins[login.plugins.length - 1];
    if (plugin !== undefined) headers.auth = plugin;
    if (login.plugins.length > 1) notes.push(`authentication switched: ${login.plugins.join(' → ')}`);
    if (login.greeting !== undefined) {
      headers.server_version = login.greeting.serverVersion;
      headers.connection_id = String(login.greeting.connectionId);
    }
    let body: Uint8Array = Buffer.alloc(0);
    if (login.error !== undefined) {
      headers.code = String(login.error.code);
      headers.sqlstate = login.error.sqlstate;
      headers.message = login.error.message;
      body = Buffer.from(JSON.stringify({ error: { code: login.error.code, sqlstate: login.error.sqlstate, message: login.error.message } }));
    }
    out.response = { headers, body, body_size: call.bytesIn, truncated: false, content_type: login.error ? 'application/json' : 'text/plain' };
  }
  if (login.error !== undefined && error === undefined) withError(out, 'server_error', login.error.detail);
  else withError(out, call.done ? undefined : error, call.done ? undefined : detail);
  if (notes.length > 0) out.notes = notes;
  return out;
}

function resultExchange(
  call: Call,
  r: StatementResult | undefined,
  text: string | undefined,
  part: string | undefined,
  first: boolean,
  rc: RecordContext,
  extraNotes: string[],
): Exchange {
  const out = base(call, rc);
  out.bytes_out = first ? call.bytesOut : 0;
  out.bytes_in = call.results.length > 1 ? (r?.bytesIn ?? 0) : call.bytesIn;
  if (r?.end !== undefined) out.end = r.end;
  const method = (call.kind === 'query' || call.kind === 'execute' ? firstKeyword(text ?? '') : '') || call.method;
  if (method) out.method = method;
  const headers = identity(call, rc);
  if (part !== undefined) headers.part = part;
  if (call.statementId !== undefined) headers.statement_id = String(call.statementId);
  const value: Record<string, unknown> = {};
  const secrets = maskSqlRequest(text, call.params, 'mysql', call.paramNames, rc.maskPolicy);
  if (text !== undefined) value.query = secrets?.query ?? text;
  if (call.params !== undefined) value.parameters = secrets?.params ?? call.params;
  if (call.paramNames !== undefined && call.paramNames.some((n) => n !== '')) value.parameter_names = call.paramNames;
  if (secrets !== undefined) {
    out.redacted = secrets.redacted;
    out.sensitive = secrets.sensitive;
  }
  out.request = requestMessage(headers, value, call.requestSize, call.requestCut, rc.limits.maxBodyBytes);
  const notes = first ? call.notes.slice() : [];
  if (r !== undefined) {
    const derived = r.rows.length > 0 && text !== undefined ? secretResultColumns(text, 'mysql', rc.maskPolicy) : undefined;
    if (derived !== undefined) {
      const rows = r.maskColumns(columnsToMask(derived, r.columns.map((c) => c.name)));
      if (rows.redacted.length > 0) {
        out.redacted = [...(out.redacted ?? []), ...rows.redacted];
        out.sensitive = [...new Set([...(out.sensitive ?? []), ...rows.sensitive])];
      }
    }
    out.response_start = r.responseStart ?? call.responseStart ?? out.end;
    out.response = r.toResponse(method);
    if (call.results.length <= 1) out.response.body_size = call.bytesIn;
    notes.push(...r.notes);
    if (r.error !== undefined) withError(out, 'server_error', r.error.detail);
  }
  notes.push(...extraNotes);
  if (notes.length > 0) out.notes = notes;
  if (secrets !== undefined) out.redacted?.push(...maskErrorEchoes(out, secrets.values));
  return out;
}

function prepareExchange(call: Call, rc: RecordContext): Exchange {
  const out = resultExchange(call, call.results[0], call.query, undefined, true, rc, []);
  out.method = 'PREPARE';
  const pr = call.prepared;
  if (pr !== undefined) {
    out.response_start = call.responseStart ?? out.end;
    const headers = { statement_id: String(pr.id), params: String(pr.params), columns: String(pr.columnCount) };
    const body: Record<string, unknown> = { statement_id: pr.id, params: pr.params, columns: pr.columns.map((c) => c.name) };
    if (pr.warnings > 0) body.warnings = pr.warnings;
    out.response = { headers, body: Buffer.from(JSON.stringify(body)), body_size: call.bytesIn, truncated: false, content_type: 'application/json' };
  }
  return out;
}

/** The records of one call; `error` goes to the part that did not complete. */
export function exchangesOf(call: Call, rc: RecordContext, error?: RecordError, detail?: string): Exchange[] {
  const failed = (out: Exchange): Exchange => {
    if (!call.done && out.error === undefined) withError(out, error, detail);
    return out;
  };
  if (call.kind === 'login') return [loginExchange(call, rc, error, detail)];
  if (call.kind === 'prepare') return [failed(prepareExchange(call, rc))];
  if (call.kind !== 'query' && call.kind !== 'execute') return [failed(resultExchange(call, call.results[0], call.query, undefined, true, rc, []))];
  const results = call.results;
  if (results.length <= 1) return [failed(resultExchange(call, results[0], call.query, undefined, true, rc, []))];
  const texts = call.kind === 'query' && !call.requestCut ? splitStatements(call.query ?? '') : undefined;
  const failedAt = results.findIndex((r) => r.error !== undefined);
  const incomplete = !call.done || failedAt !== -1;
  const split = texts !== undefined && (incomplete ? results.length <= texts.length : results.length === texts.length);
  const n = split ? texts.length : results.length;
  const out = results.map((r, i) => {
    const notes: string[] = [];
    if (!split && call.kind === 'query') notes.push('statement boundaries not certain: the request holds the whole query text');
    if (r.error !== undefined && split && texts.length > i + 1) notes.push(`${texts.length - i - 1} later statement(s) of the query not run`);
    return resultExchange(call, r, split ? texts[i] : call.query, `${i + 1}/${n}`, i === 0, rc, notes);
  });
  failed(out[out.length - 1]);
  return out;
}
