/**
 * `meshtap controller`: the control plane in one process (the `meshtap-controller`
 * Deployment). It runs
 *
 * - the injection webhook over HTTPS (`webhook/cli.ts`'s `startWebhook`, unchanged, handed in by
 *   the command's wiring: see `webhook-part.ts`);
 * - one TLS gRPC server carrying the CA's signing service (`meshtap.v1.CertificateAuthority`)
 *   and the membership feed (`meshtap.v1.Membership`), both authenticating callers with the
 *   same authenticator (TokenReview in a cluster, a JWT key in the lab and tests);
 * - the membership source: the cluster's informers, or the lab's inventory file;
 * - optionally, the trust-bundle ConfigMap publisher;
 * - with cluster access, the collector's serving certificate (Secret `meshtap-collector-tls`),
 *   issued from the same CA, so that ingest runs over mTLS without anyone handling certificates.
 *
 * One parseable JSON line (`"event":"controller-ready"`) gives the bound ports.
 */
import { serveUntilSignal } from '../lib/serve.ts';
import * as grpc from '@grpc/grpc-js';
import type { KubeConfig } from '@kubernetes/client-node';
import { flagValue, parseCommandArgs, usageProblems, type CommandIO } from '../lib/cli.ts';
import { MeshtapError, describeError } from '../lib/errors.ts';
import { shutdownGrpcServer } from '../lib/grpc-shutdown.ts';
import { formatHost, formatHostPort, listenFailure, listenHostProblem } from '../lib/host-port.ts';
import { withFields, type Logger } from '../lib/log.ts';
import { SERVER_FLAGS, commandPort, commandUsageError, requireFlag, resolveServerFlags } from '../lib/server-flags.ts';
import type { Authenticator } from '../certs/authn/authenticator.ts';
import { loadJwtKeyAuthenticator } from '../certs/authn/jwt-key.ts';
import { createInClusterTokenReviewAuthenticator } from '../certs/authn/kube-tokenreview.ts';
import { DEFAULT_CA_PORT, createCaService } from '../certs/ca-service.ts';
import { checkDnsName, ipAddressBytes } from '../certs/san-names.ts';
import { loadSigningCa, type SigningCa } from '../certs/signing-ca.ts';
import { DEFAULT_TRUST_DOMAIN, checkTrustDomain } from '../certs/spiffe-id.ts';
import { readTlsDir } from '../lib/tls/tls-dir.ts';
import { issueWebhookCert } from '../certs/webhook-cert.ts';
import type { InventoryResource } from '../lib/kube/inventory/inventory.ts';
import type { KubeInventory } from '../lib/kube/inventory/kube.ts';
import { DEFAULT_SERVICE_ACCOUNT_DIR, isInCluster } from '../lib/kube/kube-client.ts';
import type { ServingCertificate, StartedWebhook, WebhookPart } from './webhook-part.ts';
import { CTL_ERR_CONFIG, CTL_ERR_LISTEN } from './errors.ts';
import { MEMBERSHIP_RESOURCES, createClusterSource } from './membership/cluster-source.ts';
import { createFileSource } from './membership/file-source.ts';
import { createMembershipHub, type MembershipHub } from './membership/hub.ts';
import { createMembershipService, type MembershipService } from './membership/service.ts';
import type { MembershipSource } from './membership/source.ts';
import type { TrustBundlePublisher } from './trust-bundle-publisher.ts';
import { COLLECTOR_CERT_VALIDITY_DAYS, COLLECTOR_NAMESPACE, COLLECTOR_SERVICE, COLLECTOR_TLS_SECRET, type CollectorCertPublisher } from './collector-cert-publisher.ts';

const USAGE = `usage: meshtap controller --webhook-cert-dir DIR --ca-dir DIR [options]

Runs the control plane: the injection webhook (HTTPS), the CA signing service and the
membership feed (one TLS gRPC port), and optionally publishes the trust bundle.

options:
  --webhook-cert-dir DIR       tls.crt/tls.key (and ca.crt) of the webhook's HTTPS serving
                               certificate ("meshtap certs init" writes <dir>/webhook/)
  --webhook-port PORT          webhook port (default 9443; 0 picks a free one)
  --ca-dir DIR                 the CA: tls.crt, tls.key, ca.crt ("meshtap certs init" writes <dir>/ca/)
  --grpc-port PORT             CA + membership gRPC port (default ${DEFAULT_CA_PORT}; 0 picks a free one)
  --grpc-cert-dir DIR          serving certificate for the gRPC port (default: one issued from the
                               CA at start for meshtap-controller.meshtap-system.svc and the names below)
  --grpc-dns NAME,...          extra DNS names for the issued gRPC certificate (repeatable)
  --grpc-ip IP,...             extra IP addresses for the issued gRPC certificate (repeatable)
  --host HOST                  address both servers bind (default 0.0.0.0)
  --trust-domain TD            SPIFFE trust domain (default: the CA's, else ${DEFAULT_TRUST_DOMAIN})
  --token-key FILE             authenticate callers with JWTs checked by this PEM public key or JWKS
                               (the lab, tests); default: the API server's TokenReview (in a cluster)
  --inventory-file FILE        membership from this JSON file (the lab); default: cluster informers
  --kubeconfig FILE            cluster access for informers and ConfigMaps outside a pod
  --publish-trust-bundle       keep ConfigMap meshtap-trust-bundle (key ca.crt) in every namespace
                               labelled meshtap.io/inject=enabled
  --collector-tls-secret NAME  Secret kept with the collector's serving certificate, issued from the
                               CA (default meshtap-collector-tls)          env MESHTAP_COLLECTOR_TLS_SECRET
  --collector-namespace NS     namespace of that Secret and of the collector's Service
                               (default meshtap-system)                    env MESHTAP_COLLECTOR_NAMESPACE
  --collector-service NAME     the collector's Service, named by the certificate
                               (default meshtap-collector)                 env MESHTAP_COLLECTOR_SERVICE
  --no-collector-cert          do not keep that Secret (it is kept whenever the controller has
                               cluster access: in a cluster or with --kubeconfig)
  --config FILE                YAML file with injector options (image, ports, proxyUid, ...;
                               every key: webhook/README.md, "Injector options")
  --patch-webhook-config NAME  at start, set the caBundle of MutatingWebhookConfiguration NAME
  --namespaces FILE            Namespace objects for the webhook's label lookups outside a cluster
  --strict-namespace-labels    when a namespace's labels cannot be read, do not inject
  --service-account-dir DIR    in-cluster credentials (default ${DEFAULT_SERVICE_ACCOUNT_DIR})
  --drain-seconds N            keep serving N seconds after SIGTERM before closing (default 0)
  --log-level LEVEL            trace, debug, info, warn, error, fatal or silent (default info)
  -h, --help                   show this help
`;


export interface ControllerCliOptions {
  webhookCertDir: string;
  webhookPort: number;
  caDir: string;
  grpcPort: number;
  grpcCertDir?: string;
  grpcDns: string[];
  grpcIps: string[];
  host: string;
  trustDomain?: string;
  tokenKeyFile?: string;
  inventoryFile?: string;
  kubeconfig?: string;
  publishTrustBundle: boolean;
  /** Keep the collector's serving certificate Secret (with cluster access). */
  collectorCert: boolean;
  collectorTlsSecret?: string;
  collectorNamespace?: string;
  collectorService?: string;
  configFile?: string;
  patchWebhookConfig?: string;
  namespacesFile?: string;
  strictNamespaceLabels: boolean;
  serviceAccountDir: string;
  drainSeconds: number;
  logLevel: string;
}

const DNS_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const KUBERNETES_NAME = "a Kubernetes name (lower-case letters, digits and '-', at most 63)";

/** The names of the collector's certificate: each from its flag, else its variable, else the bundled manifests' name. */
const COLLECTOR_NAMES = [
  { option: 'collectorTlsSecret', flag: '--collector-tls-secret', env: 'MESHTAP_COLLECTOR_TLS_SECRET', fallback: COLLECTOR_TLS_SECRET },
  { option: 'collectorNamespace', flag: '--collector-namespace', env: 'MESHTAP_COLLECTOR_NAMESPACE', fallback: COLLECTOR_NAMESPACE },
  { option: 'collectorService', flag: '--collector-service', env: 'MESHTAP_COLLECTOR_SERVICE', fallback: COLLECTOR_SERVICE },
] as const;

/** What the environment decides: cluster access, and the collector names not given as flags. */
type EnvironmentSettings = Pick<ControllerCliOptions, 'tokenKeyFile' | 'inventoryFile' | 'kubeconfig' | 'publishTrustBundle' | 'collectorTlsSecret' | 'collectorNamespace' | 'collectorService'>;

/** Where "outside a cluster" comes from, for messages. */
const OUTSIDE_A_CLUSTER = 'outside a cluster (KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT unset)';

/**
 * What is missing or invalid given the environment, every problem at once, each naming the
 * flag (and the variable) that sets it. Outside a cluster the controller needs a way to
 * authenticate sidecars and a membership source, which a cluster provides. Pure.
 */
export function environmentProblems(opts: EnvironmentSettings, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const inCluster = isInCluster(env);
  // A flag given, even empty (a usage error of its own), is not also missing.
  if (opts.tokenKeyFile === undefined && !inCluster) {
    problems.push(`--token-key FILE is required ${OUTSIDE_A_CLUSTER}: the PEM public key or JWKS that checks sidecars' tokens (in a cluster, TokenReview does)`);
  }
  if (opts.inventoryFile === undefined && opts.kubeconfig === undefined && !inCluster) {
    problems.push(`--inventory-file FILE or --kubeconfig FILE is required ${OUTSIDE_A_CLUSTER}: the membership source (in a cluster, its informers)`);
  }
  if (opts.publishTrustBundle && opts.kubeconfig === undefined && !inCluster) {
    problems.push(`--publish-trust-bundle needs cluster access: run in a cluster or give --kubeconfig FILE`);
  }
  return [...problems, ...collectorVariableProblems(opts, env)];
}

/** MESHTAP_COLLECTOR_* variables that are not Kubernetes names, where no flag overrides them. Pure. */
function collectorVariableProblems(opts: EnvironmentSettings, env: NodeJS.ProcessEnv): string[] {
  return COLLECTOR_NAMES.flatMap((name) => {
    const value = env[name.env];
    if (opts[name.option] !== undefined || value === undefined || value === '' || DNS_LABEL.test(value)) return [];
    return [`${name.env} (or ${name.flag}) must be ${KUBERNETES_NAME}, got "${value}"`];
  });
}

/** Where the collector's certificate goes: flags, then MESHTAP_COLLECTOR_* variables, then the bundled manifests' names. */
export function resolveCollectorCertTarget(opts: ControllerCliOptions, env: NodeJS.ProcessEnv): { secretName: string; namespace: string; service: string } {
  const problems = collectorVariableProblems(opts, env);
  if (problems.length > 0) throw usageError(problems.join('; '));
  const pick = (name: (typeof COLLECTOR_NAMES)[number]): string => opts[name.option] ?? (env[name.env] || name.fallback);
  const [secretName, namespace, service] = COLLECTOR_NAMES.map(pick);
  return { secretName, namespace, service };
}

function usageError(message: string): MeshtapError {
  return commandUsageError('controller', message);
}


/**
 * A failure to bind a port, named by the flags that chose it (`CTL_ERR_LISTEN`, exit 1); `what`
 * says which server. A host that does not resolve, or is no address of this machine, is
 * `--host`'s; anything else (the port taken) names the address. Other errors: undefined.
 */
function listenError(err: unknown, host: string, port: number, what: string, portFlag: string): MeshtapError | undefined {
  // The webhook part words its own listen failure with its own flags (`--port`); the cause is reworded here with the controller's.
  const failure = err instanceof MeshtapError ? err.cause : err;
  const message = listenFailure(failure, { host, port, what, hostFlag: '--host', portFlag });
  return message === undefined ? undefined : new MeshtapError(CTL_ERR_LISTEN, message, { cause: failure });
}

function splitList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** The usage errors of the shared helpers say "meshtap controller: …"; a list of problems says it once. */
const COMMAND_PREFIX = 'meshtap controller: ';

/**
 * Parses and checks the command line, naming every problem at once in one usage error
 * (`CLI_ERR_USAGE`, exit 2). With `env`, what the environment decides is checked too
 * (`environmentProblems`: outside a cluster, --token-key and --inventory-file are needed);
 * without it only the command line is (what a manifest's args can be checked for).
 */
export function parseControllerArgs(argv: string[], env?: NodeJS.ProcessEnv): ControllerCliOptions | 'help' {
  const { values } = parseCommandArgs(argv, {
    'webhook-cert-dir': { type: 'string' },
    'webhook-port': { type: 'string' },
    'ca-dir': { type: 'string' },
    'grpc-port': { type: 'string' },
    'grpc-cert-dir': { type: 'string' },
    'grpc-dns': { type: 'string', multiple: true },
    'grpc-ip': { type: 'string', multiple: true },
    'trust-domain': { type: 'string' },
    'token-key': { type: 'string' },
    'inventory-file': { type: 'string' },
    kubeconfig: { type: 'string' },
    'publish-trust-bundle': { type: 'boolean' },
    'collector-tls-secret': { type: 'string' },
    'collector-namespace': { type: 'string' },
    'collector-service': { type: 'string' },
    'no-collector-cert': { type: 'boolean' },
    ...SERVER_FLAGS,
  });
  if (values.help) return 'help';
  const { problems, check } = usageProblems(COMMAND_PREFIX);
  const webhookCertDir = check(() => requireFlag('controller', '--webhook-cert-dir', values['webhook-cert-dir'], "the directory holding the webhook's tls.crt and tls.key"));
  const caDir = check(() => requireFlag('controller', '--ca-dir', values['ca-dir'], 'the CA directory holding tls.crt, tls.key and ca.crt'));
  // A file flag given empty is a mistake to name (an empty --token-key would mean TokenReview in a cluster).
  for (const [flag, what] of [
    ['--grpc-cert-dir', 'a directory holding tls.crt and tls.key'],
    ['--token-key', 'a PEM public key or JWKS file'],
    ['--inventory-file', 'a membership JSON file'],
    ['--kubeconfig', 'a kubeconfig file'],
  ] as const) {
    check(() => flagValue(flag, values[flag.slice(2) as 'grpc-cert-dir' | 'token-key' | 'inventory-file' | 'kubeconfig'], what));
  }
  const webhookPort = check(() => commandPort('controller', '--webhook-port', values['webhook-port'], 9443));
  const grpcPort = check(() => commandPort('controller', '--grpc-port', values['grpc-port'], DEFAULT_CA_PORT));
  if (webhookPort !== undefined && webhookPort !== 0 && webhookPort === grpcPort) problems.push(`--webhook-port and --grpc-port must differ, both are ${grpcPort}`);
  const shared = check(() => resolveServerFlags('controller', values));
  const hostProblem = shared === undefined ? undefined : listenHostProblem(shared.host);
  if (hostProblem !== undefined) problems.push(`--host ${hostProblem}`);
  const trustDomain = values['trust-domain'];
  if (trustDomain !== undefined) {
    try {
      checkTrustDomain(trustDomain);
    } catch (err) {
      problems.push(`--trust-domain: ${(err as Error).message}`);
    }
  }
  const grpcDns = splitList(values['grpc-dns']);
  const grpcIps = splitList(values['grpc-ip']);
  try {
    grpcDns.forEach((n) => checkDnsName(n));
    grpcIps.forEach((ip) => ipAddressBytes(ip));
  } catch (err) {
    problems.push(`--grpc-dns/--grpc-ip: ${(err as Error).message}`);
  }
  if (values['no-collector-cert'] && (values['collector-tls-secret'] ?? values['collector-namespace'] ?? values['collector-service']) !== undefined) {
    problems.push('--collector-tls-secret, --collector-namespace and --collector-service name what --no-collector-cert turns off; give one or the other');
  }
  for (const { flag } of COLLECTOR_NAMES) {
    const v = values[flag.slice(2) as 'collector-tls-secret' | 'collector-namespace' | 'collector-service'];
    if (v !== undefined && !DNS_LABEL.test(v)) problems.push(`${flag} must be ${KUBERNETES_NAME}, got "${v}"`);
  }
  if (values['grpc-cert-dir'] && (grpcDns.length > 0 || grpcIps.length > 0)) {
    problems.push('--grpc-dns and --grpc-ip name the issued certificate; they do not apply with --grpc-cert-dir');
  }
  const settings: EnvironmentSettings = {
    tokenKeyFile: values['token-key'],
    inventoryFile: values['inventory-file'],
    kubeconfig: values.kubeconfig,
    publishTrustBundle: values['publish-trust-bundle'] ?? false,
    collectorTlsSecret: values['collector-tls-secret'],
    collectorNamespace: values['collector-namespace'],
    collectorService: values['collector-service'],
  };
  if (env !== undefined) problems.push(...environmentProblems(settings, env));
  if (problems.length > 0 || webhookCertDir === undefined || caDir === undefined || webhookPort === undefined || grpcPort === undefined || shared === undefined) {
    throw usageError(problems.join('; '));
  }
  return {
    webhookCertDir,
    webhookPort,
    caDir,
    grpcPort,
    grpcCertDir: values['grpc-cert-dir'],
    grpcDns,
    grpcIps,
    trustDomain,
    ...settings,
    collectorCert: !(values['no-collector-cert'] ?? false),
    ...shared,
    serviceAccountDir: shared.serviceAccountDir ?? DEFAULT_SERVICE_ACCOUNT_DIR,
  };
}

export interface RunningController {
  webhook: StartedWebhook;
  webhookPort: number;
  grpcPort: number;
  trustDomain: string;
  log: Logger;
  /** Stops everything; streams get UNAVAILABLE, signing calls in flight may finish for `graceMs`. */
  close(options?: { graceMs?: number }): Promise<void>;
}

function configError(message: string, cause?: unknown): MeshtapError {
  return new MeshtapError(CTL_ERR_CONFIG, message, { cause });
}

async function loadCa(dir: string): Promise<SigningCa> {
  try {
    return loadSigningCa(await readTlsDir(dir));
  } catch (err) {
    throw configError(`--ca-dir ${dir}: ${describeError(err)} (create a CA with "meshtap certs init --dir DIR" and pass --ca-dir DIR/ca)`, err);
  }
}

/** The token key's, else (in a cluster: `environmentProblems` checked) the API server's TokenReview. */
async function resolveAuthenticator(opts: ControllerCliOptions, env: NodeJS.ProcessEnv): Promise<Authenticator> {
  if (opts.tokenKeyFile) return loadJwtKeyAuthenticator({ keyFile: opts.tokenKeyFile });
  return createInClusterTokenReviewAuthenticator({ env, serviceAccountDir: opts.serviceAccountDir });
}

// The Kubernetes client library is large: the lab (an inventory file, no cluster) never loads it.
async function clusterConfig(opts: ControllerCliOptions, env: NodeJS.ProcessEnv): Promise<KubeConfig | undefined> {
  if (!opts.kubeconfig && !isInCluster(env)) return undefined;
  const [{ loadKubeConfig }, { resolveKubeInventoryOptions }] = await Promise.all([import('../lib/kube/inventory/kube.ts'), import('../lib/kube/inventory/config.ts')]);
  return loadKubeConfig(resolveKubeInventoryOptions(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}), env);
}

function bindGrpc(server: grpc.Server, host: string, port: number, credentials: grpc.ServerCredentials): Promise<number> {
  const address = formatHostPort(host, port);
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, bound) => {
      if (err) {
        const message = listenFailure(err, { host, port, what: 'gRPC', hostFlag: '--host', portFlag: '--grpc-port' }) ?? `cannot listen on ${address} for gRPC (--host, --grpc-port): ${err.message}`;
        reject(new MeshtapError(CTL_ERR_LISTEN, message, { cause: err }));
      }
      else resolve(bound);
    });
  });
}

/** Starts the controller as the CLI would, without signal handling; for `run` and tests. */
export async function startController(opts: ControllerCliOptions, io: Pick<CommandIO, 'stdout' | 'env'>, webhookPart: WebhookPart): Promise<RunningController> {
  const { loadServingCertificate, startWebhook } = webhookPart;
  // The command checked these with the flags (all at once); a caller starting it directly gets the same.
  const missing = environmentProblems(opts, io.env);
  if (missing.length > 0) throw usageError(missing.join('; '));
  const signer = await loadCa(opts.caDir);
  const authenticator = await resolveAuthenticator(opts, io.env);
  let grpcTls: ServingCertificate;
  if (opts.grpcCertDir) {
    grpcTls = await loadServingCertificate(opts.grpcCertDir, '--grpc-cert-dir');
  } else {
    const issued = issueWebhookCert(signer, { extraDnsNames: opts.grpcDns, extraIps: opts.grpcIps });
    grpcTls = { cert: issued.cert, key: issued.key };
  }

  const webhook = await startWebhook(
    {
      certDir: opts.webhookCertDir,
      certDirFlag: '--webhook-cert-dir',
      port: opts.webhookPort,
      host: opts.host,
      configFile: opts.configFile,
      namespacesFile: opts.namespacesFile,
      patchWebhookConfig: opts.patchWebhookConfig,
      strictNamespaceLabels: opts.strictNamespaceLabels,
      serviceAccountDir: opts.serviceAccountDir,
      drainSeconds: 0,
      logLevel: opts.logLevel,
    },
    io,
  ).catch((err: unknown) => {
    throw listenError(err, opts.host, opts.webhookPort, 'webhook', '--webhook-port') ?? err;
  });
  const log: Logger = webhook.app.log.child({ component: 'controller' });
  const cleanups: (() => Promise<void> | void)[] = [() => webhook.close()];
  const unwind = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn({ error: describeError(err) }, 'error while stopping');
      }
    }
  };

  try {
    const ca = createCaService({ ca: signer, authenticator, trustDomain: opts.trustDomain, logger: webhook.app.log.child({ component: 'ca' }) });
    const trustDomain = ca.trustDomain;

    const resources = new Set<InventoryResource>();
    if (!opts.inventoryFile) MEMBERSHIP_RESOURCES.forEach((r) => resources.add(r));
    if (opts.publishTrustBundle) resources.add('namespaces');
    let inventory: KubeInventory | undefined;
    if (resources.size > 0) {
      const kubeConfig = await clusterConfig(opts, io.env);
      const { createKubeInventory } = await import('../lib/kube/inventory/kube.ts');
      inventory = createKubeInventory({ resources: [...resources] }, { kubeConfig, log: withFields(log, { component: 'inventory' }) });
      const inv = inventory;
      cleanups.push(() => inv.stop());
    }

    let source: MembershipSource;
    if (opts.inventoryFile) source = createFileSource({ file: opts.inventoryFile, log });
    else source = createClusterSource({ inventory: inventory!, log });
    cleanups.push(() => source.stop());

    const hub: MembershipHub = createMembershipHub({ source, trustDomain, log });
    cleanups.push(() => hub.close());
    const membership: MembershipService = createMembershipService({ hub, authenticator, log });

    const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024, 'grpc.keepalive_time_ms': 60_000, 'grpc.keepalive_timeout_ms': 20_000 });
    server.addService(ca.definition, ca.implementation);
    server.addService(membership.definition, membership.implementation);
    let credentials: grpc.ServerCredentials;
    try {
      credentials = grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(grpcTls.cert), private_key: Buffer.from(grpcTls.key) }], false);
    } catch (err) {
      throw configError(`the gRPC serving certificate is unusable: ${(err as Error).message}`, err);
    }
    const grpcPort = await bindGrpc(server, opts.host, opts.grpcPort, credentials);
    let graceMs = 2000;
    cleanups.push(async () => {
      membership.close();
      await shutdownGrpcServer(server, graceMs);
    });

    await source.start();
    if (inventory) await inventory.start();

    let publisher: TrustBundlePublisher | undefined;
    if (opts.publishTrustBundle && inventory) {
      const { createKubeConfigMapApi, createTrustBundlePublisher, namespaceViewFromInventory } = await import('./trust-bundle-publisher.ts');
      const view = namespaceViewFromInventory(inventory);
      publisher = createTrustBundlePublisher({ api: createKubeConfigMapApi((await clusterConfig(opts, io.env))!), namespaces: view, bundle: ca.trustBundle(), log });
      publisher.start();
      const p = publisher;
      cleanups.push(async () => {
        view.stop();
        await p.stop();
      });
    }

    let collectorCert: CollectorCertPublisher | undefined;
    const collectorTarget = resolveCollectorCertTarget(opts, io.env);
    const kubeConfig = opts.collectorCert ? await clusterConfig(opts, io.env) : undefined;
    if (kubeConfig) {
      const { createKubeSecretApi, createCollectorCertPublisher } = await import('./collector-cert-publisher.ts');
      collectorCert = createCollectorCertPublisher({
        api: createKubeSecretApi(kubeConfig),
        ...collectorTarget,
        trustBundle: () => ca.trustBundle(),
        issue: (dnsNames) => issueWebhookCert(signer, { service: collectorTarget.service, namespace: collectorTarget.namespace, extraDnsNames: [...dnsNames], validityDays: COLLECTOR_CERT_VALIDITY_DAYS }),
        log,
      });
      collectorCert.start();
      const c = collectorCert;
      cleanups.push(() => c.stop());
    }

    const shownHost = formatHost(opts.host);
    log.info(
      {
        event: 'controller-ready',
        webhookPort: webhook.port,
        grpcPort,
        webhook: `https://${shownHost}:${webhook.port}`,
        grpc: `${shownHost}:${grpcPort}`,
        trustDomain,
        authenticator: authenticator.kind,
        membershipSource: source.kind,
        publishTrustBundle: Boolean(publisher),
        collectorCert: collectorCert ? `${collectorTarget.namespace}/${collectorTarget.secretName}` : false,
      },
      `controller ready: webhook on ${webhook.port}, CA and membership on ${grpcPort}`,
    );

    let closing: Promise<void> | undefined;
    return {
      webhook,
      webhookPort: webhook.port,
      grpcPort,
      trustDomain,
      log,
      close(options = {}) {
        graceMs = options.graceMs ?? graceMs;
        closing ??= unwind();
        return closing;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** `meshtap controller`, given the webhook it runs (bin/meshtap.ts passes `webhook/cli.ts`). */
export function createControllerRun(webhookPart: WebhookPart): (argv: string[], io: CommandIO) => Promise<number> {
  return (argv, io) => serveController(argv, io, webhookPart);
}

function serveController(argv: string[], io: CommandIO, webhookPart: WebhookPart): Promise<number> {
  return serveUntilSignal<ControllerCliOptions, RunningController>(argv, io, {
    name: 'controller',
    usage: USAGE,
    // The environment is checked with the flags, so one run names every missing setting.
    parse: (args) => parseControllerArgs(args, io.env),
    start: (opts, cmdIo) => startController(opts, cmdIo, webhookPart),
    drainMs: (opts) => opts.drainSeconds * 1000,
    onSignal: (running, signal) =>
      running.log.info({ event: 'shutdown', signal }, `received ${signal}, shutting down`),
    onStopped: (running) => running.log.info({ event: 'stopped' }, 'controller stopped'),
  });
}
