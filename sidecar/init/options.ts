/**
 * `meshtap init` options: `InitOptions` is the accepted input, one reader per option checks it
 * (by hand: the init container loads no schema library); `resolveInitConfig` merges options,
 * environment and defaults and returns a frozen `InitConfig`. Numbers may arrive as strings
 * (flags, environment, annotations) and lists as comma-separated strings, so both are parsed.
 */
import { ValidationError, type Issues } from '../../lib/validate.ts';
import { SC_ERR_INIT_BAD_OPTION, initError } from './errors.ts';
import { parseIpv6Cidr } from './ipv6-cidr.ts';
import { parseResolvConf } from '../dns/resolv-conf.ts';

export const IPTABLES_BACKENDS = ['auto', 'nft', 'legacy'] as const;
export type IptablesBackendChoice = (typeof IPTABLES_BACKENDS)[number];

export interface InitConfig {
  readonly proxyUid: number;
  readonly proxyGid: number;
  readonly inboundPort: number;
  readonly outboundPort: number;
  readonly adminPort: number;
  /** Sorted, without duplicates. */
  readonly excludeInboundPorts: readonly number[];
  readonly excludeOutboundPorts: readonly number[];
  /**
   * Normalised networks (host bits cleared; IPv4 `a.b.c.d/len` first, then IPv6 as
   * `ip6tables-save` prints them), sorted, without duplicates.
   */
  readonly excludeOutboundCidrs: readonly string[];
  /** Redirect the app's DNS (UDP and TCP port 53) to the sidecar's DNS port. On by default. */
  readonly dnsCapture: boolean;
  readonly dnsPort: number;
  /**
   * The only destinations whose port 53 is redirected: the pod's resolvers, as `a.b.c.d/32`
   * and `x::y/128` (as `iptables-save` prints them), in the order given, without duplicates.
   * Default: the `nameserver` lines of the pod's `/etc/resolv.conf` (`resolveInitConfig`'s
   * `resolvConf`). A query sent anywhere else (`dig @192.0.2.53`) goes where it was sent,
   * uncaptured: the sidecar relays to the pod's resolvers, so capturing it would have it
   * answered by a server the app did not ask.
   */
  readonly dnsServers: readonly string[];
  readonly backend: IptablesBackendChoice;
  readonly dryRun: boolean;
  readonly cleanup: boolean;
}

export const INIT_DEFAULTS = Object.freeze({
  proxyUid: 1337,
  proxyGid: 1337,
  inboundPort: 15006,
  outboundPort: 15001,
  adminPort: 15020,
  dnsPort: 15053,
  backend: 'auto' as IptablesBackendChoice,
});

/** The largest id a pod's runAsUser/runAsGroup may take (Kubernetes validates 0-2147483647); the injector and the sidecar take the same range. */
const MAX_ID = 2147483647;

/** What a kind of option takes, as its messages and "needs a value" say it. */
export const ID_TAKES = `a numeric id 1-${MAX_ID}`;
export const PORT_TAKES = 'a port number 1-65535';
export const BACKEND_TAKES = `one of ${IPTABLES_BACKENDS.join(', ')}`;

function integerIn(value: number | string, min: number, max: number): number | undefined {
  const text = typeof value === 'number' ? String(value) : value.trim();
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return `"${value}"`;
  return typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
}

/** A reader turns one option's input into its value, or returns why it cannot (what it takes, and the value). */
type Reader<T> = (value: unknown) => { value: T } | { problem: string };

function isNumberLike(value: unknown): value is number | string {
  return typeof value === 'number' || typeof value === 'string';
}

// Root's traffic must stay capturable: an app running as root would otherwise bypass the proxy.
const readId: Reader<number> = (value) => {
  const n = isNumberLike(value) ? integerIn(value, 1, MAX_ID) : undefined;
  return n === undefined ? { problem: `must be ${ID_TAKES} (0 would exempt every root process from capture), got ${describeValue(value)}` } : { value: n };
};

const readPort: Reader<number> = (value) => {
  const n = isNumberLike(value) ? integerIn(value, 1, 65535) : undefined;
  return n === undefined ? { problem: `must be ${PORT_TAKES}, got ${describeValue(value)}` } : { value: n };
};

/** "a,b" or ["a", b]: empty entries are ignored so "" means "none". */
function listItems(value: string | readonly (string | number)[]): (string | number)[] {
  const items = typeof value === 'string' ? value.split(',') : [...value];
  return items.map((i) => (typeof i === 'string' ? i.trim() : i)).filter((i) => i !== '');
}

type ListInput = string | readonly (string | number)[];

function isListInput(value: unknown): value is ListInput {
  return typeof value === 'string' || (Array.isArray(value) && value.every(isNumberLike));
}

const readPortList: Reader<number[]> = (value) => {
  if (!isListInput(value)) return { problem: `must list port numbers 1-65535, comma-separated, got ${describeValue(value)}` };
  const ports: number[] = [];
  for (const item of listItems(value)) {
    const n = integerIn(item, 1, 65535);
    if (n === undefined) return { problem: `must list port numbers 1-65535, got ${describeValue(item)}` };
    ports.push(n);
  }
  return { value: [...new Set(ports)].sort((a, b) => a - b) };
};

/**
 * Parses an IPv4 address or CIDR and returns the network in iptables' own form
 * (`10.1.2.3/8` → `10.0.0.0/8`, `10.1.2.3` → `10.1.2.3/32`), or an explanation.
 */
export function parseIpv4Cidr(text: string): { cidr: string } | { error: string } {
  if (text.includes(':')) {
    return { error: `"${text}" is an IPv6 CIDR, not IPv4` };
  }
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(text);
  if (!m) return { error: `"${text}" is not an IPv4 CIDR like 10.0.0.0/8 or 192.168.1.7` };
  const octets = m.slice(1, 5).map((o) => (o.length > 1 && o.startsWith('0') ? NaN : Number(o)));
  if (octets.some((o) => !(o >= 0 && o <= 255))) {
    return { error: `"${text}" is not an IPv4 CIDR: each of the four numbers must be 0-255 without leading zeros` };
  }
  const prefix = m[5] === undefined ? 32 : Number(m[5]);
  if (prefix > 32 || (m[5] !== undefined && m[5].length > 1 && m[5].startsWith('0'))) {
    return { error: `"${text}" is not an IPv4 CIDR: the prefix length must be 0-32` };
  }
  const address = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (address & mask) >>> 0;
  const dotted = [24, 16, 8, 0].map((shift) => (network >>> shift) & 0xff).join('.');
  return { cidr: `${dotted}/${prefix}` };
}

function cidrSortKey(cidr: string): [number, number] {
  const [address, prefix] = cidr.split('/');
  if (address.includes(':')) return [2 ** 32, 0]; // IPv6 after IPv4, then by their text
  const n = address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  return [n, Number(prefix)];
}

const readCidrList: Reader<string[]> = (value) => {
  if (!isListInput(value)) return { problem: `must list IPv4 or IPv6 CIDRs, comma-separated, got ${describeValue(value)}` };
  const cidrs: string[] = [];
  for (const item of listItems(value)) {
    const parsed = String(item).includes(':') ? parseIpv6Cidr(String(item)) : parseIpv4Cidr(String(item));
    if ('error' in parsed) return { problem: `must list IPv4 or IPv6 CIDRs: ${parsed.error}` };
    cidrs.push(parsed.cidr);
  }
  return {
    value: [...new Set(cidrs)].sort((a, b) => {
      const [an, ap] = cidrSortKey(a);
      const [bn, bp] = cidrSortKey(b);
      return an - bn || ap - bp || (a < b ? -1 : a > b ? 1 : 0);
    }),
  };
};

/** One resolver address, as the DNS rules match it (`/32`, `/128`), or why it is not one. */
function resolverAddress(text: string): { cidr: string } | { error: string } {
  if (text.includes('/')) return { error: `"${text}" is a network, not one address` };
  const parsed = text.includes(':') ? parseIpv6Cidr(text) : parseIpv4Cidr(text);
  return 'error' in parsed ? { error: `"${text}" is not an IPv4 or IPv6 address` } : parsed;
}

const readDnsServers: Reader<string[]> = (value) => {
  if (!isListInput(value)) return { problem: `must list IPv4 or IPv6 addresses, comma-separated, got ${describeValue(value)}` };
  const servers: string[] = [];
  for (const item of listItems(value)) {
    const parsed = resolverAddress(String(item));
    if ('error' in parsed) return { problem: `must list IPv4 or IPv6 addresses: ${parsed.error}` };
    if (!servers.includes(parsed.cidr)) servers.push(parsed.cidr);
  }
  return { value: servers };
};

/** The resolvers a resolv.conf names, as `dnsServers` holds them (a link-local address's zone dropped: the rules match the address). */
export function resolvConfServers(text: string): string[] {
  const servers: string[] = [];
  for (const { ip } of parseResolvConf(text).nameservers) {
    const parsed = resolverAddress(ip.split('%')[0]);
    if (!('error' in parsed) && !servers.includes(parsed.cidr)) servers.push(parsed.cidr);
  }
  return servers;
}

const readBackend: Reader<IptablesBackendChoice> = (value) =>
  IPTABLES_BACKENDS.includes(value as IptablesBackendChoice)
    ? { value: value as IptablesBackendChoice }
    : { problem: `must be ${BACKEND_TAKES}, got ${describeValue(value)}` };

const readFlag: Reader<boolean> = (value) => (typeof value === 'boolean' ? { value } : { problem: `must be true or false, got ${describeValue(value)}` });

/** A switch that may also come from the environment as the text `true` or `false`. */
const readSwitch: Reader<boolean> = (value) =>
  value === 'true' || value === 'false' ? { value: value === 'true' } : readFlag(value);

/** What callers may pass: every field optional, numbers as numbers or strings, lists as "a,b" or arrays. */
export interface InitOptions {
  proxyUid?: number | string;
  proxyGid?: number | string;
  inboundPort?: number | string;
  outboundPort?: number | string;
  adminPort?: number | string;
  excludeInboundPorts?: ListInput;
  excludeOutboundPorts?: ListInput;
  excludeOutboundCidrs?: ListInput;
  dnsCapture?: boolean | 'true' | 'false';
  dnsPort?: number | string;
  dnsServers?: ListInput;
  backend?: IptablesBackendChoice;
  dryRun?: boolean;
  cleanup?: boolean;
}
type InitOptionKey = keyof InitOptions;

/** Each option's reader and its value when not given. */
const READERS: { readonly [K in InitOptionKey]-?: { read: Reader<InitConfig[K]>; fallback: InitConfig[K] } } = {
  proxyUid: { read: readId, fallback: INIT_DEFAULTS.proxyUid },
  proxyGid: { read: readId, fallback: INIT_DEFAULTS.proxyGid },
  inboundPort: { read: readPort, fallback: INIT_DEFAULTS.inboundPort },
  outboundPort: { read: readPort, fallback: INIT_DEFAULTS.outboundPort },
  adminPort: { read: readPort, fallback: INIT_DEFAULTS.adminPort },
  excludeInboundPorts: { read: readPortList, fallback: [] },
  excludeOutboundPorts: { read: readPortList, fallback: [] },
  excludeOutboundCidrs: { read: readCidrList, fallback: [] },
  dnsCapture: { read: readSwitch, fallback: true },
  dnsPort: { read: readPort, fallback: INIT_DEFAULTS.dnsPort },
  // Without the option, the caller's resolv.conf (see resolveInitConfig).
  dnsServers: { read: readDnsServers, fallback: [] },
  backend: { read: readBackend, fallback: INIT_DEFAULTS.backend },
  dryRun: { read: readFlag, fallback: false },
  cleanup: { read: readFlag, fallback: false },
};

/** Each listener needs its own port (the DNS port too: its TCP side); compared only once all are valid. */
function checkListeners(config: Partial<Record<InitOptionKey, unknown>>, issues: Issues, given: ReadonlySet<string>, nameOf: (key: InitOptionKey) => string): void {
  const listeners = (['inboundPort', 'outboundPort', 'adminPort', 'dnsPort'] as const).map((key) => [key, config[key]] as const);
  if (listeners.some(([, port]) => typeof port !== 'number')) return;
  for (let i = 0; i < listeners.length; i++) {
    for (let j = i + 1; j < listeners.length; j++) {
      if (listeners[i][1] === listeners[j][1]) {
        // The one the user set is the one to change: the other keeps its default.
        const [blamed, other] = given.has(listeners[j][0]) || !given.has(listeners[i][0]) ? [listeners[j][0], listeners[i][0]] : [listeners[i][0], listeners[j][0]];
        issues.push({
          path: [blamed],
          message: `must differ from ${nameOf(other)}${given.has(other) ? '' : ' (its default)'} (both are ${String(listeners[i][1])}): each listener needs its own port`,
        });
      }
    }
  }
}

/** The flag and environment variable behind each option, for messages and for `--help`. */
export const OPTION_NAMES: Readonly<Record<InitOptionKey, { flag: string; env?: string }>> = Object.freeze({
  proxyUid: { flag: '--proxy-uid', env: 'MESHTAP_PROXY_UID' },
  proxyGid: { flag: '--proxy-gid', env: 'MESHTAP_PROXY_GID' },
  inboundPort: { flag: '--inbound-port', env: 'MESHTAP_INBOUND_PORT' },
  outboundPort: { flag: '--outbound-port', env: 'MESHTAP_OUTBOUND_PORT' },
  adminPort: { flag: '--admin-port', env: 'MESHTAP_ADMIN_PORT' },
  excludeInboundPorts: { flag: '--exclude-inbound-ports', env: 'MESHTAP_EXCLUDE_INBOUND_PORTS' },
  excludeOutboundPorts: { flag: '--exclude-outbound-ports', env: 'MESHTAP_EXCLUDE_OUTBOUND_PORTS' },
  excludeOutboundCidrs: { flag: '--exclude-outbound-cidrs', env: 'MESHTAP_EXCLUDE_OUTBOUND_CIDRS' },
  dnsCapture: { flag: '--no-dns-capture', env: 'MESHTAP_DNS_CAPTURE' },
  dnsPort: { flag: '--dns-port', env: 'MESHTAP_DNS_PORT' },
  dnsServers: { flag: '--dns-servers', env: 'MESHTAP_DNS_SERVERS' },
  backend: { flag: '--backend', env: 'MESHTAP_IPTABLES_BACKEND' },
  dryRun: { flag: '--dry-run' },
  cleanup: { flag: '--cleanup' },
});

const OPTION_KEYS = Object.keys(OPTION_NAMES) as InitOptionKey[];

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z]/g, '');
}

/** A known key that differs from `key` only by case, punctuation or a plural "s". */
function suggestKey(key: string): InitOptionKey | undefined {
  const wanted = normaliseKey(key);
  return OPTION_KEYS.find((k) => {
    const known = normaliseKey(k);
    return known === wanted || known === `${wanted}s` || `${known}s` === wanted;
  });
}

/**
 * Options win over environment variables, which win over defaults; an empty or blank variable
 * counts as unset. `resolvConf`: the text of the pod's `/etc/resolv.conf` (the caller reads it),
 * whose nameservers are `dnsServers` when neither the option nor its variable gives them;
 * without it, none. Throws `SC_ERR_INIT_BAD_OPTION` naming what the user set (the flag, or the
 * variable the value came from; never the option's key), the value and what is expected.
 */
export function resolveInitConfig(options: InitOptions = {}, env: Readonly<Record<string, string | undefined>> = {}, resolvConf?: string): InitConfig {
  const merged: Record<string, unknown> = {};
  const fromEnv = new Set<string>();
  for (const key of OPTION_KEYS) {
    const envName = OPTION_NAMES[key].env;
    const envValue = envName === undefined ? undefined : env[envName];
    // An empty (or blank) variable counts as unset: templates leave a variable out that way.
    if (envValue !== undefined && envValue.trim() !== '') {
      merged[key] = envValue;
      fromEnv.add(key);
    }
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    merged[key] = value;
    fromEnv.delete(key);
  }

  const issues: Issues = [];
  const config: Partial<Record<InitOptionKey, unknown>> = {};
  for (const key of OPTION_KEYS) {
    const { read, fallback } = READERS[key];
    if (merged[key] === undefined) {
      config[key] = key === 'dnsServers' && resolvConf !== undefined ? resolvConfServers(resolvConf) : fallback;
      continue;
    }
    const result = read(merged[key]);
    if ('problem' in result) issues.push({ path: [key], message: result.problem });
    else config[key] = result.value;
  }
  const nameOf = (key: InitOptionKey): string => (fromEnv.has(key) ? (OPTION_NAMES[key].env ?? OPTION_NAMES[key].flag) : OPTION_NAMES[key].flag);
  if (issues.length === 0) checkListeners(config, issues, new Set(Object.keys(merged)), nameOf);
  const problems = issues.map((issue) => {
    const key = issue.path[0] as InitOptionKey;
    return `${nameOf(key)} ${issue.message}`;
  });
  const unknown = Object.keys(merged).filter((key) => !(OPTION_KEYS as string[]).includes(key));
  if (unknown.length > 0) {
    problems.push(
      unknown
        .map((key) => {
          const hint = suggestKey(key);
          return hint === undefined ? `unknown option "${key}" (known: ${OPTION_KEYS.join(', ')})` : `unknown option "${key}": did you mean "${hint}"?`;
        })
        .join('; '),
    );
    issues.push({ path: [], message: `Unrecognized key${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => JSON.stringify(k)).join(', ')}` });
  }
  if (problems.length > 0) throw initError(SC_ERR_INIT_BAD_OPTION, `invalid init options: ${problems.join('; ')}`, new ValidationError(issues));
  const c = config as unknown as InitConfig;
  return Object.freeze({
    ...c,
    excludeInboundPorts: Object.freeze([...c.excludeInboundPorts]),
    excludeOutboundPorts: Object.freeze([...c.excludeOutboundPorts]),
    excludeOutboundCidrs: Object.freeze([...c.excludeOutboundCidrs]),
    dnsServers: Object.freeze([...c.dnsServers]),
  });
}

/**
 * Settings that are valid but probably not meant: each a sentence for a warning. A CIDR of
 * prefix length 0 excludes every outbound address of its family: IPv4 leaves uncaptured, and
 * IPv6 TCP, otherwise refused (plan-ipv6.ts), leaves past the sidecar.
 */
export function initConfigWarnings(config: InitConfig): string[] {
  const names = OPTION_NAMES.excludeOutboundCidrs;
  const said = `${names.flag} / ${names.env} lists`;
  const warnings: string[] = [];
  if (config.dnsCapture && !config.excludeOutboundPorts.includes(53) && config.dnsServers.length === 0) {
    const servers = OPTION_NAMES.dnsServers;
    warnings.push(`no resolver to capture DNS for (${servers.flag} / ${servers.env}, by default the nameservers of /etc/resolv.conf, lists none): the app's DNS is not captured`);
  }
  if (config.excludeOutboundCidrs.includes('0.0.0.0/0')) warnings.push(`${said} 0.0.0.0/0: no outbound IPv4 traffic of this pod is captured, only what comes in`);
  if (config.excludeOutboundCidrs.includes('::/0')) {
    warnings.push(`${said} ::/0: outbound IPv6 TCP, otherwise refused, leaves this pod past the sidecar, unseen and unencrypted (in strict mTLS mode too)`);
  }
  return warnings;
}
