/**
 * Key/value pairs in text that is not a whole document of its shape, found by hand-written
 * scanners that look at each character a bounded number of times.
 *
 * `maskKeyValuePairs`: `"key": value` pairs (JSON cut by the body limit or the scan budget,
 * JSON inside logs or other text), in bodies that are neither valid JSON nor a form (plain
 * text, WebSocket text messages, cut JSON) and in the content of multipart parts; a secret
 * key's value is masked whole, object or array alike. Every `"` may start a key, but a key is
 * at most 128 characters, and a value is consumed once.
 *
 * `findKeyValueText`: `KEY=VALUE`, `KEY: VALUE` and `KEY:VALUE` wherever the text detectors run
 * (`maskText`: text bodies and WebSocket messages, JSON string values, header values, paths,
 * `grpc_message`, `error_detail`): `login user=bob password=wspw5`, a connection string's
 * `Password=connpw77;`, `api_key: abc`. KEY is a secret name under the policy (`keyKind`: its
 * exact keys and the families) written right before the `=` or `:`, with no space between:
 * bare (`[A-Za-z0-9_.[\]-]`, at most 64 characters, a letter among them) or quoted
 * (`"token":"abc"`, JSON inside a string). VALUE is one token after optional spaces, up to `;`,
 * `&`, whitespace, a quote or the end (after a quoted key also `,`, `}` or `]`); a quoted value
 * (`Password="p w"`) runs to its closing quote on the same line; `=>` counts as `=` (a PHP or
 * Ruby hash, `'pwd'=>'x'`). Only VALUE is masked, and nothing for `password=` with nothing after
 * it, for prose whose word before the `:` names no secret (`the password policy: strong`), for
 * keys that describe a secret (`token_count: 5`: the families decide), for `==`, `::` and
 * `scheme://`, for a path segment before a `:` (`/v1/token:exchange`), for a bind parameter
 * (`token=$1`, `password=?`, `pwd=%s`), for a value already masked (`****`), for a host and
 * its port (`auth:8080`: `isHostPort`) or for a scheme named in brackets. After an
 * authorization scheme and its spaces or tabs (`Authorization: Bearer abc`,
 * `token=Bearer\tabc`) the credentials are masked and the scheme kept, as in a header.
 */
import type { Span } from './detectors.ts';
import type { Findings } from './findings.ts';
import { keyKind, namePrefilter } from './key-kind.ts';
import { MASK, type MaskPolicy, type SensitiveKind } from './policy.ts';
import { scanMeter } from './scan-meter.ts';

const MAX_KEY = 128;

const isWs = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;
/** Whitespace within a line: what may follow a `KEY:` or an authorization scheme. */
const isBlank = (c: number): boolean => c === 32 || c === 9;

/** End (after the closing quote) of a key string starting at the quote `q`, or -1. */
function keyEnd(text: string, q: number): number {
  const n = text.length;
  let units = 0;
  let i = q + 1;
  while (i < n && units <= MAX_KEY) {
    scanMeter.steps++;
    const c = text.charCodeAt(i);
    if (c === 34) return units === 0 ? -1 : i + 1;
    if (c === 10) return -1;
    if (c === 92) {
      if (i + 1 >= n || text.charCodeAt(i + 1) === 10) return -1;
      i += 2;
    } else i++;
    units++;
  }
  return -1;
}

/** End of a string value starting at the quote `q`: after its closing quote, or the end of the text. */
function stringEnd(text: string, q: number): { end: number; closed: boolean } {
  const n = text.length;
  let i = q + 1;
  while (i < n) {
    scanMeter.steps++;
    const c = text.charCodeAt(i);
    if (c === 34) return { end: i + 1, closed: true };
    i += c === 92 ? 2 : 1;
  }
  return { end: n, closed: false };
}

/** End of an object or array starting at `q` (brackets counted outside strings), or the end of the text. */
function containerEnd(text: string, q: number): number {
  const n = text.length;
  let depth = 0;
  let i = q;
  while (i < n) {
    scanMeter.steps++;
    const c = text.charCodeAt(i);
    if (c === 34) {
      i = stringEnd(text, i).end;
      continue;
    }
    if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return n;
}

/** End of a bare value (number, `true`, `false`, `null`) starting at `i`, or -1. */
function bareEnd(text: string, i: number): number {
  for (const lit of ['true', 'false', 'null']) if (text.startsWith(lit, i)) return i + lit.length;
  const n = text.length;
  let j = i;
  const c = text.charCodeAt(j);
  if (c === 45) j++;
  if (j >= n || text.charCodeAt(j) < 48 || text.charCodeAt(j) > 57) return -1;
  while (j < n) {
    const d = text.charCodeAt(j);
    if ((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45) {
      scanMeter.steps++;
      j++;
    } else break;
  }
  return j;
}

function unescapeKey(raw: string): string {
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

export function maskKeyValuePairs(text: string, where: string, policy: MaskPolicy, f: Findings): string {
  let out = '';
  let last = 0;
  let from = 0;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q === -1) break;
    scanMeter.steps++;
    from = q + 1;
    const ke = keyEnd(text, q);
    if (ke === -1) continue;
    let i = ke;
    while (i < text.length && isWs(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== 58 /* : */) continue;
    i++;
    while (i < text.length && isWs(text.charCodeAt(i))) i++;
    scanMeter.steps += i - ke;
    const rawKey = text.slice(q + 1, ke - 1);
    const kind = keyKind(policy, unescapeKey(rawKey));
    const c = text.charCodeAt(i);
    let end: number;
    let closed = true;
    if (c === 34) ({ end, closed } = stringEnd(text, i));
    else if (c === 123 || c === 91) {
      if (kind === undefined) {
        // Not a secret: its own pairs are looked at one by one.
        from = i + 1;
        continue;
      }
      end = containerEnd(text, i);
      closed = end < text.length || text.charCodeAt(end - 1) === 125 || text.charCodeAt(end - 1) === 93;
    } else {
      end = bareEnd(text, i);
      if (end === -1) continue;
    }
    from = end;
    if (kind === undefined) continue;
    f.add(`${where}.$..${rawKey}`, kind, true);
    out += `${text.slice(last, i)}"${MASK}${closed ? '"' : ''}`;
    last = end;
  }
  return last === 0 ? text : out + text.slice(last);
}

/** A value `findKeyValueText` found, and the kind its key names. */
export interface KeyValueSpan extends Span {
  kind: SensitiveKind;
}

/** Longest key looked back for before a `=` or `:`. */
const MAX_TEXT_KEY = 64;
/** The shortest name of a family (`pin`, `pwd`, `otp`). */
const SHORTEST_FAMILY_NAME = 3;
const NO_PAIRS: readonly KeyValueSpan[] = Object.freeze([]);
const SEPARATOR = /[=:]/g;
const mayNameSecret = namePrefilter();
const shortest = new WeakMap<MaskPolicy, number>();

const isAlnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
/** `[A-Za-z0-9_.[\]-]`: a bare key's characters (`db.password`, `--token`, `user[pin]`). */
const isKeyChar = (c: number): boolean => isAlnum(c) || c === 95 || c === 46 || c === 45 || c === 91 || c === 93;
const isQuote = (c: number): boolean => c === 34 || c === 39;
/** What ends a bare value: `;`, `&`, whitespace and other control characters, a quote, DEL. */
const endsValue = (c: number): boolean => c <= 32 || c === 59 || c === 38 || c === 34 || c === 39 || c === 127;
/** After a quoted key (`"pin":1234,"x":…`, JSON inside text) also `,`, `}` and `]`. */
const endsJsonValue = (c: number): boolean => endsValue(c) || c === 44 || c === 125 || c === 93;

/** Schemes a credential follows in an `Authorization` value, lower case. */
const AUTH_SCHEMES: ReadonlySet<string> = new Set([
  'basic', 'bearer', 'digest', 'token', 'negotiate', 'ntlm', 'dpop', 'bot', 'apikey', 'oauth', 'mac', 'hoba', 'mutual',
  'gnap', 'vapid', 'aws4-hmac-sha256', 'scram-sha-1', 'scram-sha-256',
]);

/**
 * The length of the shortest `KEY=V` the policy can mask (a key it adds may be one letter):
 * shorter text holds no pair.
 */
export function shortestKeyValue(policy: MaskPolicy): number {
  let n = shortest.get(policy);
  if (n === undefined) {
    n = SHORTEST_FAMILY_NAME;
    for (const key of policy.keys.keys()) n = Math.min(n, Math.max(1, key.length));
    n += 2;
    shortest.set(policy, n);
  }
  return n;
}

/** What may follow a port in `host:port`: the end of an address or of the text around it. */
const endsPort = (c: number): boolean => Number.isNaN(c) || endsValue(c) || c === 47 || c === 63 || c === 35 || c === 44 || c === 41 || c === 93 || c === 125;

/**
 * `auth:8080`, `password.example:9000`: a `:` followed at once by a port number (at most
 * 65535) names a host and its port, as in a `Host` header or a log line, not a secret under a
 * key. With a space (`pin: 1234`), after `=` or after a quoted key it is still a value.
 */
function isHostPort(text: string, sep: number, p: number, v: number): boolean {
  if (sep !== 58 || v !== p + 1) return false;
  let d = v;
  while (d < text.length && d - v <= 5 && text.charCodeAt(d) >= 48 && text.charCodeAt(d) <= 57) d++;
  if (d === v || d - v > 5 || Number(text.slice(v, d)) > 65535) return false;
  // `auth:8080.` ends a sentence.
  const c = text.charCodeAt(d);
  return endsPort(c) || (c === 46 && (d + 1 === text.length || isWs(text.charCodeAt(d + 1))));
}

/**
 * `(authorization: Bearer)`: prose naming a scheme, closed by a bracket right after it, hides
 * no credentials (`auth: token` alone is still masked: there the word may be the secret).
 */
function isSchemeInBrackets(text: string, v: number, end: number): boolean {
  let e = end;
  while (e > v && ')]}>'.includes(text[e - 1])) e--;
  return e < end && e - v <= 16 && AUTH_SCHEMES.has(text.slice(v, e).toLowerCase());
}

/** End of the bare value starting at `v`; `json`: after a quoted key. */
function bareValueEnd(text: string, v: number, json = false): number {
  const n = text.length;
  const ends = json ? endsJsonValue : endsValue;
  let e = v;
  while (e < n && !ends(text.charCodeAt(e))) e++;
  scanMeter.steps += e - v;
  return e;
}

/**
 * The closing quote of the value opened by the quote at `q` (a backslash escapes the character
 * after it), or -1 when the line or the text ends first.
 */
function closingQuote(text: string, q: number): number {
  const n = text.length;
  const quote = text.charCodeAt(q);
  let i = q + 1;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === quote) break;
    if (c === 10 || c === 13) {
      i = n;
      break;
    }
    i += c === 92 ? 2 : 1;
  }
  scanMeter.steps += Math.min(i, n) - q;
  return i < n ? i : -1;
}

const allStars = (text: string, start: number, end: number): boolean => {
  for (let i = start; i < end; i++) if (text.charCodeAt(i) !== 42) return false;
  return true;
};

/** A bind parameter or a format directive, no value: `?`, `$1`, `%s` (`WHERE token=$1`). */
function isBindParameter(text: string, start: number, end: number): boolean {
  const c = text.charCodeAt(start);
  if (end - start === 1) return c === 63;
  if (c === 37) return end - start === 2 && (text.charCodeAt(start + 1) === 115 || text.charCodeAt(start + 1) === 100);
  if (c !== 36 || end - start > 6) return false;
  for (let i = start + 1; i < end; i++) if (text.charCodeAt(i) < 48 || text.charCodeAt(i) > 57) return false;
  return true;
}

/**
 * The key written right before the separator at `p`, or undefined: a bare run of key characters
 * holding a letter, or a quoted name; at most `MAX_TEXT_KEY` characters either way. A path
 * segment before a `:` is no key (`/v1/token:exchange`, a method of the resource), nor, in a
 * query string or form body (`formEncoded`), a field's own name (`form-mask.ts` judged it).
 */
function keyBefore(text: string, p: number, formEncoded: boolean): string | undefined {
  const before = text.charCodeAt(p - 1);
  if (isQuote(before)) {
    const floor = Math.max(0, p - 2 - MAX_TEXT_KEY);
    let s = p - 2;
    while (s >= floor && text.charCodeAt(s) !== before && text.charCodeAt(s) !== 10) s--;
    scanMeter.steps += p - 1 - s;
    // The opening quote, with a name between: not a line's end, not `""`.
    if (s < floor || s === p - 2 || text.charCodeAt(s) !== before) return undefined;
    return text.slice(s + 1, p - 1);
  }
  let s = p;
  let letter = false;
  while (s > 0 && p - s <= MAX_TEXT_KEY && isKeyChar(text.charCodeAt(s - 1))) {
    const lower = text.charCodeAt(s - 1) | 32;
    if (lower >= 97 && lower <= 122) letter = true;
    s--;
  }
  scanMeter.steps += p - s;
  if (s === p || !letter || p - s > MAX_TEXT_KEY) return undefined;
  const sep = text.charCodeAt(p);
  if (sep === 58 && text.charCodeAt(s - 1) === 47) return undefined;
  if (formEncoded && sep === 61 && (s === 0 || text.charCodeAt(s - 1) === 38)) return undefined;
  return text.slice(s, p);
}

/**
 * The values of `KEY=VALUE` and `KEY: VALUE` pairs in free text whose KEY names a secret under
 * the policy (see the top of this file): sorted, disjoint spans of the values alone;
 * `formEncoded`: the text is a query string or form body, whose own fields are left to
 * `form-mask.ts` (a pair inside a field's value, `next=/cb?token=abc`, is still found). Each
 * separator looks back over the key characters right before it (at most 64, never past the
 * previous separator) and forward over its value, and the next search starts after the value:
 * linear in the text.
 */
export function findKeyValueText(text: string, policy: MaskPolicy, formEncoded = false): readonly KeyValueSpan[] {
  const n = text.length;
  if (n < shortestKeyValue(policy)) return NO_PAIRS;
  SEPARATOR.lastIndex = 0;
  if (!SEPARATOR.test(text)) return NO_PAIRS;
  const prefilter = mayNameSecret(policy);
  let spans: KeyValueSpan[] | undefined;
  let p = SEPARATOR.lastIndex - 1;
  scanMeter.steps += p;
  while (p !== -1) {
    scanMeter.steps++;
    let next = p + 1;
    const sep = text.charCodeAt(p);
    const after = text.charCodeAt(p + 1);
    // `==`, `::`, `:=`, `=:` are operators, `scheme://` a URL (`url-credentials.ts`).
    const operator = after === 61 || after === 58 || (sep === 58 && after === 47 && text.charCodeAt(p + 2) === 47);
    const key = p === 0 || operator ? undefined : keyBefore(text, p, formEncoded);
    const kind = key === undefined || !prefilter(key) ? undefined : keyKind(policy, key);
    if (kind !== undefined) {
      const json = isQuote(text.charCodeAt(p - 1));
      // `'password'=>'x'`: the arrow of a PHP or Ruby hash is one separator.
      let v = sep === 61 && after === 62 ? p + 2 : p + 1;
      while (v < n && isBlank(text.charCodeAt(v))) v++;
      scanMeter.steps += v - p;
      let start = v;
      let end = v;
      if (v < n && isQuote(text.charCodeAt(v))) {
        const close = closingQuote(text, v);
        start = v + 1;
        end = close === -1 ? bareValueEnd(text, start, json) : close;
        next = close === -1 ? end : close + 1;
      } else {
        end = bareValueEnd(text, v, json);
        next = end;
        if (!json && (isHostPort(text, sep, p, v) || isSchemeInBrackets(text, v, end))) end = start;
        // `Bearer abc`: the credentials after the scheme and its spaces or tabs (`Bearer\tabc`,
        // `Bearer  abc`: were the scheme taken for the value, they would be left in clear).
        else if (end - v <= 16 && isBlank(text.charCodeAt(end)) && AUTH_SCHEMES.has(text.slice(v, end).toLowerCase())) {
          let c = end + 1;
          while (c < n && isBlank(text.charCodeAt(c))) c++;
          scanMeter.steps += c - end;
          const credentials = bareValueEnd(text, c);
          if (credentials > c) {
            start = c;
            end = credentials;
            next = end;
          }
        }
      }
      if (end > start && !allStars(text, start, end) && !isBindParameter(text, start, end)) (spans ??= []).push({ start, end, kind });
    }
    if (next >= n) break;
    SEPARATOR.lastIndex = next;
    p = SEPARATOR.test(text) ? SEPARATOR.lastIndex - 1 : -1;
    scanMeter.steps += (p === -1 ? n : p) - next;
  }
  return spans ?? NO_PAIRS;
}
