/**
 * The capture worker's core with the real parsers, records kept as built (no masking, no
 * encoding): for tests that feed it the ops the forwarding thread would post.
 */
import { CaptureEngine } from '../../../sidecar/capture-worker/capture-engine.ts';
import { createCaptureFactory } from '../../../sidecar/proxy/capture-factory.ts';
import type { CallRecord } from '../../../record/record.ts';

export function recordingEngine(pod: string, namespace = 'shop'): { engine: CaptureEngine; records: CallRecord[] } {
  const records: CallRecord[] = [];
  const engine = new CaptureEngine({
    factory: createCaptureFactory({}),
    maxBodyBytes: 1024,
    detectTimeoutMs: 1000,
    local: { pod, namespace },
    timeBaseNs: 1_764_000_000_000_000_000n,
    mask: (r) => r,
    encode: (r) => {
      records.push(r);
      return new Uint8Array(0);
    },
    shipping: true,
    onRecord: () => true,
  });
  return { engine, records };
}
