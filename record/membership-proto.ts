/**
 * The `meshtap.v1.Membership` contract (`proto/meshtap/v1/membership.proto`) as
 * @grpc/proto-loader hands it over: field names as written in the proto (keepCase), absent
 * scalars as their defaults, 64-bit integers as JavaScript numbers (versions and times are
 * Unix milliseconds or counters, far below 2^53). Shared by the controller (server) and the
 * sidecar (client).
 */
import type * as grpc from '@grpc/grpc-js';
import { MEMBERSHIP_SERVICE_NAME } from './membership-wire.ts';
import { loadProto } from './proto-loader.ts';

export { MEMBERSHIP_SERVICE_NAME } from './membership-wire.ts';

export interface WatchRequestMessage {
  known_version: number;
}

export interface MeshedWorkloadMessage {
  ip: string;
  namespace: string;
  pod: string;
  service_account: string;
  identity: string;
  /** The pod's sidecar is in strict mTLS mode: never fall back to plaintext towards it. */
  strict?: boolean;
}

export interface ServicePortMessage {
  port: number;
  target_port: number;
  protocol: string;
  name: string;
}

export interface ServiceEndpointMessage {
  ip: string;
  port: number;
}

export interface MeshServiceMessage {
  namespace: string;
  name: string;
  vip: string;
  ports: ServicePortMessage[];
  endpoints: ServiceEndpointMessage[];
}

export interface MembershipSnapshotMessage {
  version: number;
  trust_domain: string;
  generated_unix_ms: number;
  workloads: MeshedWorkloadMessage[];
  services: MeshServiceMessage[];
}

let cached: grpc.ServiceDefinition | undefined;

/** The service definition of `meshtap/v1/membership.proto`, loaded once. */
export function loadMembershipServiceDefinition(): grpc.ServiceDefinition {
  cached ??= loadProto('meshtap/v1/membership.proto', Number)[MEMBERSHIP_SERVICE_NAME] as grpc.ServiceDefinition;
  return cached;
}

/** Encodes a snapshot once, so a server can hand the same bytes to every subscriber. */
export function encodeMembershipSnapshot(snapshot: MembershipSnapshotMessage): Buffer {
  return loadMembershipServiceDefinition().Watch.responseSerialize(snapshot);
}
