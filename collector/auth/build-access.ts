/**
 * Turns the collector's auth settings into an `AccessControl` at start. Never open by
 * accident: `auto` means `kubernetes` inside a cluster and `token` elsewhere, and token auth
 * without a token file generates one (mode 0600) and says where it is.
 */
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { MeshtapError } from '../../lib/errors.ts';
import type { CollectorConfig } from '../config.ts';
import { MEMORY_DB } from '../config.ts';
import { COL_ERR_AUTH_CONFIG } from '../errors.ts';
import type { Logger } from '../../lib/log.ts';
import { kubernetesAccess, openAccess, tokenAccess, type AccessControl, type AuthMode } from './access.ts';
import { ensureTokenFile, loadTokenSet, weakTokensMessage } from './token-set.ts';

export const GENERATED_TOKEN_FILE_NAME = 'collector-token';

export function resolveAuthMode(config: Pick<CollectorConfig, 'auth'>, env: NodeJS.ProcessEnv): AuthMode {
  if (config.auth !== 'auto') return config.auth;
  return (env.KUBERNETES_SERVICE_HOST ?? '') !== '' ? 'kubernetes' : 'token';
}

/** Where a generated token goes: next to the database when it is a file, else in ~/.meshtap. */
export function defaultTokenFile(config: Pick<CollectorConfig, 'dbPath'>, env: NodeJS.ProcessEnv): string {
  if (config.dbPath !== MEMORY_DB) return join(dirname(config.dbPath), GENERATED_TOKEN_FILE_NAME);
  return join(env.HOME && env.HOME !== '' ? env.HOME : homedir(), '.meshtap', GENERATED_TOKEN_FILE_NAME);
}

export interface BuiltAccess {
  access: AccessControl;
  /** For the start-up log line. */
  describe: Record<string, string>;
}

export async function buildAccess(config: CollectorConfig, env: NodeJS.ProcessEnv, log: Logger): Promise<BuiltAccess> {
  const mode = resolveAuthMode(config, env);
  if (mode === 'none') {
    log.warn({}, 'the collector API is open: --auth none lets anyone who reaches it read every captured payload');
    return { access: openAccess(), describe: { auth: 'none' } };
  }
  if (mode === 'token') {
    let path = config.authTokenFile;
    if (path === undefined) {
      path = defaultTokenFile(config, env);
      const { created } = ensureTokenFile(path);
      log.info({ tokenFile: path }, created ? 'generated an API token' : 'using the API token generated earlier');
    }
    const tokens = loadTokenSet(path, {
      onReload: (count) => log.info({ tokenFile: path, tokens: count }, 'token file reloaded'),
      onReloadError: (err) => log.warn({ tokenFile: path, detail: (err as Error).message }, 'token file reload failed; the previous tokens stay in force'),
      onWeakTokens: (lines) => log.warn({ tokenFile: path, lines }, weakTokensMessage(path, lines)),
    });
    return { access: tokenAccess(tokens), describe: { auth: 'token', tokenFile: path } };
  }
  const { loadKubeConfig } = await import('../../lib/kube/inventory/kube.ts');
  const { createKubeReviewApi } = await import('./kube-review.ts');
  let kc;
  try {
    kc = loadKubeConfig(config.kubeconfig !== undefined ? { kubeconfig: config.kubeconfig } : {}, env);
  } catch (err) {
    throw new MeshtapError(COL_ERR_AUTH_CONFIG, `--auth kubernetes needs the Kubernetes API: ${(err as Error).message}`, { cause: err });
  }
  const access = kubernetesAccess({
    api: createKubeReviewApi(kc),
    onApiError: (what, err) => log.warn({ detail: (err as Error).message }, `${what} failed`),
  });
  return { access, describe: { auth: 'kubernetes' } };
}
