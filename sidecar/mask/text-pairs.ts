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
 *
 * Three more spellings of the same pairs:
 * - JSON written inside a JSON string, or shown by `redis-cli`, has its quotes escaped
 *   (`{\"password\":\"abc\"}`, `\\\"` one level deeper): a key in escaped quotes is read as a
 *   quoted key, both quotes of the same level, and a value in escaped quotes of that level runs
 *   to the quote that closes it; only what is between them is masked, the escapes kept
 *   (`{\"password\":\"****\"}`). In such text a `\n` or `\r` escape ends a bare value and a key
 *   as a line break would (`user=x\npassword=****\ntoken: ****`).
 * - `key = value` and `key : value`, blanks on both sides, alone on a line (INI and AWS
 *   credentials files, `.env` and properties files written with spaces): a bare key starting
 *   its line after blanks at most (the line may start after a `\n` escape), the value running to
 *   the end of the line (trailing blanks kept; quoted, what is between the quotes). Inside a
 *   sentence (`we set x = y`, `the password = x`), after `#`, and as `==`, `=>` or `:=` it stays.
 * - A pair percent-encoded (`next=%2Fcb%3Ftoken%3Dabc`, `data=%7B%22password%22%3A%22x%22%7D`):
 *   text holding `%3D` or `%3A` is read once more with its escapes decoded
 *   (`percent-escape.ts`), and what is found there is masked in the characters it was written
 *   with (`next=%2Fcb%3Ftoken%3D****`).
 */
import type { Span } from './detectors.ts';
import type { Findings } from './findings.ts';
import { keyKind, namePrefilter } from './key-kind.ts';
import { MASK, type MaskPolicy, type SensitiveKind } from './policy.ts';
import { decodePercentEscapes, hasEncodedPairSeparator } from './percent-escape.ts';
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
/** What any pair needs, plain or percent-encoded: text without it costs this one search. */
const PAIR_TRIGGER = /[=:]|%3[ADad]/;
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

/** `\`: escapes the character after it. */
const BACKSLASH = 92;
/**
 * Most backslashes before a quote read as an escape level (`\"` is 1, `\\\"` 3, `\\\\\\\"` 7):
 * a longer run is taken for data, not an escape.
 */
const MAX_ESCAPE_RUN = 15;

/** How many backslashes stand right before `i` (at most `MAX_ESCAPE_RUN + 1`). */
function backslashesBefore(text: string, i: number): number {
  let r = 0;
  while (r <= MAX_ESCAPE_RUN && i - r > 0 && text.charCodeAt(i - r - 1) === BACKSLASH) r++;
  scanMeter.steps += r;
  return r;
}

/**
 * The escape level of the `"` at `i`: the run of backslashes right before it when that run is
 * odd (`\"`, `\\\"`: a quote of JSON written inside a JSON string, or shown by `redis-cli`), else
 * 0 (a quote as it is; an even run is backslashes of the text before it).
 */
function quoteLevel(text: string, i: number): number {
  const r = backslashesBefore(text, i);
  return r % 2 === 1 && r <= MAX_ESCAPE_RUN ? r : 0;
}

/** The level of an escaped quote starting at `v` (`\"` at `v`: 1), or 0 when none starts there. */
function escapedQuoteAt(text: string, v: number): number {
  let r = 0;
  while (r <= MAX_ESCAPE_RUN && text.charCodeAt(v + r) === BACKSLASH) r++;
  scanMeter.steps += r;
  return r % 2 === 1 && r <= MAX_ESCAPE_RUN && text.charCodeAt(v + r) === 34 ? r : 0;
}

/**
 * End of the bare value starting at `v`; `json`: after a quoted key; `escaped`: after a key in
 * escaped quotes (`\"pin\":1234\n`), where a backslash starts the next escape. Text of a JSON
 * string or a `redis-cli` argument read as written holds its line breaks as escapes: a `\n` or
 * `\r` (an odd run of backslashes before the letter) ends the value as a line break would
 * (`user=x\npassword=y\ntoken: z`), and a backslash run right before the quote
 * that ends the value escapes that quote (`password=abc\"`): it is left to the quote.
 */
function bareValueEnd(text: string, v: number, json = false, escaped = false): number {
  const n = text.length;
  const ends = json ? endsJsonValue : endsValue;
  let e = v;
  while (e < n) {
    const c = text.charCodeAt(e);
    if (c === BACKSLASH) {
      if (escaped) break;
      let r = 1;
      while (e + r < n && text.charCodeAt(e + r) === BACKSLASH) r++;
      const letter = text.charCodeAt(e + r);
      if (r % 2 === 1 && (letter === 110 || letter === 114)) {
        e += r - 1;
        break;
      }
      e += r;
    } else if (ends(c)) break;
    else e++;
  }
  scanMeter.steps += e - v;
  if (e < n && isQuote(text.charCodeAt(e))) while (e > v && text.charCodeAt(e - 1) === BACKSLASH) e--;
  return e;
}

/**
 * The closing quote of the value opened by the quote at `q` (a backslash escapes the character
 * after it), or -1 when the line or the text ends first.
 */
function closingQuote(text: string, q: number): number {
  const n = text.length;
  const quote = text.charCodeAt(q);
  let close = -1;
  let i = q + 1;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === quote) {
      close = i;
      break;
    }
    if (c === 10 || c === 13) break;
    i += c === 92 ? 2 : 1;
  }
  // What was read: up to the closing quote, the line's end or the text's.
  scanMeter.steps += Math.min(i, n) - q;
  return close;
}

/**
 * The closing quote of a value opened by a quote of escape `level` (`\"…\"`: 1) at `q`, or -1
 * when the line or the text ends first. JSON escaped once more doubles every backslash and adds
 * one before each quote, so the quote that closes the value has a run of backslashes before it
 * of `level` more than a multiple of `2 × (level + 1)` (`\"a\\\"b\"`: the `\\\"` is a quote
 * inside the value). `failed[level]`: where a search at that level last ran out; the quotes that
 * close a value do not depend on where it opened, so a later search before that point fails at
 * once, and each line is read once per level.
 */
function closingEscapedQuote(text: string, q: number, level: number, failed: Int32Array): number {
  if (q < failed[level]) return -1;
  const n = text.length;
  const period = 2 * (level + 1);
  let run = 0;
  let i = q + 1;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) break;
    if (c === BACKSLASH) run++;
    else {
      if (c === 34 && run % period === level) {
        scanMeter.steps += i - q;
        return i;
      }
      run = 0;
    }
  }
  scanMeter.steps += i - q;
  failed[level] = i;
  return -1;
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
 * How the key `keyBefore` or `spacedKeyBefore` last returned was written: -1 bare, 0 in quotes,
 * an escape level in escaped quotes (`\"password\"`: 1). One finder runs at a time.
 */
let keyQuote = -1;
/** Whether the line `spacedKeyBefore` last found a key on starts after a `\n` escape (a line of a JSON string read as written). */
let lineEscaped = false;

/**
 * Whether `text[i]` is the letter of a `\n`, `\r` or `\t` escape (an odd run of backslashes
 * before it): in text of a JSON string or a `redis-cli` argument read as written
 * (`"user=x\npassword=y"`), a line break or a tab, not a letter of the key after it.
 */
function isEscapeLetter(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return (c === 110 || c === 114 || c === 116) && text.charCodeAt(i - 1) === BACKSLASH && backslashesBefore(text, i) % 2 === 1;
}

/**
 * Where the bare key ending at `end` starts, or -1: the run of key characters right before
 * `end` (not past the letter of a `\n`, `\r` or `\t` escape), holding a letter, at most
 * `MAX_TEXT_KEY` long.
 */
function bareKeyStart(text: string, end: number): number {
  let s = end;
  let letter = false;
  while (s > 0 && end - s <= MAX_TEXT_KEY && isKeyChar(text.charCodeAt(s - 1)) && !isEscapeLetter(text, s - 1)) {
    const lower = text.charCodeAt(s - 1) | 32;
    if (lower >= 97 && lower <= 122) letter = true;
    s--;
  }
  scanMeter.steps += end - s;
  return s === end || !letter || end - s > MAX_TEXT_KEY ? -1 : s;
}

/**
 * The key written right before the separator at `p`, or undefined: a bare run of key characters
 * holding a letter, or a quoted name (also in escaped quotes, `\"password\":`, JSON inside a
 * JSON string or a `redis-cli` argument, both quotes of the same level); at most
 * `MAX_TEXT_KEY` characters either way. A path segment before a `:` is no key
 * (`/v1/token:exchange`, a method of the resource), nor, in a query string or form body
 * (`formEncoded`), a field's own name (`form-mask.ts` judged it). `at`: the text is a decoded
 * one (`decodePercentEscapes`), whose `=` and `&` delimit the fields only where they were
 * written as they are.
 */
function keyBefore(text: string, p: number, formEncoded: boolean, at: Int32Array | undefined): string | undefined {
  const before = text.charCodeAt(p - 1);
  if (isQuote(before)) {
    const level = before === 34 ? quoteLevel(text, p - 1) : 0;
    // The key's characters end where the escape of its closing quote starts.
    const close = p - 1 - level;
    const floor = Math.max(0, close - 1 - MAX_TEXT_KEY);
    let s = close - 1;
    while (s >= floor && text.charCodeAt(s) !== before && text.charCodeAt(s) !== 10) s--;
    scanMeter.steps += close - s;
    // The opening quote, with a name between: not a line's end, not `""`.
    if (s < floor || s === close - 1 || text.charCodeAt(s) !== before) return undefined;
    if (level > 0 && backslashesBefore(text, s) !== level) return undefined;
    keyQuote = level;
    return text.slice(s + 1, close);
  }
  const s = bareKeyStart(text, p);
  if (s === -1) return undefined;
  const sep = text.charCodeAt(p);
  if (sep === 58 && text.charCodeAt(s - 1) === 47) return undefined;
  if (formEncoded && sep === 61 && written(at, p) && (s === 0 || (text.charCodeAt(s - 1) === 38 && written(at, s - 1)))) return undefined;
  keyQuote = -1;
  return text.slice(s, p);
}

/** Whether character `i` of a decoded text (`at`) was written as itself, not as an escape. */
const written = (at: Int32Array | undefined, i: number): boolean => at === undefined || at[i + 1] - at[i] === 1;

/** Most blanks between a key and its spaced separator (`key      = value`, aligned). */
const MAX_GAP = 32;
/** Most blanks before a key that starts its line (indentation). */
const MAX_INDENT = 64;

/**
 * The key of `key = value` or `key : value` alone on its line (INI and AWS credentials files,
 * `.env` and properties files written with spaces), the separator at `p` with a blank before
 * it; undefined unless the key (bare, as `keyBefore` reads one) starts its line after blanks at
 * most: at the start of the text, after a line break, or after a `\n` or `\r` escape (the text
 * of a JSON string or a `redis-cli` argument read as written, `lineEscaped`). So a sentence
 * keeps its `x = y`.
 */
function spacedKeyBefore(text: string, p: number): string | undefined {
  let e = p - 1;
  const gapFloor = Math.max(0, p - MAX_GAP);
  while (e > gapFloor && isBlank(text.charCodeAt(e - 1))) e--;
  scanMeter.steps += p - e;
  const s = bareKeyStart(text, e);
  if (s === -1) return undefined;
  let b = s;
  const indentFloor = Math.max(0, s - MAX_INDENT);
  while (b > indentFloor && isBlank(text.charCodeAt(b - 1))) b--;
  scanMeter.steps += s - b;
  const c = text.charCodeAt(b - 1);
  if (b === 0 || c === 10 || c === 13) lineEscaped = false;
  else if ((c === 110 || c === 114) && isEscapeLetter(text, b - 1)) lineEscaped = true;
  else return undefined;
  keyQuote = -1;
  return text.slice(s, e);
}

/**
 * End of a value that runs to the end of its line from `v`: a line break or the end of the
 * text, and in a line read as written (`escaped`) also a `\n` or `\r` escape or a quote that
 * is not escaped (the end of the string the lines are in).
 */
function lineEnd(text: string, v: number, escaped: boolean): number {
  const n = text.length;
  let run = 0;
  let i = v;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) break;
    if (!escaped) continue;
    if (c === BACKSLASH) {
      run++;
      continue;
    }
    if ((c === 110 || c === 114) && run % 2 === 1) {
      i--;
      break;
    }
    if (c === 34 && run % 2 === 0) break;
    run = 0;
  }
  scanMeter.steps += i - v;
  return i;
}

/**
 * After an authorization scheme and its spaces or tabs, where the credentials start (as in a
 * header: `Bearer abc` keeps `Bearer`), or -1 when `text[v, end)` does not start with a scheme
 * followed by a blank and something more.
 */
function credentialsStart(text: string, v: number, end: number): number {
  let w = v;
  while (w < end && w - v <= 16 && !isBlank(text.charCodeAt(w))) w++;
  scanMeter.steps += w - v;
  if (w >= end || w - v > 16 || !AUTH_SCHEMES.has(text.slice(v, w).toLowerCase())) return -1;
  let c = w;
  while (c < end && isBlank(text.charCodeAt(c))) c++;
  scanMeter.steps += c - w;
  return c < end ? c : -1;
}

/** A value found: `[start, end)` masked, the search going on at `next`. */
interface Found {
  start: number;
  end: number;
  next: number;
}

/**
 * The value of a key that named a secret, its separator at `p` (`sep`, `after` the character
 * after it): one token, a quoted value or, after a spaced separator, the rest of the line.
 */
function valueAfter(text: string, p: number, sep: number, after: number, spaced: boolean, failed: () => Int32Array): Found {
  const n = text.length;
  // `'password'=>'x'`: the arrow of a PHP or Ruby hash is one separator.
  let v = sep === 61 && after === 62 ? p + 2 : p + 1;
  while (v < n && isBlank(text.charCodeAt(v))) v++;
  scanMeter.steps += v - p;
  const json = keyQuote >= 0;
  if (v < n && isQuote(text.charCodeAt(v))) {
    const close = closingQuote(text, v);
    if (close !== -1) return { start: v + 1, end: close, next: close + 1 };
    const end = spaced ? lineEnd(text, v + 1, lineEscaped) : bareValueEnd(text, v + 1, json);
    return { start: v + 1, end, next: end };
  }
  const level = text.charCodeAt(v) === BACKSLASH ? escapedQuoteAt(text, v) : 0;
  if (level > 0) {
    // `\"password\":\"abc\"`: the value between its escaped quotes, the escapes kept.
    const q = v + level;
    const close = closingEscapedQuote(text, q, level, failed());
    if (close !== -1) return { start: q + 1, end: close - level, next: close + 1 };
    const end = spaced ? lineEnd(text, q + 1, lineEscaped) : bareValueEnd(text, q + 1, json, true);
    return { start: q + 1, end, next: end };
  }
  if (spaced) {
    let end = lineEnd(text, v, lineEscaped);
    const next = end;
    while (end > v && isBlank(text.charCodeAt(end - 1))) end--;
    const credentials = credentialsStart(text, v, end);
    return { start: credentials === -1 ? v : credentials, end, next };
  }
  const end = bareValueEnd(text, v, json, keyQuote > 0);
  if (!json && (isHostPort(text, sep, p, v) || isSchemeInBrackets(text, v, end))) return { start: v, end: v, next: end };
  // `Bearer abc`: the credentials after the scheme and its spaces or tabs (`Bearer\tabc`,
  // `Bearer  abc`: were the scheme taken for the value, they would be left in clear).
  if (end - v <= 16 && isBlank(text.charCodeAt(end)) && AUTH_SCHEMES.has(text.slice(v, end).toLowerCase())) {
    let c = end + 1;
    while (c < n && isBlank(text.charCodeAt(c))) c++;
    scanMeter.steps += c - end;
    const credentials = bareValueEnd(text, c);
    if (credentials > c) return { start: c, end: credentials, next: credentials };
  }
  return { start: v, end, next: end };
}

/**
 * The pairs of `text` (see `findKeyValueText`); `at`: the text is the decoded form of another
 * (`decodePercentEscapes`), the spans are the decoded text's.
 */
function findPairs(text: string, policy: MaskPolicy, formEncoded: boolean, at: Int32Array | undefined): readonly KeyValueSpan[] {
  const n = text.length;
  SEPARATOR.lastIndex = 0;
  if (!SEPARATOR.test(text)) return NO_PAIRS;
  const prefilter = mayNameSecret(policy);
  let spans: KeyValueSpan[] | undefined;
  // Made on the first value in escaped quotes.
  let failedAt: Int32Array | undefined;
  const failed = (): Int32Array => (failedAt ??= new Int32Array(MAX_ESCAPE_RUN + 1).fill(-1));
  let p = SEPARATOR.lastIndex - 1;
  scanMeter.steps += p;
  while (p !== -1) {
    scanMeter.steps++;
    let next = p + 1;
    const sep = text.charCodeAt(p);
    const after = text.charCodeAt(p + 1);
    // `==`, `::`, `:=`, `=:` are operators, `scheme://` a URL (`url-credentials.ts`).
    const operator = after === 61 || after === 58 || (sep === 58 && after === 47 && text.charCodeAt(p + 2) === 47);
    let key: string | undefined;
    let spaced = false;
    if (p > 0 && !operator) {
      key = keyBefore(text, p, formEncoded, at);
      // `password = x` alone on its line: blanks on both sides of the separator.
      if (key === undefined && isBlank(text.charCodeAt(p - 1)) && isBlank(after)) {
        key = spacedKeyBefore(text, p);
        spaced = key !== undefined;
      }
    }
    const kind = key === undefined || !prefilter(key) ? undefined : keyKind(policy, key);
    if (kind !== undefined) {
      const value = valueAfter(text, p, sep, after, spaced, failed);
      next = Math.max(next, value.next);
      const { start, end } = value;
      if (end > start && !allStars(text, start, end) && !isBindParameter(text, start, end)) (spans ??= []).push({ start, end, kind });
    }
    if (next >= n) break;
    SEPARATOR.lastIndex = next;
    p = SEPARATOR.test(text) ? SEPARATOR.lastIndex - 1 : -1;
    scanMeter.steps += (p === -1 ? n : p) - next;
  }
  return spans ?? NO_PAIRS;
}

/** Two sorted lists of disjoint spans as one: overlapping spans merged (the first one's kind). */
function union(a: readonly KeyValueSpan[], b: readonly KeyValueSpan[]): readonly KeyValueSpan[] {
  if (a.length === 0) return b;
  const out: KeyValueSpan[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const s = j >= b.length || (i < a.length && a[i].start <= b[j].start) ? a[i++] : b[j++];
    const top = out[out.length - 1];
    if (top !== undefined && s.start < top.end) {
      if (s.end > top.end) out[out.length - 1] = { start: top.start, end: s.end, kind: top.kind };
    } else out.push(s);
  }
  return out;
}

/**
 * The values of `KEY=VALUE` and `KEY: VALUE` pairs in free text whose KEY names a secret under
 * the policy (see the top of this file): sorted, disjoint spans of the values alone;
 * `formEncoded`: the text is a query string or form body, whose own fields are left to
 * `form-mask.ts` (a pair inside a field's value, `next=/cb?token=abc`, is still found). Each
 * separator looks back over the key characters right before it (at most 64, never past the
 * previous separator; for a spaced one, a bounded run of blanks and the line's indentation too)
 * and forward over its value, and the next search starts after the value: linear in the text.
 *
 * Text holding `=` or `:` percent-encoded (`%3D`, `%3A`) is read a second time decoded
 * (`decodePercentEscapes`; in a query string or form body `+` is a space), and what is found
 * there is masked in the characters it was written with: `next=%2Fcb%3Ftoken%3D****`,
 * `data=%7B%22password%22%3A%22****%22%7D`, everything else byte for byte. The spans of both
 * readings are merged.
 */
export function findKeyValueText(text: string, policy: MaskPolicy, formEncoded = false): readonly KeyValueSpan[] {
  if (text.length < shortestKeyValue(policy) || !PAIR_TRIGGER.test(text)) return NO_PAIRS;
  const plain = findPairs(text, policy, formEncoded, undefined);
  if (!hasEncodedPairSeparator(text)) return plain;
  const decoded = decodePercentEscapes(text, formEncoded);
  const found = findPairs(decoded.text, policy, formEncoded, decoded.at);
  if (found.length === 0) return plain;
  const at = decoded.at;
  return union(
    plain,
    found.map((s) => ({ start: at[s.start], end: at[s.end], kind: s.kind })),
  );
}
