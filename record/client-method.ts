/**
 * A gRPC method as a pod's client declares it (for `lib/grpc-client/`): the path and stream
 * kinds of the `.proto` method and the hand-written serializer and deserializer. Only the
 * client's halves exist: a pod only calls these methods, never serves them.
 */
import type { GrpcMethod } from '../lib/grpc-client/method.ts';

export interface ClientMethodSpec<Request, Response> {
  /** Fully qualified service name, `meshtap.v1.Collector`. */
  service: string;
  method: string;
  requestStream: boolean;
  responseStream: boolean;
  serialize: (message: Request) => Uint8Array;
  /** Optional: `serialize` with the gRPC frame's headroom in front (see `GrpcMethod`). */
  serializeWithHeadroom?: (message: Request) => Buffer;
  deserialize: (bytes: Buffer) => Response;
}

export function clientMethod<Request, Response>(spec: ClientMethodSpec<Request, Response>): GrpcMethod<Request, Response> {
  const method: GrpcMethod<Request, Response> = {
    path: `/${spec.service}/${spec.method}`,
    requestStream: spec.requestStream,
    responseStream: spec.responseStream,
    requestSerialize: spec.serialize,
    responseDeserialize: spec.deserialize,
  };
  if (spec.serializeWithHeadroom) method.requestSerializeWithHeadroom = spec.serializeWithHeadroom;
  return method;
}
