/**
 * The ports the kubelet probes. In strict mTLS mode the sidecar refuses plaintext, except on
 * these ports and from the node's address (the kubelet), so probes keep working without being
 * rewritten.
 */
import type { ContainerLike } from './inject-types.ts';

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;

interface ProbeLike {
  httpGet?: { port?: number | string; path?: string; scheme?: string };
  tcpSocket?: { port?: number | string };
  grpc?: { port?: number };
}

/** Numeric TCP ports of the containers' httpGet/tcpSocket/grpc probes (named ports resolved), sorted. */
export function probePortsOf(containers: readonly ContainerLike[]): number[] {
  const ports = new Set<number>();
  for (const container of containers) {
    for (const key of PROBES) {
      const probe = container[key] as ProbeLike | undefined;
      if (!probe || typeof probe !== 'object') continue;
      for (const port of [probe.httpGet?.port, probe.tcpSocket?.port, probe.grpc?.port]) {
        const resolved = typeof port === 'string' ? container.ports?.find((p) => p.name === port)?.containerPort : port;
        if (typeof resolved === 'number' && Number.isInteger(resolved) && resolved > 0 && resolved < 65536) ports.add(resolved);
      }
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/** A path the sidecar's list format can carry: printable, no separators of the format. */
const LISTABLE_PATH = /^\/[\x21-\x7e]*$/;

/**
 * The paths the kubelet asks on each port probed only by plain-HTTP `httpGet` probes. In strict
 * mode the sidecar lets plaintext from the node reach such a port only for `GET`/`HEAD` of these
 * paths; a port also probed by `tcpSocket`, `grpc` or HTTPS (or with a path the list cannot
 * carry) stays a port-only exemption.
 */
export function probePathsOf(containers: readonly ContainerLike[]): Map<number, string[]> {
  const paths = new Map<number, Set<string>>();
  const portOnly = new Set<number>();
  for (const container of containers) {
    const resolve = (port: number | string | undefined) => (typeof port === 'string' ? container.ports?.find((p) => p.name === port)?.containerPort : port);
    for (const key of PROBES) {
      const probe = container[key] as ProbeLike | undefined;
      if (!probe || typeof probe !== 'object') continue;
      for (const port of [probe.tcpSocket?.port, probe.grpc?.port]) {
        const resolved = resolve(port);
        if (typeof resolved === 'number') portOnly.add(resolved);
      }
      if (!probe.httpGet) continue;
      const port = resolve(probe.httpGet.port);
      if (typeof port !== 'number') continue;
      const path = probe.httpGet.path ?? '/';
      if ((probe.httpGet.scheme ?? 'HTTP').toUpperCase() !== 'HTTP' || !LISTABLE_PATH.test(path) || /[|,=]/.test(path)) {
        portOnly.add(port);
        continue;
      }
      if (!paths.has(port)) paths.set(port, new Set());
      paths.get(port)!.add(path);
    }
  }
  const out = new Map<number, string[]>();
  for (const [port, set] of [...paths].sort((a, b) => a[0] - b[0])) if (!portOnly.has(port)) out.set(port, [...set].sort());
  return out;
}

/** `8080=/healthz|/ready,9090=/live`: the form of `MESHTAP_PROBE_PATHS`. */
export function formatProbePaths(paths: ReadonlyMap<number, readonly string[]>): string {
  return [...paths].map(([port, list]) => `${port}=${list.join('|')}`).join(',');
}
