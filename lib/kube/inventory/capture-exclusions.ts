/**
 * What a pod keeps out of capture by configuration: the ports and CIDRs of its
 * `meshtap.io/exclude-*` annotations, as the collector reports them ("what meshtap can see").
 * Read leniently — the webhook validated them when it injected the pod; a token that does not
 * parse here is left out rather than failing the pod's inventory entry.
 */
export const EXCLUDE_INBOUND_PORTS = 'meshtap.io/exclude-inbound-ports';
export const EXCLUDE_OUTBOUND_PORTS = 'meshtap.io/exclude-outbound-ports';
export const EXCLUDE_OUTBOUND_CIDRS = 'meshtap.io/exclude-outbound-cidrs';
export const EXCLUSION_ANNOTATIONS: readonly string[] = [EXCLUDE_INBOUND_PORTS, EXCLUDE_OUTBOUND_PORTS, EXCLUDE_OUTBOUND_CIDRS];

export interface CaptureExclusions {
  readonly inbound_ports: readonly number[];
  readonly outbound_ports: readonly number[];
  readonly outbound_cidrs: readonly string[];
}

const CIDR = /^[0-9a-fA-F:.]+\/\d{1,3}$/;

function tokens(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function ports(value: string | undefined): number[] {
  return tokens(value)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 1 && n <= 65535);
}

/** The pod's exclusions from its annotations (empty lists when it has none). */
export function captureExclusions(annotations: Readonly<Record<string, string>> | undefined): CaptureExclusions {
  return {
    inbound_ports: ports(annotations?.[EXCLUDE_INBOUND_PORTS]),
    outbound_ports: ports(annotations?.[EXCLUDE_OUTBOUND_PORTS]),
    outbound_cidrs: tokens(annotations?.[EXCLUDE_OUTBOUND_CIDRS]).filter((c) => CIDR.test(c)),
  };
}

/** The union over a workload's pods (they normally agree: one pod template). */
export function mergeExclusions(list: readonly CaptureExclusions[]): CaptureExclusions {
  const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];
  return {
    inbound_ports: uniq(list.flatMap((e) => e.inbound_ports)).sort((a, b) => a - b),
    outbound_ports: uniq(list.flatMap((e) => e.outbound_ports)).sort((a, b) => a - b),
    outbound_cidrs: uniq(list.flatMap((e) => e.outbound_cidrs)).sort(),
  };
}
