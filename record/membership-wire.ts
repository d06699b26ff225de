/**
 * The sidecar's side of `meshtap.v1.Membership` (`proto/meshtap/v1/membership.proto`) written
 * and read by hand, so a pod follows the membership feed without loading the `.proto` files or
 * protobufjs. The messages are the ones proto-loader hands the controller
 * (`membership-proto.ts`): every field present, its default when absent on the wire (`strict`
 * false, lists empty), 64-bit integers as JS numbers. Sub-messages given twice in a list are two
 * entries; unknown fields are skipped. `test/record/ca-membership-wire.test.ts` checks both
 * directions against the official `.proto`.
 */
import type {
  MembershipSnapshotMessage,
  MeshedWorkloadMessage,
  MeshServiceMessage,
  ServiceEndpointMessage,
  ServicePortMessage,
  WatchRequestMessage,
} from './membership-proto.ts';
import { clientMethod } from './client-method.ts';
import { Reader } from './proto-reader.ts';
import { ProtoWriter } from './proto-writer.ts';

export const MEMBERSHIP_SERVICE_NAME = 'meshtap.v1.Membership';

export function encodeWatchRequest(m: WatchRequestMessage): Buffer {
  const w = new ProtoWriter();
  if (m.known_version !== 0) w.uint64Field(0x08, m.known_version);
  return w.take();
}

function workload(r: Reader, end: number): MeshedWorkloadMessage {
  const to = r.lengthEnd(end);
  const m: MeshedWorkloadMessage = { ip: '', namespace: '', pod: '', service_account: '', identity: '', strict: false };
  while (r.pos < to) {
    const tag = r.tag(to);
    switch (tag) {
      case 0x0a: m.ip = r.string(to); break;
      case 0x12: m.namespace = r.string(to); break;
      case 0x1a: m.pod = r.string(to); break;
      case 0x22: m.service_account = r.string(to); break;
      case 0x2a: m.identity = r.string(to); break;
      case 0x30: m.strict = r.bool(to); break;
      default: r.skip(tag & 7, to);
    }
  }
  return m;
}

function servicePort(r: Reader, end: number): ServicePortMessage {
  const to = r.lengthEnd(end);
  const m: ServicePortMessage = { port: 0, target_port: 0, protocol: '', name: '' };
  while (r.pos < to) {
    const tag = r.tag(to);
    switch (tag) {
      case 0x08: m.port = r.uint32(to); break;
      case 0x10: m.target_port = r.uint32(to); break;
      case 0x1a: m.protocol = r.string(to); break;
      case 0x22: m.name = r.string(to); break;
      default: r.skip(tag & 7, to);
    }
  }
  return m;
}

function serviceEndpoint(r: Reader, end: number): ServiceEndpointMessage {
  const to = r.lengthEnd(end);
  const m: ServiceEndpointMessage = { ip: '', port: 0 };
  while (r.pos < to) {
    const tag = r.tag(to);
    switch (tag) {
      case 0x0a: m.ip = r.string(to); break;
      case 0x10: m.port = r.uint32(to); break;
      default: r.skip(tag & 7, to);
    }
  }
  return m;
}

function service(r: Reader, end: number): MeshServiceMessage {
  const to = r.lengthEnd(end);
  const m: MeshServiceMessage = { namespace: '', name: '', vip: '', ports: [], endpoints: [] };
  while (r.pos < to) {
    const tag = r.tag(to);
    switch (tag) {
      case 0x0a: m.namespace = r.string(to); break;
      case 0x12: m.name = r.string(to); break;
      case 0x1a: m.vip = r.string(to); break;
      case 0x22: m.ports.push(servicePort(r, to)); break;
      case 0x2a: m.endpoints.push(serviceEndpoint(r, to)); break;
      default: r.skip(tag & 7, to);
    }
  }
  return m;
}

/** Throws `ProtoDecodeError` for bytes that are not a well-formed message. */
export function decodeMembershipSnapshot(bytes: Uint8Array): MembershipSnapshotMessage {
  const r = new Reader(bytes);
  const end = r.buf.length;
  const m: MembershipSnapshotMessage = { version: 0, trust_domain: '', generated_unix_ms: 0, workloads: [], services: [] };
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case 0x08: m.version = r.uint64Number(end); break;
      case 0x12: m.trust_domain = r.string(end); break;
      case 0x18: m.generated_unix_ms = r.int64Number(end); break;
      case 0x22: m.workloads.push(workload(r, end)); break;
      case 0x2a: m.services.push(service(r, end)); break;
      default: r.skip(tag & 7, end);
    }
  }
  return m;
}

/** The one method, as the pod's client calls it (`lib/grpc-client/`). */
export const MEMBERSHIP_CLIENT_SERVICE = {
  Watch: clientMethod({ service: MEMBERSHIP_SERVICE_NAME, method: 'Watch', requestStream: false, responseStream: true, serialize: encodeWatchRequest, deserialize: decodeMembershipSnapshot }),
};
