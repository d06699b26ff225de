/**
 * The bearer token `meshtap tap` (and other API clients) send, in order: an explicit token
 * (`--token`, `MESHTAP_COLLECTOR_TOKEN`), the lab's token when the URL is the running lab's
 * collector (by any loopback name: `localhost`, `127.0.0.1`, `[::1]`), else the current
 * kubeconfig user's credentials (for a collector reached through a port-forward in a cluster,
 * with `--auth kubernetes`).
 */
import { findLabCollector } from '../../lib/lab-locator.ts';
import { isLoopbackHost } from '../auth/host-check.ts';

export interface CredentialSources {
  token?: string;
  env: NodeJS.ProcessEnv;
  /** The running lab's collector (default: read from the lab's state). */
  lab?: () => { url: string; token?: string } | undefined;
  /** The kubeconfig user's Authorization header (default: @kubernetes/client-node). */
  kubeconfigAuthorization?: () => Promise<string | undefined>;
}

async function fromKubeconfig(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const [{ KubeConfig }, { loadKubeconfigFiles }] = await Promise.all([import('@kubernetes/client-node'), import('../../lib/kube/kubeconfig-files.ts')]);
    const kc = new KubeConfig();
    if (env.KUBECONFIG) loadKubeconfigFiles(kc, env.KUBECONFIG);
    else kc.loadFromDefault();
    if (!kc.getCurrentUser()) return undefined;
    const options: { headers: Record<string, string> } = { headers: {} };
    await kc.applyToHTTPSOptions(options);
    return options.headers.Authorization ?? options.headers.authorization;
  } catch {
    return undefined;
  }
}

/**
 * Whether `url` is the lab's collector at `labUrl`: the same origin, or loopback names for the
 * same scheme and port (`localhost`, `127.0.0.0/8`, `[::1]`), which the collector's API serves
 * alike. Anything that is not loopback must match exactly, so the lab's token goes nowhere else.
 */
export function isLabCollectorUrl(url: URL, labUrl: string): boolean {
  let lab: URL;
  try {
    lab = new URL(labUrl);
  } catch {
    return false;
  }
  if (lab.origin === url.origin) return true;
  const loopback = (u: URL) => isLoopbackHost(u.hostname.replace(/^\[(.*)\]$/, '$1'));
  return lab.protocol === url.protocol && lab.port === url.port && loopback(lab) && loopback(url);
}

/** The Authorization header value to send, or undefined for none. */
export async function resolveAuthorization(collectorUrl: URL, sources: CredentialSources): Promise<string | undefined> {
  const explicit = sources.token ?? (sources.env.MESHTAP_COLLECTOR_TOKEN || undefined);
  if (explicit !== undefined) return `Bearer ${explicit}`;
  const lab = (sources.lab ?? findLabCollector)();
  if (lab?.token !== undefined && isLabCollectorUrl(collectorUrl, lab.url)) return `Bearer ${lab.token}`;
  return (sources.kubeconfigAuthorization ?? (() => fromKubeconfig(sources.env)))();
}
