/**
 * The current resolv.conf, cheaply: the file is stat'ed at most once a second, when a query
 * asks, and parsed again only when its modification time, size or inode changed (Kubernetes
 * rewrites it by replacing the file). An unreadable file keeps the last good list and is
 * reported once per change; with no list at all the sidecar cannot forward, which the relay
 * counts as an upstream failure (the app gets what no resolver would give: no answer).
 */
import { readFileSync, statSync } from 'node:fs';
import { parseResolvConf, type ResolvConf } from './resolv-conf.ts';

export const RESOLV_CONF = '/etc/resolv.conf';
const CHECK_INTERVAL_MS = 1000;

export interface ResolvConfSource {
  current(): ResolvConf;
}

export function createResolvConfSource(
  path: string = RESOLV_CONF,
  onProblem: (message: string) => void = () => undefined,
  now: () => number = Date.now,
): ResolvConfSource {
  let conf: ResolvConf = { nameservers: [], timeoutMs: 0 };
  let stamp = '';
  let checkedAt = -Infinity;
  let lastProblem = '';
  const refresh = () => {
    try {
      const st = statSync(path);
      const next = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (next === stamp) return;
      conf = parseResolvConf(readFileSync(path, 'utf8'));
      stamp = next;
      lastProblem = '';
      if (conf.nameservers.length === 0) onProblem(`${path} lists no usable nameserver`);
    } catch (err) {
      const message = `${path} cannot be read: ${(err as Error).message}`;
      if (message !== lastProblem) onProblem(message);
      lastProblem = message;
    }
  };
  return {
    current() {
      const t = now();
      if (t - checkedAt >= CHECK_INTERVAL_MS) {
        checkedAt = t;
        refresh();
      }
      return conf;
    },
  };
}
