/**
 * Error codes of the OpenTelemetry output. They belong in the collector's catalog (`COL_ERR_*`);
 * they live here until that catalog exists. Export failures are never errors: they are counted
 * (see `SpanExportStats`).
 */
export const COL_ERR_OTEL_CONFIG = 'COL_ERR_OTEL_CONFIG';

export type OtelErrorCode = typeof COL_ERR_OTEL_CONFIG;
