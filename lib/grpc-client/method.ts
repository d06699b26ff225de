/**
 * A gRPC method as this client calls it: the path and stream kinds of the `.proto` method,
 * with the caller's hand-written request writer and response reader (no `.proto` is loaded).
 */
export interface GrpcMethod<Request, Response> {
  /** `/meshtap.v1.Collector/Ship` */
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (message: Request) => Uint8Array;
  /**
   * Optional: the request serialized after `FRAME_HEADER_BYTES` of headroom (`framing.ts`), so
   * the call fills in the prefix in place instead of copying the message into a frame. Must
   * give the same message bytes as `requestSerialize`.
   */
  requestSerializeWithHeadroom?: (message: Request) => Buffer;
  /**
   * Optional, with `requestSerializeWithHeadroom`: called with the buffer it returned once the
   * stream has written it, so its memory can be reused (`buffer-pool.ts`). Not called for a
   * write that failed.
   */
  releaseSerialized?: (buffer: Buffer) => void;
  /** May throw on malformed bytes: the call then ends INTERNAL. */
  responseDeserialize: (bytes: Buffer) => Response;
}
