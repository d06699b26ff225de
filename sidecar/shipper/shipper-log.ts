/**
 * How the shipper's events become log lines. A collector that cannot be reached is a warning
 * the operator sees at the default level — the first failure, then one a minute with the count
 * since — not a debug line per retry (records only wait in the queue, then are dropped when it
 * fills, so a mistyped collector address went unnoticed). Pure apart from the clock passed in.
 */
import type { LogLevel } from '../../lib/log.ts';
import type { ShipperEvent } from './shipper.ts';

/** At most one connect-failure warning this often while the collector stays unreachable. */
export const CONNECT_WARN_EVERY_MS = 60_000;

export interface ShipperLogLine {
  level: LogLevel;
  message: string;
  fields: Record<string, unknown>;
}

export function createShipperLog(collectorAddr: string, now: () => number = Date.now): (event: ShipperEvent) => ShipperLogLine {
  let failures = 0;
  let warnedAt: number | undefined;
  return (event) => {
    if (event.event === 'connect_failed') {
      failures++;
      const t = now();
      if (warnedAt === undefined || t - warnedAt >= CONNECT_WARN_EVERY_MS) {
        warnedAt = t;
        return {
          level: 'warn',
          message: 'shipper: cannot reach the collector; records wait in the queue and the connection is retried',
          fields: { ...event, collector: collectorAddr, failures },
        };
      }
      return { level: 'debug', message: `shipper ${event.event}`, fields: { ...event } };
    }
    if (event.event === 'connected') {
      const after = failures;
      failures = 0;
      warnedAt = undefined;
      return { level: 'info', message: 'shipper connected', fields: { ...event, ...(after > 0 ? { after_failures: after } : {}) } };
    }
    return { level: event.event === 'stream_closed' ? 'info' : 'debug', message: `shipper ${event.event}`, fields: { ...event } };
  };
}
