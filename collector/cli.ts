/** `meshtap collector`: receive records from sidecars over gRPC and serve them over HTTP. */
import { mkdirSync } from 'node:fs';
import type { CommandIO } from '../lib/cli.ts';
import { parseCommandArgs } from '../lib/cli.ts';
import { describeError } from '../lib/errors.ts';
import {
  DB_FILE_NAME,
  DEFAULT_GRPC_PORT,
  DEFAULT_HTTP_PORT,
  DEFAULT_MAX_INGEST_RATE,
  DEFAULT_MAX_STREAM_CLIENTS,
  DEFAULT_MEMORY_MAX_RECORDS,
  DEFAULT_RETENTION_HOURS,
  DEFAULT_RETENTION_MAX_MB,
  MAX_INGEST_MESSAGE_BYTES,
  MAX_RETENTION_HOURS,
  MAX_RETENTION_MAX_MB,
  MIN_INGEST_MESSAGE_BYTES,
  MIN_RETENTION_HOURS,
  MIN_RETENTION_MAX_MB,
  collectorVariableWarnings,
  databaseDirectory,
  resolveCollectorConfig,
  resolveInventoryKind,
} from './config.ts';
import { startCollector } from './collector.ts';
import { createJsonLogger } from '../lib/log.ts';
import { waitForSignal } from '../lib/signals.ts';
import { armExitDeadline } from '../lib/exit-deadline.ts';

/** From SIGTERM to a forced exit: the 5 s graceful close, the exports' flush, and a margin. */
export const COLLECTOR_STOP_DEADLINE_MS = 15_000;

const USAGE = `usage: meshtap collector [options]

Receives call records from sidecars (gRPC), stores them and serves them (HTTP API, live
stream, service map, traces, metrics).

options:
  --grpc-port PORT         gRPC ingest port (default ${DEFAULT_GRPC_PORT}; 0 picks a free port)   env MESHTAP_COLLECTOR_GRPC_PORT
  --http-port PORT         HTTP API port (default ${DEFAULT_HTTP_PORT}; 0 picks a free port; not the
                           gRPC port)                                          env MESHTAP_COLLECTOR_HTTP_PORT
  --host HOST              address to listen on (default 0.0.0.0)              env MESHTAP_COLLECTOR_HOST
  --store KIND             sqlite (default) or memory                          env MESHTAP_COLLECTOR_STORE
  --data-dir DIR           keep the SQLite database in DIR/${DB_FILE_NAME}      env MESHTAP_COLLECTOR_DATA_DIR
  --db PATH                the SQLite database file itself                     env MESHTAP_COLLECTOR_DB
                           (neither: an in-memory database, gone at exit; either: sqlite only;
                           a missing directory is created, mode 0700)
  --retention-hours H      delete records stored more than H hours ago (default ${DEFAULT_RETENTION_HOURS};
                           ${MIN_RETENTION_HOURS} to ${MAX_RETENTION_HOURS}, i.e. 36 s to 100 years)             env MESHTAP_COLLECTOR_RETENTION_HOURS
  --retention-max-mb MB    keep the database under MB MiB (default ${DEFAULT_RETENTION_MAX_MB};
                           ${MIN_RETENTION_MAX_MB} to ${MAX_RETENTION_MAX_MB}, i.e. 1 TiB)                           env MESHTAP_COLLECTOR_RETENTION_MAX_MB
  --max-records N          keep at most N records (memory store default ${DEFAULT_MEMORY_MAX_RECORDS};
                           SQLite: no row cap unless given)                    env MESHTAP_COLLECTOR_MAX_RECORDS
  --full-text on|off       full-text index over paths and bodies (default on)  env MESHTAP_COLLECTOR_FULL_TEXT
  --inventory KIND         names for IPs: auto (default), kube, file, none     env MESHTAP_COLLECTOR_INVENTORY
                           (auto: file when --inventory-file is given, kube in a cluster or with a
                           kubeconfig, else none)
  --inventory-file PATH    a Kubernetes List of pods, services, … (the lab; with --inventory
                           file or auto)                                       env MESHTAP_COLLECTOR_INVENTORY_FILE
  --kubeconfig PATH        use this kubeconfig instead of the in-cluster account  env KUBECONFIG
  --tls-cert-dir DIR       serve gRPC ingest over mTLS: DIR/tls.crt and tls.key are the serving
                           certificate, DIR/ca.crt the roots client certificates must chain to;
                           sidecars without one are refused (default: plaintext ingest; one port
                           cannot serve both)                                  env MESHTAP_COLLECTOR_TLS_CERT_DIR
  --auth MODE              who may read call data: kubernetes (TokenReview and
                           SubjectAccessReview: get calls.meshtap.io per namespace), token
                           (bearer tokens from --auth-token-file), none (open: warned about);
                           auto (the default): kubernetes in a cluster, else token    env MESHTAP_COLLECTOR_AUTH
  --auth-token-file PATH   bearer tokens, one per line, reloaded on change; token auth without
                           it generates one (mode 0600) next to the database or in ~/.meshtap
                           and logs where                                 env MESHTAP_COLLECTOR_AUTH_TOKEN_FILE
  --http-host HOST         address of the HTTP API alone (e.g. 127.0.0.1; ingest stays on --host;
                           on loopback only loopback Host headers are served)  env MESHTAP_COLLECTOR_HTTP_HOST
  --max-ingest-streams N   open ingest streams at most, one per sidecar (default 4096); beyond it
                           new streams are refused and the sidecars retry   env MESHTAP_COLLECTOR_MAX_INGEST_STREAMS
  --max-ingest-message-bytes N  largest ingest batch taken (default 4194304; ${MIN_INGEST_MESSAGE_BYTES} to
                           ${MAX_INGEST_MESSAGE_BYTES}; the shipper's batches are 1 MiB); a larger one is
                           refused, counted
                                                                            env MESHTAP_COLLECTOR_MAX_INGEST_MESSAGE_BYTES
  --max-ingest-rate N      records per second taken from one sidecar (default ${DEFAULT_MAX_INGEST_RATE},
                           0: no limit); beyond it records are refused as rate_limited, counted
                                                                            env MESHTAP_COLLECTOR_MAX_INGEST_RATE
  --max-stream-clients N   open live stream clients at most (default ${DEFAULT_MAX_STREAM_CLIENTS}); beyond it
                           /api/stream answers 503                          env MESHTAP_COLLECTOR_MAX_STREAM_CLIENTS
  -h, --help               show this help

Exports: OpenTelemetry spans when OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set;
Loki entries when MESHTAP_LOKI_URL is set (see the README for all variables).

An empty value (--db '') is an error, never "not given"; an empty variable is unset. A bad
value or a combination that makes no sense exits 2.

Logs are JSON lines on stdout; once listening it logs
{"msg":"collector listening","grpcPort":...,"httpPort":...}. A failure to start is logged
there too and printed on stderr (exit 1).
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  host: { type: 'string' },
  'grpc-port': { type: 'string' },
  'http-port': { type: 'string' },
  'max-records': { type: 'string' },
  store: { type: 'string' },
  db: { type: 'string' },
  'data-dir': { type: 'string' },
  'retention-hours': { type: 'string' },
  'retention-max-mb': { type: 'string' },
  'full-text': { type: 'string' },
  inventory: { type: 'string' },
  'inventory-file': { type: 'string' },
  kubeconfig: { type: 'string' },
  'tls-cert-dir': { type: 'string' },
  auth: { type: 'string' },
  'auth-token-file': { type: 'string' },
  'http-host': { type: 'string' },
  'max-ingest-streams': { type: 'string' },
  'max-ingest-rate': { type: 'string' },
  'max-ingest-message-bytes': { type: 'string' },
  'max-stream-clients': { type: 'string' },
} as const;

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const config = resolveCollectorConfig(values, io.env);
  const log = createJsonLogger(io.stdout);
  // A misspelt variable would otherwise leave its setting at the default without a word.
  for (const warning of collectorVariableWarnings(io.env)) log.warn({}, warning);
  /** The JSON log line for whatever reads the logs, and one line on stderr for whoever started it. */
  const failed = (detail: string): number => {
    log.error({ detail }, 'collector failed to start');
    io.stderr.write(`meshtap collector: failed to start: ${detail.replace(/\s*\n\s*/g, ' ')}\n`);
    return 1;
  };
  const dir = databaseDirectory(config);
  if (dir !== undefined) {
    try {
      // A no-op when it exists; what is created is the collector's own (0700: records hold payloads).
      if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) log.info({ dir }, 'database directory created');
    } catch (err) {
      return failed(`cannot create the database directory ${dir}: ${(err as Error).message}`);
    }
  }
  let collector;
  try {
    collector = await startCollector(config, { log, env: io.env });
  } catch (err) {
    return failed(describeError(err));
  }
  log.info(
    {
      host: config.host,
      grpcPort: collector.grpcPort,
      ingest: collector.ingestSecurity,
      ...(config.tlsCertDir !== undefined ? { tlsCertDir: config.tlsCertDir } : {}),
      httpPort: collector.httpPort,
      ...(config.httpHost !== undefined ? { httpHost: config.httpHost } : {}),
      ...collector.auth,
      store: config.store,
      ...(config.store === 'sqlite' ? { db: config.dbPath } : {}),
      inventory: collector.inventory ? resolveInventoryKind(config, io.env) : 'none',
      ...collector.outputs.describe(),
    },
    'collector listening',
  );

  const wait = waitForSignal();
  const signal = await wait.promise;
  wait.dispose();
  log.info({ signal }, 'collector stopping');
  // Graceful for 5 s (streams acked, the store closed); whatever still hangs then — peers that
  // vanished without FIN or RST — must not keep the process alive. A second signal ends it now.
  const deadline = armExitDeadline({ ms: COLLECTOR_STOP_DEADLINE_MS, log: (msg, fields) => log.warn(fields, msg) });
  try {
    await collector.close({ graceMs: 5000 });
  } finally {
    deadline.disarm();
  }
  log.info({}, 'collector stopped');
  return 0;
}
