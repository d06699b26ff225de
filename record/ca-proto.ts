/**
 * The `meshtap.v1.CertificateAuthority` contract as @grpc/proto-loader hands it over: field
 * names as written in the proto (keepCase), 64-bit integers as decimal strings (exact, and what
 * protobufjs accepts back), absent scalars as their defaults.
 */
import type * as grpc from '@grpc/grpc-js';
import { CA_SERVICE_NAME } from './ca-wire.ts';
import { loadProto } from './proto-loader.ts';

export { CA_SERVICE_NAME } from './ca-wire.ts';

export interface SignRequestMessage {
  csr_pem: string;
  validity_seconds: number;
}

export interface SignResponseMessage {
  cert_chain_pem: string;
  trust_bundle_pem: string;
  not_before_unix_ms: string | number;
  not_after_unix_ms: string | number;
  spiffe_id: string;
  serial_number: string;
}

let cached: grpc.ServiceDefinition | undefined;

/** The service definition of `meshtap/v1/ca.proto`, loaded once. */
export function loadCaServiceDefinition(): grpc.ServiceDefinition {
  cached ??= loadProto('meshtap/v1/ca.proto', String)[CA_SERVICE_NAME] as grpc.ServiceDefinition;
  return cached;
}
