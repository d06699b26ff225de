/**
 * The protobuf wire format's fields, one at a time: what both the schema-less decoding and the
 * descriptor parsing walk. Throws on malformed input (callers catch and fall back).
 */

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

export type WireField =
  | { field: number; wire: 0; value: bigint }
  | { field: number; wire: 1; value: bigint }
  | { field: number; wire: 2; value: Uint8Array }
  | { field: number; wire: 5; value: number };

export class WireReader {
  private pos = 0;
  private readonly b: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.b = bytes;
  }

  get done(): boolean {
    return this.pos >= this.b.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.b.length) throw new Error('varint past the end');
      const byte = this.b[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
    throw new Error('varint longer than 10 bytes');
  }

  private take(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.b.length) throw new Error('field past the end');
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  next(): WireField {
    const tag = this.varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field < 1 || field > 536_870_911) throw new Error(`field number ${field}`);
    switch (wire) {
      case WIRE_VARINT:
        return { field, wire, value: this.varint() };
      case WIRE_FIXED64: {
        const v = this.take(8);
        return { field, wire, value: Buffer.from(v.buffer, v.byteOffset, 8).readBigUInt64LE(0) };
      }
      case WIRE_LEN: {
        const len = this.varint();
        if (len > BigInt(this.b.length)) throw new Error('length past the end');
        return { field, wire, value: this.take(Number(len)) };
      }
      case WIRE_FIXED32: {
        const v = this.take(4);
        return { field, wire, value: Buffer.from(v.buffer, v.byteOffset, 4).readUInt32LE(0) };
      }
      default:
        throw new Error(`wire type ${wire}`);
    }
  }
}

export const utf8 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
