/**
 * `a=1&password=x` text (form-urlencoded bodies, URL query strings): values of sensitive keys
 * masked in place, everything else kept byte for byte.
 */
import { MASK } from './detectors.ts';
import type { Findings } from './findings.ts';
import { keyKind } from './key-kind.ts';
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

export function maskForm(text: string, where: string, policy: MaskPolicy, f: Findings): string {
  scanMeter.steps += text.length;
  let changed = false;
  const pairs = text.split('&');
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i];
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const key = decodeKey(pair.slice(0, eq));
    const kind = keyKind(policy, key);
    if (kind === undefined) continue;
    f.add(`${where}.${key}`, kind, true);
    pairs[i] = `${pair.slice(0, eq + 1)}${MASK}`;
    changed = true;
  }
  return changed ? pairs.join('&') : text;
}
