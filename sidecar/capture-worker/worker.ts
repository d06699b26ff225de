/**
 * The capture worker's entry (a worker thread of the sidecar): parsing, pairing, record
 * building, masking and encoding happen here, off the forwarding event loop.
 *
 * Each `ops` batch is applied in order and its number stored in shared memory (the forwarding
 * thread's budgets read it). With a collector configured the worker ships the records it
 * completes itself (worker-shipper.ts); otherwise — and in tests that read the records — they
 * go back packed into one transferred buffer (`[length u32][record bytes]` …) 100 ms after the
 * first, or at once past 256 KiB. Counters (and the shipper's report) ride along at most every
 * 100 ms, and always in answer to a flush.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { describeError } from '../../lib/errors.ts';
import { encodeCallRecord } from '../../record/record-writer.ts';
import { resolveMaskPolicy } from '../mask/policy.ts';
import { createCaptureFactory } from '../proxy/capture-factory.ts';
import { grpcSchemaOf } from '../grpc/load-descriptors.ts';
import { createRecordMasker } from '../proxy/masking.ts';
import { CaptureEngine } from './capture-engine.ts';
import type { CaptureWorkerData, FromWorker, ToWorker } from './messages.ts';
import { readOps } from './ops.ts';
import { packRecords, unpackRecords } from './packed-records.ts';
import { startWorkerShipper, type WorkerShipper } from './worker-shipper.ts';

const COUNTERS_EVERY_MS = 100;
/** Records go back when this many bytes are waiting, else this long after the first. */
const REPLY_BYTES = 256 * 1024;
const REPLY_MS = 100;

if (parentPort === null) throw new Error('the capture worker runs as a worker thread');
const port = parentPort;

/**
 * This thread runs at a lower CPU priority than the forwarding thread (nice +10 relative to
 * the process). When the pod's CPU is contended the scheduler runs forwarding first and capture
 * falls behind — then skips and cuts, counted — instead of capture taking turns with
 * forwarding and adding its time to the application's latency. Lowering a thread's own
 * priority needs no privilege; where /proc/thread-self is missing (not Linux) it is left as is.
 */
const WORKER_NICE = 10;
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + WORKER_NICE));
} catch {
  // not Linux, or no /proc: capture runs at the process's priority
}

const data = workerData as CaptureWorkerData;

/** The worker's shipper when it ships (started after the engine: its reports ride with the engine's counters). */
let shipper: WorkerShipper | undefined;

let out: Uint8Array[] = [];
let outBytes = 0;
let countersAt = 0;
let countersTimer: NodeJS.Timeout | undefined;
let replyTimer: NodeJS.Timeout | undefined;
/** The last batch processed and not yet answered. */
let doneSeq = 0;
let answeredSeq = 0;

/** The records completed since the last answer, with the last batch they cover. */
function reply(): void {
  clearTimeout(replyTimer);
  replyTimer = undefined;
  if (doneSeq === answeredSeq) return;
  answeredSeq = doneSeq;
  const records = takeRecords();
  const message: FromWorker = { kind: 'done', seq: doneSeq, records };
  const now = performance.now();
  if (now - countersAt >= COUNTERS_EVERY_MS) {
    countersAt = now;
    message.counters = engine.counters;
    message.shipper = shipper?.report();
  } else {
    countersLater();
  }
  port.postMessage(message, records ? [records] : []);
}

/** The counters of the last batches reach the metrics even when no batch follows. */
function countersLater(): void {
  if (countersTimer !== undefined) return;
  countersTimer = setTimeout(() => {
    countersTimer = undefined;
    countersAt = performance.now();
    const message: FromWorker = { kind: 'counters', counters: engine.counters, shipper: shipper?.report() };
    port.postMessage(message);
  }, COUNTERS_EVERY_MS);
}

/** Resolved once: the sessions that mask while parsing (Redis, SQL) and the record masker share it. */
const maskPolicy = resolveMaskPolicy(data.mask);

const engine = new CaptureEngine({
  factory: createCaptureFactory({ grpcSchema: grpcSchemaOf(data.grpcDescriptors), maskPolicy }),
  maxBodyBytes: data.maxBodyBytes,
  detectTimeoutMs: data.detectTimeoutMs,
  local: data.local,
  timeBaseNs: BigInt(data.timeBaseNs),
  mask: createRecordMasker(maskPolicy),
  encode: encodeCallRecord,
  shipping: data.shipping,
  onRecord(bytes) {
    if (shipper !== undefined) return shipper.offerEncoded(bytes);
    out.push(bytes);
    outBytes += 4 + bytes.byteLength;
    return true;
  },
  onFailure(stage, err) {
    const message: FromWorker = { kind: 'failure', stage, error: describeError(err) };
    port.postMessage(message);
  },
});

if (data.shipper !== undefined) {
  shipper = startWorkerShipper(data.shipper, {
    log(level, message, fields) {
      const log: FromWorker = { kind: 'log', level, message, fields };
      port.postMessage(log);
    },
    changed: countersLater,
  });
}

/** Records encoded elsewhere (DNS) for this thread's shipper, linked to the inbound call in flight. */
function ship(packed: ArrayBuffer): void {
  for (const encoded of unpackRecords(packed)) {
    const record = engine.linkEncoded(encoded);
    if (shipper === undefined) {
      out.push(record);
      outBytes += 4 + record.byteLength;
    } else if (shipper.offerEncoded(record)) {
      engine.counters.records.offered++;
    }
  }
  countersLater();
}

/** The records completed since the last call, length-prefixed in one buffer. */
function takeRecords(): ArrayBuffer | undefined {
  if (out.length === 0) return undefined;
  const packed = packRecords(out, outBytes);
  out = [];
  outBytes = 0;
  return packed;
}

port.on('message', (message: ToWorker) => {
  if (message.kind === 'ops') {
    readOps(message.batch, engine);
    Atomics.store(data.progress, 0, message.seq);
    doneSeq = message.seq;
    if (outBytes >= REPLY_BYTES) reply();
    else if (replyTimer === undefined) replyTimer = setTimeout(reply, REPLY_MS);
  } else if (message.kind === 'counters') {
    reply();
    const flushed: FromWorker = { kind: 'flushed', id: message.id, counters: engine.counters, shipper: shipper?.report() };
    port.postMessage(flushed);
  } else if (message.kind === 'stall') {
    Atomics.wait(message.signal, 0, 0);
  } else if (message.kind === 'ship') {
    ship(message.records);
  } else if (message.kind === 'identity') {
    shipper?.identity(message);
  } else if (message.kind === 'close-shipper') {
    void closeShipper(message.id, message.drainMs);
  }
});

async function closeShipper(id: number, drainMs: number): Promise<void> {
  const report = await shipper?.close({ drainMs });
  const closed: FromWorker = { kind: 'shipper-closed', id, shipper: report };
  port.postMessage(closed);
}

const ready: FromWorker = { kind: 'ready' };
port.postMessage(ready);
