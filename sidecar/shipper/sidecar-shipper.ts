/**
 * The sidecar's shipper as the sidecar runs it: the collector's address and this pod's
 * identity, credentials per `MESHTAP_COLLECTOR_TLS`, and the log lines it writes. The same
 * wiring serves both homes of the shipper: the capture worker (capture on) and the forwarding
 * thread (capture off, where only DNS records are shipped).
 */
import type { LogLevel } from '../../lib/log.ts';
import type { CollectorTlsMode } from '../config.ts';
import { createCollectorCredentials, type CollectorIdentity } from './collector-credentials.ts';
import type { SidecarInfo } from './config.ts';
import { createShipper } from './create-shipper.ts';
import type { ShipperMetrics } from './metrics.ts';
import type { Shipper } from './shipper.ts';
import { createShipperLog } from './shipper-log.ts';

/** Plain data (it crosses into the capture worker by structured clone). */
export interface SidecarShipperSettings {
  collectorAddr: string;
  sidecar: SidecarInfo;
  tls: { mode: CollectorTlsMode; serverName: string };
}

export interface SidecarShipperDeps {
  /** The current workload certificate (undefined before the first, once expired, or without a CA). */
  identity: () => CollectorIdentity | undefined;
  /** `auto` with a CA: resolves once the first certificate is in hand or the CA had its time. */
  firstIdentity?: () => Promise<unknown>;
  metrics?: ShipperMetrics;
  log: (level: LogLevel, message: string, fields: Record<string, unknown>) => void;
}

export function createSidecarShipper(settings: SidecarShipperSettings, deps: SidecarShipperDeps): Shipper {
  const credentials = createCollectorCredentials({
    mode: settings.tls.mode,
    collectorAddr: settings.collectorAddr,
    serverName: settings.tls.serverName,
    identity: deps.identity,
    firstIdentity: deps.firstIdentity,
    onChange: (t) =>
      deps.log(
        t.transport === 'none' ? 'warn' : 'info',
        `shipper: collector transport ${t.transport}`,
        { mode: settings.tls.mode, ...(t.spiffeId ? { spiffe_id: t.spiffeId, serial: t.serial } : {}) },
      ),
  });
  const line = createShipperLog(settings.collectorAddr);
  return createShipper(
    { collectorAddr: settings.collectorAddr, sidecar: settings.sidecar },
    {
      metrics: deps.metrics,
      credentials: credentials.credentials,
      log: (event) => {
        const { level, message, fields } = line(event);
        deps.log(level, message, fields);
      },
    },
  );
}
