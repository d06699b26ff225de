/**
 * A JSON body sent chunked (chunk boundaries at `cuts`) in a POST through the capture worker's
 * core as the sidecar builds it (default masking, the shipper's encoder), fed in pieces of
 * `pieceBytes`: the records it ships, encoded, for the masking tests to read; `throughEngine`
 * for any request and response.
 */
import { encodeCallRecord } from '../../../record/record-writer.ts';
import { CaptureEngine } from '../../../sidecar/capture-worker/capture-engine.ts';
import { OP_CLIENT_DATA, OP_CLOSE, OP_OPEN, OP_SERVER_DATA } from '../../../sidecar/capture-worker/ops.ts';
import { createCaptureFactory } from '../../../sidecar/proxy/capture-factory.ts';
import { createRecordMasker } from '../../../sidecar/proxy/masking.ts';

export function chunkedThroughEngine(text: string, cuts: readonly number[], pieceBytes: number): Uint8Array[] {
  let chunked = '';
  let at = 0;
  for (const cut of [...cuts, text.length]) {
    if (cut <= at) continue;
    chunked += `${(cut - at).toString(16)}\r\n${text.slice(at, cut)}\r\n`;
    at = cut;
  }
  const request = Buffer.from(`POST /v1/log HTTP/1.1\r\nhost: api.shop\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${chunked}0\r\n\r\n`);
  return throughEngine(request, Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'), pieceBytes);
}

/** One request (fed in pieces of `pieceBytes`) and its response through the engine, then a FIN: the records shipped. */
export function throughEngine(request: Uint8Array, response: Uint8Array, pieceBytes: number): Uint8Array[] {
  const shipped: Uint8Array[] = [];
  const engine = new CaptureEngine({
    factory: createCaptureFactory({}),
    maxBodyBytes: 64 * 1024,
    detectTimeoutMs: 1000,
    local: { pod: 'api-0', namespace: 'shop' },
    timeBaseNs: 1_764_000_000_000_000_000n,
    mask: createRecordMasker(),
    encode: encodeCallRecord,
    shipping: true,
    onRecord: (bytes) => (shipped.push(bytes), true),
  });
  const meta = { connectionId: 'conn-1', observer: 'inbound', client: { ip: '10.0.1.2', port: 40000 }, dst: { ip: '10.0.2.2', port: 8080 }, mesh: true };
  engine.op(OP_OPEN, 1, 0, Buffer.from(JSON.stringify(meta)));
  for (let i = 0; i < request.length; i += pieceBytes) engine.op(OP_CLIENT_DATA, 1, 1, request.subarray(i, i + pieceBytes));
  engine.op(OP_SERVER_DATA, 1, 2, response);
  engine.op(OP_CLOSE, 1, 3, Buffer.from('fin'));
  return shipped;
}
