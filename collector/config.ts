import { join } from 'node:path';
import { z } from 'zod';
import { MeshtapError } from '../lib/errors.ts';
import { CLI_ERR_USAGE, parsePort } from '../lib/cli.ts';
import { COL_ERR_CONFIG } from './errors.ts';

export const DEFAULT_GRPC_PORT = 9400;
export const DEFAULT_HTTP_PORT = 8080;
/** The memory store's ring size when `--max-records` is not given. */
export const DEFAULT_MEMORY_MAX_RECORDS = 10_000;
export const DEFAULT_RETENTION_HOURS = 24;
export const DEFAULT_RETENTION_MAX_MB = 512;
/** The database file's name inside `--data-dir`. */
export const DB_FILE_NAME = 'meshtap-collector.db';
export const MEMORY_DB = ':memory:';
export const DEFAULT_MAX_STREAM_CLIENTS = 200;
/** Both sidecars of a hop ship within about a second (their flush interval): twice that, then export. */
export const DEFAULT_EXPORT_HOLD_MS = 2000;
/**
 * How long a SQLite group commit waits for more batches (ms). Record and trace ids are random,
 * so every commit rewrites index pages all over the file however few records it holds; with
 * the bench's four ingest streams a commit held one batch (about 260 records) without a wait
 * and two to four with 20 ms, which cut what the store wrote per record by a quarter.
 */
export const DEFAULT_GROUP_COMMIT_MS = 20;

const port = () => z.number().int().min(0).max(65535);

/**
 * Records per second from one sidecar. A busy sidecar at saturation ships a few thousand; the
 * bound is for a runaway or forged one, so it sits well above that.
 */
export const DEFAULT_MAX_INGEST_RATE = 20_000;

export const collectorOptionsSchema = z.strictObject({
  host: z.string().min(1).default('0.0.0.0'),
  grpcPort: port().default(DEFAULT_GRPC_PORT),
  httpPort: port().default(DEFAULT_HTTP_PORT),
  /**
   * Most records kept. The memory store always has a bound (default 10 000); the SQLite store
   * has none unless this is set (age and size retention bound it).
   */
  maxRecords: z.number().int().positive().optional(),
  store: z.enum(['memory', 'sqlite']).default('sqlite'),
  /**
   * SQLite database file. `:memory:` (the default when neither a file nor a data directory is
   * given) keeps it in memory: nothing is written next to wherever the collector was started,
   * and two collectors never share a file by accident.
   */
  dbPath: z.string().min(1).default(MEMORY_DB),
  /** Records older than this (time since they were stored) are deleted. */
  retentionHours: z.number().positive().default(DEFAULT_RETENTION_HOURS),
  /** Live data in the database (records, indexes, full-text index) is kept under this size. */
  retentionMaxMb: z.number().positive().default(DEFAULT_RETENTION_MAX_MB),
  /**
   * FTS5 index over paths and bodies, so body filters read only candidate rows. It costs most
   * of the SQLite insert time (see README); `false` drops it.
   */
  fullTextIndex: z.boolean().default(true),
  /** How often retention runs. */
  retentionIntervalMs: z.number().int().positive().default(10_000),
  /** SQLite: how long the first batch of a group commit waits for others to share its transaction. */
  groupCommitMs: z.number().int().min(0).max(1000).default(DEFAULT_GROUP_COMMIT_MS),
  /** Most rows one filtered list examines before it answers with what it found. */
  listScanLimit: z.number().int().positive().default(200_000),
  /** Live stream: comment line sent this often so proxies and clients see a live connection. */
  streamHeartbeatMs: z.number().int().positive().default(15_000),
  /** Live stream: events held for one slow client before newer ones are dropped (and counted). */
  streamBufferEvents: z.number().int().positive().default(1000),
  /** Live stream: bytes held for one slow client before newer events are dropped. */
  streamBufferBytes: z.number().int().positive().default(8 * 1024 * 1024),
  /** Service map: default window. */
  servicemapWindowMs: z.number().int().positive().default(15 * 60_000),
  /**
   * Where names for IPs come from: `kube` (informers on the API server), `file` (a Kubernetes
   * List the lab maintains, `inventoryFile`), `none`; `auto` picks `file` when a file is given,
   * `kube` inside a cluster (KUBERNETES_SERVICE_HOST set) or with a kubeconfig, else `none`.
   */
  inventory: z.enum(['auto', 'kube', 'file', 'none']).default('auto'),
  inventoryFile: z.string().min(1).optional(),
  kubeconfig: z.string().min(1).optional(),
  /**
   * A TLS directory (`tls.crt`, `tls.key`, `ca.crt`). With it the gRPC ingest port serves TLS
   * and requires a client certificate chaining to `ca.crt` (mTLS); without it, plaintext. One
   * port cannot do both (grpc-js binds a port with one kind of credentials).
   */
  tlsCertDir: z.string().min(1).optional(),
  /**
   * Who may read call data: `kubernetes` (TokenReview + SubjectAccessReview), `token` (bearer
   * tokens from `authTokenFile`), `none`; `auto` is `kubernetes` in a cluster, else `token`.
   */
  auth: z.enum(['auto', 'kubernetes', 'token', 'none']).default('auto'),
  /** Bearer tokens, one per line, reloaded on change; token auth without it generates one. */
  authTokenFile: z.string().min(1).optional(),
  /** Where the HTTP API listens when not on `host` (the lab keeps it on loopback; ingest stays on `host`). */
  httpHost: z.string().min(1).optional(),
  /** Open ingest streams at most (one per sidecar): a flood of connections cannot exhaust the collector. */
  maxIngestStreams: z.number().int().positive().default(4096),
  /** Largest ingest message (a batch) in bytes; a larger one ends its stream, counted `too_large`. */
  maxIngestMessageBytes: z.number().int().min(64 * 1024).default(4 * 1024 * 1024),
  /** Records per second taken from one sidecar (its identity); beyond it they are refused as `rate_limited`. 0: no limit. */
  maxIngestRate: z.number().int().min(0).default(DEFAULT_MAX_INGEST_RATE),
  /** Open live stream clients at most: each costs a socket and a filter evaluated per record; beyond it new ones get 503. */
  maxStreamClients: z.number().int().positive().default(DEFAULT_MAX_STREAM_CLIENTS),
  /**
   * Spans and Loki entries wait this long (ms) before export, so that a linked flow's hops that
   * arrive out of order leave with their final trace id (exported spans cannot be changed).
   * 0 exports at once. See collector/otel/README.md.
   */
  exportHoldMs: z.number().int().min(0).max(60_000).default(DEFAULT_EXPORT_HOLD_MS),
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
  'data-dir'?: string;
  'retention-hours'?: string;
  'retention-max-mb'?: string;
  'full-text'?: string;
  inventory?: string;
  'inventory-file'?: string;
  kubeconfig?: string;
  'tls-cert-dir'?: string;
  auth?: string;
  'auth-token-file'?: string;
  'http-host'?: string;
  'max-ingest-streams'?: string;
  'max-ingest-rate'?: string;
  'max-ingest-message-bytes'?: string;
  'max-stream-clients'?: string;
}

function pick(flag: string | undefined, env: string | undefined): [string | undefined, 'flag' | 'env'] {
  return flag !== undefined ? [flag, 'flag'] : [env !== undefined && env !== '' ? env : undefined, 'env'];
}

function usage(message: string): MeshtapError {
  return new MeshtapError(CLI_ERR_USAGE, message);
}

function positiveNumber(name: string, value: string, integer: boolean): number {
  const pattern = integer ? /^\d+$/ : /^\d+(\.\d+)?$/;
  const n = Number(value);
  if (!pattern.test(value.trim()) || !(n > 0) || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
    throw usage(`${name} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  }
  return n;
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

  const numbers = [
    ['maxRecords', 'max-records', 'MESHTAP_COLLECTOR_MAX_RECORDS', true],
    ['retentionHours', 'retention-hours', 'MESHTAP_COLLECTOR_RETENTION_HOURS', false],
    ['retentionMaxMb', 'retention-max-mb', 'MESHTAP_COLLECTOR_RETENTION_MAX_MB', false],
    ['maxIngestStreams', 'max-ingest-streams', 'MESHTAP_COLLECTOR_MAX_INGEST_STREAMS', true],
    ['maxIngestMessageBytes', 'max-ingest-message-bytes', 'MESHTAP_COLLECTOR_MAX_INGEST_MESSAGE_BYTES', true],
    ['maxStreamClients', 'max-stream-clients', 'MESHTAP_COLLECTOR_MAX_STREAM_CLIENTS', true],
  ] as const;
  for (const [key, flag, envName, integer] of numbers) {
    const [value, source] = pick(flags[flag], env[envName]);
    if (value !== undefined) options[key] = positiveNumber(source === 'flag' ? `--${flag}` : envName, value, integer);
  }

  const [rate, rateSource] = pick(flags['max-ingest-rate'], env.MESHTAP_COLLECTOR_MAX_INGEST_RATE);
  if (rate !== undefined) {
    if (!/^\d+$/.test(rate.trim()) || !Number.isSafeInteger(Number(rate))) {
      throw usage(`${rateSource === 'flag' ? '--max-ingest-rate' : 'MESHTAP_COLLECTOR_MAX_INGEST_RATE'} must be a number of records per second (0: no limit), got "${rate}"`);
    }
    options.maxIngestRate = Number(rate);
  }

  // Waits in milliseconds, from the environment only: 0 up to a bound.
  const waits = [
    ['groupCommitMs', 'MESHTAP_COLLECTOR_GROUP_COMMIT_MS', 1000],
    ['exportHoldMs', 'MESHTAP_COLLECTOR_EXPORT_HOLD_MS', 60_000],
  ] as const;
  for (const [key, envName, max] of waits) {
    const value = env[envName];
    if (value === undefined || value === '') continue;
    if (!/^\d+$/.test(value.trim()) || Number(value) > max) {
      throw usage(`${envName} must be a number of milliseconds from 0 to ${max}, got "${value}"`);
    }
    options[key] = Number(value);
  }

  const [store, storeSource] = pick(flags.store, env.MESHTAP_COLLECTOR_STORE);
  if (store !== undefined) {
    if (store !== 'memory' && store !== 'sqlite') {
      throw usage(`${storeSource === 'flag' ? '--store' : 'MESHTAP_COLLECTOR_STORE'} must be "memory" or "sqlite", got "${store}"`);
    }
    options.store = store;
  }
  const [fullText, ftSource] = pick(flags['full-text'], env.MESHTAP_COLLECTOR_FULL_TEXT);
  if (fullText !== undefined) {
    if (fullText !== 'on' && fullText !== 'off') {
      throw usage(`${ftSource === 'flag' ? '--full-text' : 'MESHTAP_COLLECTOR_FULL_TEXT'} must be "on" or "off", got "${fullText}"`);
    }
    options.fullTextIndex = fullText === 'on';
  }
  const [db, dbSource] = pick(flags.db, env.MESHTAP_COLLECTOR_DB);
  const [dataDir, dirSource] = pick(flags['data-dir'], env.MESHTAP_COLLECTOR_DATA_DIR);
  if (db !== undefined && dataDir !== undefined) {
    const dbName = dbSource === 'flag' ? '--db' : 'MESHTAP_COLLECTOR_DB';
    const dirName = dirSource === 'flag' ? '--data-dir' : 'MESHTAP_COLLECTOR_DATA_DIR';
    throw usage(`${dbName} and ${dirName} both name the database; give one of them`);
  }
  const [inventory, invSource] = pick(flags.inventory, env.MESHTAP_COLLECTOR_INVENTORY);
  if (inventory !== undefined) {
    if (!['auto', 'kube', 'file', 'none'].includes(inventory)) {
      throw usage(`${invSource === 'flag' ? '--inventory' : 'MESHTAP_COLLECTOR_INVENTORY'} must be auto, kube, file or none, got "${inventory}"`);
    }
    options.inventory = inventory;
  }
  const [inventoryFile] = pick(flags['inventory-file'], env.MESHTAP_COLLECTOR_INVENTORY_FILE);
  if (inventoryFile !== undefined) options.inventoryFile = inventoryFile;
  if (options.inventory === 'file' && inventoryFile === undefined) throw usage('--inventory file needs --inventory-file PATH');
  const [kubeconfig] = pick(flags.kubeconfig, env.KUBECONFIG);
  if (kubeconfig !== undefined) options.kubeconfig = kubeconfig;
  const [tlsCertDir] = pick(flags['tls-cert-dir'], env.MESHTAP_COLLECTOR_TLS_CERT_DIR);
  if (tlsCertDir !== undefined) options.tlsCertDir = tlsCertDir;
  const [auth, authSource] = pick(flags.auth, env.MESHTAP_COLLECTOR_AUTH);
  if (auth !== undefined) {
    if (!['auto', 'kubernetes', 'token', 'none'].includes(auth)) {
      throw usage(`${authSource === 'flag' ? '--auth' : 'MESHTAP_COLLECTOR_AUTH'} must be kubernetes, token, none or auto, got "${auth}"`);
    }
    options.auth = auth;
  }
  const [tokenFile] = pick(flags['auth-token-file'], env.MESHTAP_COLLECTOR_AUTH_TOKEN_FILE);
  if (tokenFile !== undefined) {
    if (options.auth === 'none' || options.auth === 'kubernetes') throw usage(`--auth-token-file is for --auth token, not --auth ${String(options.auth)}`);
    options.authTokenFile = tokenFile;
    options.auth ??= 'token';
  }
  const [httpHost] = pick(flags['http-host'], env.MESHTAP_COLLECTOR_HTTP_HOST);
  if (httpHost !== undefined) options.httpHost = httpHost;
  if (db !== undefined) options.dbPath = db;
  else if (dataDir !== undefined) options.dbPath = join(dataDir, DB_FILE_NAME);
  return resolveCollectorOptions(options as CollectorOptions);
}

/** Which inventory `auto` means here; pure so that it can be tested. */
export function resolveInventoryKind(config: CollectorConfig, env: NodeJS.ProcessEnv): 'kube' | 'file' | 'none' {
  if (config.inventory !== 'auto') return config.inventory;
  if (config.inventoryFile !== undefined) return 'file';
  if (config.kubeconfig !== undefined || (env.KUBERNETES_SERVICE_HOST ?? '') !== '') return 'kube';
  return 'none';
}
