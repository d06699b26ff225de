/**
 * `host:port` with an IPv6 literal in brackets (`[::1]:8080`), as gRPC targets, URLs and log
 * lines need it; one copy so no caller forgets the brackets. Pure.
 */

/** The host as it goes before `:port`: an IPv6 literal in brackets, anything else unchanged. */
export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function formatHostPort(host: string, port: number | string): string {
  return `${formatHost(host)}:${port}`;
}
