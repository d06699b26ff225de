/**
 * A gRPC method as a client that writes and reads its messages by hand declares it (for
 * `grpc.makeGenericClientConstructor`): the path and stream kinds of the `.proto` method, the
 * client's serializer and deserializer, and the server's halves refusing use — a pod only calls.
 */
import type * as grpc from '@grpc/grpc-js';

export interface ClientMethodSpec<Request, Response> {
  /** Fully qualified service name, `meshtap.v1.Collector`. */
  service: string;
  method: string;
  requestStream: boolean;
  responseStream: boolean;
  serialize: (message: Request) => Buffer;
  deserialize: (bytes: Buffer) => Response;
}

export function clientMethod<Request, Response>(spec: ClientMethodSpec<Request, Response>): grpc.MethodDefinition<Request, Response> {
  const clientOnly = (): never => {
    throw new Error(`${spec.service}.${spec.method}: this process is a client of it only, never its server`);
  };
  return {
    path: `/${spec.service}/${spec.method}`,
    requestStream: spec.requestStream,
    responseStream: spec.responseStream,
    requestSerialize: spec.serialize,
    requestDeserialize: clientOnly,
    responseSerialize: clientOnly,
    responseDeserialize: spec.deserialize,
    originalName: spec.method,
  };
}
