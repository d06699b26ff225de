import { isIPv4, isIPv6 } from 'node:net';

/** Label and annotation keys meshtap reads or writes. The names are contracts. */
export const INJECT_LABEL = 'meshtap.io/inject';
export const STATUS_ANNOTATION = 'meshtap.io/status';
export const EXCLUDE_INBOUND_PORTS_ANNOTATION = 'meshtap.io/exclude-inbound-ports';
export const EXCLUDE_OUTBOUND_PORTS_ANNOTATION = 'meshtap.io/exclude-outbound-ports';
export const EXCLUDE_OUTBOUND_CIDRS_ANNOTATION = 'meshtap.io/exclude-outbound-cidrs';
export const MAX_BODY_BYTES_ANNOTATION = 'meshtap.io/max-body-bytes';
export const MTLS_MODE_ANNOTATION = 'meshtap.io/mtls-mode';
export const NATIVE_SIDECAR_ANNOTATION = 'meshtap.io/native-sidecar';
/** `"false"` leaves the pod's DNS alone (`meshtap init --no-dns-capture`); DNS capture is on otherwise. */
export const DNS_CAPTURE_ANNOTATION = 'meshtap.io/dns-capture';
/** Key names the sidecar masks in addition to its defaults (its `MESHTAP_MASK_KEYS`). */
export const MASK_KEYS_ANNOTATION = 'meshtap.io/mask-keys';

/** Set when the sidecar becomes the first container, so `kubectl logs/exec` keep picking the app. */
export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

export const ISTIO_STATUS_ANNOTATION = 'sidecar.istio.io/status';
export const LINKERD_PROXY_VERSION_ANNOTATION = 'linkerd.io/proxy-version';

export const MTLS_MODES = ['permissive', 'strict'] as const;
export type MtlsMode = (typeof MTLS_MODES)[number];

/** Upper bound for a per-pod body limit: larger bodies belong in a different tool. */
export const MAX_BODY_BYTES_LIMIT = 64 * 1024 * 1024;

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** `"8080, 9090"` → `[8080, 9090]`. Ranges are not supported; an empty value means none. */
export function parsePortList(value: string): Parsed<number[]> {
  const ports: number[] = [];
  for (const item of splitList(value)) {
    const n = /^\d{1,5}$/.test(item) ? Number(item) : NaN;
    if (!(n >= 1 && n <= 65535)) return { ok: false, problem: `"${item}" is not a port number 1-65535` };
    ports.push(n);
  }
  return { ok: true, value: unique(ports) };
}

/**
 * `"10.0.0.0/8, fd00::/8, 192.168.1.10"` → CIDRs, a bare address becoming a host route
 * (`/32`, `/128`) so consumers only ever see one shape.
 */
export function parseCidrList(value: string): Parsed<string[]> {
  const cidrs: string[] = [];
  for (const item of splitList(value)) {
    const slash = item.indexOf('/');
    const address = slash === -1 ? item : item.slice(0, slash);
    const prefixText = slash === -1 ? undefined : item.slice(slash + 1);
    // A zone (`fe80::1%eth0`) names an interface, not a network: iptables has no use for it.
    const max = isIPv4(address) ? 32 : isIPv6(address) && !address.includes('%') ? 128 : 0;
    if (max === 0) return { ok: false, problem: `"${item}" is not an IPv4 or IPv6 CIDR` };
    if (prefixText === undefined) {
      cidrs.push(`${address}/${max}`);
      continue;
    }
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefix >= 0 && prefix <= max)) {
      return { ok: false, problem: `"${item}" has a prefix length outside 0-${max}` };
    }
    cidrs.push(`${address}/${prefix}`);
  }
  return { ok: true, value: unique(cidrs) };
}

/** A byte count as plain decimal digits, 0 (capture no bodies) to `MAX_BODY_BYTES_LIMIT`. */
export function parseByteCount(value: string): Parsed<number> {
  const text = value.trim();
  const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= MAX_BODY_BYTES_LIMIT)) {
    return { ok: false, problem: `"${value}" is not a byte count 0-${MAX_BODY_BYTES_LIMIT} (plain digits)` };
  }
  return { ok: true, value: n };
}

/** The sidecar's rule for `MESHTAP_MASK_KEYS`: checked here so a bad value skips the pod instead of crash-looping its sidecar. */
const MASK_KEY = /^[A-Za-z0-9_.:-]{1,128}$/;
export const MAX_MASK_KEYS = 256;

/** `"pin, tenant_code"` → `["pin", "tenant_code"]`; an empty value means none. */
export function parseMaskKeys(value: string): Parsed<string[]> {
  const keys = unique(splitList(value));
  for (const k of keys) {
    if (!MASK_KEY.test(k)) return { ok: false, problem: `"${k}" is not a key name (1-128 letters, digits, "_", ".", ":" or "-", comma-separated)` };
  }
  if (keys.length > MAX_MASK_KEYS) return { ok: false, problem: `${keys.length} key names, more than ${MAX_MASK_KEYS}` };
  return { ok: true, value: keys };
}

export function parseMtlsMode(value: string): Parsed<MtlsMode> {
  const text = value.trim();
  return (MTLS_MODES as readonly string[]).includes(text)
    ? { ok: true, value: text as MtlsMode }
    : { ok: false, problem: `"${value}" is not one of ${MTLS_MODES.join(', ')}` };
}

export function parseBooleanText(value: string): Parsed<boolean> {
  const text = value.trim();
  if (text === 'true') return { ok: true, value: true };
  if (text === 'false') return { ok: true, value: false };
  return { ok: false, problem: `"${value}" is not "true" or "false"` };
}
