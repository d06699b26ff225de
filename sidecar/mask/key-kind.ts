/**
 * The kind of secret a key names under a policy: the policy's exact keys first (defaults and
 * the keys it adds), then the families (`key-families.ts`), then the added keys' words inside
 * longer keys. Used for JSON keys, form and multipart field names, query parameters and header
 * names alike, for SQL column names and Redis field names; `storedNameKind` for Redis key names,
 * and `namePrefilter` for text that is not key/value pairs (SQL statements, Redis key names).
 */
import { familyMatcher, keyFamily, keyWords } from './key-families.ts';
import { DEFAULT_MASK_POLICY, normalizeKey, type MaskPolicy, type SensitiveKind } from './policy.ts';

const CACHE_LIMIT = 4096;
/** Longer keys are looked up every time, so the cache holds at most a few hundred KiB. */
const CACHE_MAX_KEY_LENGTH = 64;
const caches = new WeakMap<MaskPolicy, Map<string, SensitiveKind | null>>();

/**
 * True when the words of one of the policy's added keys appear, in order and adjacent, among the
 * key's words; `lastWord`: only where they end the key.
 */
function hasExtraKey(policy: MaskPolicy, key: string, lastWord = false): boolean {
  if (policy.extraKeyWords.length === 0) return false;
  const words = keyWords(key);
  for (const phrase of policy.extraKeyWords) {
    for (let i = lastWord ? Math.max(0, words.length - phrase.length) : 0; i + phrase.length <= words.length; i++) {
      let all = true;
      for (let j = 0; j < phrase.length && all; j++) all = words[i + j] === phrase[j];
      if (all) return true;
    }
  }
  return false;
}

function lookup(policy: MaskPolicy, key: string): SensitiveKind | undefined {
  return (
    policy.keys.get(normalizeKey(key)) ?? (policy.keyFamilies ? keyFamily(key) : undefined) ?? (hasExtraKey(policy, key) ? 'secret' : undefined)
  );
}

/**
 * Documents repeat the same keys record after record, so the answer is remembered per policy
 * (short keys only, cleared when it grows past the limit).
 */
export function keyKind(policy: MaskPolicy, key: string): SensitiveKind | undefined {
  if (key.length > CACHE_MAX_KEY_LENGTH) return lookup(policy, key);
  let cache = caches.get(policy);
  if (cache === undefined) {
    cache = new Map();
    caches.set(policy, cache);
  }
  const known = cache.get(key);
  if (known !== undefined) return known ?? undefined;
  const kind = lookup(policy, key);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, kind ?? null);
  return kind;
}

/**
 * True when the policy names secrets exactly as the default does (families on, no added keys):
 * the scanners then take the default's ways, unchanged.
 */
export function hasDefaultNames(policy: MaskPolicy): boolean {
  return policy.keyFamilies && policy.extraKeyWords.length === 0 && policy.keys.size === DEFAULT_MASK_POLICY.keys.size;
}

/**
 * The kind of the value a name of stored data holds (a Redis key's last segment): like
 * `keyKind`, but a family word or an added key counts only where it ends the name
 * (`user_password`, not `password_policy`), since the last word says what the value is.
 */
export function storedNameKind(policy: MaskPolicy, name: string): SensitiveKind | undefined {
  if (hasDefaultNames(policy)) return keyFamily(name, true);
  return (
    policy.keys.get(normalizeKey(name)) ??
    (policy.keyFamilies ? keyFamily(name, true) : undefined) ??
    (hasExtraKey(policy, name, true) ? 'secret' : undefined)
  );
}

/** Between two letters or digits of a key, a name may hold any run of other characters (`s_s_n`, `tenant:code`). */
const GAP = '[^A-Za-z0-9]*';

/** A key spelled as an expression: its ASCII letters and digits in order, anything else between them; undefined when it has none. */
function spelled(key: string): string | undefined {
  const chars: string[] = [];
  for (const c of key) if (/[A-Za-z0-9]/.test(c)) chars.push(c);
  return chars.length === 0 ? undefined : chars.join(GAP);
}

/** The prefilter of one policy (see `namePrefilter`). */
function buildPrefilter(policy: MaskPolicy, alsoAnywhere: readonly string[], families: (text: string) => boolean): (text: string) => boolean {
  // With families on, the default keys are left to them, as under the default policy.
  const keys = [...policy.keys.keys()].filter((k) => !policy.keyFamilies || !DEFAULT_MASK_POLICY.keys.has(k));
  const alternatives = new Set<string>(alsoAnywhere);
  for (const key of [...keys, ...policy.extraKeyWords.map((words) => words.join(''))]) {
    const expr = spelled(key);
    // A key of no ASCII letter or digit may be spelled any way: every text is looked at.
    if (expr === undefined) return () => true;
    alternatives.add(expr);
  }
  const names = new RegExp([...alternatives].join('|'), 'i');
  if (!policy.keyFamilies) return (text) => names.test(text);
  return (text) => families(text) || names.test(text);
}

/**
 * The policy's `familyMatcher`: a test of whether text may name a key the policy masks, for
 * scanners of text that is not key/value pairs, to skip what no name could match. Built once
 * per policy (the returned function keeps them): with the default names it is
 * `familyMatcher(alsoAnywhere)` itself; otherwise it also finds every spelling `keyKind` and
 * `storedNameKind` accept of the keys the policy adds (with `keyFamilies: false`: of all its
 * exact keys, defaults included, and the families are not looked for). `alsoAnywhere`: words
 * looked for in any case under every policy (SQL's `identified`). Each added alternative is a
 * key's letters in order with a gap between them, and a gap cannot hold the letter after it:
 * giving back a gap's characters fails at once, so the test stays linear in the text.
 */
export function namePrefilter(alsoAnywhere: readonly string[] = []): (policy: MaskPolicy) => (text: string) => boolean {
  const families = familyMatcher(alsoAnywhere);
  const built = new WeakMap<MaskPolicy, (text: string) => boolean>();
  return (policy) => {
    if (hasDefaultNames(policy)) return families;
    let test = built.get(policy);
    if (test === undefined) {
      test = buildPrefilter(policy, alsoAnywhere, families);
      built.set(policy, test);
    }
    return test;
  };
}
