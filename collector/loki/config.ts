/**
 * The Loki output's configuration. One zod schema gives the type and the runtime check;
 * values come from options given in code (flags), then the environment, then defaults.
 * The output is off when no URL is given.
 */
import { z } from 'zod';
import { MeshtapError } from '../../lib/errors.ts';
import { COL_ERR_CONFIG } from '../errors.ts';
import { DEFAULT_MAX_LINE_BYTES } from './line.ts';

export const LOKI_PUSH_PATH = '/loki/api/v1/push';
export const LOKI_ENCODINGS = ['protobuf', 'json'] as const;

const KIB = 1024;
const MIB = 1024 * KIB;

/** Defaults, in one place so `--help` and the docs can show them. */
export const LOKI_DEFAULTS = Object.freeze({
  encoding: 'protobuf' as (typeof LOKI_ENCODINGS)[number],
  clusterName: 'meshtap',
  batchBytes: 1 * MIB,
  batchWaitMs: 1000,
  /** About 30 s of pushes at 1 MiB/s, held while Loki is briefly away. */
  maxQueueBytes: 32 * MIB,
  maxLineBytes: DEFAULT_MAX_LINE_BYTES,
  timeoutMs: 10_000,
  minBackoffMs: 500,
  maxBackoffMs: 30_000,
  maxRetries: 10,
  /** A batch gives up after this long even with retries left, so one outage cannot hold the queue forever. */
  maxRetryMs: 120_000,
});

/** Option key → environment variable. */
export const LOKI_ENV = Object.freeze({
  url: 'MESHTAP_LOKI_URL',
  tenant: 'MESHTAP_LOKI_TENANT',
  encoding: 'MESHTAP_LOKI_ENCODING',
  clusterName: 'MESHTAP_CLUSTER_NAME',
  username: 'MESHTAP_LOKI_USERNAME',
  password: 'MESHTAP_LOKI_PASSWORD',
  bearerToken: 'MESHTAP_LOKI_BEARER_TOKEN',
  batchBytes: 'MESHTAP_LOKI_BATCH_BYTES',
  batchWaitMs: 'MESHTAP_LOKI_BATCH_WAIT_MS',
  maxQueueBytes: 'MESHTAP_LOKI_MAX_QUEUE_BYTES',
  maxLineBytes: 'MESHTAP_LOKI_MAX_LINE_BYTES',
  timeoutMs: 'MESHTAP_LOKI_TIMEOUT_MS',
  minBackoffMs: 'MESHTAP_LOKI_MIN_BACKOFF_MS',
  maxBackoffMs: 'MESHTAP_LOKI_MAX_BACKOFF_MS',
  maxRetries: 'MESHTAP_LOKI_MAX_RETRIES',
  maxRetryMs: 'MESHTAP_LOKI_MAX_RETRY_MS',
});

export const LOKI_ENV_VARS: readonly string[] = Object.freeze(Object.values(LOKI_ENV));

const SECRET_KEYS = new Set(['password', 'bearerToken']);

/** Accepts `1048576`, `1MiB`, `512 KiB`, `2MB` (strings from the environment) or a number. */
function parseSize(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const m = /^(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i.exec(value.trim());
  if (!m) return value;
  const units: Record<string, number> = { b: 1, kb: 1000, kib: KIB, mb: 1000 * 1000, mib: MIB, gb: 1e9, gib: 1024 * MIB };
  return Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()];
}

function parseInteger(value: unknown): unknown {
  return typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
}

function size(min: number, max: number) {
  return z.preprocess(
    parseSize,
    z.number({ error: `expected a size in bytes ${min}-${max} (suffixes KiB, MiB allowed)` }).int().min(min).max(max),
  );
}

function integer(min: number, max: number, unit: string) {
  return z.preprocess(parseInteger, z.number({ error: `expected ${unit} ${min}-${max}` }).int().min(min).max(max));
}

/** Loki tenant ids: up to 150 characters from this set (Loki's own rule). */
const TENANT = /^[A-Za-z0-9!\-_.*'()]{1,150}$/;
/** A cluster name becomes a label value, so keep it to a DNS-label-like alphabet. */
const CLUSTER = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

export const lokiOptionsSchema = z
  .object({
    url: z.string({ error: 'expected a URL like http://loki:3100' }),
    tenant: z.string().regex(TENANT, { error: "expected a Loki tenant id (1-150 of A-Z a-z 0-9 ! - _ . * ' ( ))" }).optional(),
    encoding: z.enum(LOKI_ENCODINGS, { error: `expected one of ${LOKI_ENCODINGS.join(', ')}` }).default(LOKI_DEFAULTS.encoding),
    clusterName: z
      .string()
      .regex(CLUSTER, { error: 'expected a name of letters, digits, ".", "_" or "-", at most 63 characters' })
      .default(LOKI_DEFAULTS.clusterName),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    bearerToken: z
      .string()
      .regex(/^[\x21-\x7e]+$/, { error: 'expected a token of printable ASCII without spaces' })
      .optional(),
    batchBytes: size(1 * KIB, 64 * MIB).default(LOKI_DEFAULTS.batchBytes),
    batchWaitMs: integer(1, 60_000, 'milliseconds').default(LOKI_DEFAULTS.batchWaitMs),
    maxQueueBytes: size(1 * KIB, 4096 * MIB).default(LOKI_DEFAULTS.maxQueueBytes),
    maxLineBytes: size(4 * KIB, 64 * MIB).default(LOKI_DEFAULTS.maxLineBytes),
    timeoutMs: integer(100, 600_000, 'milliseconds').default(LOKI_DEFAULTS.timeoutMs),
    minBackoffMs: integer(1, 600_000, 'milliseconds').default(LOKI_DEFAULTS.minBackoffMs),
    maxBackoffMs: integer(1, 3_600_000, 'milliseconds').default(LOKI_DEFAULTS.maxBackoffMs),
    maxRetries: integer(0, 1000, 'a count').default(LOKI_DEFAULTS.maxRetries),
    maxRetryMs: integer(0, 86_400_000, 'milliseconds').default(LOKI_DEFAULTS.maxRetryMs),
  })
  .transform((o, ctx) => {
    let parsed: URL;
    try {
      parsed = new URL(o.url);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'expected an absolute http(s) URL like http://loki:3100' });
      return z.NEVER;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', path: ['url'], message: `expected an http or https URL, got scheme ${parsed.protocol}` });
      return z.NEVER;
    }
    // fetch refuses URLs with credentials: move them to basic auth.
    let username = o.username;
    let password = o.password;
    if (parsed.username !== '' || parsed.password !== '') {
      username ??= decodeURIComponent(parsed.username);
      password ??= decodeURIComponent(parsed.password);
      parsed.username = '';
      parsed.password = '';
    }
    parsed.hash = '';
    const base = parsed.pathname.replace(/\/+$/, '');
    parsed.pathname = base.endsWith(LOKI_PUSH_PATH) ? base : base + LOKI_PUSH_PATH;
    if ((username === undefined) !== (password === undefined)) {
      ctx.addIssue({ code: 'custom', path: [username === undefined ? 'username' : 'password'], message: 'expected username and password together' });
      return z.NEVER;
    }
    if (username !== undefined && o.bearerToken !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['bearerToken'], message: 'expected either basic auth or a bearer token, not both' });
      return z.NEVER;
    }
    if (o.maxQueueBytes < o.batchBytes) {
      ctx.addIssue({ code: 'custom', path: ['maxQueueBytes'], message: `expected at least the batch size (${o.batchBytes})` });
      return z.NEVER;
    }
    if (o.maxBackoffMs < o.minBackoffMs) {
      ctx.addIssue({ code: 'custom', path: ['maxBackoffMs'], message: `expected at least the minimum backoff (${o.minBackoffMs})` });
      return z.NEVER;
    }
    const { url: _url, username: _u, password: _p, ...rest } = o;
    return {
      ...rest,
      pushUrl: parsed.toString(),
      basicAuth: username !== undefined && password !== undefined ? { username, password } : undefined,
    };
  });

export type LokiOptions = z.input<typeof lokiOptionsSchema>;
export type LokiConfig = Readonly<z.output<typeof lokiOptionsSchema>>;

function describeValue(key: string, value: unknown): string {
  if (SECRET_KEYS.has(key)) return '(hidden)';
  if (key === 'url' && typeof value === 'string') return JSON.stringify(value.replace(/\/\/[^/@]*@/, '//(credentials)@'));
  return JSON.stringify(value);
}

/**
 * Options in code (flags) → environment → defaults; frozen. Returns undefined when no URL is
 * set anywhere (the output is off). Empty variables count as unset. Throws
 * `MeshtapError(COL_ERR_CONFIG)` naming each bad variable, its value and what was expected.
 */
export function resolveLokiConfig(
  env: Record<string, string | undefined>,
  options: Partial<Record<keyof typeof LOKI_ENV, unknown>> = {},
): LokiConfig | undefined {
  const input: Record<string, unknown> = {};
  const fromEnv = new Set<string>();
  for (const [key, variable] of Object.entries(LOKI_ENV)) {
    const given = options[key as keyof typeof LOKI_ENV];
    if (given !== undefined) {
      input[key] = given;
      continue;
    }
    const value = env[variable];
    if (value !== undefined && value.trim() !== '') {
      input[key] = value.trim();
      fromEnv.add(key);
    }
  }
  if (input.url === undefined) return undefined;
  const parsed = lokiOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? 'url');
      const name = fromEnv.has(key) || !(key in input) ? (LOKI_ENV[key as keyof typeof LOKI_ENV] ?? key) : `option ${key}`;
      return key in input ? `${name}=${describeValue(key, input[key])}: ${issue.message}` : `${name}: ${issue.message}`;
    });
    throw new MeshtapError(COL_ERR_CONFIG, problems.join('; '));
  }
  const config = parsed.data;
  if (config.basicAuth) Object.freeze(config.basicAuth);
  return Object.freeze(config);
}

/** The config for a startup log line: secrets hidden. */
export function describeLokiConfig(config: LokiConfig): Record<string, unknown> {
  return {
    ...config,
    basicAuth: config.basicAuth ? { username: config.basicAuth.username, password: '(hidden)' } : undefined,
    bearerToken: config.bearerToken === undefined ? undefined : '(hidden)',
  };
}
