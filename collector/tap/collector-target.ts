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

export async function resolveCollectorTarget(options: TargetOptions): Promise<CollectorTarget> {
  const { env } = options;
  const lab = options.lab ?? findLabCollector;
  const rawUrl = options.collector ?? (env.MESHTAP_COLLECTOR_URL || lab()?.url || DEFAULT_COLLECTOR_URL);
  const base = parseCollectorUrl(rawUrl, options.collector !== undefined ? '--collector' : env.MESHTAP_COLLECTOR_URL ? 'MESHTAP_COLLECTOR_URL' : 'the default collector URL');
  if (options.token !== undefined && options.token.trim() === '') throw new MeshtapError(CLI_ERR_USAGE, '--token must not be empty');
  const authorization = await resolveAuthorization(base, {
    env,
    lab,
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.kubeconfigAuthorization !== undefined ? { kubeconfigAuthorization: options.kubeconfigAuthorization } : {}),
  });
  return { base, authorization };
}
