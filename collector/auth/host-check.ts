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

/** The Host header's name part: `[::1]:8080` → `::1`, `localhost:80` → `localhost`. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(1, end);
  }
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

/** Whether a request with this Host header may be served by an API bound to `bindHost`. */
export function hostAllowed(bindHost: string, header: string | undefined): boolean {
  if (!isLoopbackHost(bindHost)) return true;
  if (header === undefined || header === '') return false;
  return isLoopbackHost(hostName(header));
}
