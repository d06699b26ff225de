/**
 * The kind of secret a key names under a policy: the policy's exact keys first (defaults and
 * the keys it adds), then the families (`key-families.ts`). Used for JSON keys, form and
 * multipart field names, query parameters and header names alike.
 */
import { keyFamily, keyWords } from './key-families.ts';
import { normalizeKey, type MaskPolicy, type SensitiveKind } from './policy.ts';

const CACHE_LIMIT = 4096;
/** Longer keys are looked up every time, so the cache holds at most a few hundred KiB. */
const CACHE_MAX_KEY_LENGTH = 64;
const caches = new WeakMap<MaskPolicy, Map<string, SensitiveKind | null>>();

/** True when the words of one of the policy's added keys appear, in order and adjacent, among the key's words. */
function hasExtraKey(policy: MaskPolicy, key: string): boolean {
  if (policy.extraKeyWords.length === 0) return false;
  const words = keyWords(key);
  for (const phrase of policy.extraKeyWords) {
    for (let i = 0; i + phrase.length <= words.length; i++) {
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
