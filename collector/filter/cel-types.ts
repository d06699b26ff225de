/**
 * The static types the filter checker works with. `@bufbuild/cel` evaluates but (in 0.6)
 * does not export a complete type checker, so the filter module checks expressions itself
 * against these types before planning them.
 *
 * `struct` types describe the record's nested objects (`src`, `request`, ...): at run time
 * they are CEL maps, but statically their field names are known, so a misspelt field is a
 * compile-time error instead of a filter that silently never matches.
 */
export type PrimitiveName =
  | 'bool'
  | 'int'
  | 'uint'
  | 'double'
  | 'string'
  | 'bytes'
  | 'null_type'
  | 'timestamp'
  | 'duration'
  | 'type'
  | 'dyn';

export type FilterType =
  | { readonly kind: 'primitive'; readonly name: PrimitiveName }
  | { readonly kind: 'list'; readonly element: FilterType }
  | { readonly kind: 'map'; readonly key: FilterType; readonly value: FilterType }
  | { readonly kind: 'struct'; readonly name: string; readonly fields: Readonly<Record<string, FilterType>> };

function primitive(name: PrimitiveName): FilterType {
  return Object.freeze({ kind: 'primitive', name });
}

export const T = Object.freeze({
  bool: primitive('bool'),
  int: primitive('int'),
  uint: primitive('uint'),
  double: primitive('double'),
  string: primitive('string'),
  bytes: primitive('bytes'),
  null: primitive('null_type'),
  timestamp: primitive('timestamp'),
  duration: primitive('duration'),
  type: primitive('type'),
  dyn: primitive('dyn'),
});

export function listOf(element: FilterType): FilterType {
  return Object.freeze({ kind: 'list', element });
}

export function mapOf(key: FilterType, value: FilterType): FilterType {
  return Object.freeze({ kind: 'map', key, value });
}

export function structOf(name: string, fields: Record<string, FilterType>): FilterType {
  return Object.freeze({ kind: 'struct', name, fields: Object.freeze({ ...fields }) });
}

export function isPrimitive(t: FilterType, ...names: PrimitiveName[]): boolean {
  return t.kind === 'primitive' && names.includes(t.name);
}

export function isDyn(t: FilterType): boolean {
  return isPrimitive(t, 'dyn');
}

export function isNumeric(t: FilterType): boolean {
  return isPrimitive(t, 'int', 'uint', 'double');
}

export function typeName(t: FilterType): string {
  switch (t.kind) {
    case 'primitive':
      return t.name;
    case 'list':
      return `list(${typeName(t.element)})`;
    case 'map':
      return `map(${typeName(t.key)}, ${typeName(t.value)})`;
    case 'struct':
      return t.name;
  }
}

/**
 * Whether values of the two types can be compared with `==`: the same type, numbers of any
 * kind (CEL compares int, uint and double by value), or anything against `dyn`.
 */
export function isComparable(a: FilterType, b: FilterType): boolean {
  if (isDyn(a) || isDyn(b)) return true;
  if (isNumeric(a) && isNumeric(b)) return true;
  if (a.kind === 'primitive' && b.kind === 'primitive') return a.name === b.name;
  if (a.kind === 'list' && b.kind === 'list') return isComparable(a.element, b.element);
  if (a.kind === 'map' && b.kind === 'map') return isComparable(a.key, b.key) && isComparable(a.value, b.value);
  // A struct is a map at run time, so it compares with maps of string keys.
  if (a.kind === 'struct' && b.kind === 'struct') return a.name === b.name;
  if (a.kind === 'struct' && b.kind === 'map') return isComparable(T.string, b.key);
  if (a.kind === 'map' && b.kind === 'struct') return isComparable(a.key, T.string);
  return false;
}

/** The common type of two expressions (list elements, ternary branches): equal or `dyn`. */
export function unify(a: FilterType, b: FilterType): FilterType {
  if (sameType(a, b)) return a;
  if (a.kind === 'list' && b.kind === 'list') return listOf(unify(a.element, b.element));
  if (a.kind === 'map' && b.kind === 'map') return mapOf(unify(a.key, b.key), unify(a.value, b.value));
  return T.dyn;
}

/**
 * Whether two values can be the branches of one `?:` (CEL's `(bool, A, A) -> A`): the same
 * type, `dyn` on either side (`dyn()` is how to mean it), `null` against anything, lists and
 * maps whose parts agree that way, and a struct against a map of string keys. An int and a
 * double do not: CEL converts no number.
 */
export function branchesAgree(a: FilterType, b: FilterType): boolean {
  if (isDyn(a) || isDyn(b) || isPrimitive(a, 'null_type') || isPrimitive(b, 'null_type')) return true;
  if (a.kind === 'list' && b.kind === 'list') return branchesAgree(a.element, b.element);
  if (a.kind === 'map' && b.kind === 'map') return branchesAgree(a.key, b.key) && branchesAgree(a.value, b.value);
  // A struct is a map of string keys at run time, as `==` has it (`has(x) ? x : {}`).
  if (a.kind === 'struct' && b.kind === 'map') return branchesAgree(T.string, b.key);
  if (a.kind === 'map' && b.kind === 'struct') return branchesAgree(a.key, T.string);
  return sameType(a, b);
}

export function sameType(a: FilterType, b: FilterType): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'primitive':
      return a.name === (b as typeof a).name;
    case 'list':
      return sameType(a.element, (b as typeof a).element);
    case 'map':
      return sameType(a.key, (b as typeof a).key) && sameType(a.value, (b as typeof a).value);
    case 'struct':
      return a.name === (b as typeof a).name;
  }
}
