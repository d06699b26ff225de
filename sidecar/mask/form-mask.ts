/**
 * `a=1&password=x` text (form-urlencoded bodies, URL query strings): values of sensitive keys
 * masked in place, everything else kept byte for byte. A `code` is masked too where it is an
 * OAuth authorization code (`oauth-code.ts`): `path` is the path (without its query) of the
 * call the text belongs to, when known. In a URL query (`inQuery`), a parameter named `key` is
 * an API key: the conventional name many HTTP APIs take one under (`?key=…`, Google's and
 * others whose keys have no recognisable format). Only there: in JSON, forms and Redis, `key`
 * names lookups (`{"key": "user:1"}`) and stays readable.
 */
import { MASK } from './detectors.ts';
import type { Findings } from './findings.ts';
import { keyKind } from './key-kind.ts';
import { isOAuthCodePath, isOAuthContextParam, OAUTH_CODE_PARAM } from './oauth-code.ts';
import type { MaskPolicy } from './policy.ts';
import { scanMeter } from './scan-meter.ts';

function decodeKey(raw: string): string {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    // Keep the raw key when it is not valid percent-encoding.
    return raw;
  }
}

/** The query parameter that holds an API key (compared in lower case). */
const QUERY_API_KEY_PARAM = 'key';

export function maskForm(text: string, where: string, policy: MaskPolicy, f: Findings, path?: string, inQuery = false): string {
  scanMeter.steps += text.length;
  let changed = false;
  const pairs = text.split('&');
  // Made on the first `code` (most forms and queries have none).
  let codes: number[] | undefined;
  let oauth = false;
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i];
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const key = decodeKey(pair.slice(0, eq));
    if (!oauth && isOAuthContextParam(key)) oauth = true;
    let kind = keyKind(policy, key);
    if (kind === undefined && inQuery && policy.keyFamilies && eq + 1 < pair.length && key.length === 3 && key.toLowerCase() === QUERY_API_KEY_PARAM) kind = 'api_key';
    if (kind === undefined) {
      if (key === OAUTH_CODE_PARAM && eq + 1 < pair.length) (codes ??= []).push(i);
      continue;
    }
    f.add(`${where}.${key}`, kind, true);
    pairs[i] = `${pair.slice(0, eq + 1)}${MASK}`;
    changed = true;
  }
  if (codes !== undefined && (oauth || (path !== undefined && isOAuthCodePath(path)))) {
    for (const i of codes) {
      f.add(`${where}.${OAUTH_CODE_PARAM}`, 'oauth_code', true);
      pairs[i] = `${pairs[i].slice(0, pairs[i].indexOf('=') + 1)}${MASK}`;
    }
    changed = true;
  }
  return changed ? pairs.join('&') : text;
}
