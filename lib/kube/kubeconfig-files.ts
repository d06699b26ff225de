/**
 * A kubeconfig given as a list of files, as `KUBECONFIG` holds one (`a:b`, the platform's path
 * delimiter), merged the way kubectl merges them: files that do not exist are skipped, the
 * first file to name a cluster, user or context wins it, and the current context is the first
 * file's that sets one. A single path is a list of one. @kubernetes/client-node reads a
 * `KUBECONFIG` list only in `loadFromDefault`, where a name in two files is an error and the
 * last file's current context wins; `loadFromFile` takes the whole list as one path.
 */
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/** The files of a kubeconfig list, in order, without empty entries. */
export function kubeconfigPaths(value: string): string[] {
  return value.split(delimiter).filter((p) => p.trim() !== '');
}

/**
 * Loads the kubeconfig list `value` into `kc`. Throws when no file of the list exists (naming
 * them) or when one cannot be read or parsed (its path in the message).
 */
export function loadKubeconfigFiles(kc: KubeConfig, value: string): void {
  const paths = kubeconfigPaths(value);
  const present = paths.filter((p) => existsSync(p));
  if (present.length === 0) {
    throw new Error(paths.length <= 1 ? `${paths[0] ?? value}: no such file` : `none of the kubeconfig files exists: ${paths.join(', ')}`);
  }
  if (present.length === 1) {
    kc.loadFromFile(present[0]);
    return;
  }
  const firstWins = <T extends { name: string }>(lists: T[][]): T[] => {
    const seen = new Map<string, T>();
    for (const list of lists) for (const item of list) if (!seen.has(item.name)) seen.set(item.name, item);
    return [...seen.values()];
  };
  const files = present.map((path) => {
    const one = new KubeConfig();
    try {
      one.loadFromFile(path);
    } catch (err) {
      throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
    }
    return one;
  });
  kc.loadFromOptions({
    clusters: firstWins(files.map((f) => f.clusters)),
    users: firstWins(files.map((f) => f.users)),
    contexts: firstWins(files.map((f) => f.contexts)),
    currentContext: files.find((f) => f.currentContext !== '' && f.currentContext !== undefined)?.currentContext ?? '',
  });
}
