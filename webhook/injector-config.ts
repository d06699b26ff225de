import { z } from 'zod';
import { HOST_PORT_EXPECTED, hostPortProblem } from '../lib/host-port.ts';
import { LOG_LEVELS } from '../lib/log.ts';
import packageJson from '../package.json' with { type: 'json' };
import { MTLS_MODES, MAX_BODY_BYTES_LIMIT } from './annotations.ts';
import { INJ_ERR_CONFIG, MeshtapError } from './errors.ts';

/** The meshtap release the injector belongs to; recorded in `meshtap.io/status`. */
export const MESHTAP_VERSION: string = packageJson.version;

const QUANTITY = /^\d+(\.\d+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const quantity = z.string().regex(QUANTITY, 'must be a Kubernetes quantity such as "50m", "1" or "64Mi"');
const resourceList = z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() });
const resources = z.strictObject({ requests: resourceList.optional(), limits: resourceList.optional() });

const port = z.number().int().min(1).max(65535);
const id = z.number().int().min(1, 'must not be 0: the proxy never runs as root').max(2147483647);
const hostPort = z.string().superRefine((value, ctx) => {
  const problem = hostPortProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${HOST_PORT_EXPECTED}: ${problem}` });
});
const dnsName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, 'must be a lower-case DNS name');

const schema = z
  .strictObject({
    image: z.string().regex(/^\S+$/, 'must be a non-empty image reference without spaces').default(`ghcr.io/meshtap/meshtap:${MESHTAP_VERSION}`),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
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
    collectorTls: z.enum(['auto', 'on', 'off']).default('on'),
    caAddr: hostPort.default('meshtap-controller.meshtap-system.svc:15012'),
    controllerAddr: hostPort.default('meshtap-controller.meshtap-system.svc:15012'),
    trustDomain: dnsName.default('cluster.local'),
    maxBodyBytes: z.number().int().min(0).max(MAX_BODY_BYTES_LIMIT).default(65536),
    // The sidecar's levels (it refuses others: a webhook set to `trace` put every pod in a crash loop).
    logLevel: z.enum(LOG_LEVELS).default('info'),
    nativeSidecar: z.boolean().default(true),
    mtlsMode: z.enum(MTLS_MODES).default('permissive'),
    trustBundleConfigMap: dnsName.default('meshtap-trust-bundle'),
    tokenAudience: z.string().min(1).default('meshtap-ca'),
    // The API server refuses projected tokens that live less than 10 minutes.
    tokenExpirationSeconds: z.number().int().min(600).max(2 ** 32 - 1).default(3600),
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
          ctx.addIssue({ code: 'custom', path: [ports[j][0]], message: `must differ from ${ports[i][0]} (both are ${ports[j][1]})` });
        }
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

function describeValue(value: unknown): string {
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
  /** What the message starts with; default "invalid injector config". */
  prefix?: string;
}

/**
 * Validates options once and returns the frozen config. Any problem throws `INJ_ERR_CONFIG`
 * naming every bad key, its value and what is expected.
 */
export function resolveInjectorConfig(options: InjectorOptions = {}, naming: ConfigNaming = {}): InjectorConfig {
  const result = schema.safeParse(options);
  if (result.success) return deepFreeze(result.data);
  const nameOf = naming.keyName ?? ((key: string) => key);
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys
        .map((k) => {
          const key = nameOf([...issue.path, k].join('.'));
          const hint = RENAMED_KEYS[k];
          return hint ? `${key}: unknown option (did you mean "${hint}"?)` : `${key}: unknown option`;
        })
        .join('; ');
    }
    const key = issue.path.length > 0 ? nameOf(issue.path.join('.')) : '(options)';
    return `${key}: ${issue.message} (got ${describeValue(valueAt(options, issue.path))})`;
  });
  throw new MeshtapError(INJ_ERR_CONFIG, `${naming.prefix ?? 'invalid injector config'}: ${problems.join('; ')}`, { cause: result.error });
}
