/** gRPC status code names (the gRPC spec's table), shared by spans, `meshtap tap` and the dashboard's data. */

const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** `NOT_FOUND` for 5; the number itself for a code outside the table. */
export function grpcStatusName(code: number): string {
  return GRPC_CODES[code] ?? String(code);
}
