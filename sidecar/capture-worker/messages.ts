/**
 * The messages between the forwarding thread and the capture worker, and the worker's start
 * data. Plain data only: they cross the thread boundary by structured clone (ops and record
 * buffers by transfer).
 */
import type { LogLevel } from '../../lib/log.ts';
import type { MaskPolicyOptions } from '../mask/policy.ts';
import type { CollectorIdentity } from '../shipper/collector-credentials.ts';
import type { ShipperDeltas } from '../shipper/metrics-relay.ts';
import type { ShipperStats } from '../shipper/metrics.ts';
import type { SidecarShipperSettings } from '../shipper/sidecar-shipper.ts';
import type { LocalPod } from '../proxy/record-builder.ts';
import type { CaptureCounters } from './capture-engine.ts';
import type { OpBatch } from './ops.ts';

export interface CaptureWorkerData {
  maxBodyBytes: number;
  detectTimeoutMs: number;
  local: LocalPod;
  /** The masking policy's options (resolved in the worker: compiled patterns do not cross threads). */
  mask: MaskPolicyOptions;
  /** False without a collector: records are counted as `no_collector`. */
  shipping: boolean;
  /** Serialized FileDescriptorSets (gRPC field names), already checked by the command. */
  grpcDescriptors?: Uint8Array[];
  /** The forwarding thread's epoch in ns at its `performance.now()` zero, as decimal text. */
  timeBaseNs: string;
  /** [0]: the worker stores the seq of each batch once processed (the hand-off's budgets read it). */
  progress: Int32Array;
  /** Present: the worker ships its records itself (remote-shipper.ts); absent: they come back. */
  shipper?: WorkerShipperStart;
}

/** The shipper's settings and the identity state at the worker's start. */
export interface WorkerShipperStart {
  settings: SidecarShipperSettings;
  identity: IdentityUpdate;
}

/** The workload certificate for the collector connection, and whether the first wait is over. */
export interface IdentityUpdate {
  identity?: CollectorIdentity & { notAfterMs: number };
  /** False while `auto` mode should still wait for a first certificate before connecting. */
  gate: boolean;
}

/** The worker's shipper since the last report: hook calls to replay and its latest stats. */
export interface ShipperReport {
  deltas?: ShipperDeltas;
  stats: ShipperStats;
}

export type ToWorker =
  | { kind: 'ops'; seq: number; batch: OpBatch }
  /** Answered with `flushed` once every earlier message is processed. */
  | { kind: 'counters'; id: number }
  /** Test hook: block the worker thread until `signal[0]` turns 1. */
  | { kind: 'stall'; signal: Int32Array }
  /** Records encoded elsewhere (DNS), packed like the worker's own, for its shipper. */
  | { kind: 'ship'; records: ArrayBuffer }
  | ({ kind: 'identity' } & IdentityUpdate)
  /** Close the shipper, sending what it holds within `drainMs`; answered with `shipper-closed`. */
  | { kind: 'close-shipper'; id: number; drainMs: number };

export type FromWorker =
  | { kind: 'ready' }
  /**
   * Batch `seq` is processed; its records (length-prefixed, packed: only when the worker does
   * not ship them itself) and, now and then, the counters (with the shipper's report).
   */
  | { kind: 'done'; seq: number; records?: ArrayBuffer; counters?: CaptureCounters; shipper?: ShipperReport }
  | { kind: 'flushed'; id: number; counters: CaptureCounters; shipper?: ShipperReport }
  /** The counters, sent once things quiet down after a `done` that did not carry them. */
  | { kind: 'counters'; counters: CaptureCounters; shipper?: ShipperReport }
  | { kind: 'failure'; stage: string; error: string }
  | { kind: 'log'; level: LogLevel; message: string; fields: Record<string, unknown> }
  /** The worker's shipper closed (its final report; absent when the worker had none). */
  | { kind: 'shipper-closed'; id: number; shipper?: ShipperReport };
