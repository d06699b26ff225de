/**
 * `meshtap webhook`: serves the injection webhook over HTTPS (the `meshtap-controller`
 * Deployment). Reads the serving certificate from a directory laid out like a Kubernetes TLS
 * Secret, reloads it when the files change, optionally provisions the caBundle of the
 * MutatingWebhookConfiguration, and shuts down gracefully on SIGTERM/SIGINT.
 */
import { serveUntilSignal } from '../lib/serve.ts';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { parseAllDocuments } from 'yaml';
import { JSON_YAML_OPTIONS } from '../lib/yaml-json.ts';
import { parseCommandArgs, type CommandIO } from '../lib/cli.ts';
import { MeshtapError, describeError } from '../lib/errors.ts';
import { formatHost, listenFailure, listenHostProblem } from '../lib/host-port.ts';
import { pinoJsonOptions } from '../lib/log.ts';
import { SERVER_FLAGS, commandPort, commandUsageError, requireFlag, resolveServerFlags } from '../lib/server-flags.ts';
import type { InjectFn } from './admission.ts';
import { syncWebhookCaBundle } from './bootstrap.ts';
import { injectPod, type PodLike } from './inject.ts';
import { resolveInjectorConfig, type InjectorConfig, type InjectorOptions } from './injector-config.ts';
import { readInjectorOptionsFile } from './injector-config-file.ts';
import {
  DEFAULT_SERVICE_ACCOUNT_DIR,
  createKubeClient,
  createNamespaceLookup,
  isInCluster,
  resolveInClusterKubeOptions,
  type KubeClient,
} from '../lib/kube/kube-client.ts';
import { buildWebhookServer, setServingCertificate, type ServingCertificate, type WebhookServer } from './server.ts';
import { WH_ERR_CONFIG, WH_ERR_LISTEN, WH_ERR_TLS_FILES } from './server-errors.ts';

const USAGE = `usage: meshtap webhook --cert-dir DIR [--port PORT] [options]

Serves the sidecar injection webhook (POST /mutate, GET /healthz, GET /metrics) over HTTPS.

options:
  --cert-dir DIR                 directory with tls.crt and tls.key (and ca.crt), as written by
                                 "meshtap certs init" under <dir>/webhook/ or mounted from a Secret
  --port PORT                    port to listen on (default 9443; 0 picks a free one)
  --host HOST                    address to bind (default 0.0.0.0)
  --config FILE                  YAML file with injector options (image, ports, proxyUid, ...;
                                 every key: webhook/README.md, "Injector options")
  --patch-webhook-config NAME    at start, set the caBundle of MutatingWebhookConfiguration NAME
                                 from <cert-dir>/ca.crt (only if it is labelled
                                 meshtap.io/ca-bundle=managed)
  --namespaces FILE              YAML file of Namespace objects whose labels and annotations are
                                 used instead of the Kubernetes API (outside a cluster, e.g. the lab)
  --strict-namespace-labels      when a namespace's labels cannot be read, do not inject
                                 (default: assume opted in, as the API server already filtered)
  --service-account-dir DIR      in-cluster credentials (default ${DEFAULT_SERVICE_ACCOUNT_DIR})
  --drain-seconds N              keep serving N seconds after SIGTERM before closing (default 0)
  --log-level LEVEL              trace, debug, info, warn, error, fatal or silent (default info)
  -h, --help                     show this help
`;

export interface WebhookCliOptions {
  certDir: string;
  /** The flag that gave `certDir`, as errors name it: `--cert-dir` unless given (the controller's `--webhook-cert-dir`). */
  certDirFlag?: string;
  port: number;
  host: string;
  configFile?: string;
  namespacesFile?: string;
  patchWebhookConfig?: string;
  strictNamespaceLabels: boolean;
  serviceAccountDir: string;
  drainSeconds: number;
  logLevel: string;
}

export function parseWebhookArgs(argv: string[]): WebhookCliOptions | 'help' {
  const { values } = parseCommandArgs(argv, {
    'cert-dir': { type: 'string' },
    port: { type: 'string' },
    ...SERVER_FLAGS,
  });
  if (values.help) return 'help';
  const certDir = requireFlag('webhook', '--cert-dir', values['cert-dir'], 'the directory holding tls.crt and tls.key');
  const port = commandPort('webhook', '--port', values.port, 9443);
  const shared = resolveServerFlags('webhook', values);
  const hostProblem = listenHostProblem(shared.host);
  if (hostProblem !== undefined) throw commandUsageError('webhook', `--host ${hostProblem}`);
  return { certDir, port, ...shared, serviceAccountDir: shared.serviceAccountDir ?? DEFAULT_SERVICE_ACCOUNT_DIR };
}


/** `flag` is the one that named `dir` (`--cert-dir`, the controller's `--webhook-cert-dir`, `--grpc-cert-dir`): the hint names it. */
async function readTlsFile(dir: string, file: string, flag: string): Promise<string> {
  const path = join(dir, file);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new MeshtapError(
      WH_ERR_TLS_FILES,
      `cannot read ${path}: ${why} (create one with "meshtap certs init --dir DIR" and pass ${flag} DIR/webhook)`,
      { cause: err },
    );
  }
}

/**
 * Reads and checks the serving certificate, so a bad pair is reported by name, not as a TLS error
 * later. `flag` is the flag that gave `dir`, which a missing file's hint names.
 */
export async function loadServingCertificate(dir: string, flag = '--cert-dir'): Promise<ServingCertificate> {
  // One after the other: a directory missing both files is reported by its certificate, always.
  const cert = await readTlsFile(dir, 'tls.crt', flag);
  const key = await readTlsFile(dir, 'tls.key', flag);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new MeshtapError(WH_ERR_TLS_FILES, `${join(dir, 'tls.crt')} and tls.key are not a usable certificate/key pair: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { cert, key };
}

export async function loadInjectorConfigFile(file: string | undefined): Promise<InjectorConfig> {
  if (file === undefined) return resolveInjectorConfig({});
  let options: InjectorOptions;
  try {
    options = await readInjectorOptionsFile(file);
  } catch (err) {
    throw new MeshtapError(WH_ERR_CONFIG, (err as Error).message, { cause: err });
  }
  try {
    return resolveInjectorConfig(options);
  } catch (err) {
    throw new MeshtapError(WH_ERR_CONFIG, `--config ${file}: ${describeError(err)}`, { cause: err });
  }
}

/**
 * Namespace objects from a YAML file (one per document, or `kind: List`), served as if read from
 * the API: a namespace missing from the file is a failed lookup.
 */
export async function loadNamespacesFile(file: string): Promise<Pick<KubeClient, 'getNamespace'>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MeshtapError(WH_ERR_CONFIG, `cannot read --namespaces ${file}: ${(err as Error).message}`, { cause: err });
  }
  const byName = new Map<string, Record<string, unknown>>();
  const add = (obj: unknown): void => {
    if (obj === null || obj === undefined) return;
    const o = obj as { kind?: unknown; items?: unknown; metadata?: { name?: unknown } };
    if (o.kind === 'List' && Array.isArray(o.items)) return o.items.forEach(add);
    if (o.kind !== 'Namespace' || typeof o.metadata?.name !== 'string') {
      throw new MeshtapError(WH_ERR_CONFIG, `--namespaces ${file}: every document must be a Namespace with metadata.name`);
    }
    byName.set(o.metadata.name, obj as Record<string, unknown>);
  };
  for (const doc of parseAllDocuments(text, JSON_YAML_OPTIONS)) {
    if (doc.errors.length > 0) throw new MeshtapError(WH_ERR_CONFIG, `--namespaces ${file} is not valid YAML: ${doc.errors[0].message}`);
    add(doc.toJS());
  }
  return {
    getNamespace: async (name) => {
      const ns = byName.get(name);
      if (!ns) throw new MeshtapError(WH_ERR_CONFIG, `namespace ${name} is not in --namespaces ${file}`);
      return ns;
    },
  };
}

export interface RunningWebhook {
  app: WebhookServer;
  /** The port actually bound (useful with --port 0). */
  port: number;
  /** Stops watching files and closes the server, letting in-flight reviews finish. */
  close(): Promise<void>;
}

/** Starts the webhook as the CLI would, without the signal handling; for `run` and tests. */
export async function startWebhook(opts: WebhookCliOptions, io: Pick<CommandIO, 'stdout' | 'env'>): Promise<RunningWebhook> {
  const certDirFlag = opts.certDirFlag ?? '--cert-dir';
  const [tls, config] = await Promise.all([loadServingCertificate(opts.certDir, certDirFlag), loadInjectorConfigFile(opts.configFile)]);
  const caPem = opts.patchWebhookConfig ? await readTlsFile(opts.certDir, 'ca.crt', certDirFlag) : undefined;

  let client: KubeClient | undefined;
  let kubeProblem: unknown;
  if (isInCluster(io.env)) {
    try {
      client = createKubeClient(await resolveInClusterKubeOptions({ env: io.env, serviceAccountDir: opts.serviceAccountDir }));
    } catch (err) {
      kubeProblem = err;
    }
  }
  const fromFile = opts.namespacesFile ? await loadNamespacesFile(opts.namespacesFile) : undefined;
  const source = fromFile ?? client;
  const namespaces = source ? createNamespaceLookup(source) : undefined;
  const inject: InjectFn = (input) => injectPod({ ...input, pod: input.pod as PodLike, config });

  const app = buildWebhookServer({
    tls,
    inject,
    namespaceLabels: namespaces?.labels,
    namespaceAnnotations: namespaces?.annotations,
    assumeNamespaceOptedIn: !opts.strictNamespaceLabels,
    logger: pinoJsonOptions(opts.logLevel, io.stdout),
  });
  const log = app.log.child({ component: 'webhook' });
  // With --strict-namespace-labels nothing is assumed: without a source every pod is skipped, and the log says so.
  const unknownLabels = opts.strictNamespaceLabels
    ? 'every pod will be skipped (namespace-labels-unknown: --strict-namespace-labels); give --namespaces FILE or run in a cluster'
    : undefined;
  if (kubeProblem) log.error({ error: describeError(kubeProblem) }, `no Kubernetes API access; ${unknownLabels ?? 'namespace labels will be assumed'}`);
  else if (fromFile) log.info({ namespaces: opts.namespacesFile }, 'namespace labels are read from a file');
  else if (!client && unknownLabels) log.warn(`not running in a cluster and no --namespaces file: ${unknownLabels}`);
  else if (!client) log.info('not running in a cluster: namespace labels are assumed from the webhook configuration selectors');

  try {
    await app.listen({ port: opts.port, host: opts.host });
  } catch (err) {
    await app.close();
    const message = listenFailure(err, { host: opts.host, port: opts.port, what: 'webhook', hostFlag: '--host', portFlag: '--port' });
    throw message === undefined ? err : new MeshtapError(WH_ERR_LISTEN, message, { cause: err });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const shownHost = formatHost(opts.host);
  // One parseable line: tools (and tests) started with --port 0 read the port from it.
  log.info({ event: 'listening', address: `https://${shownHost}:${port}`, host: opts.host, port }, `webhook listening on https://${shownHost}:${port}`);

  const syncCa = async (pem: string): Promise<void> => {
    const name = opts.patchWebhookConfig!;
    if (!client) {
      log.error({ webhookConfig: name, error: kubeProblem ? describeError(kubeProblem) : 'not running in a cluster' }, 'cannot provision caBundle: no Kubernetes API access');
      return;
    }
    try {
      const result = await syncWebhookCaBundle({ client, name, caPem: pem });
      const messages = {
        patched: 'caBundle updated',
        unchanged: 'caBundle already up to date',
        'not-managed': 'caBundle left alone: the webhook configuration is not labelled meshtap.io/ca-bundle=managed',
        'not-found': 'caBundle not provisioned: the webhook configuration does not exist',
      } as const;
      const level = result.status === 'not-found' || result.status === 'not-managed' ? 'warn' : 'info';
      log[level]({ event: 'ca-bundle', webhookConfig: name, ...result }, messages[result.status]);
    } catch (err) {
      log.error({ event: 'ca-bundle', webhookConfig: name, error: describeError(err) }, 'caBundle provisioning failed; serving anyway');
    }
  };
  if (caPem !== undefined) await syncCa(caPem);

  // Secret volumes change by swapping a symlink inside the directory: watch the directory.
  let current = { ...tls, ca: caPem };
  let timer: NodeJS.Timeout | undefined;
  const reload = async (): Promise<void> => {
    try {
      const next = await loadServingCertificate(opts.certDir, certDirFlag);
      if (next.cert !== current.cert || next.key !== current.key) {
        setServingCertificate(app, next);
        log.info({ event: 'certificate-reloaded', certDir: opts.certDir }, 'serving certificate reloaded');
      }
      let ca = current.ca;
      if (opts.patchWebhookConfig) {
        ca = await readTlsFile(opts.certDir, 'ca.crt', certDirFlag);
        if (ca !== current.ca) await syncCa(ca);
      }
      current = { ...next, ca };
    } catch (err) {
      log.warn({ event: 'certificate-reload-failed', error: describeError(err) }, 'certificate files changed but could not be loaded; keeping the current ones');
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(opts.certDir, { persistent: false }, () => {
      clearTimeout(timer);
      timer = setTimeout(() => void reload(), 200);
    });
    watcher.on('error', (err) => log.warn({ error: err.message }, 'stopped watching the certificate directory'));
  } catch (err) {
    log.warn({ error: (err as Error).message }, 'cannot watch the certificate directory; certificates will not be reloaded');
  }

  return {
    app,
    port,
    async close() {
      clearTimeout(timer);
      watcher?.close();
      await app.close();
    },
  };
}

export function run(argv: string[], io: CommandIO): Promise<number> {
  return serveUntilSignal<WebhookCliOptions, RunningWebhook>(argv, io, {
    name: 'webhook',
    usage: USAGE,
    parse: parseWebhookArgs,
    start: startWebhook,
    drainMs: (opts) => opts.drainSeconds * 1000,
    onSignal: (running, signal) =>
      running.app.log.info({ event: 'shutdown', signal }, `received ${signal}, shutting down`),
    onStopped: (running) => running.app.log.info({ event: 'stopped' }, 'webhook stopped'),
  });
}
