import { z } from 'zod';
import { MeshtapError } from '../../lib/errors.ts';
import { SC_ERR_SHIPPER_CONFIG } from './errors.ts';

const MiB = 1024 * 1024;

const sidecarInfoSchema = z.strictObject({
  pod: z.string().default(''),
  namespace: z.string().default(''),
  pod_ip: z.string().default(''),
  node: z.string().default(''),
  service_account: z.string().default(''),
  sidecar_version: z.string().default(''),
});

const positiveInt = () => z.number().int().positive();

export const shipperOptionsSchema = z.strictObject({
  /** `host:port` of the collector's gRPC ingest (IPv6 hosts in brackets). */
  collectorAddr: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port'),
  /** Bound on everything the shipper holds (queued and unacknowledged), in estimated bytes. */
  maxQueueBytes: positiveInt().default(16 * MiB),
  batchMaxRecords: positiveInt().default(256),
  /** Also the largest single record accepted; bigger ones are dropped as `too_large`. */
  batchMaxBytes: positiveInt().default(1 * MiB),
  batchLingerMs: z.number().int().nonnegative().default(100),
  /** Batches sent and not yet acknowledged; when reached, records wait in the queue. */
  maxInFlightBatches: positiveInt().default(4),
  backoffBaseMs: positiveInt().default(100),
  backoffCapMs: positiveInt().default(10_000),
  /** A stream that stayed up this long counts as a success for the backoff. */
  backoffResetAfterMs: positiveInt().default(10_000),
  connectTimeoutMs: positiveInt().default(5_000),
  /** A record whose stream broke this many times before its ack is dropped as `stream_broken`. */
  maxSendAttempts: positiveInt().default(3),
  sidecar: sidecarInfoSchema.default(() => sidecarInfoSchema.parse({})),
});

export type ShipperOptions = z.input<typeof shipperOptionsSchema>;
export type ShipperConfig = Readonly<z.output<typeof shipperOptionsSchema>>;
export type SidecarInfo = ShipperConfig['sidecar'];

/** Validates options once; the result is frozen. A bad value names the key, the value and what is expected. */
export function resolveShipperConfig(options: ShipperOptions): ShipperConfig {
  const parsed = shipperOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(options)';
      const value = issue.path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), options);
      return `${key}=${JSON.stringify(value)}: ${issue.message}`;
    });
    throw new MeshtapError(SC_ERR_SHIPPER_CONFIG, `invalid shipper options: ${problems.join('; ')}`);
  }
  const config = parsed.data;
  if (config.batchMaxBytes > config.maxQueueBytes) {
    throw new MeshtapError(SC_ERR_SHIPPER_CONFIG, `batchMaxBytes (${config.batchMaxBytes}) must not exceed maxQueueBytes (${config.maxQueueBytes})`);
  }
  if (config.backoffBaseMs > config.backoffCapMs) {
    throw new MeshtapError(SC_ERR_SHIPPER_CONFIG, `backoffBaseMs (${config.backoffBaseMs}) must not exceed backoffCapMs (${config.backoffCapMs})`);
  }
  Object.freeze(config.sidecar);
  return Object.freeze(config);
}
