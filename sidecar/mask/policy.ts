/**
 * Masking policy: options validated once by one zod schema, resolved against the defaults into
 * a frozen config. Masking is on unless a policy turns it off.
 */
import { z } from 'zod';
import { MeshtapError } from '../../lib/errors.ts';
import { SC_ERR_MASK_POLICY } from '../errors.ts';

/** The sidecar catalog's `SC_ERR_MASK_POLICY`, under the name this module has always exported. */
export const MASK_ERR_POLICY = SC_ERR_MASK_POLICY;

export const MaskPolicyOptionsSchema = z.strictObject({
  /** Mask at all. Default true. */
  enabled: z.boolean().optional(),
  /** Header names masked in addition to the defaults (case-insensitive). */
  headers: z.array(z.string().min(1)).optional(),
  /** JSON / form keys masked in addition to the defaults (case-, `_`- and `-`-insensitive). */
  jsonKeys: z.array(z.string().min(1)).optional(),
  /** Mask card numbers that pass Luhn. Default true. */
  maskCards: z.boolean().optional(),
  /** Mask JSON Web Tokens wherever they appear. Default true. */
  maskJwts: z.boolean().optional(),
  /** Report e-mail addresses in `sensitive`. Default true. */
  detectEmails: z.boolean().optional(),
  /** Also mask e-mail addresses. Default false. */
  maskEmails: z.boolean().optional(),
});

export type MaskPolicyOptions = z.input<typeof MaskPolicyOptionsSchema>;

/** What a masked value was, reported in `sensitive`. */
export type SensitiveKind = 'authorization' | 'cookie' | 'api_key' | 'password' | 'token' | 'secret' | 'jwt' | 'card' | 'email';

export interface MaskPolicy {
  readonly enabled: boolean;
  /** Lower-case header name → kind. */
  readonly headers: ReadonlyMap<string, SensitiveKind>;
  /** Normalised key (see `normalizeKey`) → kind. */
  readonly keys: ReadonlyMap<string, SensitiveKind>;
  readonly maskCards: boolean;
  readonly maskJwts: boolean;
  readonly detectEmails: boolean;
  readonly maskEmails: boolean;
}

const DEFAULT_HEADERS: ReadonlyArray<[string, SensitiveKind]> = [
  ['authorization', 'authorization'],
  ['proxy-authorization', 'authorization'],
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
  ['apikey', 'api_key'],
  ['xapikey', 'api_key'],
  ['authorization', 'authorization'],
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
};

export function resolveMaskPolicy(options: unknown = {}): MaskPolicy {
  if (options !== null && typeof options === 'object') {
    for (const key of Object.keys(options)) {
      const now = RENAMED[key];
      if (now !== undefined) {
        throw new MeshtapError(MASK_ERR_POLICY, `mask policy: unknown key "${key}", did you mean "${now}"?`);
      }
    }
  }
  const parsed = MaskPolicyOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(policy)'}: ${i.message}`).join('; ');
    throw new MeshtapError(MASK_ERR_POLICY, `mask policy: ${issues}`, { cause: parsed.error });
  }
  const o = parsed.data;
  const headers = new Map<string, SensitiveKind>(DEFAULT_HEADERS);
  for (const h of o.headers ?? []) if (!headers.has(h.toLowerCase())) headers.set(h.toLowerCase(), 'secret');
  const keys = new Map<string, SensitiveKind>(DEFAULT_KEYS);
  for (const k of o.jsonKeys ?? []) if (!keys.has(normalizeKey(k))) keys.set(normalizeKey(k), 'secret');
  return Object.freeze({
    enabled: o.enabled ?? true,
    headers,
    keys,
    maskCards: o.maskCards ?? true,
    maskJwts: o.maskJwts ?? true,
    detectEmails: o.detectEmails ?? true,
    maskEmails: o.maskEmails ?? false,
  });
}

export const DEFAULT_MASK_POLICY: MaskPolicy = resolveMaskPolicy();
