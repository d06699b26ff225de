/**
 * Why a pod is not injected. Reasons are values: the webhook logs and counts them and
 * `meshtap inject` prints them. Codes are stable (metrics labels and tests use them).
 */
export const SKIP_REASONS = {
  'invalid-pod': 'the object is not a pod the API server would hold: no containers list, or a field of the wrong shape (a null container, ports that are not a list)',
  'system-namespace': 'pods in system namespaces are never injected',
  'namespace-not-enabled': 'the namespace is not labelled meshtap.io/inject=enabled and the pod is not labelled meshtap.io/inject=true',
  'pod-opted-out': 'the pod is labelled meshtap.io/inject=false',
  'host-network': 'the pod uses the node\'s network namespace (spec.hostNetwork), where iptables rules would capture the node\'s traffic',
  'already-injected': 'the pod already carries meshtap (meshtap.io/status annotation or a meshtap-proxy container)',
  'istio-proxy-present': 'the pod already carries an Istio proxy',
  'linkerd-proxy-present': 'the pod already carries a Linkerd proxy',
  'name-collision': 'the pod already has a container or volume with a name meshtap needs',
  'port-conflict': 'a container of the pod declares a port the meshtap proxy listens on',
  'invalid-annotation': 'a meshtap.io annotation has a value meshtap cannot use',
  'pod-security': 'the namespace enforces a Pod Security level (baseline or restricted) that forbids the init container\'s NET_ADMIN and NET_RAW capabilities, so the pod could not be created',
  'uid-conflict': 'a container runs as the proxy\'s user or group, whose traffic iptables never redirects: it would bypass capture and could not be told from the proxy',
  'run-to-completion': 'the pod runs to completion (restartPolicy Never or OnFailure, as a Job\'s) and the proxy would not be a native sidecar: it would never exit, so neither would the pod',
} as const satisfies Record<string, string>;

export type SkipReason = keyof typeof SKIP_REASONS;

/** All codes in the order they are reported. */
export const SKIP_REASON_CODES = Object.freeze(Object.keys(SKIP_REASONS) as SkipReason[]);

export function isSkipReason(value: unknown): value is SkipReason {
  return typeof value === 'string' && Object.hasOwn(SKIP_REASONS, value);
}

export function describeSkipReason(reason: SkipReason): string {
  return SKIP_REASONS[reason];
}

/**
 * One line for logs and CLI output: `code: detail` per reason, `; `-separated. The detail
 * is the pod-specific explanation when there is one, else the generic description.
 */
export function formatSkipReasons(
  reasons: readonly SkipReason[],
  details: Readonly<Partial<Record<SkipReason, string>>> = {},
): string {
  return reasons.map((r) => `${r}: ${details[r] ?? SKIP_REASONS[r]}`).join('; ');
}
