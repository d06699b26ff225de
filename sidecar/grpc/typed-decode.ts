/**
 * A protobuf message decoded with its schema: field names instead of numbers, enum value
 * names, nested messages typed, 64-bit integers as decimal strings beyond 2^53, bytes as
 * `base64:`. Fields the schema does not know keep their number. Bounded like the schema-less
 * decoding (depth); returns undefined when the bytes do not fit the type.
 */
import type { GrpcSchema, MessageDef } from './descriptors.ts';
import {
  T_BOOL,
  T_BYTES,
  T_DOUBLE,
  T_ENUM,
  T_FIXED32,
  T_FIXED64,
  T_FLOAT,
  T_INT32,
  T_INT64,
  T_MESSAGE,
  T_SFIXED32,
  T_SFIXED64,
  T_SINT32,
  T_SINT64,
  T_STRING,
  T_UINT32,
  T_UINT64,
} from './descriptors.ts';
import { decodeProtobuf, type DecodedValue } from './protobuf-text.ts';
import { utf8, WireReader, type WireField } from './wire.ts';

const MAX_DEPTH = 32;

const num = (v: bigint): number | string => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString());
const zigzag = (v: bigint): bigint => (v >> 1n) ^ -(v & 1n);
const base64 = (b: Uint8Array): string => `base64:${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')}`;

function scalarFromVarint(type: number, v: bigint, enumName: (n: number) => string | number): DecodedValue {
  switch (type) {
    case T_INT64:
      return num(BigInt.asIntN(64, v));
    case T_UINT64:
      return num(BigInt.asUintN(64, v));
    case T_INT32:
      return Number(BigInt.asIntN(32, v));
    case T_UINT32:
      return Number(BigInt.asUintN(32, v));
    case T_SINT32:
    case T_SINT64:
      return num(zigzag(v));
    case T_BOOL:
      return v !== 0n;
    case T_ENUM:
      return enumName(Number(BigInt.asIntN(32, v)));
    default:
      return num(v);
  }
}

function scalarFromFixed64(type: number, v: bigint): DecodedValue {
  if (type === T_DOUBLE) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return b.readDoubleLE(0);
  }
  if (type === T_SFIXED64) return num(BigInt.asIntN(64, v));
  return num(v);
}

function scalarFromFixed32(type: number, v: number): DecodedValue {
  if (type === T_FLOAT) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b.readFloatLE(0);
  }
  if (type === T_SFIXED32) return v | 0;
  return v;
}

/** Packed repeated scalars: a LEN field of varints or fixed values. */
function unpack(type: number, bytes: Uint8Array, enumName: (n: number) => string | number): DecodedValue[] {
  const out: DecodedValue[] = [];
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (type === T_DOUBLE || type === T_FIXED64 || type === T_SFIXED64) {
    for (let i = 0; i + 8 <= b.length; i += 8) out.push(scalarFromFixed64(type, b.readBigUInt64LE(i)));
  } else if (type === T_FLOAT || type === T_FIXED32 || type === T_SFIXED32) {
    for (let i = 0; i + 4 <= b.length; i += 4) out.push(scalarFromFixed32(type, b.readUInt32LE(i)));
  } else {
    const r = new WireReader(bytes);
    while (!r.done) out.push(scalarFromVarint(type, r.varint(), enumName));
  }
  return out;
}

function decodeMessage(bytes: Uint8Array, def: MessageDef, schema: GrpcSchema, depth: number): Record<string, DecodedValue> {
  if (depth > MAX_DEPTH) throw new Error('nesting too deep');
  const out: Record<string, DecodedValue> = {};
  const put = (key: string, value: DecodedValue, repeated: boolean) => {
    if (!repeated) {
      out[key] = value;
      return;
    }
    const list = (out[key] as DecodedValue[] | undefined) ?? [];
    if (Array.isArray(value)) list.push(...value);
    else list.push(value);
    out[key] = list;
  };
  const r = new WireReader(bytes);
  while (!r.done) {
    const f: WireField = r.next();
    const field = def.fields.get(f.field);
    if (field === undefined) {
      // Unknown to the schema (newer sender): kept by number, schema-less.
      const value = f.wire === 2 ? (decodeProtobuf(f.value) ?? base64(f.value)) : f.wire === 5 ? f.value : num(f.value);
      put(String(f.field), value, out[String(f.field)] !== undefined);
      continue;
    }
    const enumValues = field.typeName !== undefined ? schema.enums.get(field.typeName) : undefined;
    const enumName = (n: number) => enumValues?.get(n) ?? n;
    if (f.wire === 0) put(field.name, scalarFromVarint(field.type, f.value, enumName), field.repeated);
    else if (f.wire === 1) put(field.name, scalarFromFixed64(field.type, f.value), field.repeated);
    else if (f.wire === 5) put(field.name, scalarFromFixed32(field.type, f.value), field.repeated);
    else if (field.type === T_STRING) put(field.name, utf8(f.value), field.repeated);
    else if (field.type === T_BYTES) put(field.name, base64(f.value), field.repeated);
    else if (field.type === T_MESSAGE) {
      const nested = field.typeName !== undefined ? schema.messages.get(field.typeName) : undefined;
      put(field.name, nested !== undefined ? decodeMessage(f.value, nested, schema, depth + 1) : (decodeProtobuf(f.value) ?? base64(f.value)), field.repeated);
    } else put(field.name, unpack(field.type, f.value, enumName), true);
  }
  return out;
}

/** `bytes` as a `typeName` message, or undefined when the type is unknown or the bytes do not fit it. */
export function decodeWithSchema(bytes: Uint8Array, typeName: string, schema: GrpcSchema): Record<string, DecodedValue> | undefined {
  const def = schema.messages.get(typeName);
  if (def === undefined) return undefined;
  try {
    return decodeMessage(bytes, def, schema, 0);
  } catch {
    return undefined;
  }
}
