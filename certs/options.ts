import type { z } from 'zod';
import { ValidationError, valueAt, type Issues } from '../lib/validate.ts';
import { CA_ERR_BAD_OPTION, caError } from './errors.ts';

/**
 * Validates an options object against its schema once, at the entry of a public function, and
 * freezes the result. The error names the function, the option, the value given and what is
 * expected, so a caller never has to read the schema to fix a call.
 */
export function parseCaOptions<S extends z.ZodType>(what: string, schema: S, input: unknown): Readonly<z.output<S>> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return Object.freeze(result.data);
  const issue = result.error.issues[0];
  const path = issue.path.map(String).join('.');
  const given = valueAt(input, issue.path as readonly (string | number)[]);
  throw caError(
    CA_ERR_BAD_OPTION,
    `${what}: option "${path || '(options)'}" ${issue.message} (got ${describeValue(given)})`,
    result.error,
  );
}

/**
 * The same, for the options of what a sidecar calls (the CA client and its CSR): checked by
 * hand, since the sidecar loads no schema library, and reported in the same words.
 */
export function checkCaOptions<T>(what: string, input: unknown, check: (input: unknown, issues: Issues) => T | undefined): Readonly<T> {
  const issues: Issues = [];
  const value = check(input ?? {}, issues);
  if (value !== undefined && issues.length === 0) return Object.freeze(value);
  const issue = issues[0] ?? { path: [], message: 'Invalid input' };
  const path = issue.path.map(String).join('.');
  throw caError(
    CA_ERR_BAD_OPTION,
    `${what}: option "${path || '(options)'}" ${issue.message} (got ${describeValue(valueAt(input, issue.path))})`,
    new ValidationError(issues),
  );
}

function describeValue(v: unknown): string {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an invalid Date' : v.toISOString();
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'nothing';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
