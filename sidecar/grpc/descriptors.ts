/**
 * gRPC schemas from a FileDescriptorSet (what `protoc --include_imports --descriptor_set_out`
 * or `buf build -o` writes): services → methods → input and output message types, messages →
 * fields, enums → value names. Read with the wire reader, not a protobuf library, so the
 * capture worker stays free of one.
 *
 * Field numbers of descriptor.proto used here: FileDescriptorSet.file=1; FileDescriptorProto
 * name=1 package=2 message_type=4 enum_type=5 service=6; DescriptorProto name=1 field=2
 * nested_type=3 enum_type=4; FieldDescriptorProto name=1 number=3 label=4 type=5 type_name=6
 * options=8 (FieldOptions.packed=2); EnumDescriptorProto name=1 value=2; EnumValueDescriptorProto
 * name=1 number=2; ServiceDescriptorProto name=1 method=2; MethodDescriptorProto name=1
 * input_type=2 output_type=3.
 */
import { utf8, WireReader, type WireField } from './wire.ts';

/** descriptor.proto's FieldDescriptorProto.Type numbers. */
export const T_DOUBLE = 1;
export const T_FLOAT = 2;
export const T_INT64 = 3;
export const T_UINT64 = 4;
export const T_INT32 = 5;
export const T_FIXED64 = 6;
export const T_FIXED32 = 7;
export const T_BOOL = 8;
export const T_STRING = 9;
export const T_GROUP = 10;
export const T_MESSAGE = 11;
export const T_BYTES = 12;
export const T_UINT32 = 13;
export const T_ENUM = 14;
export const T_SFIXED32 = 15;
export const T_SFIXED64 = 16;
export const T_SINT32 = 17;
export const T_SINT64 = 18;

export interface FieldDef {
  name: string;
  number: number;
  type: number;
  /** Full name without the leading dot, for messages and enums. */
  typeName?: string;
  repeated: boolean;
}

export interface MessageDef {
  fullName: string;
  fields: Map<number, FieldDef>;
}

export interface GrpcSchema {
  /** `/package.Service/Method` → message type names. */
  methods: Map<string, { input: string; output: string }>;
  messages: Map<string, MessageDef>;
  enums: Map<string, Map<number, string>>;
}

function fields(bytes: Uint8Array): WireField[] {
  const r = new WireReader(bytes);
  const out: WireField[] = [];
  while (!r.done) out.push(r.next());
  return out;
}

const str = (f: WireField): string => (f.wire === 2 ? utf8(f.value) : '');
const int = (f: WireField): number => (f.wire === 0 ? Number(BigInt.asIntN(32, f.value)) : 0);
/**
 * A type reference as written: protoc writes full names (`.pkg.Msg`); other writers may leave
 * them relative to the scope they appear in, which protobuf resolves innermost scope first.
 * Kept with its scope until every file is read (`resolveNames`).
 */
const unresolved = (scope: string, name: string): string => (name.startsWith('.') ? name.slice(1) : `${scope}\u0000${name}`);
const qualify = (scope: string, name: string): string => (scope === '' ? name : `${scope}.${name}`);

function parseEnum(bytes: Uint8Array, scope: string, schema: GrpcSchema): void {
  let name = '';
  const values = new Map<number, string>();
  for (const f of fields(bytes)) {
    if (f.field === 1) name = str(f);
    else if (f.field === 2 && f.wire === 2) {
      let vName = '';
      let vNumber = 0;
      for (const v of fields(f.value)) {
        if (v.field === 1) vName = str(v);
        else if (v.field === 2) vNumber = int(v);
      }
      if (!values.has(vNumber)) values.set(vNumber, vName);
    }
  }
  schema.enums.set(qualify(scope, name), values);
}

function parseField(bytes: Uint8Array): FieldDef {
  const def: FieldDef = { name: '', number: 0, type: 0, repeated: false };
  for (const f of fields(bytes)) {
    if (f.field === 1) def.name = str(f);
    else if (f.field === 3) def.number = int(f);
    else if (f.field === 4) def.repeated = int(f) === 3;
    else if (f.field === 5) def.type = int(f);
    else if (f.field === 6) def.typeName = str(f);
  }
  return def;
}

function parseMessage(bytes: Uint8Array, scope: string, schema: GrpcSchema): void {
  const list = fields(bytes);
  const name = str(list.find((f) => f.field === 1) ?? { field: 1, wire: 2, value: new Uint8Array(0) });
  const fullName = qualify(scope, name);
  const def: MessageDef = { fullName, fields: new Map() };
  for (const f of list) {
    if (f.wire !== 2) continue;
    if (f.field === 2) {
      const field = parseField(f.value);
      if (field.typeName !== undefined) field.typeName = unresolved(fullName, field.typeName);
      def.fields.set(field.number, field);
    } else if (f.field === 3) parseMessage(f.value, fullName, schema);
    else if (f.field === 4) parseEnum(f.value, fullName, schema);
  }
  schema.messages.set(fullName, def);
}

function parseService(bytes: Uint8Array, pkg: string, schema: GrpcSchema): void {
  let name = '';
  const methods: Array<{ name: string; input: string; output: string }> = [];
  for (const f of fields(bytes)) {
    if (f.field === 1) name = str(f);
    else if (f.field === 2 && f.wire === 2) {
      const m = { name: '', input: '', output: '' };
      for (const x of fields(f.value)) {
        if (x.field === 1) m.name = str(x);
        else if (x.field === 2) m.input = unresolved(qualify(pkg, name), str(x));
        else if (x.field === 3) m.output = unresolved(qualify(pkg, name), str(x));
      }
      methods.push(m);
    }
  }
  for (const m of methods) schema.methods.set(`/${qualify(pkg, name)}/${m.name}`, { input: m.input, output: m.output });
}

function parseFile(bytes: Uint8Array, schema: GrpcSchema): void {
  const list = fields(bytes);
  const pkg = list.filter((f) => f.field === 2).map(str)[0] ?? '';
  for (const f of list) {
    if (f.wire !== 2) continue;
    if (f.field === 4) parseMessage(f.value, pkg, schema);
    else if (f.field === 5) parseEnum(f.value, pkg, schema);
    else if (f.field === 6) parseService(f.value, pkg, schema);
  }
}

export function emptySchema(): GrpcSchema {
  return { methods: new Map(), messages: new Map(), enums: new Map() };
}

/** `scope\0name` → the full name it refers to, looking in `scope`, then each enclosing scope. */
function resolve(ref: string, schema: GrpcSchema): string {
  const cut = ref.indexOf('\u0000');
  if (cut === -1) return ref;
  let scope = ref.slice(0, cut);
  const name = ref.slice(cut + 1);
  for (;;) {
    const candidate = qualify(scope, name);
    if (schema.messages.has(candidate) || schema.enums.has(candidate)) return candidate;
    if (scope === '') return name;
    const dot = scope.lastIndexOf('.');
    scope = dot === -1 ? '' : scope.slice(0, dot);
  }
}

function resolveNames(schema: GrpcSchema): void {
  for (const message of schema.messages.values()) {
    for (const field of message.fields.values()) if (field.typeName !== undefined) field.typeName = resolve(field.typeName, schema);
  }
  for (const method of schema.methods.values()) {
    method.input = resolve(method.input, schema);
    method.output = resolve(method.output, schema);
  }
}

/** Adds the files of a serialized FileDescriptorSet to `schema`. Throws on malformed input. */
export function addDescriptorSet(schema: GrpcSchema, bytes: Uint8Array): GrpcSchema {
  for (const f of fields(bytes)) {
    if (f.field === 1 && f.wire === 2) parseFile(f.value, schema);
  }
  resolveNames(schema);
  return schema;
}
