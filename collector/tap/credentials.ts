/**
 * The bearer token `meshtap tap` (and other API clients) send, in order: an explicit token
 * (`--token`, `MESHTAP_COLLECTOR_TOKEN`), the lab's token when the URL is the running lab's
 * collector, else the current kubeconfig user's credentials (for a collector reached through a
 * port-forward in a cluster, with `--auth kubernetes`).
 */
import { findLabCollector } from '../../lib/lab-locator.ts';

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
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG);
    else kc.loadFromDefault();
    if (!kc.getCurrentUser()) return undefined;
    const options: { headers: Record<string, string> } = { headers: {} };
    await kc.applyToHTTPSOptions(options);
    return options.headers.Authorization ?? options.headers.authorization;
  } catch {
    return undefined;
  }
}

/** The Authorization header value to send, or undefined for none. */
export async function resolveAuthorization(collectorUrl: URL, sources: CredentialSources): Promise<string | undefined> {
  const explicit = sources.token ?? (sources.env.MESHTAP_COLLECTOR_TOKEN || undefined);
  if (explicit !== undefined) return `Bearer ${explicit}`;
  const lab = (sources.lab ?? findLabCollector)();
  if (lab?.token !== undefined && new URL(lab.url).origin === collectorUrl.origin) return `Bearer ${lab.token}`;
  return (sources.kubeconfigAuthorization ?? (() => fromKubeconfig(sources.env)))();
}
