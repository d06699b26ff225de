import { z } from 'zod';
import { HOST_PORT_EXPECTED, hostPortProblem } from '../lib/host-port.ts';
import { LOG_LEVELS } from '../lib/log.ts';
import packageJson from '../package.json' with { type: 'json' };
import { MTLS_MODES, MAX_BODY_BYTES_LIMIT } from './annotations.ts';
import { INJ_ERR_CONFIG, MeshtapError } from './errors.ts';
import { INIT_DEFAULTS } from '../sidecar/init/options.ts';
import { TRUST_DOMAIN_EXPECTED, isTrustDomain } from '../certs/spiffe-id.ts';

/**
 * The port of the sidecar's DNS listener (UDP and TCP, on loopback). The injector does not set
 * it: the init container and the sidecar both take their default, so no other meshtap port may
 * be it and no container of an injected pod may declare it.
 */
export const SIDECAR_DNS_PORT: number = INIT_DEFAULTS.dnsPort;

/** The meshtap release the injector belongs to; recorded in `meshtap.io/status`. */
export const MESHTAP_VERSION: string = packageJson.version;

const QUANTITY = /^\d+(\.\d+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const quantity = z.string().regex(QUANTITY);
const resourceList = z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() });
const resources = z.strictObject({ requests: resourceList.optional(), limits: resourceList.optional() });

const MAX_ID = 2147483647;
const TOKEN_EXPIRATION_MAX = 2 ** 32 - 1;
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
const COLLECTOR_TLS_MODES = ['auto', 'on', 'off'] as const;

const port = z.number().int().min(1).max(65535);
const id = z.number().int().min(1).max(MAX_ID);
const hostPort = z.string().superRefine((value, ctx) => {
  const problem = hostPortProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${HOST_PORT_EXPECTED}: ${problem}` });
});
const dnsName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/);

const schema = z
  .strictObject({
    image: z.string().regex(/^\S+$/).default(`ghcr.io/meshtap/meshtap:${MESHTAP_VERSION}`),
    imagePullPolicy: z.enum(PULL_POLICIES).default('IfNotPresent'),
    proxyUid: id.default(1337),
    proxyGid: id.default(1337),
    inboundPort: port.default(15006),
    outboundPort: port.default(15001),
    adminPort: port.default(15020),
    collectorAddr: hostPort.default('meshtap-collector.meshtap-system.svc:9400'),
    // MESHTAP_COLLECTOR_TLS of every sidecar (see collector-tls.ts). `on` because the bundled
    // collector serves ingest over mTLS only (--tls-cert-dir, with the certificate the controller
    // issues): records come only from sidecars holding a workload certificate. `off` is for a
    // collector deployed without --tls-cert-dir, and must be chosen explicitly.
    collectorTls: z.enum(COLLECTOR_TLS_MODES).default('on'),
    caAddr: hostPort.default('meshtap-controller.meshtap-system.svc:15012'),
    controllerAddr: hostPort.default('meshtap-controller.meshtap-system.svc:15012'),
    trustDomain: z.string().refine(isTrustDomain, { message: `must be a SPIFFE trust domain: ${TRUST_DOMAIN_EXPECTED}` }).default('cluster.local'),
    maxBodyBytes: z.number().int().min(0).max(MAX_BODY_BYTES_LIMIT).default(65536),
    // The sidecar's levels (it refuses others: a webhook set to `trace` put every pod in a crash loop).
    logLevel: z.enum(LOG_LEVELS).default('info'),
    nativeSidecar: z.boolean().default(true),
    mtlsMode: z.enum(MTLS_MODES).default('permissive'),
    trustBundleConfigMap: dnsName.default('meshtap-trust-bundle'),
    tokenAudience: z.string().min(1).default('meshtap-ca'),
    // The API server refuses projected tokens that live less than 10 minutes.
    tokenExpirationSeconds: z.number().int().min(600).max(TOKEN_EXPIRATION_MAX).default(3600),
    // Memory: the request is what a sidecar holds under steady load (about 100–125 MiB RSS in
    // `npm run bench`, idle ~100); the limit sits above what its own bounds let it reach (two V8
    // heaps capped at 128 + 96 MiB, a 16 MiB capture hand-off, a 16 MiB shipper queue, the node
    // binary's pages). At 256 MiB the bench's saturating stress phases (64 KiB bodies, 256
    // connections, pipelining) measured 230–267 MiB: an OOM kill, and every connection of the pod
    // with it, where the sidecar's own bounds would only have cut and counted captures.
    sidecarResources: resources.default({
      requests: { cpu: '50m', memory: '128Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    }),
    // The init container is a short Node process running iptables-restore.
    initResources: resources.default({
      requests: { cpu: '10m', memory: '32Mi' },
      limits: { cpu: '500m', memory: '128Mi' },
    }),
  })
  .superRefine((c, ctx) => {
    const ports = [['inboundPort', c.inboundPort], ['outboundPort', c.outboundPort], ['adminPort', c.adminPort]] as const;
    for (let i = 0; i < ports.length; i++) {
      for (let j = i + 1; j < ports.length; j++) {
        if (ports[i][1] === ports[j][1]) {
          ctx.addIssue({ code: 'custom', path: [ports[j][0]], message: 'must differ', params: { differsFrom: ports[i][0], both: ports[j][1] } });
        }
      }
      // Accepted before, every injected pod's init container then refused its flags (a crash loop).
      if (ports[i][1] === SIDECAR_DNS_PORT) {
        ctx.addIssue({ code: 'custom', path: [ports[i][0]], message: `must differ from ${SIDECAR_DNS_PORT}, the sidecar's DNS listener` });
      }
    }
  });

/** What callers may pass: every key optional. */
export type InjectorOptions = z.input<typeof schema>;
/** The validated, defaulted, deeply frozen configuration. */
export type InjectorConfig = DeepReadonly<z.output<typeof schema>>;

type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** Keys people are likely to guess, mapped to the real ones, for the error hint. */
const RENAMED_KEYS: Record<string, string> = {
  collectorAddress: 'collectorAddr',
  caAddress: 'caAddr',
  controllerAddress: 'controllerAddr',
  proxyUID: 'proxyUid',
  proxyGID: 'proxyGid',
  uid: 'proxyUid',
  gid: 'proxyGid',
  pullPolicy: 'imagePullPolicy',
  maxBodySize: 'maxBodyBytes',
  native: 'nativeSidecar',
  mtls: 'mtlsMode',
  resources: 'sidecarResources',
  audience: 'tokenAudience',
  trustBundle: 'trustBundleConfigMap',
};

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Option keys of the schema: what a `--config` file and `InjectorOptions` name. */
type OptionKey = keyof InjectorOptions;

/** Every key the schema accepts, in its order (webhook/README.md documents each; a test checks). */
export const INJECTOR_OPTION_KEYS: readonly OptionKey[] = Object.freeze(Object.keys(schema.shape) as OptionKey[]);

const oneOf = (values: readonly string[]): string => `one of ${values.join(', ')}`;
const PORT = 'a port number 1-65535';
const HOST_PORT = HOST_PORT_EXPECTED.replace(/^must be /, '');
const ID_NOT_ROOT = '(not 0: the proxy never runs as root)';
const RESOURCES = 'a mapping with requests and limits, each a mapping of cpu and memory';

/** What each option takes, as a message says it: `NAME must be WHAT; got VALUE`. */
const TAKES: Readonly<Record<OptionKey, string>> = {
  image: 'an image reference without spaces',
  imagePullPolicy: oneOf(PULL_POLICIES),
  proxyUid: `a user id 1-${MAX_ID} ${ID_NOT_ROOT}`,
  proxyGid: `a group id 1-${MAX_ID} ${ID_NOT_ROOT}`,
  inboundPort: PORT,
  outboundPort: PORT,
  adminPort: PORT,
  collectorAddr: HOST_PORT,
  collectorTls: oneOf(COLLECTOR_TLS_MODES),
  caAddr: HOST_PORT,
  controllerAddr: HOST_PORT,
  trustDomain: `a SPIFFE trust domain: ${TRUST_DOMAIN_EXPECTED}`,
  maxBodyBytes: `a byte count 0-${MAX_BODY_BYTES_LIMIT}`,
  logLevel: oneOf(LOG_LEVELS),
  nativeSidecar: 'true or false',
  mtlsMode: oneOf(MTLS_MODES),
  trustBundleConfigMap: 'a ConfigMap name (a lower-case DNS name)',
  tokenAudience: 'a non-empty string',
  tokenExpirationSeconds: `a whole number of seconds 600-${TOKEN_EXPIRATION_MAX} (the API server refuses shorter-lived tokens)`,
  sidecarResources: RESOURCES,
  initResources: RESOURCES,
};

/** What option `key` takes, for a caller's own messages (a flag given empty). */
export function optionTakes(key: OptionKey): string {
  return TAKES[key];
}

/** The keys each level of a resources option takes: `requests`/`limits`, then `cpu`/`memory`. */
const RESOURCE_KEYS: readonly (readonly string[])[] = [[], ['requests', 'limits'], ['cpu', 'memory']];

/** What the value at `path` takes: the option's phrase, or inside resources its level's. */
function takesAt(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'a mapping of option names to values';
  if (path.length === 2) return 'a mapping of cpu and memory';
  if (path.length === 3) return 'a Kubernetes quantity such as "50m", "1" or "64Mi"';
  return TAKES[path[0] as OptionKey] ?? 'a valid value';
}

/** A value as a message shows it: JSON, with numbers JSON cannot say (NaN, Infinity) as written. */
function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** How a caller names the options in errors: a CLI names its flags, not the config keys. */
export interface ConfigNaming {
  /** The name of an option key (dotted path) in messages; the key itself by default. */
  keyName?: (key: string) => string;
}

/**
 * One problem in the user's terms: `NAME must be WHAT; got VALUE`, `NAME must differ from
 * OTHER (both are N)`, `NAME is not an option`. Zod's own wording and the schema's internal
 * names never reach the message: only what the caller names (`naming.keyName`).
 */
function describeIssue(issue: z.core.$ZodIssue, options: unknown, nameOf: (key: string) => string): string {
  const pathName = (path: readonly PropertyKey[]): string => (path.length > 0 ? nameOf(path.map(String).join('.')) : 'the injector options');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((k) => {
        const name = nameOf([...issue.path, k].map(String).join('.'));
        const hint = issue.path.length === 0 ? RENAMED_KEYS[k] : undefined;
        if (hint !== undefined) return `${name} is not an option (did you mean "${nameOf(hint)}"?)`;
        const known = RESOURCE_KEYS[issue.path.length];
        return known && known.length > 0 ? `${name} is not an option (${pathName(issue.path)} takes ${known.join(' and ')})` : `${name} is not an option`;
      })
      .join('; ');
  }
  const name = pathName(issue.path);
  if (issue.code === 'custom' && typeof issue.params?.differsFrom === 'string') {
    return `${name} must differ from ${nameOf(issue.params.differsFrom)} (both are ${String(issue.params.both)})`;
  }
  // A custom issue says what is wrong in its own words (host:port: which part); others say what the option takes.
  const must = issue.code === 'custom' ? issue.message : `must be ${takesAt(issue.path)}`;
  return `${name} ${must}; got ${describeValue(valueAt(options, issue.path))}`;
}

/**
 * Validates options once and returns the frozen config. Any problem throws `INJ_ERR_CONFIG`
 * naming every bad key (as `naming` names it), its value and what it takes.
 */
export function resolveInjectorConfig(options: InjectorOptions = {}, naming: ConfigNaming = {}): InjectorConfig {
  const result = schema.safeParse(options);
  if (result.success) return deepFreeze(result.data);
  const nameOf = naming.keyName ?? ((key: string) => key);
  // One line per problem: several checks failing on one value (too short and not a DNS name) say the same.
  const problems = new Set(result.error.issues.map((issue) => describeIssue(issue, options, nameOf)));
  throw new MeshtapError(INJ_ERR_CONFIG, [...problems].join('; '), { cause: result.error });
}
