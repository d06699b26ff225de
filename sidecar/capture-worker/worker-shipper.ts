/**
 * The capture worker's shipper: the records the worker builds go to the collector from this
 * thread, so the gRPC stream, its buffers and their garbage never touch the forwarding
 * thread's heap. (With the stream there, the forwarding thread's V8 heap ran a full
 * mark-compact about every second, driven by the stream's external memory: pauses of 3–20 ms
 * that every connection on the loop waited for.)
 *
 * The forwarding thread keeps what it owns: the workload certificate arrives as `identity`
 * messages; the shipper's hooks are recorded and go back with the counters
 * (`ShipperReport`), where they are replayed into the sidecar's metrics (remote-shipper.ts).
 */
import type { LogLevel } from '../../lib/log.ts';
import { createShipperMetricsRecorder } from '../shipper/metrics-relay.ts';
import { createSidecarShipper } from '../shipper/sidecar-shipper.ts';
import type { CloseOptions, Shipper } from '../shipper/shipper.ts';
import type { IdentityUpdate, ShipperReport, WorkerShipperStart } from './messages.ts';

export interface WorkerShipper {
  /** An encoded record for the collector; false when the shipper dropped it (counted there). */
  offerEncoded(record: Uint8Array): boolean;
  identity(update: IdentityUpdate): void;
  /** The hooks called since the last report and the current stats; undefined when nothing changed. */
  report(): ShipperReport | undefined;
  close(options: CloseOptions): Promise<ShipperReport>;
}

export interface WorkerShipperHooks {
  log: (level: LogLevel, message: string, fields: Record<string, unknown>) => void;
  /** The shipper reported something (the worker schedules its next counters message). */
  changed: () => void;
}

export function startWorkerShipper(start: WorkerShipperStart, hooks: WorkerShipperHooks): WorkerShipper {
  let current = start.identity.identity;
  let gate = start.identity.gate;
  let openGate: (() => void) | undefined;
  const gateOpen = gate ? Promise.resolve() : new Promise<void>((resolve) => (openGate = resolve));
  const recorder = createShipperMetricsRecorder(hooks.changed);
  let moved = false;
  const shipper: Shipper = createSidecarShipper(start.settings, {
    identity: () => (current !== undefined && Date.now() < current.notAfterMs ? current : undefined),
    firstIdentity: () => gateOpen,
    metrics: recorder.metrics,
    log: hooks.log,
  });

  function report(force: boolean): ShipperReport | undefined {
    const deltas = recorder.take();
    if (deltas === undefined && !moved && !force) return undefined;
    moved = false;
    return { deltas, stats: shipper.stats() };
  }

  return {
    offerEncoded(record) {
      // The queue's gauges changed even when no hook ran.
      moved = true;
      return shipper.offerEncoded(record);
    },
    identity(update) {
      current = update.identity;
      if (update.gate && !gate) {
        gate = true;
        openGate?.();
      }
    },
    report: () => report(false),
    async close(options) {
      await shipper.close(options);
      return report(true)!;
    },
  };
}
