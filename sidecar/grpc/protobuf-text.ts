/**
 * Protobuf wire format → plain JSON values, without a schema (what `protoc --decode_raw` does,
 * as data): field numbers become keys, repeated fields arrays, varints numbers (decimal
 * strings beyond 2^53), fixed32/64 numbers, and length-delimited fields a readable string, a
 * nested message, or `base64:` bytes — in that order of belief, decided per value.
 *
 * Pure and bounded: nesting depth and field count are capped, and input that is not a valid
 * message returns undefined (the caller shows the bytes instead). Never throws.
 */
import { WIRE_FIXED32, WIRE_LEN, WireReader } from './wire.ts';

export type DecodedValue = number | string | boolean | DecodedMessage | DecodedValue[];
export interface DecodedMessage {
  [field: string]: DecodedValue;
}

const MAX_DEPTH = 16;
const MAX_FIELDS = 10_000;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Fields read so far in the whole message tree (bounds work on adversarial input). */
interface Budget {
  fields: number;
}

function num(v: bigint): number | string {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/** Printable text: valid UTF-8 without control characters other than tab, CR and LF. */
function asText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return undefined;
  }
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if ((ch < 0x20 && ch !== 9 && ch !== 10 && ch !== 13) || ch === 0x7f) return undefined;
  }
  return text;
}

function decodeLength(bytes: Uint8Array, depth: number, c: Budget): DecodedValue {
  if (bytes.length === 0) return '';
  const text = asText(bytes);
  // A nested message usually starts with a tag below 0x20 (field 1..3, any wire type), which is
  // not printable; text that happens to parse as a message is still text.
  if (text !== undefined && bytes[0] >= 0x20) return text;
  if (depth < MAX_DEPTH) {
    const nested = decodeInto(bytes, depth + 1, c);
    if (nested !== undefined && Object.keys(nested).length > 0) return nested;
  }
  if (text !== undefined) return text;
  return `base64:${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`;
}

function add(msg: DecodedMessage, field: number, value: DecodedValue): void {
  const key = String(field);
  const prev = msg[key];
  if (prev === undefined) msg[key] = value;
  else if (Array.isArray(prev) && (prev as DecodedValue[] & { repeated?: true }).repeated) prev.push(value);
  else {
    const list = [prev, value] as DecodedValue[] & { repeated?: true };
    list.repeated = true;
    msg[key] = list;
  }
}

function decodeInto(b: Uint8Array, depth: number, budget: Budget): DecodedMessage | undefined {
  const msg: DecodedMessage = {};
  const reader = new WireReader(b);
  const cur: Budget = { fields: budget.fields };
  try {
    while (!reader.done) {
      if (++cur.fields > MAX_FIELDS) return undefined;
      const f = reader.next();
      if (f.wire === WIRE_LEN) add(msg, f.field, decodeLength(f.value, depth, cur));
      else add(msg, f.field, f.wire === WIRE_FIXED32 ? f.value : num(f.value));
    }
  } catch {
    // Not a message (a bad tag or length, a group): the caller shows the bytes instead.
    return undefined;
  }
  budget.fields = cur.fields;
  return msg;
}

/** The message as JSON values, or undefined when the bytes are not a protobuf message. */
export function decodeProtobuf(bytes: Uint8Array): DecodedMessage | undefined {
  try {
    return decodeInto(bytes, 0, { fields: 0 });
  } catch {
    return undefined;
  }
}
