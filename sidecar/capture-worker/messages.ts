/**
 * The messages between the forwarding thread and the capture worker, and the worker's start
 * data. Plain data only: they cross the thread boundary by structured clone (ops and record
 * buffers by transfer).
 */
import type { MaskPolicyOptions } from '../mask/policy.ts';
import type { LocalPod } from '../proxy/record-builder.ts';
import type { CaptureCounters } from './capture-engine.ts';

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
}

export type ToWorker =
  | { kind: 'ops'; seq: number; buffer: ArrayBuffer }
  /** Answered with `flushed` once every earlier message is processed. */
  | { kind: 'counters'; id: number }
  /** Test hook: block the worker thread until `signal[0]` turns 1. */
  | { kind: 'stall'; signal: Int32Array };

export type FromWorker =
  | { kind: 'ready' }
  /** Batch `seq` is processed; its records (length-prefixed, packed) and, now and then, the counters. */
  | { kind: 'done'; seq: number; records?: ArrayBuffer; counters?: CaptureCounters }
  | { kind: 'flushed'; id: number; counters: CaptureCounters }
  /** The counters, sent once things quiet down after a `done` that did not carry them. */
  | { kind: 'counters'; counters: CaptureCounters }
  | { kind: 'failure'; stage: string; error: string };
