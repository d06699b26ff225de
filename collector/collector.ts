/** Starts and stops a collector: store, gRPC ingest, HTTP API, metrics. */
import type { ServerCredentials } from '@grpc/grpc-js';
import type { CallRecord } from '../record/record.ts';
import { enrichRecord } from './enrich.ts';
import type { Inventory } from '../lib/kube/inventory/inventory.ts';
import { openOutputs, type Outputs } from './outputs.ts';
import { MeshtapError } from '../lib/errors.ts';
import { DEFAULT_MEMORY_MAX_RECORDS, resolveInventoryKind, type CollectorConfig } from './config.ts';
import { COL_ERR_LISTEN } from './errors.ts';
import { formatHostPort, listenFailure } from '../lib/host-port.ts';
import { startGrpcServer } from './grpc-server.ts';
import { loadIngestCredentials } from './ingest-tls.ts';
import { buildHttpApp } from './http-server.ts';
import { exclusionsFromInventory } from './coverage-exclusions.ts';
import { createIngest } from './ingest.ts';
import { createTraceLinks, registerTraceLinkMetrics } from './trace-links.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { createMemoryStore } from './memory-store.ts';
import { createCollectorMetrics, type CollectorMetrics } from './metrics.ts';
import type { RecordStore } from './record-store.ts';
import { createStreamHub, type StreamHub } from './stream.ts';
import type { AccessControl } from './auth/access.ts';
import { buildAccess } from './auth/build-access.ts';

export interface CollectorDeps {
  /** Replaces the store the config names (tests use it to slow storage down). */
  store?: RecordStore;
  log?: Logger;
  /** Replaces the credentials `tlsCertDir` would give (plaintext when neither is set). */
  grpcCredentials?: ServerCredentials;
  /** Environment for the exports (`OTEL_EXPORTER_OTLP_*`, `MESHTAP_LOKI_URL`) and `auto` inventory; none by default. */
  env?: NodeJS.ProcessEnv;
  /** Replaces the inventory the config names. */
  inventory?: Inventory;
  /** Replaces the env-built exports. */
  outputs?: Outputs;
  /** Replaces the access control the config's auth settings give. */
  access?: AccessControl;
  /** How often `tlsCertDir` is re-read for a renewed certificate (default 30 s). */
  tlsReloadIntervalMs?: number;
}

export interface RunningCollector {
  grpcPort: number;
  /** How the gRPC ingest port is served: `mtls` with `tlsCertDir`, `custom` with `deps.grpcCredentials`. */
  ingestSecurity: 'mtls' | 'plaintext' | 'custom';
  httpPort: number;
  /** How the API authenticates (`auth`, and `tokenFile` for token auth). */
  auth: Record<string, string>;
  store: RecordStore;
  metrics: CollectorMetrics;
  /** The live stream's hub (the HTTP API subscribes to it). */
  hub: StreamHub;
  inventory?: Inventory;
  outputs: Outputs;
  /** Graceful by default (streams ended after their acks); `force` drops connections as a crash would. */
  close(options?: { graceMs?: number; force?: boolean }): Promise<void>;
}

async function openStore(config: CollectorConfig, log: Logger): Promise<RecordStore> {
  if (config.store === 'sqlite') {
    const { createSqliteStore } = await import('./store/sqlite-store.ts');
    return createSqliteStore({
      path: config.dbPath,
      maxRecords: config.maxRecords,
      retentionHours: config.retentionHours,
      retentionMaxBytes: Math.round(config.retentionMaxMb * 1024 * 1024),
      retentionIntervalMs: config.retentionIntervalMs,
      listScanLimit: config.listScanLimit,
      fullText: config.fullTextIndex,
      groupCommitMs: config.groupCommitMs,
      log,
    });
  }
  return createMemoryStore({ maxRecords: config.maxRecords ?? DEFAULT_MEMORY_MAX_RECORDS });
}

async function openInventory(config: CollectorConfig, env: NodeJS.ProcessEnv, log: Logger, metrics: CollectorMetrics): Promise<Inventory | undefined> {
  const kind = resolveInventoryKind(config, env);
  if (kind === 'none') return undefined;
  if (kind === 'file') {
    const { createFileInventory } = await import('./inventory/file.ts');
    return createFileInventory({ path: config.inventoryFile!, log });
  }
  const { createKubeInventory } = await import('../lib/kube/inventory/kube.ts');
  return createKubeInventory(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}, { registry: metrics.registry, log });
}

/** Publishes what the store newly stored (not re-sent duplicates) to the live stream. */
function publishingStore(inner: RecordStore, hub: StreamHub): RecordStore {
  return {
    ...inner,
    async add(records) {
      const result = await inner.add(records);
      // A store that does not say which records were new: publish them all.
      hub.publish(result.added ?? records);
      return result;
    },
  };
}

export async function startCollector(config: CollectorConfig, deps: CollectorDeps = {}): Promise<RunningCollector> {
  const log = deps.log ?? silentLogger;
  // First, so a bad certificate directory costs nothing to undo.
  const ingestTls =
    deps.grpcCredentials === undefined && config.tlsCertDir !== undefined
      ? await loadIngestCredentials(config.tlsCertDir, {
          reloadIntervalMs: deps.tlsReloadIntervalMs,
          onReload: (event) =>
            event.ok
              ? log.info({ dir: config.tlsCertDir }, 'ingest certificate reloaded')
              : log.warn({ dir: config.tlsCertDir, detail: event.error }, 'ingest certificate directory unusable; serving the last good certificate'),
        })
      : undefined;
  const grpcCredentials = deps.grpcCredentials ?? ingestTls?.credentials;
  const ingestSecurity = deps.grpcCredentials ? 'custom' : config.tlsCertDir !== undefined ? 'mtls' : 'plaintext';
  if (ingestSecurity === 'plaintext') {
    // Accepted so that bare test pairs work; never what a cluster should run.
    log.warn(
      {},
      'gRPC ingest is plaintext: records, payloads included, cross the network unencrypted and anyone who reaches the port can send records; give the collector a certificate with --tls-cert-dir (MESHTAP_COLLECTOR_TLS_CERT_DIR), as the manifests and the lab do',
    );
  }
  const hub = createStreamHub({
    bufferEvents: config.streamBufferEvents,
    bufferBytes: config.streamBufferBytes,
    heartbeatMs: config.streamHeartbeatMs,
    maxClients: config.maxStreamClients,
    // Called only once clients exist, so after the metrics below are made.
    onBudgetExceeded: () => metrics.filterBudgetExceeded.inc({ where: 'stream' }),
  });
  const store = publishingStore(deps.store ?? (await openStore(config, log)), hub);
  const metrics = createCollectorMetrics(() => store.count());
  const env = deps.env ?? {};
  const inventory = deps.inventory ?? (await openInventory(config, env, log, metrics));
  // An inventory that cannot start (API unreachable) is retried by itself; ingest goes on unnamed.
  await inventory?.start().catch((err: unknown) => log.error({ detail: (err as Error).message }, 'inventory failed to start'));
  // Linked flows become one trace across hops (trace-links.ts); the exports wait a little for it.
  const traceLinks = createTraceLinks();
  registerTraceLinkMetrics(metrics.registry, traceLinks);
  const outputs = deps.outputs ?? openOutputs(env, { log, registry: metrics.registry, holdMs: config.exportHoldMs, resolveTrace: traceLinks.resolve });
  const enrich = inventory ? (record: CallRecord) => enrichRecord(record, inventory) : undefined;
  // Exports take the stored records on the next turn of the event loop: the batch is acked
  // (and the stream reads on) first. Each output queues with a bound and counts its drops.
  const ingest = createIngest({ store, metrics, log, enrich, traceLinks, onStored: (records) => void setImmediate(() => outputs.export(records)) });
  let grpc;
  try {
    grpc = await startGrpcServer({ host: config.host, port: config.grpcPort, ingest, metrics, log, credentials: grpcCredentials, maxStreams: config.maxIngestStreams, maxRecordsPerSecond: config.maxIngestRate, maxMessageBytes: config.maxIngestMessageBytes });
  } catch (err) {
    await store.close();
    await inventory?.stop();
    ingestTls?.certificates.close();
    await outputs.close(0);
    const why = listenFailure(err, { host: config.host, port: config.grpcPort, what: 'gRPC ingest', hostFlag: '--host', portFlag: '--grpc-port' });
    throw new MeshtapError(COL_ERR_LISTEN, why ?? `cannot listen for gRPC on ${formatHostPort(config.host, config.grpcPort)}: ${(err as Error).message}`, { cause: err });
  }
  let built;
  try {
    built = deps.access !== undefined ? { access: deps.access, describe: {} } : await buildAccess(config, env, log);
  } catch (err) {
    await grpc.close({ force: true });
    await store.close();
    await inventory?.stop();
    ingestTls?.certificates.close();
    await outputs.close(0);
    throw err;
  }
  const httpHost = config.httpHost ?? config.host;
  const coverageExclusions = inventory ? exclusionsFromInventory(inventory) : undefined;
  const app = buildHttpApp({
    store,
    metrics,
    log,
    hub,
    access: built.access,
    bindHost: httpHost,
    servicemapWindowMs: config.servicemapWindowMs,
    resolveTrace: traceLinks.resolve,
    ...(coverageExclusions !== undefined ? { coverageExclusions } : {}),
  });
  try {
    await app.listen({ host: httpHost, port: config.httpPort });
  } catch (err) {
    await grpc.close({ force: true });
    await store.close();
    await inventory?.stop();
    ingestTls?.certificates.close();
    await outputs.close(0);
    const hostFlag = config.httpHost !== undefined ? '--http-host' : '--host';
    const why = listenFailure(err, { host: httpHost, port: config.httpPort, what: 'HTTP API', hostFlag, portFlag: '--http-port' });
    throw new MeshtapError(COL_ERR_LISTEN, why ?? `cannot listen for HTTP on ${formatHostPort(httpHost, config.httpPort)}: ${(err as Error).message}`, { cause: err });
  }
  const address = app.server.address();
  const httpPort = typeof address === 'object' && address !== null ? address.port : config.httpPort;
  let closing: Promise<void> | undefined;
  return {
    grpcPort: grpc.port,
    ingestSecurity,
    auth: built.describe,
    httpPort,
    store,
    metrics,
    hub,
    inventory,
    outputs,
    close(options = {}) {
      closing ??= (async () => {
        await grpc.close(options);
        await app.close();
        hub.close();
        await store.close();
        await inventory?.stop();
        ingestTls?.certificates.close();
        await outputs.close(options.force ? 0 : 5000);
      })();
      return closing;
    },
  };
}
