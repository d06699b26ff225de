/**
 * Masking of secrets in a record before it leaves the pod. Pure: returns a masked copy (the
 * input is not changed; an input with empty lists in which nothing was found comes back as
 * itself) with `redacted` (field paths whose values were replaced) and `sensitive` (kinds of
 * data found, masked or not) filled in, and `notes` saying why a body was cut.
 *
 * Keys are matched by family (`key-families.ts`) in headers, query parameters, JSON, form and
 * multipart fields; an OAuth authorization `code` where the query or form is an OAuth one
 * (`oauth-code.ts`). Bodies are masked on the captured (decoded) bytes:
 * - valid JSON: values under sensitive keys, plus JWTs/cards/e-mails/`KEY=VALUE` pairs inside
 *   other values (read with their escapes decoded, `json-escapes.ts`), edited in place so the
 *   rest of the document stays byte-identical;
 * - form-urlencoded: values of sensitive keys;
 * - multipart/form-data: the content of parts with a sensitive name;
 * - other UTF-8 text (WebSocket text messages too), and JSON cut short by the body limit:
 *   `"key": value` pairs by a scanner, then the text detectors (cut JSON with its escapes
 *   decoded);
 * - binary (not UTF-8): JWTs, cards and `KEY=VALUE` values overwritten with `*` byte for byte,
 *   so lengths and offsets inside the body do not move.
 * Wherever JWTs are looked for, so are passwords in URLs (`url-credentials.ts`), values under
 * secret keys in `KEY=VALUE` / `KEY: VALUE` text (`text-pairs.ts`), tokens of known formats
 * (GitHub, Slack, AWS access key ids, Stripe, Google API keys) and the credentials after `Bearer` (`token-formats.ts`),
 * and IBANs (`iban.ts`). The path, the headers and the record's free text (`grpc_message`,
 * `error_detail`: what a server says back may quote what a client sent) go through the same
 * text detectors, which take a percent-escape as a separator (`card%20****0004`) and, in a
 * query string or form body, `+` as a space (`detectors.ts`). A
 * body cut short (its `truncated` flag, or the scan budget) has what starts a JWT or a card at
 * its very end masked too.
 *
 * Secrets only a protocol's parser can place (a password message, SQL literals, Redis values
 * under secret keys) are masked by the capture session before the record is built; they arrive
 * here already masked, listed in the record's `redacted` and `sensitive`.
 *
 * A body holding none of the bytes any of these needs (`body-prefilter.ts`: no `"`, `=`, `:`,
 * digit or `eyJ`, no `@` when e-mails are detected, none of the bytes a token's start needs, no
 * user patterns) is not decoded at all, and comes back as the same bytes; form and multipart
 * bodies always take their maskers.
 *
 * Every scanner is linear in its input, and a record scans at most `scanBudgetBytes` of body:
 * bytes beyond it, and bodies whose content-encoding could not be removed, are cut with a note
 * (unless the policy says `unscannedBodies: raw`), never shipped unscanned by default.
 */
import type { HttpMessage } from '../../record/record.ts';
import { contentCodings, isDecodable, isDecodeError, looksEncoded } from '../capture/decode-body.ts';
import { bodyMayHoldSecret } from './body-prefilter.ts';
import { maskText } from './detectors.ts';
import { Findings } from './findings.ts';
import { maskForm } from './form-mask.ts';
import { maskAuthority, maskHeaders } from './header-mask.ts';
import { maskJsonText } from './json-escapes.ts';
import { maskJson } from './json-mask.ts';
import { maskMultipart, multipartBoundary } from './multipart-mask.ts';
import { DEFAULT_MASK_POLICY, type MaskPolicy, type SensitiveKind } from './policy.ts';
import { maskKeyValuePairs } from './text-pairs.ts';
import { maskXmlElements } from './xml-mask.ts';

export interface MaskableRecord {
  /** `http`, `postgres`, …: some response header names are not secrets under one protocol (`header-mask.ts`). */
  protocol?: string;
  path?: string;
  /** The request's authority (`Host`, `:authority`): user information in it is masked. */
  authority?: string;
  request?: HttpMessage;
  response?: HttpMessage;
  /** gRPC: the status message, percent-decoded; the server may quote what the client sent. */
  grpc_message?: string;
  /** The text of an error, a server's own (a Redis error reply, a PostgreSQL error) or the sidecar's. */
  error_detail?: string;
  redacted?: string[];
  sensitive?: string[];
  notes?: string[];
}

export type Masked<T extends MaskableRecord> = T & { redacted: string[]; sensitive: string[]; notes?: string[] };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The body as text when it is UTF-8. A body cut by the capture limit may end inside a
 * multi-byte character: up to 3 trailing bytes are left out (the caller appends them back).
 */
function bodyText(body: Uint8Array, truncated: boolean): string | undefined {
  const cuts = truncated ? 3 : 0;
  for (let cut = 0; cut <= cuts && cut < body.length; cut++) {
    try {
      return utf8.decode(body.subarray(0, body.length - cut));
    } catch {
      // Try again without one more trailing byte.
    }
  }
  return undefined;
}

function isJsonType(ct: string): boolean {
  return ct.includes('json');
}

interface MaskedBody {
  body: Uint8Array;
  truncated: boolean;
}

/**
 * Mask `body`, all of which is to be scanned; `truncated`: it was cut short (by the capture limit
 * or the scan budget), so what starts a secret at its very end is masked too; `path`: the
 * call's path without its query.
 */
function maskScanned(body: Uint8Array, truncated: boolean, where: string, contentType: string, policy: MaskPolicy, f: Findings, path: string | undefined): Uint8Array {
  // The boundary is case-sensitive; everything else about the type is not.
  const ct = contentType.toLowerCase();
  const form = ct.includes('x-www-form-urlencoded');
  const boundary = multipartBoundary(contentType);
  if (boundary !== undefined) {
    const latin1 = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
    const masked = maskMultipart(latin1, boundary, where, policy, f, truncated);
    if (masked !== undefined) return masked === latin1 ? body : Buffer.from(masked, 'latin1');
  }
  // Nothing any masker could find: the body is not decoded at all (form bodies excepted).
  if (!form && !bodyMayHoldSecret(body, policy)) return body;
  const text = bodyText(body, truncated);
  if (text === undefined) {
    // Binary: overwrite matches byte for byte in a latin1 view (offsets equal byte offsets).
    const latin1 = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
    const masked = maskText(latin1, { ...policy, maskEmails: false, detectEmails: false }, (k, m) => f.add(where, k, m), true, false, truncated);
    return masked === latin1 ? body : Buffer.from(masked, 'latin1');
  }
  const tail = body.subarray(Buffer.byteLength(text, 'utf8'));
  // Cut inside a character (the tail): what came before that character ended before the cut.
  const cut = truncated && tail.length === 0;
  let out = text;
  const first = text.trimStart().charCodeAt(0);
  const looksJson = first === 123 || first === 91;
  const json = isJsonType(ct) || (looksJson && !ct.includes('form'));
  let done = false;
  if (json) {
    const findings: Array<{ path: string; kind: SensitiveKind; masked: boolean }> = [];
    const masked = maskJson(text, policy, findings);
    if (masked !== undefined) {
      for (const x of findings) f.add(`${where}.${x.path}`, x.kind, x.masked);
      out = masked;
      done = true;
    }
  }
  if (!done) {
    const hit = (k: SensitiveKind, m: boolean): void => f.add(where, k, m);
    if (form) out = maskText(maskForm(out, where, policy, f, path), policy, hit, false, true, cut);
    else {
      out = maskKeyValuePairs(maskXmlElements(out, where, policy, f), where, policy, f);
      // JSON cut short is read with its string escapes decoded, as whole JSON is.
      out = json ? maskJsonText(out, policy, hit, cut) : maskText(out, policy, hit, false, false, cut);
    }
  }
  if (out === text) return body;
  const encoded = Buffer.from(out, 'utf8');
  return tail.length === 0 ? encoded : Buffer.concat([encoded, tail]);
}

/**
 * True when the body is still content-encoded: a coding the capture path cannot remove, a
 * failure it noted (`request.body: gzip decode failed: …`), or bytes that still start like
 * a compressed stream.
 */
function stillEncoded(msg: HttpMessage, side: string, notes: readonly string[] | undefined): boolean {
  if (contentCodings(msg.content_encoding).length === 0) return false;
  if (!isDecodable(msg.content_encoding) || looksEncoded(msg.body, msg.content_encoding)) return true;
  const prefix = `${side}.body: `;
  return notes?.some((n) => n.startsWith(prefix) && isDecodeError(n.slice(prefix.length))) ?? false;
}

function maskBody(msg: HttpMessage, side: string, policy: MaskPolicy, f: Findings, notes: readonly string[] | undefined, path: string | undefined): MaskedBody {
  const body = msg.body;
  if (body.length === 0) return { body, truncated: msg.truncated };
  const where = `${side}.body`;
  if (stillEncoded(msg, side, notes)) {
    if (policy.unscannedBodies === 'raw') {
      f.notes.push(`${where}: content-encoding ${msg.content_encoding} was not removed; shipped unscanned (unscannedBodies: raw)`);
      return { body, truncated: msg.truncated };
    }
    f.withheld(where, `left out: content-encoding ${msg.content_encoding} could not be removed, so it could not be scanned for secrets`);
    return { body: new Uint8Array(0), truncated: true };
  }
  const ct = msg.content_type ?? '';
  const allowed = Math.max(0, f.budget);
  if (body.length <= allowed) {
    f.budget -= body.length;
    return { body: maskScanned(body, msg.truncated, where, ct, policy, f, path), truncated: msg.truncated };
  }
  f.budget = 0;
  const scanned = allowed === 0 ? new Uint8Array(0) : maskScanned(body.subarray(0, allowed), true, where, ct, policy, f, path);
  if (policy.unscannedBodies === 'raw') {
    f.notes.push(`${where}: scanned the first ${allowed} of ${body.length} bytes (scan budget); the rest shipped unscanned (unscannedBodies: raw)`);
    return { body: Buffer.concat([scanned, body.subarray(allowed)]), truncated: msg.truncated };
  }
  f.withheld(where, `cut after ${allowed} of ${body.length} captured bytes: the scan budget of a record is ${policy.scanBudgetBytes} bytes`);
  return { body: scanned, truncated: true };
}

/** The path without its query. */
function pathBase(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

function maskPath(path: string, policy: MaskPolicy, f: Findings): string {
  const q = path.indexOf('?');
  let base = q === -1 ? path : path.slice(0, q);
  let query = q === -1 ? undefined : path.slice(q + 1);
  if (query !== undefined) query = maskForm(query, 'path.query', policy, f, base, true);
  base = maskText(base, policy, (k, m) => f.add('path', k, m));
  if (query !== undefined) query = maskText(query, policy, (k, m) => f.add('path', k, m), false, true);
  return query === undefined ? base : `${base}?${query}`;
}

/**
 * A free-text field of the record (`grpc_message`, `error_detail`) through the text detectors,
 * listed in `redacted` by its name: the text a server sends back may quote what a client sent.
 */
function maskField(value: string | undefined, name: string, policy: MaskPolicy, f: Findings): string | undefined {
  return value === undefined ? undefined : maskText(value, policy, (k, m) => f.add(name, k, m));
}

/** The message masked; the message itself when nothing in it changed. */
function maskMessage(
  msg: HttpMessage,
  side: 'request' | 'response',
  policy: MaskPolicy,
  f: Findings,
  record: MaskableRecord,
): HttpMessage {
  // Names a protocol says are not secrets are the response's: request headers carry names the client chose.
  const protocol = side === 'response' ? record.protocol : undefined;
  const headers = maskHeaders(msg.headers, `${side}.headers`, policy, f, protocol);
  const trailers = msg.trailers === undefined ? undefined : maskHeaders(msg.trailers, `${side}.trailers`, policy, f, protocol);
  let body: Uint8Array;
  let truncated: boolean;
  try {
    const masked = maskBody(msg, side, policy, f, record.notes, side === 'request' ? pathBase(record.path) : undefined);
    body = masked.body;
    truncated = masked.truncated;
  } catch {
    // Better an empty body than an unmasked one.
    body = new Uint8Array(0);
    truncated = msg.truncated;
    f.add(`${side}.body`, 'secret', true);
  }
  if (headers === msg.headers && trailers === msg.trailers && body === msg.body && truncated === msg.truncated) return msg;
  const out: HttpMessage = { ...msg, headers, body, truncated };
  if (trailers !== undefined) out.trailers = trailers;
  return out;
}

/** `a` then `b` without repeats, in first-seen order; no new Set when one side is empty (most records). */
function distinct(a: readonly string[], b: ReadonlySet<string>): string[] {
  if (a.length === 0) return [...b];
  if (b.size === 0 && a.length === 1) return [a[0]];
  return [...new Set([...a, ...b])];
}

/**
 * The record masked. Copy on write: a record in which nothing was found or cut comes back as
 * itself when it already has empty `redacted` and `sensitive` lists (as a record built by a
 * sidecar has unless its session masked something), so the common case costs the scans and no
 * copies; lists a session filled are still copied and de-duplicated.
 */
export function maskRecord<T extends MaskableRecord>(record: T, policy: MaskPolicy = DEFAULT_MASK_POLICY): Masked<T> {
  const redacted = record.redacted ?? [];
  const sensitive = record.sensitive ?? [];
  if (!policy.enabled) return { ...record, redacted: [...redacted], sensitive: [...sensitive] };
  const f = new Findings(policy.scanBudgetBytes);
  const path = record.path === undefined ? undefined : maskPath(record.path, policy, f);
  const authority = record.authority === undefined ? undefined : maskAuthority(record.authority, 'authority', f);
  const request = record.request === undefined ? undefined : maskMessage(record.request, 'request', policy, f, record);
  const response = record.response === undefined ? undefined : maskMessage(record.response, 'response', policy, f, record);
  const grpcMessage = maskField(record.grpc_message, 'grpc_message', policy, f);
  const errorDetail = maskField(record.error_detail, 'error_detail', policy, f);
  const unchanged =
    path === record.path &&
    authority === record.authority &&
    request === record.request &&
    response === record.response &&
    grpcMessage === record.grpc_message &&
    errorDetail === record.error_detail &&
    f.redacted.size === 0 &&
    f.sensitive.size === 0 &&
    f.notes.length === 0 &&
    record.redacted?.length === 0 &&
    record.sensitive?.length === 0;
  if (unchanged) return record as Masked<T>;
  const out = { ...record } as Masked<T>;
  if (path !== undefined) out.path = path;
  if (authority !== undefined) out.authority = authority;
  if (request !== undefined) out.request = request;
  if (response !== undefined) out.response = response;
  if (grpcMessage !== undefined) out.grpc_message = grpcMessage;
  if (errorDetail !== undefined) out.error_detail = errorDetail;
  out.redacted = distinct(redacted, f.redacted);
  out.sensitive = distinct(sensitive, f.sensitive);
  if (f.notes.length > 0) out.notes = [...(record.notes ?? []), ...f.notes];
  return out;
}
