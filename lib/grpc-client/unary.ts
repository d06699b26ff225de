/**
 * Unary and server-streaming calls on top of `startCall`, and `unaryRequest`: one connection,
 * one call, closed again (what a rare request such as the workload certificate needs).
 */
import { startCall, type CallHandlers, type CallOptions, type GrpcCall } from './call.ts';
import { connectGrpc, type GrpcConnectOptions, type GrpcConnection } from './connection.ts';
import type { GrpcMethod } from './method.ts';
import { GRPC_STATUS, GrpcCallError } from './status.ts';

/** Resolves with the one response message; rejects with a `GrpcCallError`. */
export function unaryCall<Request, Response>(connection: GrpcConnection, method: GrpcMethod<Request, Response>, request: Request, options: CallOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    let response: { value: Response } | undefined;
    let extra = false;
    const call = startCall(connection, method, options, {
      onMessage(message) {
        if (response !== undefined) {
          extra = true;
          call.cancel();
          return;
        }
        response = { value: message };
      },
      onStatus(status) {
        if (extra) reject(new GrpcCallError({ code: GRPC_STATUS.INTERNAL, details: `${method.path} is unary, but the server sent more than one response message` }));
        else if (status.code !== GRPC_STATUS.OK) reject(new GrpcCallError(status));
        else if (response === undefined) reject(new GrpcCallError({ code: GRPC_STATUS.INTERNAL, details: `${method.path} ended OK without a response message` }));
        else resolve(response.value);
      },
    });
    // Written after the handlers are in place: a serializer that throws fails the call, not the caller.
    try {
      call.write(request);
      call.end();
    } catch (err) {
      call.cancel();
      reject(new GrpcCallError({ code: GRPC_STATUS.INTERNAL, details: `the request cannot be written: ${(err as Error).message}` }, { cause: err }));
    }
  });
}

/** One request, a stream of responses; the handlers as `startCall`'s. */
export function serverStreamCall<Request, Response>(
  connection: GrpcConnection,
  method: GrpcMethod<Request, Response>,
  request: Request,
  options: CallOptions,
  handlers: CallHandlers<Response>,
): GrpcCall<Request> {
  const call = startCall(connection, method, options, handlers);
  call.write(request);
  call.end();
  return call;
}

/**
 * Connects, makes one unary call, closes. `deadline` covers the connection too: a server that
 * is not up by then fails DEADLINE_EXCEEDED, one that refuses or cannot be verified UNAVAILABLE.
 */
export async function unaryRequest<Request, Response>(
  connect: Omit<GrpcConnectOptions, 'connectTimeoutMs' | 'timeoutCode'>,
  method: GrpcMethod<Request, Response>,
  request: Request,
  options: CallOptions & { deadline: number },
): Promise<Response> {
  const connection = await connectGrpc({ ...connect, connectTimeoutMs: Math.max(1, options.deadline - Date.now()), timeoutCode: GRPC_STATUS.DEADLINE_EXCEEDED });
  try {
    return await unaryCall(connection, method, request, options);
  } finally {
    connection.close();
  }
}
