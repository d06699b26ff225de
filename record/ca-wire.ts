/**
 * The sidecar's side of `meshtap.v1.CertificateAuthority` (`proto/meshtap/v1/ca.proto`) written
 * and read by hand, so a pod asks for its certificate without loading the `.proto` files or
 * protobufjs. The messages are the ones proto-loader hands the CA service (`ca-proto.ts`):
 * every field present, its default when absent on the wire, the int64 times as decimal text.
 * `test/record/ca-membership-wire.test.ts` checks both directions against the official `.proto`.
 */
import type { SignRequestMessage, SignResponseMessage } from './ca-proto.ts';
import { clientMethod } from './client-method.ts';
import { Reader } from './proto-reader.ts';
import { ProtoWriter } from './proto-writer.ts';

export const CA_SERVICE_NAME = 'meshtap.v1.CertificateAuthority';

export function encodeSignRequest(m: SignRequestMessage): Buffer {
  const w = new ProtoWriter();
  if (m.csr_pem !== '') w.stringField(0x0a, m.csr_pem);
  if (m.validity_seconds !== 0) w.uint32Field(0x10, m.validity_seconds);
  return w.take();
}

/** Throws `ProtoDecodeError` for bytes that are not a well-formed message. */
export function decodeSignResponse(bytes: Uint8Array): SignResponseMessage {
  const r = new Reader(bytes);
  const end = r.buf.length;
  const m: SignResponseMessage = { cert_chain_pem: '', trust_bundle_pem: '', not_before_unix_ms: '0', not_after_unix_ms: '0', spiffe_id: '', serial_number: '' };
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case 0x0a: m.cert_chain_pem = r.string(end); break;
      case 0x12: m.trust_bundle_pem = r.string(end); break;
      case 0x18: m.not_before_unix_ms = r.int64String(end); break;
      case 0x20: m.not_after_unix_ms = r.int64String(end); break;
      case 0x2a: m.spiffe_id = r.string(end); break;
      case 0x32: m.serial_number = r.string(end); break;
      default: r.skip(tag & 7, end);
    }
  }
  return m;
}

/** The one method, as the pod's client calls it (`lib/grpc-client/`). */
export const CA_CLIENT_SERVICE = {
  Sign: clientMethod({ service: CA_SERVICE_NAME, method: 'Sign', requestStream: false, responseStream: false, serialize: encodeSignRequest, deserialize: decodeSignResponse }),
};
