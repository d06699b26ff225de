/**
 * Header values: sensitive names masked whole, keeping what helps reading a call without
 * revealing a secret (the scheme of `Authorization: Bearer …`, cookie names); every other value
 * goes through the text detectors.
 */
import { MASK, maskText, reportText } from './detectors.ts';
import type { Findings } from './findings.ts';
import { maskForm } from './form-mask.ts';
import { keyKind } from './key-kind.ts';
import type { MaskPolicy, SensitiveKind } from './policy.ts';
import { scanMeter } from './scan-meter.ts';
import { maskAuthorityUserinfo } from './url-credentials.ts';

const isSpace = (c: number): boolean => c === 32 || c === 9;

/** `Bearer abc` → `Bearer ****`: the first word is kept when credentials follow it. */
export function maskAuthorization(value: string): string {
  let i = 0;
  const n = value.length;
  while (i < n && !isSpace(value.charCodeAt(i))) i++;
  let j = i;
  while (j < n && isSpace(value.charCodeAt(j))) j++;
  scanMeter.steps += j;
  if (i === 0 || j === i || j === n) return MASK;
  return `${value.slice(0, j)}${MASK}`;
}

/** `a=1; b=2` → `a=****; b=****`; a part without a name is masked whole. */
export function maskCookie(value: string): string {
  scanMeter.steps += value.length;
  return value
    .split(';')
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq !== -1) return `${part.slice(0, eq + 1)}${MASK}`;
      if (part.trim() === '') return part;
      const lead = part.length - part.trimStart().length;
      return `${part.slice(0, lead)}${MASK}`;
    })
    .join(';');
}

/** Each `Set-Cookie` line (joined with "\n"): the value masked, the name and attributes kept. */
export function maskSetCookie(value: string): string {
  scanMeter.steps += value.length;
  return value
    .split('\n')
    .map((line) => {
      const semi = line.indexOf(';');
      const first = semi === -1 ? line : line.slice(0, semi);
      const eq = first.indexOf('=');
      const masked = eq === -1 ? MASK : `${first.slice(0, eq + 1)}${MASK}`;
      return semi === -1 ? masked : masked + line.slice(semi);
    })
    .join('\n');
}

function maskedValue(name: string, kind: SensitiveKind, value: string): string {
  if (name === 'set-cookie') return maskSetCookie(value);
  if (name === 'cookie') return maskCookie(value);
  if (kind === 'authorization') return maskAuthorization(value);
  return MASK;
}

/**
 * Kubernetes' WebSocket clients (client-go, kubectl exec/attach/port-forward) send their bearer
 * token as a subprotocol, the browser API having no other way: `Sec-WebSocket-Protocol:
 * base64url.bearer.authorization.k8s.io.<token, base64url>, v4.channel.k8s.io`. The token is
 * masked, the subprotocols and the prefix (what says a token was there) kept.
 */
const K8S_BEARER_SUBPROTOCOL = 'base64url.bearer.authorization.k8s.io.';

/** The value with every Kubernetes bearer subprotocol's token masked, or undefined when it has none. */
export function maskBearerSubprotocols(value: string): string | undefined {
  if (!value.includes(K8S_BEARER_SUBPROTOCOL)) return undefined;
  scanMeter.steps += value.length;
  return value
    .split(',')
    .map((part) => {
      const at = part.indexOf(K8S_BEARER_SUBPROTOCOL);
      if (at === -1 || part.slice(0, at).trim() !== '') return part;
      const end = part.trimEnd().length;
      return `${part.slice(0, at + K8S_BEARER_SUBPROTOCOL.length)}${MASK}${part.slice(end)}`;
    })
    .join(',');
}

/** Standard headers whose names contain a family word but whose values are never secrets. */
const NOT_SECRET = new Set(['access-control-allow-credentials']);

/**
 * The same, for the response headers of one protocol's records, which its capture session fills
 * from fixed protocol fields: PostgreSQL's `session_authorization` (a ParameterStatus of the
 * startup record) is the session's user name, and `auth` of a PostgreSQL or MySQL login is the
 * authentication method (`sasl SCRAM-SHA-256`, `caching_sha2_password`), although their words
 * name families. Only there: elsewhere a header of that name may hold a token.
 */
const NOT_SECRET_BY_PROTOCOL: Readonly<Record<string, ReadonlySet<string>>> = {
  postgres: new Set(['session_authorization', 'auth']),
  mysql: new Set(['auth']),
};

/**
 * A header whose name ends with the word `key` holds one: APIs take their keys under many such
 * names (`Ocp-Apim-Subscription-Key`, `x-functions-key`, `X-License-Key`), where in JSON and
 * forms `key` names a lookup. Not these standard ones, whose values are no secret: the WebSocket
 * handshake's nonce, an idempotency key, a cache key.
 */
const KEY_NAME = /(?:^|[-_.])keys?$/;
const KEY_NAMES_NOT_SECRET: ReadonlySet<string> = new Set(['sec-websocket-key', 'idempotency-key', 'x-idempotency-key', 'cache-key', 'x-cache-key']);

function headerKind(policy: MaskPolicy, name: string, keep: ReadonlySet<string> | undefined): SensitiveKind | undefined {
  const added = policy.headers.get(name);
  if (added !== undefined) return added;
  if (NOT_SECRET.has(name) || keep?.has(name)) return undefined;
  const kind = keyKind(policy, name);
  if (kind !== undefined || !policy.keyFamilies) return kind;
  return KEY_NAME.test(name) && !KEY_NAMES_NOT_SECRET.has(name) ? 'api_key' : undefined;
}

/** An authority (`Host`, `:authority`, the record's) with its user information masked (`url-credentials.ts`), or itself. */
export function maskAuthority(value: string, where: string, f: Findings): string {
  const masked = maskAuthorityUserinfo(value);
  if (masked === undefined) return value;
  f.add(where, 'url_password', true);
  return masked;
}

/** Headers whose value is a URL: a redirect's `Location` carries an OAuth callback's `code`, or a token parameter. */
const URL_HEADERS: ReadonlySet<string> = new Set(['location', 'content-location']);

/** A URL's query masked as a path's is (`maskForm` in query mode, the URL's path telling an OAuth callback). */
function maskUrlQuery(url: string, where: string, policy: MaskPolicy, f: Findings): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const hash = url.indexOf('#', q);
  const end = hash === -1 ? url.length : hash;
  const query = url.slice(q + 1, end);
  const masked = maskForm(query, where, policy, f, url.slice(0, q), true);
  return masked === query ? url : `${url.slice(0, q + 1)}${masked}${url.slice(end)}`;
}

/** The header value `headerHit` reports on (set before each scan: one callback, not one per header). */
let hitFindings: Findings | undefined;
let hitWhere = '';
let hitName = '';
let hitMasked = false;
const headerHit = (kind: SensitiveKind, masked: boolean): void => {
  hitFindings!.add(`${hitWhere}.${hitName}`, kind, masked);
  hitMasked ||= masked;
};

function setHeader(out: Record<string, string>, name: string, value: string): void {
  Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
}

/** `protocol`: the record's (`postgres`, …) for response headers, for the names that protocol says are not secrets. */
export function maskHeaders(headers: Record<string, string>, where: string, policy: MaskPolicy, f: Findings, protocol?: string): Record<string, string> {
  let out: Record<string, string> | undefined;
  const keep = protocol === undefined ? undefined : NOT_SECRET_BY_PROTOCOL[protocol];
  // `for…in` over a plain record: no entries array per message.
  for (const name in headers) {
    const value = headers[name];
    const lower = name.toLowerCase();
    const kind = headerKind(policy, lower, keep);
    if (kind !== undefined) {
      const path = `${where}.${name}`;
      reportText(value, policy, (k) => f.add(path, k, false));
      f.add(path, kind, true);
      setHeader((out ??= { ...headers }), name, maskedValue(lower, kind, value));
      continue;
    }
    let text = value;
    if (lower === 'sec-websocket-protocol') {
      const subprotocols = maskBearerSubprotocols(value);
      if (subprotocols !== undefined && subprotocols !== value) {
        f.add(`${where}.${name}`, 'bearer_token', true);
        setHeader((out ??= { ...headers }), name, subprotocols);
        text = subprotocols;
      }
    }
    if (lower === 'host' || lower === ':authority') {
      const authority = maskAuthority(text, `${where}.${name}`, f);
      if (authority !== text) {
        setHeader((out ??= { ...headers }), name, authority);
        text = authority;
      }
    }
    if (URL_HEADERS.has(lower)) {
      const query = maskUrlQuery(text, `${where}.${name}`, policy, f);
      if (query !== text) {
        setHeader((out ??= { ...headers }), name, query);
        text = query;
      }
    }
    hitFindings = f;
    hitWhere = where;
    hitName = name;
    hitMasked = false;
    const masked = maskText(text, policy, headerHit);
    hitFindings = undefined;
    if (hitMasked) setHeader((out ??= { ...headers }), name, masked);
  }
  return out ?? headers;
}
