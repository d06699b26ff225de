/**
 * A DNS answer's `data` (as the sidecar records it: `sidecar/dns/rdata.ts`) as one line of
 * text, the way `dig +short` prints it: an address or name as it is; MX `preference exchange`;
 * SRV `priority weight port target`; SOA `mname rname serial refresh retry expire minimum`;
 * TXT its strings quoted; SVCB/HTTPS `priority target params`. Other objects give their values in
 * order. For the views that show answers in a line (tap, span attributes). Pure.
 */

/** Field orders of the structured answers, as their presentation format writes them. */
const ORDERS: readonly (readonly string[])[] = [
  ['priority', 'weight', 'port', 'target'],
  ['preference', 'exchange'],
  ['mname', 'rname', 'serial', 'refresh', 'retry', 'expire', 'minimum'],
  ['priority', 'target', 'params'],
];

/** The text of one answer's data; undefined when there is nothing to show. */
export function dnsAnswerText(data: unknown): string | undefined {
  if (typeof data === 'string') return data === '' ? undefined : data;
  if (Array.isArray(data)) return data.length === 0 ? undefined : data.map((s) => JSON.stringify(String(s))).join(' ');
  if (data === null || typeof data !== 'object') return undefined;
  const fields = data as Record<string, unknown>;
  const keys = Object.keys(fields);
  const order = ORDERS.find((o) => o.length === keys.length && o.every((k) => k in fields)) ?? keys;
  const values = order.map((k) => fields[k]).filter((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean');
  return values.length === 0 ? undefined : values.map(String).join(' ');
}
