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
  ['pass', 'password'],
  ['pin', 'password'],
  ['pincode', 'password'],
  // One-time codes (see `ONE_TIME_CODES`): what the user types from an SMS, an app or a list.
  ['otp', 'password'],
  ['totp', 'password'],
  ['hotp', 'password'],
  ['secret', 'secret'],
  ['secrets', 'secret'],
  ['privatekey', 'secret'],
  ['token', 'token'],
  // `{"bearer": "…"}`: the credentials of the Bearer scheme.
  ['bearer', 'token'],
  ['apikey', 'api_key'],
  ['apikeys', 'api_key'],
  ['auth', 'authorization'],
  ['authorization', 'authorization'],
  // The `Authentication` header some APIs take for `Authorization`.
  ['authentication', 'authorization'],
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
  // A message authentication code (`X-Hmac`, `hmac=…`): a signature made with a shared secret.
  ['hmac', 'signature'],
]);

/**
 * One-time codes: a second factor (`mfa_code`, `totp`, `2fa_code`, `otp_code`), a code sent to
 * prove an address (`verification_code`) and the codes kept for a lost device (`recovery_code`,
 * `backup_codes`). Passwords for a moment, of the kind `otp` has. `code` alone is no secret (an
 * OAuth authorization code is `oauth-code.ts`'s), nor are the codes that only name something:
 * `zip_code`, `country_code`, `status_code`, `error_code`, `promo_code`. `2fa` is cut into `2`
 * and `fa` by `keyWords`; `mfa` and `2fa` alone are not codes (they are usually flags).
 */
const ONE_TIME_CODES: ReadonlyArray<readonly string[]> = [
  ['otp', 'code'],
  ['totp', 'code'],
  ['hotp', 'code'],
  ['mfa', 'code'],
  ['2', 'fa', 'code'],
  ['two', 'factor', 'code'],
  ['verification', 'code'],
  ['recovery', 'code'],
  ['backup', 'code'],
].flatMap((words) => [words, [...words.slice(0, -1), 'codes']]);

/** Consecutive words that name a secret together (`api key`, `card number`). */
const PHRASES: ReadonlyArray<readonly [readonly string[], KeyFamilyKind]> = [
  ...ONE_TIME_CODES.map((words) => [words, 'password'] as const),
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
  'enabled', 'required', 'format', 'version', 'scheme', 'location', 'strength', 'attempts',
  'remaining',
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

/**
 * The family of a key name, or undefined for a key that names no secret. `lastWord`: only a
 * family word (or phrase) that ends the key counts (`reset_token`, `api_key`, but not
 * `password_hash`): for names of stored data (Redis keys), where the last word says what the
 * value is.
 */
export function keyFamily(key: string, lastWord = false): KeyFamilyKind | undefined {
  const words = keyWords(key);
  if (words.length === 0) return undefined;
  const last = words.length - 1;
  const metaLast = words.length > 1 && META_LAST_WORDS.has(words[last]);
  let best: KeyFamilyKind | undefined;
  let bestRank = PRECEDENCE.length;
  const consider = (kind: KeyFamilyKind, endIndex: number): void => {
    // `token_type` describes a token; `type_token` or `token` holds one.
    if ((metaLast || lastWord) && endIndex < last) return;
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

/**
 * Roots a family word may end with or hold inside a longer word (`newpassword`, `authtoken`), any
 * case; and `2fa` with anything but a letter or digit between its `2` and `fa` (`2-FA-code`).
 * Expressions: the gap cannot hold the `f` after it, so none gives back characters.
 */
const GLUED_ROOTS = ['passw', 'passphrase', 'secret', 'token', 'apikey', 'sessid', 'sessionid', 'privatekey', '2[^a-z0-9]*fa'];

/** Where every other family word (or phrase) starts: a word of its own. */
const WORD_STARTS = [
  'pass', 'pwd', 'otp', 'totp', 'hotp', 'mfa', 'two', 'verif', 'recover', 'backup', 'key', 'auth', 'bearer', 'cred', 'sess', 'cookie',
  'cvv', 'cvc', 'cvn', 'csc', 'ssn', 'pan', 'card', 'cc', 'sig', 'pin', 'secur', 'hmac',
];
const capitalized = (w: string): string => w[0].toUpperCase() + w.slice(1);
/**
 * A stem at the start of a word as `keyWords` cuts them: lower case after no letter (`db_pin`,
 * `x2pin`), capitalized anywhere (`userPin`, `APIKey`), upper case after no capital (`USER_PIN`,
 * `userPIN`). `shipping`, `company`, `design` hold no such start.
 */
const STARTING_STEMS = new RegExp(
  `(?<![A-Za-z])(?:${WORD_STARTS.join('|')})|(?:${WORD_STARTS.map(capitalized).join('|')})|(?<![A-Z])(?:${WORD_STARTS.map((w) => w.toUpperCase()).join('|')})`,
);

/**
 * A test of whether text may name a key of some family: true for every key `keyFamily` places
 * (a test holds it to that), false for most text that names none; `alsoAnywhere`: more words
 * to look for in any case (SQL's `identified`). For scanners of text that is not key/value
 * pairs (SQL statements, Redis key names), to skip at the cost of two native searches what a
 * family could not match. Neither expression nests or repeats: linear.
 */
export function familyMatcher(alsoAnywhere: readonly string[] = []): (text: string) => boolean {
  const glued = new RegExp([...GLUED_ROOTS, ...alsoAnywhere].join('|'), 'i');
  return (text) => STARTING_STEMS.test(text) || glued.test(text);
}

export const mayNameFamily = familyMatcher();

/** Every word, phrase (as `api_key`) and root the families match, for testing `mayNameFamily` against. */
export function familyVocabulary(): string[] {
  return [...WORDS.keys(), ...PHRASES.map(([p]) => p.join('_')), ...SUFFIXES.map(([r]) => r), ...INFIXES.map(([r]) => r)];
}
