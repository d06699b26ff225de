/**
 * Which collector an API client command (`meshtap tap`, `meshtap mcp`) talks to, and with what
 * credentials: `--collector`, else `MESHTAP_COLLECTOR_URL`, else the running lab's collector,
 * else the default; the token as `credentials.ts` finds it. Bad values are usage errors that
 * name where the value came from.
 */
import { CLI_ERR_USAGE } from '../../lib/cli.ts';
import { MeshtapError } from '../../lib/errors.ts';
import { findLabCollector } from '../../lib/lab-locator.ts';
import { resolveAuthorization, type CredentialSources } from './credentials.ts';

export const DEFAULT_COLLECTOR_URL = 'http://127.0.0.1:8080';

export interface CollectorTarget {
  base: URL;
  /** Where `base` came from: when it is only the default, an unreachable collector is explained. */
  source: 'flag' | 'env' | 'lab' | 'default';
  /** The Authorization header value, or undefined for none found. */
  authorization: string | undefined;
}

export interface TargetOptions {
  collector?: string;
  token?: string;
  env: NodeJS.ProcessEnv;
  /** For tests: the lab's collector and the kubeconfig's credentials (see credentials.ts). */
  lab?: CredentialSources['lab'];
  kubeconfigAuthorization?: CredentialSources['kubeconfigAuthorization'];
}

/** `raw` as an http(s) URL; `name` says where it came from (a flag, a variable, the default). */
export function parseCollectorUrl(raw: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    const port = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*:(\d+)(?:[/?#]|$)/i.exec(raw)?.[1];
    if (port !== undefined && Number(port) > 65535) throw new MeshtapError(CLI_ERR_USAGE, `${name} has port ${port}, out of range (1-65535): "${raw}"`);
    throw new MeshtapError(CLI_ERR_USAGE, `${name} is not a valid URL (like http://127.0.0.1:8080), got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MeshtapError(CLI_ERR_USAGE, `${name} must be an http:// or https:// URL, got "${raw}"`);
  }
  return url;
}

/** How a bad URL names where it came from (a lab's address is read as the default is). */
const URL_SOURCE_NAMES: Readonly<Record<CollectorTarget['source'], string>> = {
  flag: '--collector',
  env: 'MESHTAP_COLLECTOR_URL',
  lab: 'the default collector URL',
  default: 'the default collector URL',
};

export async function resolveCollectorTarget(options: TargetOptions): Promise<CollectorTarget> {
  const { env } = options;
  const lab = options.lab ?? findLabCollector;
  const labUrl = options.collector === undefined && !env.MESHTAP_COLLECTOR_URL ? lab()?.url : undefined;
  const rawUrl = options.collector ?? (env.MESHTAP_COLLECTOR_URL || labUrl || DEFAULT_COLLECTOR_URL);
  const source: CollectorTarget['source'] = options.collector !== undefined ? 'flag' : env.MESHTAP_COLLECTOR_URL ? 'env' : labUrl ? 'lab' : 'default';
  const base = parseCollectorUrl(rawUrl, URL_SOURCE_NAMES[source]);
  if (options.token !== undefined && options.token.trim() === '') throw new MeshtapError(CLI_ERR_USAGE, '--token must not be empty');
  const authorization = await resolveAuthorization(base, {
    env,
    lab,
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.kubeconfigAuthorization !== undefined ? { kubeconfigAuthorization: options.kubeconfigAuthorization } : {}),
  });
  return { base, authorization, source };
}

/**
 * What to say when the collector at `target` cannot be reached: the address and the cause, and
 * when the address was only the default, where else it could come from.
 */
export function unreachableText(target: Pick<CollectorTarget, 'base' | 'source'>, cause: string): string {
  if (cause === 'bad port') {
    // fetch refuses the ports browsers block (1, 10080, 6000, …) without connecting.
    return `cannot reach the collector at ${target.base.origin}: port ${target.base.port || '(default)'} is one fetch refuses to connect to (a port browsers block); run the collector's HTTP API on another port (--http-port)`;
  }
  const text = `cannot reach the collector at ${target.base.origin}: ${cause}`;
  if (target.source !== 'default') return text;
  return `${text} (the default address: no --collector, no MESHTAP_COLLECTOR_URL and no lab running; give the collector's URL, for a cluster's through "meshtap dashboard" or a port-forward, or start the lab with "npm run lab")`;
}
