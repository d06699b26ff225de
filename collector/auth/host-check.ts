/**
 * DNS-rebinding guard for an API bound to loopback: a web page elsewhere can make a browser
 * send requests to 127.0.0.1 under a name it controls, but cannot make it send our Host. On a
 * loopback bind only loopback names are accepted; on any other bind every Host is.
 */
import { isIP } from 'node:net';

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const kind = isIP(host);
  if (kind === 4) return host.startsWith('127.');
  if (kind === 6) return host === '::1';
  return false;
}

/**
 * The Host header's name part: `[::1]:8080` → `::1`, `localhost:80` → `localhost`; '' for a
 * header that is not a name or address with an optional port (`localhost:80@evil.com`).
 */
export function hostName(header: string): string {
  const m = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9._-]+))(?::\d{1,5})?$/.exec(header.trim().toLowerCase());
  return m === null ? '' : (m[1] ?? m[2]);
}

/** Whether a request with this Host header may be served by an API bound to `bindHost`. */
export function hostAllowed(bindHost: string, header: string | undefined): boolean {
  if (!isLoopbackHost(bindHost)) return true;
  if (header === undefined || header === '') return false;
  return isLoopbackHost(hostName(header));
}
