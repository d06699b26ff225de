import { z } from 'zod';
import { MeshtapError } from '../lib/errors.ts';
import { CLI_ERR_USAGE, parsePort } from '../lib/cli.ts';
import { COL_ERR_CONFIG } from './errors.ts';

export const DEFAULT_GRPC_PORT = 9400;
export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_MAX_RECORDS = 10_000;

const port = () => z.number().int().min(0).max(65535);

export const collectorOptionsSchema = z.strictObject({
  host: z.string().min(1).default('0.0.0.0'),
  grpcPort: port().default(DEFAULT_GRPC_PORT),
  httpPort: port().default(DEFAULT_HTTP_PORT),
  /** How many records the in-memory store keeps (the newest). */
  maxRecords: z.number().int().positive().default(DEFAULT_MAX_RECORDS),
  store: z.enum(['memory', 'sqlite']).default('memory'),
  /** SQLite database file (`store: sqlite`); `:memory:` keeps it in memory. */
  dbPath: z.string().min(1).default('meshtap.db'),
});

export type CollectorOptions = z.input<typeof collectorOptionsSchema>;
export type CollectorConfig = Readonly<z.output<typeof collectorOptionsSchema>>;

export function resolveCollectorOptions(options: CollectorOptions): CollectorConfig {
  const parsed = collectorOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`);
    throw new MeshtapError(COL_ERR_CONFIG, `invalid collector options: ${problems.join('; ')}`);
  }
  return Object.freeze(parsed.data);
}

/** Command-line values as parseArgs returns them. */
export interface CollectorFlags {
  host?: string;
  'grpc-port'?: string;
  'http-port'?: string;
  'max-records'?: string;
  store?: string;
  db?: string;
}

function pick(flag: string | undefined, env: string | undefined): [string | undefined, 'flag' | 'env'] {
  return flag !== undefined ? [flag, 'flag'] : [env !== undefined && env !== '' ? env : undefined, 'env'];
}

/** Flags, then MESHTAP_COLLECTOR_* environment variables, then defaults; a bad value names its source. */
export function resolveCollectorConfig(flags: CollectorFlags, env: NodeJS.ProcessEnv): CollectorConfig {
  const options: Record<string, unknown> = {};
  const [host] = pick(flags.host, env.MESHTAP_COLLECTOR_HOST);
  if (host !== undefined) options.host = host;

  const ports = [
    ['grpcPort', 'grpc-port', 'MESHTAP_COLLECTOR_GRPC_PORT', DEFAULT_GRPC_PORT],
    ['httpPort', 'http-port', 'MESHTAP_COLLECTOR_HTTP_PORT', DEFAULT_HTTP_PORT],
  ] as const;
  for (const [key, flag, envName, fallback] of ports) {
    const [value, source] = pick(flags[flag], env[envName]);
    options[key] = parsePort(source === 'flag' ? `--${flag}` : envName, value, fallback);
  }

  const [maxRecords, maxSource] = pick(flags['max-records'], env.MESHTAP_COLLECTOR_MAX_RECORDS);
  if (maxRecords !== undefined) {
    const name = maxSource === 'flag' ? '--max-records' : 'MESHTAP_COLLECTOR_MAX_RECORDS';
    if (!/^\d+$/.test(maxRecords) || Number(maxRecords) < 1 || !Number.isSafeInteger(Number(maxRecords))) {
      throw new MeshtapError(CLI_ERR_USAGE, `${name} must be a positive integer, got "${maxRecords}"`);
    }
    options.maxRecords = Number(maxRecords);
  }

  const [store, storeSource] = pick(flags.store, env.MESHTAP_COLLECTOR_STORE);
  if (store !== undefined) {
    if (store !== 'memory' && store !== 'sqlite') {
      throw new MeshtapError(CLI_ERR_USAGE, `${storeSource === 'flag' ? '--store' : 'MESHTAP_COLLECTOR_STORE'} must be "memory" or "sqlite", got "${store}"`);
    }
    options.store = store;
  }
  const [db] = pick(flags.db, env.MESHTAP_COLLECTOR_DB);
  if (db !== undefined) options.dbPath = db;
  return resolveCollectorOptions(options as CollectorOptions);
}
