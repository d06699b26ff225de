// TEMPORARY until the hand-written writer lands: reflection encoding of one record.
import protobuf from 'protobufjs';
import { recordToProto } from '../../record/codec.ts';
import { PROTO_ROOT } from '../../record/proto-loader.ts';
import type { CallRecord } from '../../record/record.ts';

let recordType: protobuf.Type | undefined;
export function encodeCallRecord(r: CallRecord): Uint8Array {
  if (!recordType) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : `${PROTO_ROOT}/${target}`);
    root.loadSync('meshtap/v1/record.proto', { keepCase: true });
    recordType = root.lookupType('meshtap.v1.CallRecord');
  }
  return recordType.encode(recordToProto(r) as never).finish();
}
