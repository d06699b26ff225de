/**
 * A tiny JSON Schema checker, enough for `har-schema.json`: type (one or a list), required,
 * properties, items, enum, minimum, format (`date-time`, `uri`) and local `$ref`s. Returns every
 * violation as `path: what`, empty when the value conforms.
 */
export interface Schema {
  $ref?: string;
  type?: string | string[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  minimum?: number;
  format?: string;
  definitions?: Record<string, Schema>;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

export function checkSchema(root: Schema, value: unknown): string[] {
  const errors: string[] = [];
  const visit = (schema: Schema, v: unknown, path: string): void => {
    if (schema.$ref !== undefined) {
      const name = /^#\/definitions\/(.+)$/.exec(schema.$ref)?.[1];
      const target = name === undefined ? undefined : root.definitions?.[name];
      if (target === undefined) throw new Error(`unknown $ref ${schema.$ref}`);
      visit(target, v, path);
      return;
    }
    const actual = typeOf(v);
    if (schema.type !== undefined) {
      const allowed = Array.isArray(schema.type) ? schema.type : [schema.type];
      const ok = allowed.includes(actual) || (actual === 'integer' && allowed.includes('number'));
      if (!ok) {
        errors.push(`${path}: expected ${allowed.join(' or ')}, got ${actual}`);
        return;
      }
    }
    if (schema.enum !== undefined && !schema.enum.includes(v)) errors.push(`${path}: ${JSON.stringify(v)} is not one of ${JSON.stringify(schema.enum)}`);
    if (schema.minimum !== undefined && typeof v === 'number' && v < schema.minimum) errors.push(`${path}: ${v} is below ${schema.minimum}`);
    if (schema.format === 'date-time' && typeof v === 'string' && (!DATE_TIME.test(v) || Number.isNaN(Date.parse(v)))) errors.push(`${path}: not an ISO 8601 date-time: ${v}`);
    if (schema.format === 'uri' && typeof v === 'string' && !URL.canParse(v)) errors.push(`${path}: not a URI: ${v}`);
    if (actual === 'object') {
      const obj = v as Record<string, unknown>;
      for (const key of schema.required ?? []) if (!(key in obj)) errors.push(`${path}: missing ${key}`);
      for (const [key, sub] of Object.entries(schema.properties ?? {})) if (key in obj) visit(sub, obj[key], `${path}.${key}`);
    }
    if (actual === 'array' && schema.items !== undefined) (v as unknown[]).forEach((item, i) => visit(schema.items!, item, `${path}[${i}]`));
  };
  visit(root, value, '$');
  return errors;
}
