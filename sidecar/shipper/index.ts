export { createShipper, systemClock, type ShipperDeps } from './create-shipper.ts';
export { resolveShipperConfig, type ShipperConfig, type ShipperOptions, type SidecarInfo } from './config.ts';
export type { Shipper, ShipperClock, ShipperEvent, CloseOptions } from './shipper.ts';
export { DROP_REASONS, type DropReason, type ShipperMetrics, type ShipperStats } from './metrics.ts';
export { createShipperPromMetrics, type ShipperPromMetrics } from './prom-metrics.ts';
export { createCollectorCredentials, type CollectorCredentials, type CollectorCredentialsOptions, type CollectorTransport } from './collector-credentials.ts';
