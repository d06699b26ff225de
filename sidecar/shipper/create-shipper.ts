/**
 * `createShipper`: the shipper with its real surroundings (gRPC transport, wall clock, timers,
 * Math.random). Tests and the sidecar may replace any of them through `deps`.
 */
import { resolveShipperConfig, type ShipperConfig, type ShipperOptions } from './config.ts';
import { createGrpcTransport, type CredentialsProvider, type ShipCredentials } from './grpc-transport.ts';
import { createShipperCore, type Shipper, type ShipperCoreDeps } from './shipper.ts';

export interface ShipperDeps extends Partial<ShipperCoreDeps> {
  /**
   * TLS (mTLS) credentials for the default gRPC transport; plaintext when absent. A provider
   * function is called per connection attempt (a rotated certificate is used by the next stream).
   */
  credentials?: ShipCredentials | CredentialsProvider;
}

export const systemClock: ShipperCoreDeps['clock'] = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  defer: (fn) => {
    setImmediate(fn);
  },
};

/** Validates `options` (a resolved config is accepted too) and starts connecting at once. */
export function createShipper(options: ShipperOptions | ShipperConfig, deps: ShipperDeps = {}): Shipper {
  const config = resolveShipperConfig(options);
  return createShipperCore(config, {
    transport:
      deps.transport ??
      createGrpcTransport({
        address: config.collectorAddr,
        credentials: deps.credentials,
        connectTimeoutMs: config.connectTimeoutMs,
      }),
    clock: deps.clock ?? systemClock,
    random: deps.random ?? Math.random,
    metrics: deps.metrics,
    log: deps.log,
  });
}
