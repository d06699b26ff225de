/**
 * Small hand-written checks for programmatic options, for code that runs in the pod (the
 * sidecar's parts and the CA client the sidecar calls) and must not load a schema library
 * there. The messages use the schema library's wording ("Too small: expected number to be
 * >=1", "Unrecognized key: "x""), as programmatic options checked by schemas elsewhere do.
 * What a user sets (flags, variables, a config file) is worded by its command instead, naming
 * the flag or variable, what it got and what it takes; `ValidationError` keeps the issues as the
 * `cause` of such a message (`meshtap init` does).
 *
 * Each reader takes the value, its path and the list the problems go to; it returns the
 * checked value, or undefined after recording why not. Pure.
 */

export type IssuePath = readonly (string | number)[];

export interface Issue {
  readonly path: IssuePath;
  readonly message: string;
}

/** Problems found, in the order they were found. */
export type Issues = Issue[];

/** The problems as one error, kept as the `cause` of the catalog error a caller throws. */
export class ValidationError extends Error {
  readonly issues: readonly Issue[];
  constructor(issues: readonly Issue[]) {
    super(issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; '));
    this.name = 'ValidationError';
    this.issues = Object.freeze([...issues]);
  }
}

/** How a value's type is named in messages: `null`, `array`, `NaN` and `Infinity` apart. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return 'Infinity';
  }
  return typeof value;
}

export function invalidType(expected: string, value: unknown): string {
  return `Invalid input: expected ${expected}, received ${typeName(value)}`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object, or one issue saying what was given instead. */
export function readObject(value: unknown, path: IssuePath, issues: Issues): Record<string, unknown> | undefined {
  if (isRecord(value)) return value;
  issues.push({ path, message: invalidType('object', value) });
  return undefined;
}

/** Keys of `obj` that are not in `known`, reported as one issue. */
export function checkKnownKeys(obj: Record<string, unknown>, known: readonly string[], path: IssuePath, issues: Issues): string[] {
  const unknown = Object.keys(obj).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    const list = unknown.map((k) => JSON.stringify(k)).join(', ');
    issues.push({ path, message: `Unrecognized key${unknown.length > 1 ? 's' : ''}: ${list}` });
  }
  return unknown;
}

export interface StringRules {
  min?: number;
  max?: number;
}

export function readString(value: unknown, path: IssuePath, issues: Issues, rules: StringRules = {}): string | undefined {
  if (typeof value !== 'string') {
    issues.push({ path, message: invalidType('string', value) });
    return undefined;
  }
  if (rules.min !== undefined && value.length < rules.min) {
    issues.push({ path, message: `Too small: expected string to have >=${rules.min} characters` });
    return undefined;
  }
  if (rules.max !== undefined && value.length > rules.max) {
    issues.push({ path, message: `Too big: expected string to have <=${rules.max} characters` });
    return undefined;
  }
  return value;
}

export interface NumberRules {
  /** Inclusive bounds. */
  min?: number;
  max?: number;
  /** Above zero (reported as `>0`). */
  positive?: boolean;
}

/** A finite integer within the rules. */
export function readInteger(value: unknown, path: IssuePath, issues: Issues, rules: NumberRules = {}): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    issues.push({ path, message: invalidType('number', value) });
    return undefined;
  }
  if (!Number.isInteger(value)) {
    issues.push({ path, message: invalidType('int', value) });
    return undefined;
  }
  if (rules.positive && value <= 0) {
    issues.push({ path, message: 'Too small: expected number to be >0' });
    return undefined;
  }
  if (rules.min !== undefined && value < rules.min) {
    issues.push({ path, message: `Too small: expected number to be >=${rules.min}` });
    return undefined;
  }
  if (rules.max !== undefined && value > rules.max) {
    issues.push({ path, message: `Too big: expected number to be <=${rules.max}` });
    return undefined;
  }
  return value;
}

export function readBoolean(value: unknown, path: IssuePath, issues: Issues): boolean | undefined {
  if (typeof value === 'boolean') return value;
  issues.push({ path, message: invalidType('boolean', value) });
  return undefined;
}

export function readEnum<const T extends readonly string[]>(value: unknown, allowed: T, path: IssuePath, issues: Issues): T[number] | undefined {
  if (typeof value === 'string' && allowed.includes(value)) return value;
  issues.push({ path, message: `Invalid option: expected one of ${allowed.map((v) => JSON.stringify(v)).join('|')}` });
  return undefined;
}

/** An array whose every item passes `item`; undefined if the array or any item fails. */
export function readArray<T>(
  value: unknown,
  path: IssuePath,
  issues: Issues,
  item: (v: unknown, path: IssuePath) => T | undefined,
  rules: { max?: number } = {},
): T[] | undefined {
  if (!Array.isArray(value)) {
    issues.push({ path, message: invalidType('array', value) });
    return undefined;
  }
  const before = issues.length;
  const out = value.map((v, i) => item(v, [...path, i]));
  if (rules.max !== undefined && value.length > rules.max) {
    issues.push({ path, message: `Too big: expected array to have <=${rules.max} items` });
  }
  return issues.length === before ? (out as T[]) : undefined;
}

/** A function, or `message` (default "Invalid input"). */
export function readFunction<F>(value: unknown, path: IssuePath, issues: Issues, message = 'Invalid input'): F | undefined {
  if (typeof value === 'function') return value as F;
  issues.push({ path, message });
  return undefined;
}

/** The value at `path` inside `input`, for messages that show what was given. */
export function valueAt(input: unknown, path: IssuePath): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}
