import type { z } from 'zod';
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
  const given = valueAt(input, issue.path);
  throw caError(
    CA_ERR_BAD_OPTION,
    `${what}: option "${path || '(options)'}" ${issue.message} (got ${describeValue(given)})`,
    result.error,
  );
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
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
