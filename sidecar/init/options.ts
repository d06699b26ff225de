/**
 * `meshtap init` options: one zod schema gives the accepted input (`InitOptions`) and the
 * runtime check; `resolveInitConfig` merges options, environment and defaults and returns a
 * frozen `InitConfig`. Numbers may arrive as strings (flags, environment, annotations) and
 * lists as comma-separated strings, so the schema parses both.
 */
import { z } from 'zod';
import { SC_ERR_INIT_BAD_OPTION, initError } from './errors.ts';

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
  /** Normalised IPv4 networks (`a.b.c.d/len`, host bits cleared), sorted, without duplicates. */
  readonly excludeOutboundCidrs: readonly string[];
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
  backend: 'auto' as IptablesBackendChoice,
});

const MAX_ID = 4294967294; // (uid_t)-1 means "no change" to the kernel, so it is not an id

function integerIn(value: number | string, min: number, max: number): number | undefined {
  const text = typeof value === 'number' ? String(value) : value.trim();
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : JSON.stringify(value);
}

// Root's traffic must stay capturable: an app running as root would otherwise bypass the proxy.
const idSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const n = integerIn(value, 1, MAX_ID);
  if (n === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a numeric id 1-${MAX_ID} (0 would exempt every root process from capture), got ${describeValue(value)}`,
    });
    return z.NEVER;
  }
  return n;
});

const portSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const n = integerIn(value, 1, 65535);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `must be a port number 1-65535, got ${describeValue(value)}` });
    return z.NEVER;
  }
  return n;
});

/** "a,b" or ["a", b]: empty entries are ignored so "" means "none". */
function listItems(value: string | readonly (string | number)[]): (string | number)[] {
  const items = typeof value === 'string' ? value.split(',') : [...value];
  return items.map((i) => (typeof i === 'string' ? i.trim() : i)).filter((i) => i !== '');
}

const listInput = z.union([z.string(), z.array(z.union([z.string(), z.number()]))]);

const portListSchema = listInput.transform((value, ctx) => {
  const ports: number[] = [];
  for (const item of listItems(value)) {
    const n = integerIn(item, 1, 65535);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `must list port numbers 1-65535, got ${describeValue(item)}` });
      return z.NEVER;
    }
    ports.push(n);
  }
  return [...new Set(ports)].sort((a, b) => a - b);
});

/**
 * Parses an IPv4 address or CIDR and returns the network in iptables' own form
 * (`10.1.2.3/8` → `10.0.0.0/8`, `10.1.2.3` → `10.1.2.3/32`), or an explanation.
 */
export function parseIpv4Cidr(text: string): { cidr: string } | { error: string } {
  if (text.includes(':')) {
    return {
      error:
        `"${text}" is an IPv6 CIDR; meshtap init programs IPv4 iptables only, so IPv6 traffic is neither ` +
        'captured nor excluded: list IPv4 CIDRs only',
    };
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
  const n = address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  return [n, Number(prefix)];
}

const cidrListSchema = listInput.transform((value, ctx) => {
  const cidrs: string[] = [];
  for (const item of listItems(value)) {
    const parsed = parseIpv4Cidr(String(item));
    if ('error' in parsed) {
      ctx.addIssue({ code: 'custom', message: `must list IPv4 CIDRs: ${parsed.error}` });
      return z.NEVER;
    }
    cidrs.push(parsed.cidr);
  }
  return [...new Set(cidrs)].sort((a, b) => {
    const [an, ap] = cidrSortKey(a);
    const [bn, bp] = cidrSortKey(b);
    return an - bn || ap - bp;
  });
});

export const initOptionsSchema = z
  .strictObject({
    proxyUid: idSchema.default(INIT_DEFAULTS.proxyUid),
    proxyGid: idSchema.default(INIT_DEFAULTS.proxyGid),
    inboundPort: portSchema.default(INIT_DEFAULTS.inboundPort),
    outboundPort: portSchema.default(INIT_DEFAULTS.outboundPort),
    adminPort: portSchema.default(INIT_DEFAULTS.adminPort),
    excludeInboundPorts: portListSchema.default([]),
    excludeOutboundPorts: portListSchema.default([]),
    excludeOutboundCidrs: cidrListSchema.default([]),
    backend: z
      .enum(IPTABLES_BACKENDS, { error: (issue) => `must be one of ${IPTABLES_BACKENDS.join(', ')}, got ${describeValue(issue.input)}` })
      .default(INIT_DEFAULTS.backend),
    dryRun: z.boolean({ error: (issue) => `must be true or false, got ${describeValue(issue.input)}` }).default(false),
    cleanup: z.boolean({ error: (issue) => `must be true or false, got ${describeValue(issue.input)}` }).default(false),
  })
  .superRefine((config, ctx) => {
    const listeners = [
      ['inboundPort', config.inboundPort],
      ['outboundPort', config.outboundPort],
      ['adminPort', config.adminPort],
    ] as const;
    for (let i = 0; i < listeners.length; i++) {
      for (let j = i + 1; j < listeners.length; j++) {
        if (listeners[i][1] === listeners[j][1]) {
          ctx.addIssue({
            code: 'custom',
            path: [listeners[j][0]],
            message: `must differ from ${OPTION_NAMES[listeners[i][0]].flag} (both are ${listeners[i][1]}): each listener needs its own port`,
          });
        }
      }
    }
  });

/** What callers may pass: every field optional, numbers as numbers or strings. */
export type InitOptions = z.input<typeof initOptionsSchema>;
type InitOptionKey = keyof InitOptions;

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
 * Options win over environment variables, which win over defaults. Throws
 * `SC_ERR_INIT_BAD_OPTION` naming the flag or variable, the value and what is expected.
 */
export function resolveInitConfig(options: InitOptions = {}, env: Readonly<Record<string, string | undefined>> = {}): InitConfig {
  const merged: Record<string, unknown> = {};
  const fromEnv = new Set<string>();
  for (const key of OPTION_KEYS) {
    const envName = OPTION_NAMES[key].env;
    const envValue = envName === undefined ? undefined : env[envName];
    if (envValue !== undefined && envValue !== '') {
      merged[key] = envValue;
      fromEnv.add(key);
    }
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    merged[key] = value;
    fromEnv.delete(key);
  }

  const result = initOptionsSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys
          .map((key) => {
            const hint = suggestKey(key);
            return hint === undefined
              ? `unknown option "${key}" (known: ${OPTION_KEYS.join(', ')})`
              : `unknown option "${key}": did you mean "${hint}"?`;
          })
          .join('; ');
      }
      const key = issue.path[0] as InitOptionKey | undefined;
      if (key === undefined || !(key in OPTION_NAMES)) return issue.message;
      const names = OPTION_NAMES[key];
      const label = fromEnv.has(key) ? names.env : `${names.flag} (${key})`;
      return `${label} ${issue.message}`;
    });
    throw initError(SC_ERR_INIT_BAD_OPTION, `invalid init options: ${problems.join('; ')}`, result.error);
  }
  const c = result.data;
  return Object.freeze({
    ...c,
    excludeInboundPorts: Object.freeze([...c.excludeInboundPorts]),
    excludeOutboundPorts: Object.freeze([...c.excludeOutboundPorts]),
    excludeOutboundCidrs: Object.freeze([...c.excludeOutboundCidrs]),
  });
}
