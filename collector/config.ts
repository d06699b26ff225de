import { dirname, join } from 'node:path';
import { z } from 'zod';
import { MeshtapError, isMeshtapError } from '../lib/errors.ts';
import { CLI_ERR_USAGE, flagValue, parsePort } from '../lib/cli.ts';
import { listenHostProblem } from '../lib/host-port.ts';
import { unknownVariableWarnings } from '../lib/unknown-variables.ts';
import { COL_ERR_CONFIG } from './errors.ts';
import { LOKI_ENV_VARS, resolveLokiConfig } from './loki/config.ts';
import { OTEL_ENV_VARS, resolveOtelConfig } from './otel/config.ts';
import { COL_ERR_OTEL_CONFIG } from './otel/errors.ts';

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

/** Bounds of `--retention-hours`: 36 s (retention runs every 10 s) up to 100 years (365.25 days each). */
export const MIN_RETENTION_HOURS = 0.01;
export const MAX_RETENTION_HOURS = 876_600;
/** Bounds of `--retention-max-mb` (MiB): the empty database's own pages take a few hundred KiB. */
export const MIN_RETENTION_MAX_MB = 1;
export const MAX_RETENTION_MAX_MB = 1024 * 1024;
/** Bounds of `--max-ingest-message-bytes`: 64 KiB (a 1 MiB shipper batch split in 16) up to 256 MiB. */
export const MIN_INGEST_MESSAGE_BYTES = 64 * 1024;
export const MAX_INGEST_MESSAGE_BYTES = 256 * 1024 * 1024;
export const DEFAULT_INGEST_MESSAGE_BYTES = 4 * 1024 * 1024;

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
  retentionHours: z.number().min(MIN_RETENTION_HOURS).max(MAX_RETENTION_HOURS).default(DEFAULT_RETENTION_HOURS),
  /** Live data in the database (records, indexes, full-text index) is kept under this size. */
  retentionMaxMb: z.number().min(MIN_RETENTION_MAX_MB).max(MAX_RETENTION_MAX_MB).default(DEFAULT_RETENTION_MAX_MB),
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
  maxIngestMessageBytes: z.number().int().min(MIN_INGEST_MESSAGE_BYTES).max(MAX_INGEST_MESSAGE_BYTES).default(DEFAULT_INGEST_MESSAGE_BYTES),
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

/** An option a user can set, and `dataDir`, which sets `dbPath` its own way. */
type NamedOption = keyof CollectorOptions | 'dataDir';

/**
 * The flag and the environment variable of each option a user can set: what `pick` reads, and
 * what errors about options set in code name.
 */
const OPTION_NAMES: Partial<Record<NamedOption, { readonly flag?: keyof CollectorFlags; readonly env: string }>> = {
  host: { flag: 'host', env: 'MESHTAP_COLLECTOR_HOST' },
  grpcPort: { flag: 'grpc-port', env: 'MESHTAP_COLLECTOR_GRPC_PORT' },
  httpPort: { flag: 'http-port', env: 'MESHTAP_COLLECTOR_HTTP_PORT' },
  maxRecords: { flag: 'max-records', env: 'MESHTAP_COLLECTOR_MAX_RECORDS' },
  store: { flag: 'store', env: 'MESHTAP_COLLECTOR_STORE' },
  dbPath: { flag: 'db', env: 'MESHTAP_COLLECTOR_DB' },
  dataDir: { flag: 'data-dir', env: 'MESHTAP_COLLECTOR_DATA_DIR' },
  retentionHours: { flag: 'retention-hours', env: 'MESHTAP_COLLECTOR_RETENTION_HOURS' },
  retentionMaxMb: { flag: 'retention-max-mb', env: 'MESHTAP_COLLECTOR_RETENTION_MAX_MB' },
  fullTextIndex: { flag: 'full-text', env: 'MESHTAP_COLLECTOR_FULL_TEXT' },
  groupCommitMs: { env: 'MESHTAP_COLLECTOR_GROUP_COMMIT_MS' },
  inventory: { flag: 'inventory', env: 'MESHTAP_COLLECTOR_INVENTORY' },
  inventoryFile: { flag: 'inventory-file', env: 'MESHTAP_COLLECTOR_INVENTORY_FILE' },
  kubeconfig: { flag: 'kubeconfig', env: 'KUBECONFIG' },
  tlsCertDir: { flag: 'tls-cert-dir', env: 'MESHTAP_COLLECTOR_TLS_CERT_DIR' },
  auth: { flag: 'auth', env: 'MESHTAP_COLLECTOR_AUTH' },
  authTokenFile: { flag: 'auth-token-file', env: 'MESHTAP_COLLECTOR_AUTH_TOKEN_FILE' },
  httpHost: { flag: 'http-host', env: 'MESHTAP_COLLECTOR_HTTP_HOST' },
  maxIngestStreams: { flag: 'max-ingest-streams', env: 'MESHTAP_COLLECTOR_MAX_INGEST_STREAMS' },
  maxIngestMessageBytes: { flag: 'max-ingest-message-bytes', env: 'MESHTAP_COLLECTOR_MAX_INGEST_MESSAGE_BYTES' },
  maxIngestRate: { flag: 'max-ingest-rate', env: 'MESHTAP_COLLECTOR_MAX_INGEST_RATE' },
  maxStreamClients: { flag: 'max-stream-clients', env: 'MESHTAP_COLLECTOR_MAX_STREAM_CLIENTS' },
  exportHoldMs: { env: 'MESHTAP_COLLECTOR_EXPORT_HOLD_MS' },
};

/**
 * Every `MESHTAP_*` variable the collector process reads: its own options, the Loki output's
 * and the OpenTelemetry output's (`MESHTAP_CLUSTER_NAME`, `MESHTAP_OTEL_MAX_RESOURCES`).
 */
export const COLLECTOR_ENV_VARS: readonly string[] = Object.freeze(
  [...new Set([...Object.values(OPTION_NAMES).map((names) => names.env), ...LOKI_ENV_VARS, ...OTEL_ENV_VARS])].filter((name) => name.startsWith('MESHTAP_')).sort(),
);

/**
 * The families of the collector's variables: an unknown variable that starts with one of these
 * is most likely a misspelt setting of the collector, and is warned about. Other `MESHTAP_*`
 * variables are left alone (the environment of a shell or a pod holds other commands' too).
 */
export const COLLECTOR_ENV_PREFIXES: readonly string[] = Object.freeze(['MESHTAP_COLLECTOR_', 'MESHTAP_LOKI_', 'MESHTAP_OTEL_', 'MESHTAP_CLUSTER_']);

/**
 * Variables of other `meshtap` commands in those families, which a collector's environment may
 * well hold (a shell that also runs `meshtap tap`): not the collector's, not warned about either.
 * `meshtap tap`/`mcp`/`dashboard`: URL, TOKEN; the sidecar: ADDR, TLS, SERVER_NAME; the
 * controller: TLS_SECRET, NAMESPACE, SERVICE.
 */
export const OTHER_COMMANDS_ENV_VARS: readonly string[] = Object.freeze([
  'MESHTAP_COLLECTOR_URL',
  'MESHTAP_COLLECTOR_TOKEN',
  'MESHTAP_COLLECTOR_ADDR',
  'MESHTAP_COLLECTOR_TLS',
  'MESHTAP_COLLECTOR_SERVER_NAME',
  'MESHTAP_COLLECTOR_TLS_SECRET',
  'MESHTAP_COLLECTOR_NAMESPACE',
  'MESHTAP_COLLECTOR_SERVICE',
]);

/**
 * One warning per variable of the collector's families that nothing reads (`unknown variable
 * MESHTAP_LOKI_ULR is ignored (did you mean MESHTAP_LOKI_URL?)`), sorted by name: logged at
 * start, never an error. `OTEL_*` variables are not checked: the SDK defines many the collector
 * does not use, and an environment shared with instrumented programs legitimately holds them.
 */
export function collectorVariableWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  const candidates = Object.fromEntries(
    Object.entries(env).filter(([name]) => COLLECTOR_ENV_PREFIXES.some((prefix) => name.startsWith(prefix)) && !OTHER_COMMANDS_ENV_VARS.includes(name)),
  );
  return unknownVariableWarnings(candidates, COLLECTOR_ENV_VARS);
}

function namesOf(key: NamedOption): { readonly flag?: keyof CollectorFlags; readonly env: string } {
  const names = OPTION_NAMES[key];
  if (names === undefined) throw new Error(`collector config: no flag or variable for ${key}`);
  return names;
}

/** Where an option's value came from: the flag or variable as the user wrote it, and the text given. */
interface Source {
  name: string;
  value: string;
}

/** `key (--flag / ENV)`, or the key alone for options only code sets. */
function optionLabel(key: string): string {
  const names = OPTION_NAMES[key as NamedOption];
  if (names === undefined) return key;
  return `${key} (${names.flag === undefined ? names.env : `--${names.flag} / ${names.env}`})`;
}

/** Validates options given in code; an error names each bad option with its flag and variable and the value. */
export function resolveCollectorOptions(options: CollectorOptions): CollectorConfig {
  const parsed = collectorOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = i.path.length > 0 ? String(i.path[0]) : undefined;
      if (key === undefined) return `(options): ${i.message}`;
      return `${optionLabel(key)} = ${JSON.stringify((options as Record<string, unknown>)[key]) ?? 'undefined'}: ${i.message}`;
    });
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

function usage(message: string): MeshtapError {
  return new MeshtapError(CLI_ERR_USAGE, message);
}

/**
 * A variable's value, trimmed, or undefined when it is unset, empty or only blanks: templates
 * leave variables out that way. The one reader of the collector's own variables, so that every
 * one of them treats a blank value alike (the Loki and OTel outputs read theirs the same way).
 */
function readVariable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The flag's value if given, else the variable's, else undefined (the default applies). A flag
 * given empty (`--db ''`) is a usage error: it never means "not given". An empty (or blank)
 * variable counts as unset, as it always has.
 */
function pick(flags: CollectorFlags, env: NodeJS.ProcessEnv, key: NamedOption, what: string): Source | undefined {
  const { flag, env: envName } = namesOf(key);
  if (flag !== undefined) {
    const fromFlag = flagValue(`--${flag}`, flags[flag], what);
    if (fromFlag !== undefined) return { name: `--${flag}`, value: fromFlag };
  }
  const fromEnv = readVariable(env, envName);
  return fromEnv === undefined ? undefined : { name: envName, value: fromEnv };
}

/** `pick`, and the value must be one of `choices` (`expected` says them in the message). */
function pickOneOf(flags: CollectorFlags, env: NodeJS.ProcessEnv, key: NamedOption, choices: readonly string[], expected: string): Source | undefined {
  const source = pick(flags, env, key, expected);
  if (source !== undefined && !choices.includes(source.value)) throw usage(`${source.name} must be ${expected}, got "${source.value}"`);
  return source;
}

interface NumberOption {
  key: keyof CollectorOptions;
  integer: boolean;
  min: number;
  max: number;
  /** What the error says is expected. */
  expected: string;
}

const NUMBER_OPTIONS: readonly NumberOption[] = [
  { key: 'maxRecords', integer: true, min: 1, max: Number.MAX_SAFE_INTEGER, expected: 'a positive integer' },
  {
    key: 'retentionHours',
    integer: false,
    min: MIN_RETENTION_HOURS,
    max: MAX_RETENTION_HOURS,
    expected: `a number of hours from ${MIN_RETENTION_HOURS} (36 s) to ${MAX_RETENTION_HOURS} (100 years)`,
  },
  {
    key: 'retentionMaxMb',
    integer: false,
    min: MIN_RETENTION_MAX_MB,
    max: MAX_RETENTION_MAX_MB,
    expected: `a number of MiB from ${MIN_RETENTION_MAX_MB} to ${MAX_RETENTION_MAX_MB} (1 TiB)`,
  },
  { key: 'maxIngestStreams', integer: true, min: 1, max: Number.MAX_SAFE_INTEGER, expected: 'a positive integer' },
  {
    key: 'maxIngestMessageBytes',
    integer: true,
    min: MIN_INGEST_MESSAGE_BYTES,
    max: MAX_INGEST_MESSAGE_BYTES,
    expected: `a positive integer from ${MIN_INGEST_MESSAGE_BYTES} (64 KiB) to ${MAX_INGEST_MESSAGE_BYTES} (256 MiB)`,
  },
  { key: 'maxStreamClients', integer: true, min: 1, max: Number.MAX_SAFE_INTEGER, expected: 'a positive integer' },
];

function parseNumber(spec: NumberOption, source: Source): number {
  const text = source.value.trim();
  const n = Number(text);
  const shaped = (spec.integer ? /^\d+$/ : /^\d+(\.\d+)?$/).test(text);
  if (!shaped || !Number.isFinite(n) || n < spec.min || n > spec.max || (spec.integer && !Number.isSafeInteger(n))) {
    throw usage(`${source.name} must be ${spec.expected}, got "${source.value}"`);
  }
  return n;
}

// `[::]` is refused (`listenHostProblem`), as by the webhook and the controller.
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);


/** Whether listeners on these two hosts and one port would collide. */
function hostsOverlap(host: string, httpHost: string | undefined): boolean {
  if (httpHost === undefined || httpHost === host) return true;
  return WILDCARD_HOSTS.has(host) || WILDCARD_HOSTS.has(httpHost);
}

/**
 * Flags, then MESHTAP_COLLECTOR_* environment variables, then defaults. Every problem is a
 * usage error (`CLI_ERR_USAGE`, exit 2) naming the flag or variable, the value and what is
 * expected; so are combinations that make no sense, and bad values of the exports' variables
 * (`checkOutputVariables`). Variables nobody reads are `collectorVariableWarnings`' to report.
 * Pure: nothing is read or created here.
 */
export function resolveCollectorConfig(flags: CollectorFlags, env: NodeJS.ProcessEnv): CollectorConfig {
  const options: Record<string, unknown> = {};
  const sources = new Map<string, Source>();
  const set = (key: keyof CollectorOptions, source: Source, value: unknown): void => {
    options[key] = value;
    sources.set(key, source);
  };

  const host = pick(flags, env, 'host', 'an address to listen on, e.g. 0.0.0.0');
  const httpHost = pick(flags, env, 'httpHost', 'an address for the HTTP API, e.g. 127.0.0.1');
  for (const [key, source] of [['host', host], ['httpHost', httpHost]] as const) {
    if (source === undefined) continue;
    const problem = listenHostProblem(source.value);
    if (problem !== undefined) throw usage(`${source.name} ${problem}`);
    set(key, source, source.value);
  }

  const ports = [
    ['grpcPort', DEFAULT_GRPC_PORT],
    ['httpPort', DEFAULT_HTTP_PORT],
  ] as const;
  for (const [key, fallback] of ports) {
    const source = pick(flags, env, key, 'a port number 0-65535');
    options[key] = parsePort(source?.name ?? `--${namesOf(key).flag}`, source?.value, fallback);
    if (source !== undefined) sources.set(key, source);
  }
  const grpcPort = options.grpcPort as number;
  if (grpcPort !== 0 && grpcPort === options.httpPort && hostsOverlap(host?.value ?? '0.0.0.0', httpHost?.value)) {
    const named = (key: string, flag: string) => sources.get(key)?.name ?? `${flag}'s default`;
    throw usage(
      `the gRPC ingest port (${named('grpcPort', '--grpc-port')}) and the HTTP API port (${named('httpPort', '--http-port')}) are both ${grpcPort}: give two different ports (0 picks a free one)`,
    );
  }

  for (const spec of NUMBER_OPTIONS) {
    const source = pick(flags, env, spec.key, spec.expected);
    if (source !== undefined) set(spec.key, source, parseNumber(spec, source));
  }

  const rate = pick(flags, env, 'maxIngestRate', 'a number of records per second, 0: no limit');
  if (rate !== undefined) {
    if (!/^\d+$/.test(rate.value.trim()) || !Number.isSafeInteger(Number(rate.value))) {
      throw usage(`${rate.name} must be a number of records per second (0: no limit), got "${rate.value}"`);
    }
    set('maxIngestRate', rate, Number(rate.value));
  }

  // Waits in milliseconds, from the environment only: 0 up to a bound.
  const waits = [
    ['groupCommitMs', 1000],
    ['exportHoldMs', 60_000],
  ] as const;
  for (const [key, max] of waits) {
    const envName = namesOf(key).env;
    const value = readVariable(env, envName);
    if (value === undefined) continue;
    if (!/^\d+$/.test(value) || Number(value) > max) {
      throw usage(`${envName} must be a number of milliseconds from 0 to ${max}, got "${value}"`);
    }
    set(key, { name: envName, value }, Number(value));
  }

  const store = pick(flags, env, 'store', 'sqlite or memory');
  if (store !== undefined) {
    if (store.value !== 'memory' && store.value !== 'sqlite') throw usage(`${store.name} must be "memory" or "sqlite", got "${store.value}"`);
    set('store', store, store.value);
  }
  const fullText = pick(flags, env, 'fullTextIndex', 'on or off');
  if (fullText !== undefined) {
    if (fullText.value !== 'on' && fullText.value !== 'off') throw usage(`${fullText.name} must be "on" or "off", got "${fullText.value}"`);
    set('fullTextIndex', fullText, fullText.value === 'on');
  }
  const db = pick(flags, env, 'dbPath', 'the SQLite database file, or :memory:');
  const dataDir = pick(flags, env, 'dataDir', 'the directory to keep the database in');
  if (db !== undefined && dataDir !== undefined) throw usage(`${db.name} and ${dataDir.name} both name the database; give one of them`);
  const onDisk = db ?? dataDir;
  if (onDisk !== undefined && options.store === 'memory') {
    throw usage(`${onDisk.name} "${onDisk.value}" is for --store sqlite, but ${store!.name} is "memory" (records kept in memory only); drop one of them`);
  }
  if (db !== undefined) set('dbPath', db, db.value);
  else if (dataDir !== undefined) set('dbPath', dataDir, join(dataDir.value, DB_FILE_NAME));

  const inventory = pickOneOf(flags, env, 'inventory', ['auto', 'kube', 'file', 'none'], 'auto, kube, file or none');
  if (inventory !== undefined) set('inventory', inventory, inventory.value);
  const inventoryFile = pick(flags, env, 'inventoryFile', 'a Kubernetes List file');
  if (inventoryFile !== undefined) {
    if (inventory !== undefined && (inventory.value === 'none' || inventory.value === 'kube')) {
      throw usage(`${inventoryFile.name} "${inventoryFile.value}" is for --inventory file (or auto), but ${inventory.name} is "${inventory.value}"; drop one of them`);
    }
    set('inventoryFile', inventoryFile, inventoryFile.value);
  }
  if (inventory?.value === 'file' && inventoryFile === undefined) {
    throw usage(`${inventory.name} file needs --inventory-file PATH (or MESHTAP_COLLECTOR_INVENTORY_FILE)`);
  }
  const kubeconfig = pick(flags, env, 'kubeconfig', 'a kubeconfig file');
  if (kubeconfig !== undefined) set('kubeconfig', kubeconfig, kubeconfig.value);
  const tlsCertDir = pick(flags, env, 'tlsCertDir', 'a directory with tls.crt, tls.key and ca.crt');
  if (tlsCertDir !== undefined) set('tlsCertDir', tlsCertDir, tlsCertDir.value);
  const auth = pickOneOf(flags, env, 'auth', ['auto', 'kubernetes', 'token', 'none'], 'kubernetes, token, none or auto');
  if (auth !== undefined) set('auth', auth, auth.value);
  const tokenFile = pick(flags, env, 'authTokenFile', 'a file of bearer tokens, one per line');
  if (tokenFile !== undefined) {
    if (auth !== undefined && (auth.value === 'none' || auth.value === 'kubernetes')) {
      throw usage(`${tokenFile.name} is for --auth token, but ${auth.name} is "${auth.value}"; drop one of them`);
    }
    set('authTokenFile', tokenFile, tokenFile.value);
    options.auth ??= 'token';
  }

  checkOutputVariables(env);

  const parsed = collectorOptionsSchema.safeParse(options);
  if (!parsed.success) {
    // The checks above should leave nothing for the schema; if they miss one, still name what the user set.
    const issue = parsed.error.issues[0];
    const key = String(issue.path[0] ?? '');
    const source = sources.get(key);
    if (source !== undefined) throw usage(`${source.name} is not usable, got "${source.value}": ${issue.message}`);
    return resolveCollectorOptions(options as CollectorOptions);
  }
  return Object.freeze(parsed.data);
}

/**
 * The exports' variables (`MESHTAP_LOKI_*`, `OTEL_*`, `MESHTAP_CLUSTER_NAME`…), read here by the
 * same functions the outputs use, so that a bad value is a usage error (exit 2) with their
 * message, like a bad value of the collector's own, rather than a failure to start (exit 1).
 */
function checkOutputVariables(env: NodeJS.ProcessEnv): void {
  const asUsage = (check: () => unknown): void => {
    try {
      check();
    } catch (err) {
      if (isMeshtapError(err, COL_ERR_CONFIG) || isMeshtapError(err, COL_ERR_OTEL_CONFIG)) throw new MeshtapError(CLI_ERR_USAGE, err.message, { cause: err });
      throw err;
    }
  };
  asUsage(() => resolveLokiConfig(env));
  asUsage(() => resolveOtelConfig(env));
}

/**
 * The directory the SQLite database file lives in, when the store has a file: the collector
 * creates it (mode 0700) when missing. Undefined for the memory store and `:memory:`.
 */
export function databaseDirectory(config: CollectorConfig): string | undefined {
  if (config.store !== 'sqlite' || config.dbPath === MEMORY_DB) return undefined;
  return dirname(config.dbPath);
}

/** Which inventory `auto` means here; pure so that it can be tested. */
export function resolveInventoryKind(config: CollectorConfig, env: NodeJS.ProcessEnv): 'kube' | 'file' | 'none' {
  if (config.inventory !== 'auto') return config.inventory;
  if (config.inventoryFile !== undefined) return 'file';
  if (config.kubeconfig !== undefined || (env.KUBERNETES_SERVICE_HOST ?? '') !== '') return 'kube';
  return 'none';
}
