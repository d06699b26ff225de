/**
 * One gRPC call on a connection: the request headers, messages framed out and read back, and
 * exactly one status at the end, whatever happens (trailers, a trailers-only answer, a reset
 * stream, a lost connection, malformed bytes, the deadline, a cancel). Unary, server-streaming
 * and bidirectional calls are this with different writes (`unary.ts` wraps the first).
 */
import * as http2 from 'node:http2';
import type { GrpcConnection } from './connection.ts';
import { createMessageReader, frameMessage, writeFrameHeader, type FrameError } from './framing.ts';
import type { GrpcMethod } from './method.ts';
import { GRPC_STATUS, statusFromResponse, type GrpcStatus } from './status.ts';

/** The `user-agent` of every call. */
export const USER_AGENT = 'meshtap-grpc-client/1 (node:http2)';

/** What grpc-js allows by default; a longer message ends the call RESOURCE_EXHAUSTED. */
export const DEFAULT_MAX_RECEIVE_BYTES = 4 * 1024 * 1024;

export interface CallOptions {
  /** Request metadata (`authorization: Bearer ...`); lower-case names, ASCII values. */
  metadata?: Record<string, string>;
  /** Epoch milliseconds; the call ends DEADLINE_EXCEEDED then, and the server is told (`grpc-timeout`). */
  deadline?: number;
  maxReceiveMessageBytes?: number;
}

export interface CallHandlers<Response> {
  /** The response headers (not for a trailers-only answer). */
  onHeaders?(headers: http2.IncomingHttpHeaders): void;
  onMessage(message: Response): void;
  /** Exactly once, last. */
  onStatus(status: GrpcStatus): void;
}

export interface GrpcCall<Request> {
  /** Frames and writes a message; the return value is the stream's `write` (false: its buffer is over the high-water mark). */
  write(message: Request): boolean;
  /** Half-closes: no more messages from this side. */
  end(): void;
  /** Ends the call CANCELLED now (RST_STREAM CANCEL to the server). */
  cancel(): void;
  /** The status was delivered. */
  readonly finished: boolean;
}

/** `grpc-timeout`: at most 8 digits and a unit. */
export function grpcTimeout(ms: number): string {
  const value = Math.max(0, Math.ceil(ms));
  if (value < 1e8) return `${value}m`;
  const seconds = Math.ceil(value / 1000);
  return seconds < 1e8 ? `${seconds}S` : `${Math.min(Math.ceil(seconds / 3600), 99_999_999)}H`;
}

/** The status an RST_STREAM from the server stands for (gRPC over HTTP/2, "Errors"). */
export function statusFromRstCode(rstCode: number): GrpcStatus {
  const c = http2.constants;
  const code =
    rstCode === c.NGHTTP2_REFUSED_STREAM
      ? GRPC_STATUS.UNAVAILABLE
      : rstCode === c.NGHTTP2_CANCEL
        ? GRPC_STATUS.CANCELLED
        : rstCode === c.NGHTTP2_ENHANCE_YOUR_CALM
          ? GRPC_STATUS.RESOURCE_EXHAUSTED
          : rstCode === c.NGHTTP2_INADEQUATE_SECURITY
            ? GRPC_STATUS.PERMISSION_DENIED
            : GRPC_STATUS.INTERNAL;
  return { code, details: `the server reset the stream (HTTP/2 error code ${rstCode})` };
}

export function startCall<Request, Response>(
  connection: GrpcConnection,
  method: GrpcMethod<Request, Response>,
  options: CallOptions,
  handlers: CallHandlers<Response>,
): GrpcCall<Request> {
  let finished = false;
  let deadlineTimer: NodeJS.Timeout | undefined;
  let stream: http2.ClientHttp2Stream | undefined;

  const finish = (status: GrpcStatus): void => {
    if (finished) return;
    finished = true;
    clearTimeout(deadlineTimer);
    handlers.onStatus(status);
  };
  /** Ends the call on our side: the server is told with RST_STREAM CANCEL. */
  const abort = (status: GrpcStatus): void => {
    if (finished) return;
    if (stream && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    finish(status);
  };

  const call: GrpcCall<Request> = {
    write(message) {
      if (finished || !stream || stream.destroyed || stream.writableEnded) return false;
      const withHeadroom = method.requestSerializeWithHeadroom;
      if (withHeadroom === undefined) return stream.write(frameMessage(method.requestSerialize(message)));
      const framed = writeFrameHeader(withHeadroom(message));
      const release = method.releaseSerialized;
      if (release === undefined) return stream.write(framed);
      return stream.write(framed, (err) => {
        if (err === undefined || err === null) release(framed);
      });
    },
    end() {
      if (!finished && stream && !stream.destroyed && !stream.writableEnded) stream.end();
    },
    cancel() {
      abort({ code: GRPC_STATUS.CANCELLED, details: 'cancelled by the client' });
    },
    get finished() {
      return finished;
    },
  };

  const remaining = options.deadline === undefined ? undefined : options.deadline - Date.now();
  if (remaining !== undefined && remaining <= 0) {
    queueMicrotask(() => finish({ code: GRPC_STATUS.DEADLINE_EXCEEDED, details: 'the deadline passed before the call started' }));
    return call;
  }
  const unusable = connection.unusable;
  if (unusable !== undefined) {
    queueMicrotask(() => finish({ code: GRPC_STATUS.UNAVAILABLE, details: unusable }));
    return call;
  }

  const headers: http2.OutgoingHttpHeaders = {
    ...options.metadata,
    [http2.constants.HTTP2_HEADER_METHOD]: 'POST',
    [http2.constants.HTTP2_HEADER_PATH]: method.path,
    [http2.constants.HTTP2_HEADER_AUTHORITY]: connection.authority,
    'content-type': 'application/grpc',
    te: 'trailers',
    'user-agent': USER_AGENT,
    ...(remaining === undefined ? {} : { 'grpc-timeout': grpcTimeout(remaining) }),
  };
  try {
    stream = connection.session.request(headers);
  } catch (err) {
    queueMicrotask(() => finish({ code: GRPC_STATUS.UNAVAILABLE, details: (err as Error).message }));
    return call;
  }
  const s = stream;
  if (remaining !== undefined) {
    deadlineTimer = setTimeout(() => abort({ code: GRPC_STATUS.DEADLINE_EXCEEDED, details: 'deadline exceeded' }), remaining);
  }

  const reader = createMessageReader(options.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_BYTES);
  let responseHeaders: http2.IncomingHttpHeaders | undefined;
  let trailers: http2.IncomingHttpHeaders | undefined;
  let streamError: Error | undefined;

  s.on('response', (h, flags) => {
    responseHeaders = h;
    const trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 || h['grpc-status'] !== undefined;
    if (finished || trailersOnly) return;
    if (h[':status'] !== 200) {
      // Not a gRPC answer (a proxy's error page): its body is no gRPC message.
      abort(statusFromResponse(h, undefined));
      return;
    }
    const type = h['content-type'];
    if (!(typeof type === 'string' && /^application\/grpc(?:[+;]|$)/.test(type))) {
      abort({ code: GRPC_STATUS.UNKNOWN, details: `the server answered content-type ${JSON.stringify(type ?? '')}, not application/grpc` });
      return;
    }
    handlers.onHeaders?.(h);
  });
  s.on('data', (chunk: Buffer) => {
    if (finished) return;
    let messages: Buffer[];
    try {
      messages = reader.push(chunk);
    } catch (err) {
      const e = err as FrameError;
      abort({ code: e.kind === 'too_large' ? GRPC_STATUS.RESOURCE_EXHAUSTED : GRPC_STATUS.INTERNAL, details: e.message });
      return;
    }
    for (const bytes of messages) {
      let message: Response;
      try {
        message = method.responseDeserialize(bytes);
      } catch (err) {
        abort({ code: GRPC_STATUS.INTERNAL, details: `a response message of ${method.path} cannot be read: ${(err as Error).message}` });
        return;
      }
      handlers.onMessage(message);
      if (finished) return;
    }
  });
  s.on('trailers', (h) => {
    trailers = h;
  });
  s.on('error', (err: Error) => {
    streamError = err;
  });
  s.on('frameError', () => {});
  // The server's END_STREAM (after the trailers, or on a trailers-only answer) ends the call,
  // even while our side is still open (a bidi stream whose server gave up first).
  s.on('end', () => {
    if (finished) return;
    const status = statusFromResponse(responseHeaders, trailers);
    if (status.code === GRPC_STATUS.OK) {
      try {
        reader.finish();
      } catch (err) {
        finish({ code: GRPC_STATUS.INTERNAL, details: (err as Error).message });
      }
    }
    finish(status);
    // Our side still open (a bidi call the server ended first): close it; nothing more is read.
    if (!s.destroyed && !s.writableFinished) s.close(http2.constants.NGHTTP2_NO_ERROR);
  });
  // Without END_STREAM from the server: a reset, a lost connection, or our own cancel.
  s.on('close', () => {
    if (finished) return;
    const lost = connection.unusable;
    if (connection.session.destroyed || (lost !== undefined && streamError !== undefined)) {
      finish({ code: GRPC_STATUS.UNAVAILABLE, details: streamError?.message ?? lost ?? 'the connection closed' });
      return;
    }
    if (s.rstCode !== undefined && s.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
      finish(statusFromRstCode(s.rstCode));
      return;
    }
    if (streamError !== undefined) {
      finish({ code: GRPC_STATUS.INTERNAL, details: streamError.message });
      return;
    }
    finish(statusFromResponse(responseHeaders, trailers));
  });
  // The stream must be read for 'end' and 'close' to come; 'data' above does it.
  return call;
}
