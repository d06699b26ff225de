/**
 * `host:port` with an IPv6 literal in brackets (`[::1]:8080`), as gRPC targets, URLs and log
 * lines need it; one copy so no caller forgets the brackets. And the one check of a `host:port`
 * setting (the injector's addresses, the sidecar's MESHTAP_*_ADDR): a DNS name, an IPv4 address
 * or a bracketed IPv6 address, and a port 1-65535 without leading zeros, so a value the
 * injector accepts always starts a sidecar and the reverse. Pure.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';

/** The host as it goes before `:port`: an IPv6 literal in brackets, anything else unchanged. */
export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function formatHostPort(host: string, port: number | string): string {
  return `${formatHost(host)}:${port}`;
}

export const HOST_PORT_EXPECTED = 'must be "host:port" (a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1-65535)';
const DNS_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;

function hostProblem(host: string): string | undefined {
  if (host === '') return 'the host is empty';
  if (host.startsWith('[') || host.endsWith(']')) {
    const inner = host.slice(1, -1);
    const ok = host.startsWith('[') && host.endsWith(']') && /^[0-9A-Fa-f:.]+$/.test(inner) && isIPv6(inner);
    return ok ? undefined : `"${host}" is not a bracketed IPv6 address`;
  }
  if (host.includes(':')) return `the IPv6 address "${host}" must be in brackets, as in "[${host}]:port"`;
  if (/^[0-9.]+$/.test(host)) return isIPv4(host) ? undefined : `"${host}" is not an IPv4 address (four numbers 0-255 without leading zeros)`;
  if (host.length > 253) return `the host name is ${host.length} characters long (at most 253)`;
  for (const label of host.split('.')) {
    if (label === '') return `the host name "${host}" has an empty label`;
    if (label.length > 63) return `the label "${label}" is ${label.length} characters long (at most 63)`;
    if (!DNS_LABEL.test(label)) {
      return /^[A-Za-z0-9-]+$/.test(label)
        ? `the label "${label}" starts or ends with a hyphen`
        : `the label "${label}" has a character other than letters, digits and hyphens`;
    }
  }
  return undefined;
}

/**
 * Why `value` is not a `host:port` every sidecar accepts (a DNS name, an IPv4 address or a
 * bracketed IPv6 address, and a port 1-65535 without leading zeros); undefined when it is.
 */
export function hostPortProblem(value: string): string | undefined {
  const colon = value.lastIndexOf(':');
  if (colon < 0 || value.endsWith(']')) return 'the ":port" is missing';
  const host = value.slice(0, colon);
  const port = value.slice(colon + 1);
  if (!/^\d+$/.test(port)) return port === '' ? 'the port is empty' : `the port "${port}" is not a number`;
  if (port.length > 1 && port.startsWith('0')) return `the port "${port}" has a leading zero`;
  if (port.length > 5 || Number(port) < 1 || Number(port) > 65535) return `the port ${port} is not in 1-65535`;
  return hostProblem(host);
}

/**
 * Why `host` is not an address a server can listen on as `--host` (an IP address, IPv6 without
 * brackets, or a host name), as the flag or variable goes on in a message; undefined when it is.
 * The bracketed form is what URLs and log lines show (`https://[::]:9443`), so it is the one
 * people copy: named with the form to give instead. The webhook, the controller and the
 * collector check their listen hosts with this. Pure.
 */
export function listenHostProblem(host: string): string | undefined {
  const inner = /^\[(.*)\]$/.exec(host)?.[1];
  if (inner !== undefined && isIPv6(inner)) return `takes an IPv6 address without brackets: give "${inner}", got "${host}"`;
  if (isIP(host) !== 0) return undefined;
  const problem = /[[\]:]/.test(host) ? `"${host}" is not an IP address` : hostPortProblem(`${host}:1`);
  return problem === undefined ? undefined : `must be an IP address or a host name, got "${host}": ${problem}`;
}

/**
 * Why a server could not listen, in the words of the flags that chose its address, or undefined
 * for an error that is no listen failure. A host that does not resolve, or that is no address
 * of this machine, is the host flag's (`hostFlag`, e.g. `--host`); anything else (the port is
 * taken, no permission) names the address and both flags. `what` says which server (`webhook`,
 * `gRPC ingest`). The webhook, the controller and the collector word their listen failures
 * with this. Pure.
 */
export function listenFailure(err: unknown, where: { host: string; port: number; what: string; hostFlag: string; portFlag: string }): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, syscall } = err as NodeJS.ErrnoException;
  const { host, port, what, hostFlag, portFlag } = where;
  if (syscall === 'getaddrinfo' || /name resolution failed/i.test(err.message)) return `${hostFlag} ${host} does not resolve to an address to listen on (${err.message})`;
  if (code === 'EADDRNOTAVAIL') return `${hostFlag} ${host} is not an address of this machine (${err.message})`;
  if (syscall === 'listen' || syscall === 'bind' || code === 'EADDRINUSE' || code === 'EACCES') return `cannot listen on ${formatHostPort(host, port)} for the ${what} (${hostFlag}, ${portFlag}): ${err.message}`;
  return undefined;
}
