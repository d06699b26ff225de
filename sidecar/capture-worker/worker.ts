/**
 * The capture worker's entry (a worker thread of the sidecar): parsing, pairing, record
 * building, masking and encoding happen here, off the forwarding event loop.
 *
 * Each `ops` batch is applied in order; the records it completes go back packed into one
 * transferred buffer (`[length u32][record bytes]` …) with the batch's number, which tells the
 * forwarding thread the batch's bytes are no longer held. Counters ride along at most every
 * 100 ms, and always in answer to a flush.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { describeError } from '../../lib/errors.ts';
import { encodeCallRecord } from '../../record/record-writer.ts';
import { resolveMaskPolicy } from '../mask/policy.ts';
import { createCaptureFactory } from '../proxy/capture-factory.ts';
import { createRecordMasker } from '../proxy/masking.ts';
import { CaptureEngine } from './capture-engine.ts';
import type { CaptureWorkerData, FromWorker, ToWorker } from './messages.ts';
import { readOps } from './ops.ts';

const COUNTERS_EVERY_MS = 100;

if (parentPort === null) throw new Error('the capture worker runs as a worker thread');
const port = parentPort;
const data = workerData as CaptureWorkerData;

let out: Uint8Array[] = [];
let outBytes = 0;
let countersAt = 0;
let countersTimer: NodeJS.Timeout | undefined;

/** The counters of the last batches reach the metrics even when no batch follows. */
function countersLater(): void {
  if (countersTimer !== undefined) return;
  countersTimer = setTimeout(() => {
    countersTimer = undefined;
    countersAt = performance.now();
    const message: FromWorker = { kind: 'counters', counters: engine.counters };
    port.postMessage(message);
  }, COUNTERS_EVERY_MS);
}

const engine = new CaptureEngine({
  factory: createCaptureFactory(),
  maxBodyBytes: data.maxBodyBytes,
  detectTimeoutMs: data.detectTimeoutMs,
  local: data.local,
  timeBaseNs: BigInt(data.timeBaseNs),
  mask: createRecordMasker(resolveMaskPolicy(data.mask)),
  encode: encodeCallRecord,
  shipping: data.shipping,
  onRecord(bytes) {
    out.push(bytes);
    outBytes += 4 + bytes.byteLength;
  },
  onFailure(stage, err) {
    const message: FromWorker = { kind: 'failure', stage, error: describeError(err) };
    port.postMessage(message);
  },
});

/** The records completed since the last call, length-prefixed in one buffer. */
function takeRecords(): ArrayBuffer | undefined {
  if (out.length === 0) return undefined;
  const packed = new ArrayBuffer(outBytes);
  const bytes = new Uint8Array(packed);
  const view = new DataView(packed);
  let o = 0;
  for (const record of out) {
    view.setUint32(o, record.byteLength, true);
    bytes.set(record, o + 4);
    o += 4 + record.byteLength;
  }
  out = [];
  outBytes = 0;
  return packed;
}

port.on('message', (message: ToWorker) => {
  if (message.kind === 'ops') {
    readOps(message.buffer, engine);
    Atomics.store(data.progress, 0, message.seq);
    const records = takeRecords();
    const now = performance.now();
    const reply: FromWorker = { kind: 'done', seq: message.seq, records };
    if (now - countersAt >= COUNTERS_EVERY_MS) {
      countersAt = now;
      reply.counters = engine.counters;
    } else {
      countersLater();
    }
    port.postMessage(reply, records ? [records] : []);
  } else if (message.kind === 'counters') {
    const reply: FromWorker = { kind: 'flushed', id: message.id, counters: engine.counters };
    port.postMessage(reply);
  } else if (message.kind === 'stall') {
    Atomics.wait(message.signal, 0, 0);
  }
});

const ready: FromWorker = { kind: 'ready' };
port.postMessage(ready);
