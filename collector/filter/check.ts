/**
 * Static checking of a parsed filter against the declared variables: unknown identifiers,
 * fields and functions, operand types, constant regular expressions. `@bufbuild/cel` 0.6
 * parses and evaluates but does not export a complete checker, so this is ours; it follows
 * the CEL standard overloads that the evaluator implements, so an expression that passes
 * here can only fail at run time on absent fields or on data (division by zero, a bad
 * `int("x")` conversion, a regex built at run time).
 */
import { isCelError, run } from '@bufbuild/cel';
import { closestMatch } from '../../lib/edit-distance.ts';
import {
  COL_ERR_FILTER_REGEX,
  COL_ERR_FILTER_TOO_COMPLEX,
  COL_ERR_FILTER_TYPE,
  COL_ERR_FILTER_UNDECLARED,
  buildFilterError,
  type FilterError,
  type FilterErrorCode,
} from './errors.ts';
import {
  T,
  branchesAgree,
  isComparable,
  isDyn,
  isNumeric,
  isPrimitive,
  listOf,
  mapOf,
  sameType,
  typeName,
  unify,
  type FilterType,
} from './cel-types.ts';
import { FILTER_VARIABLES, HEADER_NAME } from './variables.ts';
import { MAX_FILTER_DEPTH, walk, type CelCall, type CelConstant, type CelExpr, type KindValue, type ParsedFilter } from './ast.ts';
import { ARITHMETIC, FUNCTIONS, METHODS, OPERATOR_TEXT, TYPE_NAMES } from './overloads.ts';
import { wordOperator } from './syntax-hints.ts';


class CheckFailure {
  readonly code: FilterErrorCode;
  readonly message: string;
  readonly offset: number;
  constructor(code: FilterErrorCode, message: string, offset: number) {
    this.code = code;
    this.message = message;
    this.offset = offset;
  }
}

function suggestion(name: string, candidates: Iterable<string>): string {
  const best = closestMatch(name, candidates, { maxDistance: Math.max(1, Math.floor(name.length / 3)), ignoreCase: true });
  return best !== undefined ? ` (did you mean '${best}'?)` : '';
}

const HEADER_CASE = 'header names are lower-case in records: write ';

/** Methods whose string argument, tested against a header name, can only match in lower case. */
const HEADER_NAME_METHODS = new Set(['startsWith', 'endsWith', 'contains']);

function isHeaderMap(t: FilterType): boolean {
  return t.kind === 'map' && t.key === HEADER_NAME;
}

function stringLiteral(e: CelExpr): string | undefined {
  return e.exprKind.case === 'constExpr' && e.exprKind.value.constantKind.case === 'stringValue' ? e.exprKind.value.constantKind.value : undefined;
}

/** A string literal that no lower-case name can equal: `"X-Walk2"`. */
function capitalised(e: CelExpr): string | undefined {
  const text = stringLiteral(e);
  return text !== undefined && text !== text.toLowerCase() ? text : undefined;
}

const quoted = (text: string): string => JSON.stringify(text.toLowerCase());

/** `request.headers`, `call.response.trailers`, `h`: a chain of names as written, or undefined for anything else. */
function pathText(e: CelExpr): string | undefined {
  if (e.exprKind.case === 'identExpr') return e.exprKind.value.name;
  if (e.exprKind.case === 'selectExpr' && !e.exprKind.value.testOnly && e.exprKind.value.operand !== undefined) {
    const operand = pathText(e.exprKind.value.operand);
    return operand === undefined ? undefined : `${operand}.${e.exprKind.value.field}`;
  }
  return undefined;
}

function isOrderable(a: FilterType, b: FilterType): boolean {
  if (isDyn(a) || isDyn(b)) return true;
  if (isNumeric(a) && isNumeric(b)) return true;
  return a.kind === 'primitive' && b.kind === 'primitive' && a.name === b.name && ['bool', 'string', 'bytes', 'timestamp', 'duration'].includes(a.name);
}

class Checker {
  private readonly positions: Record<string, number>;
  private readonly source: string;
  private readonly scopes: Array<Map<string, FilterType>> = [];

  constructor(parsed: ParsedFilter, source: string) {
    this.positions = (parsed.sourceInfo?.positions ?? {}) as Record<string, number>;
    this.source = source;
  }

  /** The parser places an operator at the whitespace before it; errors point at the operator itself. */
  skipSpace(offset: number): number {
    let at = offset;
    while (at < this.source.length && /\s/.test(this.source[at])) at++;
    return at < this.source.length ? at : offset;
  }

  afterDot(offset: number): number {
    const at = this.skipSpace(offset);
    return this.source[at] === '.' ? this.skipSpace(at + 1) : at;
  }

  /** Offset of an expression's own token (the operator of a binary call, the dot of a select). */
  offsetOf(e: CelExpr): number {
    return this.positions[String(e.id)] ?? 0;
  }

  /** Offset where an expression's text begins: the smallest offset in its subtree. */
  startOf(e: CelExpr): number {
    let min = this.offsetOf(e);
    walk(e, (sub) => {
      const at = this.positions[String(sub.id)];
      if (at !== undefined && at < min) min = at;
    });
    return min;
  }

  fail(code: FilterErrorCode, message: string, offset: number): never {
    throw new CheckFailure(code, message, this.skipSpace(offset));
  }

  check(e: CelExpr, depth = 0): FilterType {
    if (depth > MAX_FILTER_DEPTH) {
      this.fail(COL_ERR_FILTER_TOO_COMPLEX, `expression nested deeper than ${MAX_FILTER_DEPTH} levels`, this.offsetOf(e));
    }
    const kind = e.exprKind;
    switch (kind.case) {
      case 'constExpr':
        return this.checkConst(kind.value, e);
      case 'identExpr':
        return this.checkIdent(kind.value.name, e);
      case 'selectExpr': {
        const operand = kind.value.operand;
        if (operand === undefined) this.fail(COL_ERR_FILTER_TYPE, 'field selection without an operand', this.offsetOf(e));
        const operandType = this.check(operand, depth + 1);
        if (isHeaderMap(operandType)) this.checkHeaderField(operand, kind.value.field, kind.value.testOnly, e);
        return this.checkSelect(operandType, kind.value.field, kind.value.testOnly, e);
      }
      case 'callExpr':
        return this.checkCall(kind.value, e, depth);
      case 'listExpr': {
        let element: FilterType | undefined;
        for (const item of kind.value.elements) {
          const t = this.check(item, depth + 1);
          element = element === undefined ? t : unify(element, t);
        }
        return listOf(element ?? T.dyn);
      }
      case 'structExpr': {
        if (kind.value.messageName !== '') {
          this.fail(COL_ERR_FILTER_TYPE, `message construction (${kind.value.messageName}{...}) is not supported in filters`, this.offsetOf(e));
        }
        let key: FilterType | undefined;
        let value: FilterType | undefined;
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case !== 'mapKey' || entry.value === undefined) {
            this.fail(COL_ERR_FILTER_TYPE, 'malformed map literal', this.offsetOf(e));
          }
          const k = this.check(entry.keyKind.value, depth + 1);
          if (!isPrimitive(k, 'int', 'uint', 'bool', 'string', 'dyn')) {
            this.fail(COL_ERR_FILTER_TYPE, `map keys must be int, uint, bool or string, not ${typeName(k)}`, this.startOf(entry.keyKind.value));
          }
          const v = this.check(entry.value, depth + 1);
          key = key === undefined ? k : unify(key, k);
          value = value === undefined ? v : unify(value, v);
        }
        return mapOf(key ?? T.dyn, value ?? T.dyn);
      }
      case 'comprehensionExpr':
        return this.checkComprehension(kind.value, e, depth);
      default:
        return this.fail(COL_ERR_FILTER_TYPE, 'unsupported expression', this.offsetOf(e));
    }
  }

  private checkConst(c: CelConstant, e: CelExpr): FilterType {
    switch (c.constantKind.case) {
      case 'boolValue':
        return T.bool;
      case 'int64Value':
        return T.int;
      case 'uint64Value':
        return T.uint;
      case 'doubleValue':
        return T.double;
      case 'stringValue':
        return T.string;
      case 'bytesValue':
        return T.bytes;
      case 'nullValue':
        return T.null;
      case 'durationValue':
        return T.duration;
      case 'timestampValue':
        return T.timestamp;
      default:
        return this.fail(COL_ERR_FILTER_TYPE, 'unsupported constant', this.offsetOf(e));
    }
  }

  private checkIdent(name: string, e: CelExpr): FilterType {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const t = this.scopes[i].get(name);
      if (t !== undefined) return t;
    }
    const declared = Object.hasOwn(FILTER_VARIABLES, name) ? FILTER_VARIABLES[name] : undefined;
    if (declared !== undefined) return declared;
    if (TYPE_NAMES.has(name)) return T.type;
    return this.fail(COL_ERR_FILTER_UNDECLARED, `unknown variable '${name}'${this.variableHint(name)}`, this.offsetOf(e));
  }

  /** `AND` is an operator of other languages; anything else may be a misspelt variable. */
  private variableHint(name: string): string {
    const operator = wordOperator(name);
    if (operator !== undefined) return ` (did you mean the operator '${operator}'?)`;
    return suggestion(name, [...Object.keys(FILTER_VARIABLES), ...this.scopes.flatMap((s) => [...s.keys()])]);
  }

  /** A name that is no variable, type or macro variable in scope: `GET` in `method == GET`. */
  private isUndeclared(e: CelExpr): e is CelExpr & { exprKind: { case: 'identExpr' } } {
    if (e.exprKind.case !== 'identExpr') return false;
    const name = e.exprKind.value.name;
    return !this.scopes.some((s) => s.has(name)) && !Object.hasOwn(FILTER_VARIABLES, name) && !TYPE_NAMES.has(name);
  }

  /**
   * `method == GET`, `method in [GET, POST]`: text without its quotes reads as a variable. When
   * such a name (not a likely misspelling of a variable) stands against a string, the error
   * says to quote it instead of only that the variable is unknown.
   */
  private checkUnquotedText(fn: string, args: readonly CelExpr[], depth: number): void {
    const comparison = fn === '_==_' || fn === '_!=_';
    if (args.length !== 2 || (!comparison && fn !== '@in')) return;
    const candidates: Array<{ word: CelExpr; against: CelExpr }> = [];
    if (comparison) {
      candidates.push({ word: args[0], against: args[1] }, { word: args[1], against: args[0] });
    } else if (args[1].exprKind.case === 'listExpr') {
      for (const element of args[1].exprKind.value.elements) candidates.push({ word: element, against: args[0] });
    }
    const bare = candidates.find(({ word, against }) => this.isUndeclared(word) && !this.isUndeclared(against) && this.variableHint(word.exprKind.value.name) === '');
    // `against` is checked twice only here, where compiling fails right after either way (the name is unknown).
    if (bare === undefined || !this.isUndeclared(bare.word) || !isPrimitive(this.check(bare.against, depth + 1), 'string')) return;
    const name = bare.word.exprKind.value.name;
    this.fail(COL_ERR_FILTER_UNDECLARED, `unknown variable '${name}'; for the text ${name}, write "${name}"`, this.offsetOf(bare.word));
  }

  /** `protocol == http`: a variable where its name was meant as text. */
  private textHint(args: readonly CelExpr[], types: readonly FilterType[]): string {
    for (const i of [1, 0]) {
      const e = args[i];
      if (e.exprKind.case === 'identExpr' && isPrimitive(types[1 - i], 'string') && !isPrimitive(types[i], 'string')) {
        const name = e.exprKind.value.name;
        return `; for the text ${name}, write "${name}"`;
      }
    }
    return '';
  }

  /**
   * Header and trailer names are stored lower-case, so a literal name with capitals would
   * silently match nothing: `request.headers["X-A"]`, `"X-A" in request.headers`, and within a
   * macro over the names `h == "X-A"`, `h in ["X-A"]`, `h.startsWith("X-")`.
   */
  private checkHeaderNames(call: CelCall, argTypes: readonly FilterType[], targetType: FilterType | undefined): void {
    const { function: fn, args, target } = call;
    if (target !== undefined) {
      if (targetType === HEADER_NAME && HEADER_NAME_METHODS.has(fn) && args.length === 1) {
        const name = capitalised(args[0]);
        const self = pathText(target);
        if (name !== undefined) this.refuseCapitals(args[0], self === undefined ? undefined : `${self}.${fn}(${quoted(name)})`);
      }
      return;
    }
    if (args.length !== 2) return;
    if (fn === '_[_]' && isHeaderMap(argTypes[0])) {
      const name = capitalised(args[1]);
      const map = pathText(args[0]);
      if (name !== undefined) this.refuseCapitals(args[1], map === undefined ? undefined : `${map}[${quoted(name)}]`);
    } else if (fn === '@in' && isHeaderMap(argTypes[1])) {
      const name = capitalised(args[0]);
      const map = pathText(args[1]);
      if (name !== undefined) this.refuseCapitals(args[0], map === undefined ? undefined : `${quoted(name)} in ${map}`);
    } else if (fn === '@in' && argTypes[0] === HEADER_NAME && args[1].exprKind.case === 'listExpr') {
      const elements = args[1].exprKind.value.elements;
      const wrong = elements.find((element) => capitalised(element) !== undefined);
      const self = pathText(args[0]);
      const texts = elements.map(stringLiteral);
      if (wrong !== undefined) {
        const list = texts.every((text) => text !== undefined) ? `[${texts.map((text) => quoted(text)).join(', ')}]` : undefined;
        this.refuseCapitals(wrong, self === undefined || list === undefined ? undefined : `${self} in ${list}`);
      }
    } else if (fn === '_==_' || fn === '_!=_') {
      for (const [side, other] of [
        [0, 1],
        [1, 0],
      ] as const) {
        const name = capitalised(args[other]);
        if (argTypes[side] !== HEADER_NAME || name === undefined) continue;
        const self = pathText(args[side]);
        this.refuseCapitals(args[other], self === undefined ? undefined : `${self} ${OPERATOR_TEXT[fn]} ${quoted(name)}`);
      }
    }
  }

  /** `has(request.headers.Accept)`, `request.headers.Accept`: a field of a header map is a name too. */
  private checkHeaderField(operand: CelExpr, field: string, testOnly: boolean, e: CelExpr): void {
    if (field === field.toLowerCase()) return;
    const map = pathText(operand);
    const written = map === undefined ? undefined : `${map}.${field.toLowerCase()}`;
    // Inside has() the select sits at the call; the name has capitals, so it is not found in the operand's lower-case last name.
    const named = this.source.indexOf(field, this.offsetOf(operand));
    const offset = testOnly ? (named >= 0 ? named : this.offsetOf(e)) : this.afterDot(this.offsetOf(e));
    this.fail(COL_ERR_FILTER_TYPE, `${HEADER_CASE}${written === undefined ? field.toLowerCase() : testOnly ? `has(${written})` : written}`, offset);
  }

  /** Refuses the literal `name`, saying what to write instead (the lower-case name alone when the expression has no simple spelling). */
  private refuseCapitals(name: CelExpr, written: string | undefined): never {
    return this.fail(COL_ERR_FILTER_TYPE, `${HEADER_CASE}${written ?? quoted(stringLiteral(name) ?? '')}`, this.startOf(name));
  }

  private checkSelect(operand: FilterType, field: string, testOnly: boolean, e: CelExpr): FilterType {
    // The select's position is its dot; the field name starts right after it.
    const fieldOffset = testOnly ? this.offsetOf(e) : this.afterDot(this.offsetOf(e));
    let result: FilterType;
    if (operand.kind === 'struct') {
      const t = Object.hasOwn(operand.fields, field) ? operand.fields[field] : undefined;
      if (t === undefined) {
        const names = Object.keys(operand.fields);
        return this.fail(
          COL_ERR_FILTER_UNDECLARED,
          `unknown field '${field}' of ${operand.name}${suggestion(field, names)}; its fields are ${names.join(', ')}`,
          fieldOffset,
        );
      }
      result = t;
    } else if (operand.kind === 'map') {
      if (!isComparable(operand.key, T.string)) {
        return this.fail(COL_ERR_FILTER_TYPE, `cannot select field '${field}' of ${typeName(operand)}: its keys are not strings`, fieldOffset);
      }
      result = operand.value;
    } else if (isDyn(operand)) {
      result = T.dyn;
    } else {
      return this.fail(COL_ERR_FILTER_TYPE, `cannot select field '${field}' of a value of type ${typeName(operand)}`, fieldOffset);
    }
    return testOnly ? T.bool : result;
  }

  private expectBool(arg: CelExpr, t: FilterType, context: string): void {
    if (!isPrimitive(t, 'bool', 'dyn')) {
      this.fail(COL_ERR_FILTER_TYPE, `${context} expects bool operands, got ${typeName(t)}`, this.startOf(arg));
    }
  }

  private checkCall(call: CelCall, e: CelExpr, depth: number): FilterType {
    const fn = call.function;
    const args = call.args;
    if (call.target === undefined) this.checkUnquotedText(fn, args, depth);
    const argTypes = args.map((a) => this.check(a, depth + 1));
    const targetType = call.target !== undefined ? this.check(call.target, depth + 1) : undefined;
    const op = OPERATOR_TEXT[fn] ?? fn;
    const at = this.offsetOf(e);
    this.checkHeaderNames(call, argTypes, targetType);

    if (targetType === undefined) {
      switch (fn) {
        case '_&&_':
        case '_||_':
          args.forEach((a, i) => this.expectBool(a, argTypes[i], `'${op}'`));
          return T.bool;
        case '!_':
        case '@not_strictly_false':
          this.expectBool(args[0], argTypes[0], `'!'`);
          return T.bool;
        case '-_':
          if (!isPrimitive(argTypes[0], 'int', 'double', 'dyn')) {
            this.fail(COL_ERR_FILTER_TYPE, `cannot negate a value of type ${typeName(argTypes[0])}`, at);
          }
          return argTypes[0];
        case '_==_':
        case '_!=_':
          if (!isComparable(argTypes[0], argTypes[1])) {
            this.fail(
              COL_ERR_FILTER_TYPE,
              `cannot compare ${typeName(argTypes[0])} with ${typeName(argTypes[1])} using '${op}'` +
                (isPrimitive(argTypes[1], 'null_type') || isPrimitive(argTypes[0], 'null_type') ? '; test presence with has(), e.g. has(src.pod)' : this.textHint(args, argTypes)),
              at,
            );
          }
          return T.bool;
        case '_<_':
        case '_<=_':
        case '_>_':
        case '_>=_':
          if (!isOrderable(argTypes[0], argTypes[1])) {
            this.fail(COL_ERR_FILTER_TYPE, `cannot order ${typeName(argTypes[0])} and ${typeName(argTypes[1])} using '${op}'`, at);
          }
          return T.bool;
        case '_+_':
        case '_-_':
        case '_*_':
        case '_/_':
        case '_%_':
          return this.checkArithmetic(fn, argTypes[0], argTypes[1], at);
        case '_[_]':
          return this.checkIndex(argTypes[0], argTypes[1], args[1], at);
        case '@in':
          return this.checkIn(argTypes[0], argTypes[1], at);
        case '_?_:_':
          this.expectBool(args[0], argTypes[0], 'the condition of \'?:\'');
          // CEL's conditional is (bool, A, A) -> A: branches of two types are an error, not dyn.
          if (!branchesAgree(argTypes[1], argTypes[2])) {
            this.fail(
              COL_ERR_FILTER_TYPE,
              `the branches of '?:' differ in type: ${typeName(argTypes[1])} and ${typeName(argTypes[2])} (wrap one in dyn() if that is meant)`,
              this.startOf(args[2]),
            );
          }
          return unify(argTypes[1], argTypes[2]);
        case 'has':
          return this.fail(COL_ERR_FILTER_TYPE, 'has() needs a field selection, e.g. has(src.pod) or has(call.status_code)', at);
        default:
          break;
      }
    }

    // A method call's position is its dot; point at the method name after it.
    const memberAt = targetType === undefined ? at : this.afterDot(at);
    const table = targetType === undefined ? FUNCTIONS : METHODS;
    const overloads = Object.hasOwn(table, fn) ? table[fn] : undefined;
    if (overloads === undefined) {
      const other = targetType === undefined ? METHODS : FUNCTIONS;
      const hint = Object.hasOwn(other, fn)
        ? targetType === undefined
          ? ` (it is a method: write x.${fn}(...))`
          : ` (it is a function: write ${fn}(x))`
        : targetType === undefined && wordOperator(fn) !== undefined
          ? ` (did you mean the operator '${wordOperator(fn)}'?)`
          : suggestion(fn, Object.keys(table));
      return this.fail(COL_ERR_FILTER_UNDECLARED, `unknown ${targetType === undefined ? 'function' : 'method'} '${fn}'${hint}`, memberAt);
    }
    const match = overloads.find(
      (o) =>
        o.args.length === argTypes.length &&
        (targetType === undefined || (o.target !== undefined && o.target(targetType))) &&
        o.args.every((accept, i) => accept(argTypes[i])),
    );
    if (match === undefined) {
      const got = `${targetType !== undefined ? `${typeName(targetType)}.` : ''}${fn}(${argTypes.map(typeName).join(', ')})`;
      return this.fail(
        COL_ERR_FILTER_TYPE,
        `no overload of '${fn}' for ${got}; expected ${overloads.map((o) => o.shape.replace('%', fn)).join(' or ')}`,
        memberAt,
      );
    }
    if (fn === 'matches') this.checkConstantRegex(args[0]);
    return match.result;
  }

  private checkConstantRegex(arg: CelExpr): void {
    if (arg.exprKind.case !== 'constExpr' || arg.exprKind.value.constantKind.case !== 'stringValue') return;
    const pattern = arg.exprKind.value.constantKind.value;
    const outcome = run('text.matches(pattern)', { text: '', pattern });
    if (isCelError(outcome)) {
      this.fail(COL_ERR_FILTER_REGEX, `invalid regular expression ${JSON.stringify(pattern)}: ${outcome.message}`, this.startOf(arg));
    }
  }

  private checkArithmetic(fn: string, left: FilterType, right: FilterType, at: number): FilterType {
    if (isDyn(left) || isDyn(right)) return T.dyn;
    if (fn === '_+_' && left.kind === 'list' && right.kind === 'list') return listOf(unify(left.element, right.element));
    for (const [l, r, result] of ARITHMETIC[fn]) {
      if (isPrimitive(left, l) && isPrimitive(right, r)) return result;
    }
    const hint = isNumeric(left) && isNumeric(right) ? ' (convert one side with int(), uint() or double())' : '';
    return this.fail(COL_ERR_FILTER_TYPE, `cannot apply '${OPERATOR_TEXT[fn]}' to ${typeName(left)} and ${typeName(right)}${hint}`, at);
  }

  private checkIndex(container: FilterType, index: FilterType, indexExpr: CelExpr, at: number): FilterType {
    if (isDyn(container)) return T.dyn;
    if (container.kind === 'list') {
      if (!isPrimitive(index, 'int', 'uint', 'dyn')) this.fail(COL_ERR_FILTER_TYPE, `list index must be an int, not ${typeName(index)}`, at);
      return container.element;
    }
    if (container.kind === 'map') {
      if (!isComparable(container.key, index)) {
        this.fail(COL_ERR_FILTER_TYPE, `map of ${typeName(container)} indexed with ${typeName(index)}`, at);
      }
      return container.value;
    }
    if (container.kind === 'struct') {
      if (!isPrimitive(index, 'string', 'dyn')) this.fail(COL_ERR_FILTER_TYPE, `${container.name} indexed with ${typeName(index)}`, at);
      if (indexExpr.exprKind.case === 'constExpr' && indexExpr.exprKind.value.constantKind.case === 'stringValue') {
        return this.checkSelect(container, indexExpr.exprKind.value.constantKind.value, false, indexExpr);
      }
      return T.dyn;
    }
    return this.fail(COL_ERR_FILTER_TYPE, `cannot index a value of type ${typeName(container)}`, at);
  }

  private checkIn(element: FilterType, container: FilterType, at: number): FilterType {
    if (isDyn(container)) return T.bool;
    if (container.kind === 'list' && isComparable(element, container.element)) return T.bool;
    if (container.kind === 'map' && isComparable(element, container.key)) return T.bool;
    if (container.kind === 'struct' && isComparable(element, T.string)) return T.bool;
    return this.fail(COL_ERR_FILTER_TYPE, `cannot test ${typeName(element)} 'in' ${typeName(container)}`, at);
  }

  private checkComprehension(c: KindValue<'comprehensionExpr'>, e: CelExpr, depth: number): FilterType {
    if (c.iterRange === undefined || c.accuInit === undefined || c.loopCondition === undefined || c.loopStep === undefined || c.result === undefined) {
      return this.fail(COL_ERR_FILTER_TYPE, 'malformed macro', this.offsetOf(e));
    }
    const range = this.check(c.iterRange, depth + 1);
    let first: FilterType;
    let second: FilterType;
    if (range.kind === 'list') {
      first = c.iterVar2 !== '' ? T.int : range.element;
      second = range.element;
    } else if (range.kind === 'map') {
      first = range.key;
      second = range.value;
    } else if (range.kind === 'struct') {
      first = T.string;
      second = T.dyn;
    } else if (isDyn(range)) {
      first = T.dyn;
      second = T.dyn;
    } else {
      return this.fail(COL_ERR_FILTER_TYPE, `cannot iterate over a value of type ${typeName(range)}`, this.startOf(c.iterRange));
    }
    let accu = this.check(c.accuInit, depth + 1);
    const loop = new Map<string, FilterType>([[c.iterVar, first]]);
    if (c.iterVar2 !== '') loop.set(c.iterVar2, second);
    loop.set(c.accuVar, accu);
    this.scopes.push(loop);
    try {
      this.expectBool(c.loopCondition, this.check(c.loopCondition, depth + 1), 'a macro condition');
      const step = this.check(c.loopStep, depth + 1);
      if (!sameType(step, accu)) accu = unify(step, accu);
    } finally {
      this.scopes.pop();
    }
    this.scopes.push(new Map([[c.accuVar, accu]]));
    try {
      return this.check(c.result, depth + 1);
    } finally {
      this.scopes.pop();
    }
  }
}

export type CheckOutcome = { ok: true; type: FilterType } | { ok: false; error: FilterError };

/** Checks a parsed filter; the result type must be bool (or dyn, checked again at run time). */
export function checkFilter(parsed: ParsedFilter, source: string): CheckOutcome {
  const checker = new Checker(parsed, source);
  try {
    const type = checker.check(parsed.expr);
    if (!isPrimitive(type, 'bool', 'dyn')) {
      return {
        ok: false,
        error: buildFilterError(
          COL_ERR_FILTER_TYPE,
          `a filter must be a bool expression, but this one is of type ${typeName(type)}`,
          source,
          checker.skipSpace(checker.startOf(parsed.expr)),
        ),
      };
    }
    return { ok: true, type };
  } catch (err) {
    if (err instanceof CheckFailure) return { ok: false, error: buildFilterError(err.code, err.message, source, err.offset) };
    if (err instanceof RangeError) {
      return { ok: false, error: buildFilterError(COL_ERR_FILTER_TOO_COMPLEX, 'expression too deeply nested', source, 0) };
    }
    throw err;
  }
}
