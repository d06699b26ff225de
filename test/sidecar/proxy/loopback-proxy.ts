/**
 * A sidecar proxy as the unit tests run it: both listeners on free loopback ports, inbound
 * connections to the app from 127.0.0.6, and every accepted connection's original destination
 * a port of the test's own (or whatever `originalDst` says). Starting and stopping it stay with
 * each test: their order around the capture side differs.
 */
import type { CaptureChannel } from '../../../sidecar/proxy/capture-channel.ts';
import { createSidecarProxy, type SidecarProxy } from '../../../sidecar/proxy/proxy.ts';
import type { OriginalDstResult } from '../../../sidecar/original-dst.ts';
import type { NsClock } from '../../../sidecar/capture/session.ts';
import type { SidecarStats } from '../../../sidecar/stats.ts';

export function loopbackProxy(options: {
  clock: NsClock;
  stats: SidecarStats;
  capture: CaptureChannel | undefined;
  /** Where every connection goes, unless `originalDst` is given (a function: read at each accept). */
  targetPort?: number | (() => number);
  originalDst?: () => OriginalDstResult;
}): SidecarProxy {
  const { targetPort } = options;
  const port = (): number => (typeof targetPort === 'function' ? targetPort() : (targetPort ?? 0));
  return createSidecarProxy({
    host: '127.0.0.1',
    outboundPort: 0,
    inboundPort: 0,
    podIp: '127.0.0.1',
    inboundSourceAddress: '127.0.0.6',
    clock: options.clock,
    stats: options.stats,
    capture: options.capture,
    originalDst: options.originalDst ?? (() => ({ ok: true, dst: { ip: '127.0.0.1', port: port() } })),
  });
}
