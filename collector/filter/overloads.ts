/**
 * The standard CEL overloads the evaluator implements, as tables the checker reads: methods
 * and functions by name with their argument and result types, arithmetic by operand types,
 * and how each operator reads in an error message.
 */
import { T, isDyn, isPrimitive, listOf, typeName, type FilterType, type PrimitiveName } from './cel-types.ts';

export const TYPE_NAMES = new Set(['bool', 'int', 'uint', 'double', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn']);

export type ArgCheck = (t: FilterType) => boolean;

export interface Overload {
  readonly target?: ArgCheck;
  readonly args: readonly ArgCheck[];
  readonly result: FilterType;
  /** How the signature reads in an error message. */
  readonly shape: string;
}

export const prim =
  (...names: PrimitiveName[]): ArgCheck =>
  (t) =>
    isDyn(t) || isPrimitive(t, ...names);
export const anyList: ArgCheck = (t) => isDyn(t) || t.kind === 'list';
export const anyMap: ArgCheck = (t) => isDyn(t) || t.kind === 'map' || t.kind === 'struct';
export const anything: ArgCheck = () => true;
export const stringList: ArgCheck = (t) => isDyn(t) || (t.kind === 'list' && (isDyn(t.element) || isPrimitive(t.element, 'string')));

export const STR = prim('string');
export const INT = prim('int');

export function method(target: ArgCheck, targetName: string, args: ArgCheck[], argNames: string[], result: FilterType): Overload {
  return { target, args, result, shape: `${targetName}.%(${argNames.join(', ')}) -> ${typeName(result)}` };
}

export function func(args: ArgCheck[], argNames: string[], result: FilterType): Overload {
  return { args, result, shape: `%(${argNames.join(', ')}) -> ${typeName(result)}` };
}

export const TIMESTAMP_GETTERS = [
  'getFullYear',
  'getMonth',
  'getDayOfYear',
  'getDayOfMonth',
  'getDate',
  'getDayOfWeek',
  'getHours',
  'getMinutes',
  'getSeconds',
  'getMilliseconds',
];
export const DURATION_GETTERS = new Set(['getHours', 'getMinutes', 'getSeconds', 'getMilliseconds']);

export const METHODS: Record<string, Overload[]> = {
  contains: [method(STR, 'string', [STR], ['string'], T.bool)],
  startsWith: [method(STR, 'string', [STR], ['string'], T.bool)],
  endsWith: [method(STR, 'string', [STR], ['string'], T.bool)],
  matches: [method(STR, 'string', [STR], ['string'], T.bool)],
  size: [
    method(prim('string', 'bytes'), 'string|bytes', [], [], T.int),
    method(anyList, 'list', [], [], T.int),
    method(anyMap, 'map', [], [], T.int),
  ],
  lowerAscii: [method(STR, 'string', [], [], T.string)],
  upperAscii: [method(STR, 'string', [], [], T.string)],
  trim: [method(STR, 'string', [], [], T.string)],
  charAt: [method(STR, 'string', [INT], ['int'], T.string)],
  indexOf: [method(STR, 'string', [STR], ['string'], T.int), method(STR, 'string', [STR, INT], ['string', 'int'], T.int)],
  lastIndexOf: [method(STR, 'string', [STR], ['string'], T.int), method(STR, 'string', [STR, INT], ['string', 'int'], T.int)],
  replace: [
    method(STR, 'string', [STR, STR], ['string', 'string'], T.string),
    method(STR, 'string', [STR, STR, INT], ['string', 'string', 'int'], T.string),
  ],
  split: [
    method(STR, 'string', [STR], ['string'], listOf(T.string)),
    method(STR, 'string', [STR, INT], ['string', 'int'], listOf(T.string)),
  ],
  substring: [method(STR, 'string', [INT], ['int'], T.string), method(STR, 'string', [INT, INT], ['int', 'int'], T.string)],
  join: [method(stringList, 'list(string)', [], [], T.string), method(stringList, 'list(string)', [STR], ['string'], T.string)],
};
for (const name of TIMESTAMP_GETTERS) {
  METHODS[name] = [
    method(prim('timestamp'), 'timestamp', [], [], T.int),
    method(prim('timestamp'), 'timestamp', [STR], ['string'], T.int),
    ...(DURATION_GETTERS.has(name) ? [method(prim('duration'), 'duration', [], [], T.int)] : []),
  ];
}

export const FUNCTIONS: Record<string, Overload[]> = {
  size: [func([prim('string', 'bytes')], ['string|bytes'], T.int), func([anyList], ['list'], T.int), func([anyMap], ['map'], T.int)],
  int: [func([prim('int', 'uint', 'double', 'string', 'timestamp', 'duration')], ['int|uint|double|string|timestamp|duration'], T.int)],
  uint: [func([prim('int', 'uint', 'double', 'string')], ['int|uint|double|string'], T.uint)],
  double: [func([prim('int', 'uint', 'double', 'string')], ['int|uint|double|string'], T.double)],
  bool: [func([prim('bool', 'string')], ['bool|string'], T.bool)],
  bytes: [func([prim('bytes', 'string')], ['bytes|string'], T.bytes)],
  string: [
    func(
      [prim('string', 'bool', 'int', 'uint', 'double', 'bytes', 'timestamp', 'duration')],
      ['string|bool|int|uint|double|bytes|timestamp|duration'],
      T.string,
    ),
  ],
  timestamp: [func([prim('timestamp', 'string', 'int')], ['timestamp|string|int'], T.timestamp)],
  duration: [func([prim('duration', 'string', 'int')], ['duration|string|int'], T.duration)],
  dyn: [func([anything], ['any'], T.dyn)],
  type: [func([anything], ['any'], T.type)],
};

export const ARITHMETIC: Record<string, Array<[PrimitiveName, PrimitiveName, FilterType]>> = {
  '_+_': [
    ['int', 'int', T.int],
    ['uint', 'uint', T.uint],
    ['double', 'double', T.double],
    ['string', 'string', T.string],
    ['bytes', 'bytes', T.bytes],
    ['timestamp', 'duration', T.timestamp],
    ['duration', 'timestamp', T.timestamp],
    ['duration', 'duration', T.duration],
  ],
  '_-_': [
    ['int', 'int', T.int],
    ['uint', 'uint', T.uint],
    ['double', 'double', T.double],
    ['timestamp', 'timestamp', T.duration],
    ['timestamp', 'duration', T.timestamp],
    ['duration', 'duration', T.duration],
  ],
  '_*_': [
    ['int', 'int', T.int],
    ['uint', 'uint', T.uint],
    ['double', 'double', T.double],
  ],
  '_/_': [
    ['int', 'int', T.int],
    ['uint', 'uint', T.uint],
    ['double', 'double', T.double],
  ],
  '_%_': [
    ['int', 'int', T.int],
    ['uint', 'uint', T.uint],
  ],
};

export const OPERATOR_TEXT: Record<string, string> = {
  '_==_': '==',
  '_!=_': '!=',
  '_<_': '<',
  '_<=_': '<=',
  '_>_': '>',
  '_>=_': '>=',
  '_+_': '+',
  '_-_': '-',
  '_*_': '*',
  '_/_': '/',
  '_%_': '%',
  '_&&_': '&&',
  '_||_': '||',
  '!_': '!',
  '-_': '-',
  '@in': 'in',
};
