/**
 * Error codes of the OpenTelemetry output (part of the collector's `COL_ERR_*` codes). Export
 * failures are never errors: they are counted (see `SpanExportStats`).
 */
import { defineErrors, type ErrorCodeOf } from '../../lib/errors.ts';

export const COL_ERR_OTEL_CONFIG = 'COL_ERR_OTEL_CONFIG';

export const otelErrors = defineErrors(
  { component: 'collector', title: 'the OpenTelemetry output', prefix: 'COL_ERR_' },
  {
    [COL_ERR_OTEL_CONFIG]: {
      summary: 'An `OTEL_EXPORTER_OTLP_*` (or related) variable has a value the span exporter cannot use.',
      action: 'Fix the variable the message names (header values are never echoed); collector/otel/README.md lists them.',
    },
  },
);

export type OtelErrorCode = ErrorCodeOf<typeof otelErrors>;
