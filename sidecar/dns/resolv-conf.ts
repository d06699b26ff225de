/**
 * The pod's resolvers, from `/etc/resolv.conf` as the C library's resolver reads it: `nameserver`
 * lines in order (glibc uses at most three), and `options timeout:N` for how long to wait for
 * each before trying the next. `resolv-conf-source.ts` re-reads the file when it changes.
 */
import { isIP } from 'node:net';

/** What glibc does with more: ignores them. */
export const MAX_NAMESERVERS = 3;
/** Without `options timeout:N`: shorter than glibc's 5 s per server, so that with two servers
 *  the app still gets the second one's answer before its own first timeout. */
export const DEFAULT_TIMEOUT_MS = 2000;
/** glibc caps `timeout:` at 30 s. */
const MAX_TIMEOUT_S = 30;

export interface Resolver {
  readonly ip: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export interface ResolvConf {
  readonly nameservers: readonly Resolver[];
  /** Per resolver, before the next one is tried. */
  readonly timeoutMs: number;
}

export function parseResolvConf(text: string): ResolvConf {
  const nameservers: Resolver[] = [];
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const words = line.split(/\s+/);
    if (words[0] === 'nameserver' && words[1] !== undefined && nameservers.length < MAX_NAMESERVERS) {
      // A scoped link-local address (fe80::1%eth0) keeps its zone for the socket.
      const ip = words[1];
      const family = isIP(ip.split('%')[0]);
      if (family === 4 || family === 6) nameservers.push({ ip, port: 53, family });
    } else if (words[0] === 'options') {
      for (const option of words.slice(1)) {
        const m = /^timeout:(\d+)$/.exec(option);
        if (m) timeoutMs = Math.max(1, Math.min(Number(m[1]), MAX_TIMEOUT_S)) * 1000;
      }
    }
  }
  return { nameservers, timeoutMs };
}
