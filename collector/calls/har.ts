/**
 * HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) from joined calls: one entry per
 * HTTP-family call (HTTP/1, HTTP/2, gRPC), from the client's observation when there is one,
 * oldest first. Bodies are as captured: masked values stay masked, a truncated body is what was
 * kept (the entry's comment says so), bytes that are not UTF-8 are base64 (`content.encoding`).
 * A gRPC body the sidecar decoded is its JSON text, `application/json`, with a comment naming
 * the wire content type. `size`/`bodySize` are always the body's size on the wire.
 */
import { STATUS_CODES } from 'node:http';
import { formatHostPort } from '../../lib/host-port.ts';
import type { BodyJson, CallRecordJson, HttpMessageJson } from '../../record/record-json.ts';
import type { JoinedCall } from './join.ts';

export const HAR_PROTOCOLS: readonly string[] = ['http', 'http2', 'grpc'];

/** The CEL filter that keeps HTTP-family records only. */
export const HAR_FILTER = 'http || http2 || grpc';

/** The CEL filter that keeps the records a HAR leaves out. */
export const NOT_HAR_FILTER = `!(${HAR_FILTER})`;

export interface HarNameValue {
  name: string;
  value: string;
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    headers: HarNameValue[];
    queryString: HarNameValue[];
    cookies: [];
    headersSize: -1;
    bodySize: number;
    postData?: { mimeType: string; text: string; _encoding?: 'base64'; comment?: string };
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    headers: HarNameValue[];
    cookies: [];
    content: { size: number; mimeType: string; text?: string; encoding?: 'base64'; comment?: string };
    redirectURL: string;
    headersSize: -1;
    bodySize: number;
  };
  cache: Record<string, never>;
  timings: { send: number; wait: number; receive: number };
  serverIPAddress?: string;
  connection?: string;
  comment?: string;
  /** meshtap's own fields (HAR allows `_`-prefixed custom fields). */
  _meshtap: {
    call_id: string;
    protocol: string;
    client_record_id?: string;
    server_record_id?: string;
    one_sided?: string;
    error?: string;
    latency: JoinedCall['latency'];
  };
}

export interface Har {
  log: {
    version: '1.2';
    creator: { name: string; version: string };
    entries: HarEntry[];
    comment?: string;
  };
}

const HTTP_VERSION: Record<string, string> = { http: 'HTTP/1.1', http2: 'HTTP/2', grpc: 'HTTP/2' };

/** ns decimal strings → ms, 3 decimals (µs). */
function msBetween(from: string | undefined, to: string | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  const d = BigInt(to) - BigInt(from);
  return d < 0n ? undefined : Number(d / 1000n) / 1000;
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

export function isoTime(ns: string): string {
  const ms = Number(BigInt(ns) / 1_000_000n);
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? new Date(0).toISOString() : date.toISOString();
}

/**
 * Record headers join repeats with ", " (set-cookie with "\n"): HAR lists each. Trailers follow
 * the headers (HAR has no place of their own for them), except one the headers already hold
 * with the same value: a gRPC trailers-only response's status is recorded in both.
 */
function headerList(headers: Record<string, string> | undefined, trailers?: Record<string, string>): HarNameValue[] {
  const out: HarNameValue[] = [];
  for (const source of [headers, trailers]) {
    for (const [name, value] of Object.entries(source ?? {})) {
      if (source === trailers && headers?.[name] === value) continue;
      if (name === 'set-cookie') for (const v of value.split('\n')) out.push({ name, value: v });
      else out.push({ name, value });
    }
  }
  return out;
}

function bodyContent(body: BodyJson): { text: string; base64: boolean } {
  return 'text' in body ? { text: body.text, base64: false } : { text: body.base64, base64: true };
}

const mimeOf = (m: HttpMessageJson | undefined): string => m?.content_type ?? m?.headers['content-type'] ?? '';

/**
 * A gRPC body the sidecar decoded into `{"messages":[…]}` JSON: its HAR mime type and comment.
 * Undefined for a body kept as captured (empty, or not gRPC framing): on the wire a gRPC body
 * begins with a flag byte 0 or 1, never with `{`.
 */
function grpcDecoded(r: CallRecordJson, side: 'request' | 'response', m: HttpMessageJson, body: { text: string; base64: boolean }): { mimeType: string; comment: string } | undefined {
  if (r.protocol !== 'grpc' || body.base64 || !body.text.startsWith('{"messages":[')) return undefined;
  const wire = mimeOf(m) || 'application/grpc';
  const note = r.notes?.find((n) => n.startsWith(`${side}.body: `) && n.includes('decoded'))?.slice(`${side}.body: `.length);
  return {
    mimeType: 'application/json',
    comment: `text is meshtap's JSON decoding of the gRPC messages, not the bytes sent (content type ${wire}, ${m.body_size} bytes on the wire)${note !== undefined ? `: ${note}` : ''}`,
  };
}

function urlOf(r: CallRecordJson): { url: string; query: HarNameValue[] } {
  const tls = r.tls.app_tls !== undefined;
  const host = r.authority ?? r.request?.headers[':authority'] ?? r.request?.headers.host ?? formatHostPort(r.dst.ip, r.dst.port);
  const path = r.path ?? '/';
  const base = `${tls ? 'https' : 'http'}://${host}`;
  let url: string;
  const query: HarNameValue[] = [];
  try {
    const parsed = new URL(path.startsWith('/') ? path : `/${path}`, base);
    url = `${base}${path.startsWith('/') ? path : `/${path}`}`;
    for (const [name, value] of parsed.searchParams) query.push({ name, value });
  } catch {
    url = `${base}${path}`;
  }
  return { url, query };
}

function truncationNote(what: string, m: HttpMessageJson | undefined): string | undefined {
  return m?.truncated ? `${what} body truncated by capture (body size ${m.body_size} bytes)` : undefined;
}

/** The HAR entry of a call, or undefined when it is not HTTP-family. */
export function harEntry(call: JoinedCall): HarEntry | undefined {
  const r = call.client ?? call.server;
  if (r === undefined || !HAR_PROTOCOLS.includes(r.protocol)) return undefined;
  const httpVersion = HTTP_VERSION[r.protocol] ?? 'HTTP/1.1';
  const { url, query } = urlOf(r);
  const total = r.elapsed_us / 1000;
  // send: until the request ended; wait: until the first response byte; receive: the rest.
  let send = msBetween(r.start, r.request_end);
  let wait = msBetween(r.request_end, r.response_start);
  if (send === undefined || wait === undefined || send + wait > total) {
    send = 0;
    wait = msBetween(r.start, r.response_start) ?? total;
    if (wait > total) wait = total;
  }
  send = round3(send);
  wait = round3(wait);
  const receive = round3(Math.max(0, total - send - wait));
  const req = r.request;
  const res = r.response;
  const entry: HarEntry = {
    startedDateTime: isoTime(r.start),
    time: round3(send + wait + receive),
    request: {
      method: r.method ?? (r.protocol === 'grpc' ? 'POST' : 'GET'),
      url,
      httpVersion,
      headers: headerList(req?.headers, req?.trailers),
      queryString: query,
      cookies: [],
      headersSize: -1,
      bodySize: req?.body_size ?? -1,
    },
    response: {
      status: r.status_code ?? 0,
      statusText: r.status_code !== undefined ? (STATUS_CODES[r.status_code] ?? '') : '',
      httpVersion,
      headers: headerList(res?.headers, res?.trailers),
      cookies: [],
      content: { size: res?.body_size ?? 0, mimeType: mimeOf(res) },
      redirectURL: res?.headers.location ?? '',
      headersSize: -1,
      bodySize: res?.body_size ?? -1,
    },
    cache: {},
    timings: { send, wait, receive },
    _meshtap: { call_id: call.id, protocol: r.protocol, latency: call.latency },
  };
  if (req !== undefined && (req.body_size > 0 || bodyContent(req.body).text !== '')) {
    const body = bodyContent(req.body);
    const decoded = grpcDecoded(r, 'request', req, body);
    entry.request.postData = { mimeType: decoded?.mimeType ?? mimeOf(req), text: body.text, ...(body.base64 ? { _encoding: 'base64' as const } : {}), ...(decoded !== undefined ? { comment: decoded.comment } : {}) };
  }
  if (res !== undefined) {
    const body = bodyContent(res.body);
    entry.response.content.text = body.text;
    if (body.base64) entry.response.content.encoding = 'base64';
    const decoded = grpcDecoded(r, 'response', res, body);
    if (decoded !== undefined) {
      entry.response.content.mimeType = decoded.mimeType;
      entry.response.content.comment = decoded.comment;
    }
  }
  if (r.dst.ip !== '') entry.serverIPAddress = (call.server ?? r).dst.ip;
  entry.connection = r.connection_id;
  const notes = [truncationNote('request', req), truncationNote('response', res), r.error !== undefined ? `error: ${r.error}${r.error_detail ? ` (${r.error_detail})` : ''}` : undefined].filter(
    (n): n is string => n !== undefined,
  );
  if (notes.length > 0) entry.comment = notes.join('; ');
  if (call.client !== undefined) entry._meshtap.client_record_id = call.client.id;
  if (call.server !== undefined) entry._meshtap.server_record_id = call.server.id;
  if (call.one_sided !== undefined) entry._meshtap.one_sided = call.one_sided;
  if (call.error !== undefined) entry._meshtap.error = call.error;
  return entry;
}

export interface HarOptions {
  /** Calls of other protocols left out before the builder saw them, by protocol. */
  leftOut?: ReadonlyMap<string, number>;
  /** The calls left out were counted up to a bound: there may be more. */
  leftOutAtLeast?: boolean;
}

/** `left out 4 redis, 2 postgres calls: …`, most first; undefined when none was. */
export function leftOutComment(leftOut: ReadonlyMap<string, number>, atLeast = false): string | undefined {
  const counts = [...leftOut].filter(([, n]) => n > 0).sort(([a, m], [b, n]) => n - m || (a < b ? -1 : a > b ? 1 : 0));
  if (counts.length === 0) return undefined;
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  return `left out ${atLeast ? 'at least ' : ''}${counts.map(([protocol, n]) => `${n} ${protocol}`).join(', ')} ${total === 1 ? 'call' : 'calls'}: HAR holds HTTP, HTTP/2 and gRPC only`;
}

/**
 * One HAR document: an entry per HTTP-family call, oldest `startedDateTime` first (the same
 * instant: by call id). Other calls are left out and counted, with `options.leftOut`, in
 * `log.comment`.
 */
export function buildHar(calls: Iterable<JoinedCall>, creator: { name: string; version: string }, options: HarOptions = {}): Har {
  const dated: { start: bigint; id: string; entry: HarEntry }[] = [];
  const leftOut = new Map(options.leftOut ?? []);
  for (const call of calls) {
    const entry = harEntry(call);
    if (entry !== undefined) dated.push({ start: BigInt((call.client ?? call.server)!.start), id: call.id, entry });
    else leftOut.set(call.protocol, (leftOut.get(call.protocol) ?? 0) + 1);
  }
  dated.sort((a, b) => (a.start !== b.start ? (a.start < b.start ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const comment = leftOutComment(leftOut, options.leftOutAtLeast);
  return { log: { version: '1.2', creator: { ...creator }, entries: dated.map((d) => d.entry), ...(comment !== undefined ? { comment } : {}) } };
}
