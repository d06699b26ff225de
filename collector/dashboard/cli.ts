/**
 * `meshtap dashboard`: the collector's dashboard from a cluster on this machine. Finds a ready
 * collector pod, port-forwards to its HTTP port with @kubernetes/client-node, and serves it on
 * 127.0.0.1 through a proxy that adds the kubeconfig user's credentials to every request, so
 * the collector's `--auth kubernetes` decides what this user sees.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CommandIO } from '../../lib/cli.ts';
import { CLI_ERR_USAGE, flagValue, parseCommandArgs, parsePort } from '../../lib/cli.ts';
import { MeshtapError } from '../../lib/errors.ts';
import { startCredentialProxy } from './credential-proxy.ts';
import { COL_ERR_DASHBOARD_CLUSTER } from './errors.ts';

const USAGE = `usage: meshtap dashboard [options]

Serves the collector's dashboard of the current kubeconfig's cluster on 127.0.0.1 and prints
its URL. Every request carries your kubeconfig credentials: you see the calls of the
namespaces where you may get calls.meshtap.io (ClusterRole meshtap-viewer).

options:
  --namespace NS        where the collector runs (default meshtap-system)
  --selector LABELS     its pods' labels (default app.kubernetes.io/name=meshtap-collector)
  --pod-port PORT       the collector's HTTP port in the pod (default 8080; 1-65535)
  --port PORT           local port (default 8081; 0 picks a free one)
  --kubeconfig PATH     default: KUBECONFIG (a list of files is merged as kubectl does) or ~/.kube/config
  --context NAME        kubeconfig context (default: the current one)
  -h, --help            show this help
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  namespace: { type: 'string' },
  selector: { type: 'string' },
  'pod-port': { type: 'string' },
  port: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
} as const;

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  // An empty value is an error naming the flag, never the default.
  const namespace = flagValue('--namespace', values.namespace, 'a namespace') ?? 'meshtap-system';
  const selector = flagValue('--selector', values.selector, 'a label selector') ?? 'app.kubernetes.io/name=meshtap-collector';
  // A pod's port is a real one: 0 ("pick a free port") means something only where we listen.
  const podPort = parsePort('--pod-port', values['pod-port'], 8080, { allowZero: false });
  const localPort = parsePort('--port', values.port, 8081);
  const kubeconfig = flagValue('--kubeconfig', values.kubeconfig, 'a kubeconfig file') ?? io.env.KUBECONFIG;
  const context = flagValue('--context', values.context, 'a kubeconfig context');
  // Without any kubeconfig the client falls back to http://localhost:8080, whose refusal says
  // nothing about the real problem.
  const defaultFile = join(io.env.HOME ?? homedir(), '.kube', 'config');
  if (!kubeconfig && !existsSync(defaultFile) && !(io.env.KUBERNETES_SERVICE_HOST && io.env.KUBERNETES_SERVICE_PORT)) {
    throw new MeshtapError(CLI_ERR_USAGE, `a kubeconfig is needed: give --kubeconfig FILE or KUBECONFIG, or create ${defaultFile} (there is none), or run it inside the cluster`);
  }
  const [{ CoreV1Api, KubeConfig, PortForward }, { loadKubeconfigFiles }] = await Promise.all([import('@kubernetes/client-node'), import('../../lib/kube/kubeconfig-files.ts')]);
  const kc = new KubeConfig();
  try {
    if (kubeconfig) loadKubeconfigFiles(kc, kubeconfig);
    else kc.loadFromDefault();
    if (context !== undefined) kc.setCurrentContext(context);
    if (!kc.getCurrentCluster()) throw new Error('no current cluster');
  } catch (err) {
    throw new MeshtapError(CLI_ERR_USAGE, kubeconfig ? `the kubeconfig ${kubeconfig} cannot be used: ${(err as Error).message}` : `a kubeconfig is needed: ${(err as Error).message}`);
  }
  const core = kc.makeApiClient(CoreV1Api);
  let pods;
  try {
    pods = await core.listNamespacedPod({ namespace, labelSelector: selector });
  } catch (err) {
    throw new MeshtapError(COL_ERR_DASHBOARD_CLUSTER, `cannot list the collector pods in ${namespace} (cluster ${kc.getCurrentCluster()?.server ?? 'unknown'}): ${(err as Error).message}`, { cause: err });
  }
  const ready = pods.items.find((p) => p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'));
  if (!ready?.metadata?.name) {
    io.stderr.write(`meshtap dashboard: no ready collector pod in ${namespace} (selector ${selector})\n`);
    return 1;
  }
  const podName = ready.metadata.name;
  const forward = new PortForward(kc);
  // The local end of the port-forward: one forwarded stream per connection.
  const tunnel: Server = createServer((socket) => {
    forward.portForward(namespace, podName, [podPort], socket, null, socket).catch((err: unknown) => {
      io.stderr.write(`meshtap dashboard: port-forward to ${podName} failed: ${(err as Error).message}\n`);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => tunnel.listen(0, '127.0.0.1', resolve));
  const authorization = async (): Promise<string | undefined> => {
    const opts: { headers: Record<string, string> } = { headers: {} };
    await kc.applyToHTTPSOptions(opts);
    return opts.headers.Authorization ?? opts.headers.authorization;
  };
  const proxy = await startCredentialProxy({
    target: `http://127.0.0.1:${(tunnel.address() as AddressInfo).port}`,
    authorization,
    port: localPort,
    onError: (err) => io.stderr.write(`meshtap dashboard: ${err.message}\n`),
  });
  io.stdout.write(`meshtap dashboard: ${proxy.url} (collector pod ${namespace}/${podName}; Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await proxy.close();
  await new Promise<void>((resolve) => tunnel.close(() => resolve()));
  return 0;
}
