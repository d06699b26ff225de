/**
 * Which family of secret a key name belongs to, whatever its spelling: `newPassword`,
 * `db_password`, `X-Amz-Security-Token`, `api-key` and `APIKey` all name a secret.
 *
 * The key is cut into words (at `_`, `-`, `.`, spaces and other punctuation, at lower→upper
 * case changes, before the last capital of a capital run followed by a lower-case letter, and
 * between letters and digits), then the words are matched whole. Matching words rather than
 * substrings is what keeps `tokenizer`, `passage`, `author` and `keyboard` visible.
 *
 * Every step is a single pass over the key: linear in its length.
 */
import { scanMeter } from './scan-meter.ts';

/** Kinds a key family reports in `sensitive`. */
export type KeyFamilyKind =
  | 'password'
  | 'secret'
  | 'token'
  | 'api_key'
  | 'authorization'
  | 'credential'
  | 'session'
  | 'cookie'
  | 'cvv'
  | 'ssn'
  | 'card'
  | 'signature';

const setOf = <T extends string>(xs: readonly T[]): ReadonlySet<string> => new Set<string>(xs);

/** Whole words that name a secret on their own. */
const WORDS = new Map<string, KeyFamilyKind>([
  ['password', 'password'],
  ['passwd', 'password'],
  ['pwd', 'password'],
  ['passphrase', 'password'],
  ['passcode', 'password'],
  ['otp', 'password'],
  ['secret', 'secret'],
  ['secrets', 'secret'],
  ['privatekey', 'secret'],
  ['token', 'token'],
  ['apikey', 'api_key'],
  ['apikeys', 'api_key'],
  ['auth', 'authorization'],
  ['authorization', 'authorization'],
  ['credential', 'credential'],
  ['credentials', 'credential'],
  ['cred', 'credential'],
  ['creds', 'credential'],
  ['session', 'session'],
  ['sessionid', 'session'],
  ['sessid', 'session'],
  ['cookie', 'cookie'],
  ['cookies', 'cookie'],
  ['cvv', 'cvv'],
  ['cvc', 'cvv'],
  ['csc', 'cvv'],
  ['cvn', 'cvv'],
  ['ssn', 'ssn'],
  ['pan', 'card'],
  ['cardnumber', 'card'],
  ['creditcard', 'card'],
  ['ccnumber', 'card'],
  ['ccnum', 'card'],
  ['signature', 'signature'],
  ['sig', 'signature'],
]);

/** Consecutive words that name a secret together (`api key`, `card number`). */
const PHRASES: ReadonlyArray<readonly [readonly string[], KeyFamilyKind]> = [
  [['api', 'key'], 'api_key'],
  [['api', 'keys'], 'api_key'],
  [['access', 'key'], 'api_key'],
  [['private', 'key'], 'secret'],
  [['signing', 'key'], 'secret'],
  [['encryption', 'key'], 'secret'],
  [['master', 'key'], 'secret'],
  [['card', 'number'], 'card'],
  [['card', 'no'], 'card'],
  [['card', 'num'], 'card'],
  [['cc', 'number'], 'card'],
  [['credit', 'card'], 'card'],
  [['security', 'code'], 'cvv'],
  [['card', 'verification'], 'cvv'],
  [['social', 'security', 'number'], 'ssn'],
  [['session', 'id'], 'session'],
];

/**
 * Words glued together in lower case (`newpassword`, `clientsecret`, `xapikey`,
 * `jsessionid`): a word that ends with one of these (and, for passwords, contains it) is in
 * the family. Only roots that no common English word ends with are listed (`session` is not:
 * `possession`).
 */
const SUFFIXES: ReadonlyArray<readonly [string, KeyFamilyKind]> = [
  ['password', 'password'],
  ['passwd', 'password'],
  ['passphrase', 'password'],
  ['secret', 'secret'],
  ['token', 'token'],
  ['apikey', 'api_key'],
  ['sessionid', 'session'],
  ['sessid', 'session'],
  ['privatekey', 'secret'],
];
const SHORTEST_SUFFIX = Math.min(...SUFFIXES.map(([root]) => root.length));

/** Phrases by their first word: most words start none, and are dismissed by one lookup. */
const PHRASES_BY_FIRST = new Map<string, Array<readonly [readonly string[], KeyFamilyKind]>>();
for (const entry of PHRASES) {
  const list = PHRASES_BY_FIRST.get(entry[0][0]) ?? [];
  list.push(entry);
  PHRASES_BY_FIRST.set(entry[0][0], list);
}

/** Roots found anywhere inside a word (`passwordhash`, `passwords`). */
const INFIXES: ReadonlyArray<readonly [string, KeyFamilyKind]> = [
  ['password', 'password'],
  ['passwd', 'password'],
];

/**
 * A last word that makes the key describe a secret rather than hold one (`token_type`,
 * `password_policy`, `session_timeout`, `auth_url`, `token_expires_at`). Applies only when the
 * family word is not itself the last word.
 */
const META_LAST_WORDS = setOf([
  'type', 'types', 'count', 'length', 'len', 'size', 'limit', 'max', 'min', 'url', 'uri',
  'endpoint', 'path', 'domain', 'name', 'names', 'provider', 'method', 'methods', 'mode',
  'ttl', 'timeout', 'expires', 'expiry', 'expiration', 'expire', 'at', 'in', 'policy',
  'enabled', 'required', 'format', 'version', 'scheme', 'location', 'strength',
]);

/** Order of precedence when a key has words of several families (`x-auth-token` is a token). */
const PRECEDENCE: readonly KeyFamilyKind[] = [
  'password', 'secret', 'api_key', 'token', 'signature', 'credential', 'cvv', 'ssn', 'card',
  'session', 'cookie', 'authorization',
];

const isUpper = (c: number): boolean => c >= 65 && c <= 90;
const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** The key's words, lower-cased. Non-ASCII letters count as separators (keys are ASCII in practice). */
export function keyWords(key: string): string[] {
  const words: string[] = [];
  let start = -1;
  const n = key.length;
  for (let i = 0; i <= n; i++) {
    scanMeter.steps++;
    const c = i < n ? key.charCodeAt(i) : 32;
    const alnum = isUpper(c) || isLower(c) || isDigit(c);
    if (!alnum) {
      if (start !== -1) words.push(key.slice(start, i).toLowerCase());
      start = -1;
      continue;
    }
    if (start === -1) {
      start = i;
      continue;
    }
    const p = key.charCodeAt(i - 1);
    const boundary =
      (isUpper(c) && (isLower(p) || isDigit(p))) ||
      (isDigit(c) !== isDigit(p)) ||
      (isUpper(c) && isUpper(p) && i + 1 < n && isLower(key.charCodeAt(i + 1)));
    if (boundary) {
      words.push(key.slice(start, i).toLowerCase());
      start = i;
    }
  }
  return words;
}

function wordKind(w: string): KeyFamilyKind | undefined {
  const exact = WORDS.get(w);
  if (exact !== undefined) return exact;
  if (w.length <= SHORTEST_SUFFIX) return undefined;
  for (const [root, kind] of SUFFIXES) if (w.length > root.length && w.endsWith(root)) return kind;
  for (const [root, kind] of INFIXES) if (w.length > root.length && w.includes(root)) return kind;
  return undefined;
}

/** The family of a key name, or undefined for a key that names no secret. */
export function keyFamily(key: string): KeyFamilyKind | undefined {
  const words = keyWords(key);
  if (words.length === 0) return undefined;
  const last = words.length - 1;
  const metaLast = words.length > 1 && META_LAST_WORDS.has(words[last]);
  let best: KeyFamilyKind | undefined;
  let bestRank = PRECEDENCE.length;
  const consider = (kind: KeyFamilyKind, endIndex: number): void => {
    // `token_type` describes a token; `type_token` or `token` holds one.
    if (metaLast && endIndex < last) return;
    const rank = PRECEDENCE.indexOf(kind);
    if (rank < bestRank) {
      best = kind;
      bestRank = rank;
    }
  };
  for (let i = 0; i < words.length; i++) {
    const k = wordKind(words[i]);
    if (k !== undefined) consider(k, i);
    const phrases = PHRASES_BY_FIRST.get(words[i]);
    if (phrases === undefined) continue;
    for (const [phrase, kind] of phrases) {
      if (i + phrase.length > words.length) continue;
      let all = true;
      for (let j = 1; j < phrase.length && all; j++) all = words[i + j] === phrase[j];
      if (all) consider(kind, i + phrase.length - 1);
    }
  }
  return best;
}
