/**
 * The shipper's options, validated once by hand (the sidecar loads no schema library): every
 * problem names the key, the value and what is expected; the result is frozen.
 */
import { MeshtapError } from '../../lib/errors.ts';
import { checkKnownKeys, readInteger, readObject, readString, valueAt, type Issues, type NumberRules } from '../../lib/validate.ts';
import { SC_ERR_SHIPPER_CONFIG } from './errors.ts';

const MiB = 1024 * 1024;

export interface SidecarInfo {
  readonly pod: string;
  readonly namespace: string;
  readonly pod_ip: string;
  readonly node: string;
  readonly service_account: string;
  readonly sidecar_version: string;
}

const SIDECAR_INFO_KEYS = ['pod', 'namespace', 'pod_ip', 'node', 'service_account', 'sidecar_version'] as const;

export interface ShipperOptions {
  /** `host:port` of the collector's gRPC ingest (IPv6 hosts in brackets). */
  collectorAddr: string;
  /** Bound on everything the shipper holds (queued and unacknowledged), in estimated bytes. */
  maxQueueBytes?: number;
  batchMaxRecords?: number;
  /** Also the largest single record accepted; bigger ones are dropped as `too_large`. */
  batchMaxBytes?: number;
  batchLingerMs?: number;
  /** Batches sent and not yet acknowledged; when reached, records wait in the queue. */
  maxInFlightBatches?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** A stream that stayed up this long counts as a success for the backoff. */
  backoffResetAfterMs?: number;
  connectTimeoutMs?: number;
  /** A record whose stream broke this many times before its ack is dropped as `stream_broken`. */
  maxSendAttempts?: number;
  sidecar?: Partial<SidecarInfo>;
}

export type ShipperConfig = Readonly<Required<Omit<ShipperOptions, 'sidecar'>> & { sidecar: SidecarInfo }>;

type NumericKey = Exclude<keyof ShipperOptions, 'collectorAddr' | 'sidecar'>;

const positive: NumberRules = { positive: true };

/** Each numeric option: its default and its bounds. */
const NUMBERS: Readonly<Record<NumericKey, { fallback: number; rules: NumberRules }>> = {
  maxQueueBytes: { fallback: 16 * MiB, rules: positive },
  batchMaxRecords: { fallback: 256, rules: positive },
  batchMaxBytes: { fallback: 1 * MiB, rules: positive },
  batchLingerMs: { fallback: 100, rules: { min: 0 } },
  maxInFlightBatches: { fallback: 4, rules: positive },
  backoffBaseMs: { fallback: 100, rules: positive },
  backoffCapMs: { fallback: 10_000, rules: positive },
  backoffResetAfterMs: { fallback: 10_000, rules: positive },
  connectTimeoutMs: { fallback: 5_000, rules: positive },
  maxSendAttempts: { fallback: 3, rules: positive },
};

const KEYS: readonly string[] = ['collectorAddr', ...Object.keys(NUMBERS), 'sidecar'];

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

function readSidecarInfo(value: unknown, issues: Issues): SidecarInfo | undefined {
  const info: Record<string, string> = {};
  if (value === undefined) {
    for (const k of SIDECAR_INFO_KEYS) info[k] = '';
    return info as unknown as SidecarInfo;
  }
  const obj = readObject(value, ['sidecar'], issues);
  if (obj === undefined) return undefined;
  for (const k of SIDECAR_INFO_KEYS) info[k] = obj[k] === undefined ? '' : (readString(obj[k], ['sidecar', k], issues) ?? '');
  checkKnownKeys(obj, SIDECAR_INFO_KEYS, ['sidecar'], issues);
  return info as unknown as SidecarInfo;
}

function check(options: unknown, issues: Issues): ShipperConfig | undefined {
  const obj = readObject(options, [], issues);
  if (obj === undefined) return undefined;
  const config: Record<string, unknown> = {};
  const addr = readString(obj.collectorAddr, ['collectorAddr'], issues);
  if (addr !== undefined && !HOST_PORT.test(addr)) issues.push({ path: ['collectorAddr'], message: 'expected host:port' });
  config.collectorAddr = addr;
  for (const [key, { fallback, rules }] of Object.entries(NUMBERS)) {
    config[key] = obj[key] === undefined ? fallback : readInteger(obj[key], [key], issues, rules);
  }
  config.sidecar = readSidecarInfo(obj.sidecar, issues);
  checkKnownKeys(obj, KEYS, [], issues);
  return issues.length === 0 ? (config as ShipperConfig) : undefined;
}

/** Validates options once; the result is frozen. A bad value names the key, the value and what is expected. */
export function resolveShipperConfig(options: ShipperOptions): ShipperConfig {
  const issues: Issues = [];
  const config = check(options, issues);
  if (config === undefined) {
    const problems = issues.map((issue) => `${issue.path.join('.') || '(options)'}=${JSON.stringify(valueAt(options, issue.path))}: ${issue.message}`);
    throw new MeshtapError(SC_ERR_SHIPPER_CONFIG, `invalid shipper options: ${problems.join('; ')}`);
  }
  if (config.batchMaxBytes > config.maxQueueBytes) {
    throw new MeshtapError(SC_ERR_SHIPPER_CONFIG, `batchMaxBytes (${config.batchMaxBytes}) must not exceed maxQueueBytes (${config.maxQueueBytes})`);
  }
  if (config.backoffBaseMs > config.backoffCapMs) {
    throw new MeshtapError(SC_ERR_SHIPPER_CONFIG, `backoffBaseMs (${config.backoffBaseMs}) must not exceed backoffCapMs (${config.backoffCapMs})`);
  }
  Object.freeze(config.sidecar);
  return Object.freeze(config);
}
