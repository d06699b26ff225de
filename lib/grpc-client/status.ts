/**
 * gRPC status codes and how a call's status is read from a response (pure). The codes are the
 * spec's numbers (the same as grpc-js's `status` enum), so `CaRequestError.grpcStatus` and log
 * fields keep their values.
 */
/** Response headers or trailers as node:http2 hands them over (`:status` a number). */
export type ResponseHeaders = Readonly<Record<string, string | string[] | number | undefined>>;

export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcStatusName = keyof typeof GRPC_STATUS;

const NAMES: readonly string[] = Object.entries(GRPC_STATUS)
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name);

/** `UNAVAILABLE` for 14; a code outside the spec as its number. */
export function statusName(code: number): string {
  return NAMES[code] ?? String(code);
}

/** How a call ended: what the server said, or what the client concluded. */
export interface GrpcStatus {
  code: number;
  details: string;
  /** The trailers (or the headers of a trailers-only response), when the server sent them. */
  metadata?: ResponseHeaders;
}

/** A failed call as a thrown value: the `code` is a gRPC status number, as grpc-js's `ServiceError`. */
export class GrpcCallError extends Error {
  readonly code: number;
  readonly details: string;
  readonly metadata: ResponseHeaders | undefined;
  constructor(status: GrpcStatus, options?: { cause?: unknown }) {
    super(`${status.code} ${statusName(status.code)}: ${status.details}`, options);
    this.name = 'GrpcCallError';
    this.code = status.code;
    this.details = status.details;
    this.metadata = status.metadata;
  }
}

/** `grpc-message` is percent-encoded; a malformed escape is kept as it came. */
export function decodeGrpcMessage(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    // Decode the valid escapes one by one; a stray '%' stays.
    return raw.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

/** The status a non-200 HTTP answer stands for (gRPC's "HTTP to gRPC status code mapping"). */
export function statusFromHttp(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return GRPC_STATUS.INTERNAL;
    case 401:
      return GRPC_STATUS.UNAUTHENTICATED;
    case 403:
      return GRPC_STATUS.PERMISSION_DENIED;
    case 404:
      return GRPC_STATUS.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC_STATUS.UNAVAILABLE;
    default:
      return GRPC_STATUS.UNKNOWN;
  }
}

const header = (headers: ResponseHeaders, name: string): string | undefined => {
  const v = headers[name];
  return v === undefined ? undefined : String(Array.isArray(v) ? v[0] : v);
};

/**
 * The status of a finished response. `trailers` are the trailing headers, or undefined when the
 * stream ended without them (a trailers-only response carries its status in `headers`).
 * `headers` are the response headers, undefined when none arrived.
 */
export function statusFromResponse(headers: ResponseHeaders | undefined, trailers: ResponseHeaders | undefined): GrpcStatus {
  const source = trailers ?? headers;
  const raw = source === undefined ? undefined : header(source, 'grpc-status');
  if (raw !== undefined && source !== undefined) {
    const code = /^\d{1,3}$/.test(raw.trim()) ? Number(raw.trim()) : GRPC_STATUS.UNKNOWN;
    const message = header(source, 'grpc-message');
    const details = message === undefined ? (code === GRPC_STATUS.UNKNOWN && !/^\d{1,3}$/.test(raw.trim()) ? `invalid grpc-status ${JSON.stringify(raw)}` : '') : decodeGrpcMessage(message);
    return { code, details, metadata: source };
  }
  const http = headers === undefined ? undefined : Number(header(headers, ':status'));
  if (http !== undefined && http !== 200) {
    return { code: statusFromHttp(http), details: `the server answered HTTP ${http} without a gRPC status`, metadata: headers };
  }
  if (headers === undefined) return { code: GRPC_STATUS.UNAVAILABLE, details: 'the stream ended before any response headers' };
  return { code: GRPC_STATUS.UNKNOWN, details: 'the response ended without a grpc-status', metadata: trailers ?? headers };
}
