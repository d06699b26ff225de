/**
 * The ports the kubelet probes. In strict mTLS mode the sidecar refuses plaintext, except on
 * these ports and from the node's address (the kubelet), so probes keep working without being
 * rewritten.
 */
import type { ContainerLike } from './inject-types.ts';

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;

interface ProbeLike {
  httpGet?: { port?: number | string };
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
