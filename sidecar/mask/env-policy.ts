/**
 * The masking policy from the sidecar's environment. The webhook sets `MESHTAP_MASK_KEYS` from
 * the pod annotation `meshtap.io/mask-keys`; the other variables are set on the sidecar
 * container (or by an injector config) directly.
 *
 * - `MESHTAP_MASK_KEYS`: key names to mask in addition to the defaults, comma-separated
 *   (`pin,otpCode,x-tenant-secret`); matched like the defaults, ignoring case, `_`, `-`, `.`.
 * - `MESHTAP_MASK_HEADERS`: header names whose values are masked, comma-separated.
 * - `MESHTAP_MASK_PATTERNS`: one pattern per line: `literal:TEXT`, or an RE2 expression
 *   (optionally `re2:EXPR`) that masks every token it matches in.
 * - `MESHTAP_MASK_SCAN_BYTES`: body bytes scanned per record (default the larger of 256 KiB
 *   and two bodies at the body limit).
 * - `MESHTAP_MASK_UNSCANNED`: `cut` (default) or `raw`, for body bytes that were not scanned.
 *
 * Pure: takes the variables as a record, returns the options or the problems, each naming
 * its variable.
 */
import { MeshtapError } from '../../lib/errors.ts';
import { DEFAULT_SCAN_BUDGET_BYTES, MASK_ERR_POLICY, resolveMaskPolicy, type MaskPolicy, type MaskPolicyOptions } from './policy.ts';
import { compileUserPattern, PATTERN_LIMITS } from './user-patterns.ts';

export const MASK_ENV_VARS = ['MESHTAP_MASK_KEYS', 'MESHTAP_MASK_HEADERS', 'MESHTAP_MASK_PATTERNS', 'MESHTAP_MASK_SCAN_BYTES', 'MESHTAP_MASK_UNSCANNED'] as const;
export type MaskEnv = Partial<Record<(typeof MASK_ENV_VARS)[number], string>>;

export interface MaskEnvProblem {
  name: (typeof MASK_ENV_VARS)[number];
  message: string;
}

const KEY_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const MAX_SCAN_BYTES = 256 * 1024 * 1024;

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Variables → policy options, plus every problem found (none means the options are valid). */
export function maskOptionsFromEnv(env: MaskEnv, maxBodyBytes = 0): { options: MaskPolicyOptions; problems: MaskEnvProblem[] } {
  const problems: MaskEnvProblem[] = [];
  const options: MaskPolicyOptions = {};

  const keys = list(env.MESHTAP_MASK_KEYS);
  for (const k of keys) {
    if (!KEY_NAME.test(k)) problems.push({ name: 'MESHTAP_MASK_KEYS', message: `"${k}" is not a key name (1-128 letters, digits, "_", ".", ":" or "-"; separate names with commas)` });
  }
  if (keys.length > 0) options.jsonKeys = keys;

  const headers = list(env.MESHTAP_MASK_HEADERS);
  for (const h of headers) {
    if (!HEADER_NAME.test(h)) problems.push({ name: 'MESHTAP_MASK_HEADERS', message: `"${h}" is not an HTTP header name (separate names with commas)` });
  }
  if (headers.length > 0) options.headers = headers;

  const patterns = (env.MESHTAP_MASK_PATTERNS ?? '').split('\n').map((s) => s.trim()).filter((s) => s !== '');
  if (patterns.length > PATTERN_LIMITS.maxPatterns) {
    problems.push({ name: 'MESHTAP_MASK_PATTERNS', message: `${patterns.length} patterns, more than the limit of ${PATTERN_LIMITS.maxPatterns}` });
  }
  patterns.forEach((p, i) => {
    try {
      compileUserPattern(p);
    } catch (err) {
      problems.push({ name: 'MESHTAP_MASK_PATTERNS', message: `line ${i + 1}: ${(err as Error).message} (one pattern per line: literal:TEXT or an RE2 expression)` });
    }
  });
  if (patterns.length > 0) options.patterns = patterns;

  const scan = env.MESHTAP_MASK_SCAN_BYTES?.trim();
  if (scan !== undefined && scan !== '') {
    const n = /^\d{1,9}$/.test(scan) ? Number(scan) : NaN;
    if (!(n >= 0 && n <= MAX_SCAN_BYTES)) problems.push({ name: 'MESHTAP_MASK_SCAN_BYTES', message: `expected a number of bytes 0-${MAX_SCAN_BYTES}` });
    else options.scanBudgetBytes = n;
  } else {
    // Raising the body limit should not quietly cut bodies at the scan budget.
    options.scanBudgetBytes = Math.min(MAX_SCAN_BYTES, Math.max(DEFAULT_SCAN_BUDGET_BYTES, 2 * maxBodyBytes));
  }

  const unscanned = env.MESHTAP_MASK_UNSCANNED?.trim();
  if (unscanned !== undefined && unscanned !== '') {
    if (unscanned === 'cut' || unscanned === 'raw') options.unscannedBodies = unscanned;
    else problems.push({ name: 'MESHTAP_MASK_UNSCANNED', message: 'expected one of cut, raw' });
  }
  return { options, problems };
}

/** Variables → policy; throws `SC_ERR_MASK_POLICY` naming each bad variable and its value. */
export function resolveMaskPolicyFromEnv(env: MaskEnv, maxBodyBytes = 0): MaskPolicy {
  const { options, problems } = maskOptionsFromEnv(env, maxBodyBytes);
  if (problems.length > 0) {
    throw new MeshtapError(MASK_ERR_POLICY, problems.map((p) => `${p.name}="${env[p.name] ?? ''}": ${p.message}`).join('; '));
  }
  return resolveMaskPolicy(options);
}
