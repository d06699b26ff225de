/**
 * Masking policy: options validated once, resolved against the defaults into a frozen config. Masking is on unless a policy turns it off.
 */
import { MeshtapError } from '../../lib/errors.ts';
import { SC_ERR_MASK_POLICY } from '../errors.ts';
import { keyWords, type KeyFamilyKind } from './key-families.ts';
import type { TokenKind } from './token-formats.ts';
import { compileUserPattern, PATTERN_LIMITS, type UserPattern } from './user-patterns.ts';

/** The sidecar catalog's `SC_ERR_MASK_POLICY`, under the name this module has always exported. */
export const MASK_ERR_POLICY = SC_ERR_MASK_POLICY;

/**
 * The policy's options. Validated by hand (`checkMaskOptions`), not by a schema library: the
 * policy is resolved in the capture worker of every sidecar, where loading one would cost more
 * memory than all of masking.
 */
export interface MaskPolicyOptions {
  /** Mask at all. Default true. */
  enabled?: boolean;
  /** Header names masked in addition to the defaults (case-insensitive). */
  headers?: string[];
  /**
   * Key names masked in addition to the defaults (case-, `_`- and `-`-insensitive), wherever a
   * key names a value: JSON, form and multipart fields, query parameters and header names.
   * At most 256, each 1-128 characters.
   */
  jsonKeys?: string[];
  /**
   * Match key names by family (`newPassword`, `db_password`, `x-auth-token`, `X-Amz-Signature`),
   * not only the exact default keys. Default true.
   */
  keyFamilies?: boolean;
  /** Extra patterns: `literal:TEXT` or an RE2 expression (optionally `re2:EXPR`). */
  patterns?: string[];
  /**
   * Body bytes scanned per record (request and response together). Beyond it a body is cut
   * (or shipped unscanned when `unscannedBodies` is `raw`). Default 256 KiB.
   */
  scanBudgetBytes?: number;
  /**
   * What happens to body bytes that were not scanned (a content-encoding that could not be
   * decoded, bytes past the scan budget): `cut` (default) leaves them out with a note, `raw`
   * ships them as they are.
   */
  unscannedBodies?: 'cut' | 'raw';
  /** Mask card numbers that pass Luhn. Default true. */
  maskCards?: boolean;
  /** Mask JSON Web Tokens wherever they appear. Default true. */
  maskJwts?: boolean;
  /** Report e-mail addresses in `sensitive`. Default true. */
  detectEmails?: boolean;
  /** Also mask e-mail addresses. Default false. */
  maskEmails?: boolean;
}

const BOOLEAN_OPTIONS = ['enabled', 'keyFamilies', 'maskCards', 'maskJwts', 'detectEmails', 'maskEmails'] as const;

/** String-list options: the most entries and the length range of each. */
const LIST_OPTIONS: Record<'headers' | 'jsonKeys' | 'patterns', { maxItems: number; maxLength: number }> = {
  headers: { maxItems: Infinity, maxLength: Infinity },
  jsonKeys: { maxItems: 256, maxLength: 128 },
  patterns: { maxItems: PATTERN_LIMITS.maxPatterns, maxLength: Infinity },
};

/** Every problem with `options`, as `path: message` (empty when valid). */
function checkMaskOptions(options: unknown): string[] {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return ['(policy): expected an object'];
  const o = options as Record<string, unknown>;
  const problems: string[] = [];
  const known = new Set<string>([...BOOLEAN_OPTIONS, ...Object.keys(LIST_OPTIONS), 'scanBudgetBytes', 'unscannedBodies']);
  for (const key of Object.keys(o)) if (!known.has(key)) problems.push(`(policy): unknown key "${key}"`);
  for (const key of BOOLEAN_OPTIONS) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') problems.push(`${key}: expected true or false, got ${JSON.stringify(o[key])}`);
  }
  for (const [key, limits] of Object.entries(LIST_OPTIONS)) {
    const v = o[key];
    if (v === undefined) continue;
    if (!Array.isArray(v)) {
      problems.push(`${key}: expected a list of strings`);
      continue;
    }
    if (v.length > limits.maxItems) problems.push(`${key}: expected at most ${limits.maxItems} entries, got ${v.length}`);
    v.forEach((item: unknown, i) => {
      if (typeof item !== 'string' || item.length === 0) problems.push(`${key}.${i}: expected a non-empty string`);
      else if (item.length > limits.maxLength) problems.push(`${key}.${i}: expected at most ${limits.maxLength} characters`);
    });
  }
  const budget = o.scanBudgetBytes;
  if (budget !== undefined && (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 0 || budget > 256 * 1024 * 1024)) {
    problems.push(`scanBudgetBytes: expected a whole number of bytes 0-268435456, got ${JSON.stringify(budget)}`);
  }
  if (o.unscannedBodies !== undefined && o.unscannedBodies !== 'cut' && o.unscannedBodies !== 'raw') {
    problems.push(`unscannedBodies: expected "cut" or "raw", got ${JSON.stringify(o.unscannedBodies)}`);
  }
  return problems;
}

/**
 * What a masked value was, reported in `sensitive`: a key family's kind, or a detector's
 * (`url_password`: the password of `scheme://user:password@host`; `oauth_code`: an OAuth
 * authorization code in a callback's query or a token request's form; `github_token`,
 * `slack_token`, `aws_key_id`, `stripe_key`, `google_api_key`, `gitlab_token`, `npm_token`,
 * `openai_key`, `sendgrid_key`, `google_oauth_token`: a token of that format anywhere in text; `bearer_token`: the
 * credentials after `Bearer` in text, outside an `Authorization` header; `iban`: an
 * International Bank Account Number anywhere in text, `iban.ts`; `private_key`: the material of
 * a PEM, OpenSSH, PGP or PuTTY private key anywhere in text, `private-key.ts`).
 */
export type SensitiveKind = KeyFamilyKind | TokenKind | 'iban' | 'jwt' | 'email' | 'pattern' | 'url_password' | 'oauth_code' | 'private_key';

/** What a masked value becomes (a card keeps its last four digits after it). */
export const MASK = '****';

export interface MaskPolicy {
  readonly enabled: boolean;
  /** Lower-case header name → kind. */
  readonly headers: ReadonlyMap<string, SensitiveKind>;
  /** Normalised key (see `normalizeKey`) → kind; looked up before the families. */
  readonly keys: ReadonlyMap<string, SensitiveKind>;
  readonly keyFamilies: boolean;
  /** The added keys as words (`tenant_code` → `tenant`, `code`): found inside longer keys too (`x-tenant-code`). */
  readonly extraKeyWords: ReadonlyArray<readonly string[]>;
  readonly patterns: readonly UserPattern[];
  readonly scanBudgetBytes: number;
  readonly unscannedBodies: 'cut' | 'raw';
  readonly maskCards: boolean;
  readonly maskJwts: boolean;
  readonly detectEmails: boolean;
  readonly maskEmails: boolean;
}

const DEFAULT_HEADERS: ReadonlyArray<[string, SensitiveKind]> = [
  ['authorization', 'authorization'],
  ['proxy-authorization', 'authorization'],
  // A misspelling real APIs use for `Authorization`: its scheme is kept as that one's is.
  ['authentication', 'authorization'],
  ['x-auth-token', 'token'],
  ['x-access-token', 'token'],
  ['cookie', 'cookie'],
  ['set-cookie', 'cookie'],
  ['x-api-key', 'api_key'],
];

const DEFAULT_KEYS: ReadonlyArray<[string, SensitiveKind]> = [
  ['password', 'password'],
  ['passwd', 'password'],
  ['pwd', 'password'],
  ['secret', 'secret'],
  ['clientsecret', 'secret'],
  ['privatekey', 'secret'],
  ['token', 'token'],
  ['accesstoken', 'token'],
  ['refreshtoken', 'token'],
  ['idtoken', 'token'],
  ['bearer', 'token'],
  ['apikey', 'api_key'],
  ['xapikey', 'api_key'],
  ['authorization', 'authorization'],
  ['authentication', 'authorization'],
];

/** `client_secret`, `clientSecret`, `Client-Secret` are one key. */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_.\s]/g, '');
}

/** Keys that were called something else (or are easy to guess wrong), with their name now. */
const RENAMED: Record<string, string> = {
  enable: 'enabled',
  extraHeaders: 'headers',
  headerNames: 'headers',
  keys: 'jsonKeys',
  extraKeys: 'jsonKeys',
  jsonFields: 'jsonKeys',
  cards: 'maskCards',
  jwt: 'maskJwts',
  jwts: 'maskJwts',
  emails: 'detectEmails',
  maskKeys: 'jsonKeys',
  regexes: 'patterns',
  budget: 'scanBudgetBytes',
  scanBytes: 'scanBudgetBytes',
  unscanned: 'unscannedBodies',
};

export const DEFAULT_SCAN_BUDGET_BYTES = 256 * 1024;

export function resolveMaskPolicy(options: unknown = {}): MaskPolicy {
  if (options !== null && typeof options === 'object') {
    for (const key of Object.keys(options)) {
      const now = RENAMED[key];
      if (now !== undefined) {
        throw new MeshtapError(MASK_ERR_POLICY, `mask policy: unknown key "${key}", did you mean "${now}"?`);
      }
    }
  }
  const problems = checkMaskOptions(options ?? {});
  if (problems.length > 0) throw new MeshtapError(MASK_ERR_POLICY, `mask policy: ${problems.join('; ')}`);
  const o = (options ?? {}) as MaskPolicyOptions;
  const headers = new Map<string, SensitiveKind>(DEFAULT_HEADERS);
  for (const h of o.headers ?? []) if (!headers.has(h.toLowerCase())) headers.set(h.toLowerCase(), 'secret');
  const keys = new Map<string, SensitiveKind>(DEFAULT_KEYS);
  for (const k of o.jsonKeys ?? []) if (!keys.has(normalizeKey(k))) keys.set(normalizeKey(k), 'secret');
  const patterns = (o.patterns ?? []).map((entry, i) => {
    try {
      return compileUserPattern(entry);
    } catch (err) {
      throw new MeshtapError(MASK_ERR_POLICY, `mask policy: patterns.${i}: ${(err as Error).message}`, { cause: err });
    }
  });
  return Object.freeze({
    enabled: o.enabled ?? true,
    headers,
    keys,
    keyFamilies: o.keyFamilies ?? true,
    extraKeyWords: Object.freeze((o.jsonKeys ?? []).map((k) => Object.freeze(keyWords(k))).filter((w) => w.length > 0)),
    patterns: Object.freeze(patterns),
    scanBudgetBytes: o.scanBudgetBytes ?? DEFAULT_SCAN_BUDGET_BYTES,
    unscannedBodies: o.unscannedBodies ?? 'cut',
    maskCards: o.maskCards ?? true,
    maskJwts: o.maskJwts ?? true,
    detectEmails: o.detectEmails ?? true,
    maskEmails: o.maskEmails ?? false,
  });
}

export const DEFAULT_MASK_POLICY: MaskPolicy = resolveMaskPolicy();
