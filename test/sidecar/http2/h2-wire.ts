/**
 * Test-side HTTP/2 bytes: a tiny HPACK encoder (with its own dynamic table, so tests can make
 * blocks that depend on earlier ones) and frame builders. Written for tests only; the session
 * never uses it.
 */
import { CLIENT_PREFACE, FLAG, FRAME } from '../../../sidecar/http2/constants.ts';
import { huffmanCode } from '../../../sidecar/http2/hpack-huffman.ts';
import { STATIC_TABLE, type HeaderField } from '../../../sidecar/http2/hpack.ts';

export const PREFACE = Buffer.from(CLIENT_PREFACE);

export function hpackInt(value: number, prefixBits: number, firstByteFlags: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByteFlags | value];
  const out = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

export function huffmanEncode(octets: Uint8Array): Buffer {
  const out: number[] = [];
  let acc = 0n;
  let bits = 0;
  for (const o of octets) {
    const { code, length } = huffmanCode(o);
    acc = (acc << BigInt(length)) | BigInt(code);
    bits += length;
    while (bits >= 8) {
      bits -= 8;
      out.push(Number((acc >> BigInt(bits)) & 0xffn));
    }
    acc &= (1n << BigInt(bits)) - 1n;
  }
  if (bits > 0) out.push(Number(((acc << BigInt(8 - bits)) | ((1n << BigInt(8 - bits)) - 1n)) & 0xffn));
  return Buffer.from(out);
}

export function hpackString(s: string, huffman: boolean): number[] {
  const raw = Buffer.from(s, 'latin1');
  if (!huffman) return [...hpackInt(raw.length, 7, 0), ...raw];
  const h = huffmanEncode(raw);
  return [...hpackInt(h.length, 7, 0x80), ...h];
}

export type Indexing = 'incremental' | 'none' | 'never';

export interface EncodeOptions {
  huffman?: boolean;
  indexing?: Indexing;
  /** Emit a dynamic table size update first. */
  sizeUpdate?: number;
}

/** An HPACK encoder that mirrors its dynamic table (to use indexed references). */
export class TestHpackEncoder {
  private table: HeaderField[] = [];
  private size = 0;
  private capacity = 4096;

  encode(fields: readonly HeaderField[], options: EncodeOptions = {}): Buffer {
    const huffman = options.huffman ?? false;
    const indexing = options.indexing ?? 'incremental';
    const out: number[] = [];
    if (options.sizeUpdate !== undefined) {
      out.push(...hpackInt(options.sizeUpdate, 5, 0x20));
      this.capacity = options.sizeUpdate;
      this.evict(0);
    }
    for (const [name, value] of fields) {
      const full = this.find((n, v) => n === name && v === value);
      if (full !== 0) {
        out.push(...hpackInt(full, 7, 0x80));
        continue;
      }
      const nameIdx = this.find((n) => n === name);
      const [prefix, flags] = indexing === 'incremental' ? [6, 0x40] : indexing === 'never' ? [4, 0x10] : [4, 0];
      out.push(...hpackInt(nameIdx, prefix, flags));
      if (nameIdx === 0) out.push(...hpackString(name, huffman));
      out.push(...hpackString(value, huffman));
      if (indexing === 'incremental') this.insert(name, value);
    }
    return Buffer.from(out);
  }

  private find(match: (name: string, value: string) => boolean): number {
    for (let i = 1; i < STATIC_TABLE.length; i++) if (match(STATIC_TABLE[i][0], STATIC_TABLE[i][1])) return i;
    for (let d = 1; d <= this.table.length; d++) {
      const [n, v] = this.table[this.table.length - d];
      if (match(n, v)) return STATIC_TABLE.length - 1 + d;
    }
    return 0;
  }

  private evict(room: number): void {
    while (this.table.length > 0 && this.size + room > this.capacity) {
      const [n, v] = this.table.shift() as HeaderField;
      this.size -= n.length + v.length + 32;
    }
  }

  private insert(name: string, value: string): void {
    const cost = name.length + value.length + 32;
    this.evict(cost);
    if (cost > this.capacity) return;
    this.table.push([name, value]);
    this.size += cost;
  }
}

export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

export function settings(entries: Array<[number, number]> = []): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, 0, 0, p);
}

export const settingsAck = (): Buffer => frame(FRAME.SETTINGS, FLAG.ACK, 0);

export interface HeadersOptions {
  endStream?: boolean;
  /** Split the block: HEADERS carries the first `split` bytes, CONTINUATION frames the rest (in pieces of `split`). */
  split?: number;
  pad?: number;
  priority?: boolean;
}

function padded(content: Uint8Array, pad: number | undefined, prefix: Uint8Array = Buffer.alloc(0)): { flags: number; payload: Buffer } {
  if (pad === undefined) return { flags: 0, payload: Buffer.concat([prefix, content]) };
  return { flags: FLAG.PADDED, payload: Buffer.concat([Buffer.from([pad]), prefix, content, Buffer.alloc(pad, 0)]) };
}

export function headers(streamId: number, block: Uint8Array, o: HeadersOptions = {}): Buffer {
  const pieces: Uint8Array[] = [];
  if (o.split === undefined) pieces.push(block);
  else for (let i = 0; i < Math.max(1, block.length); i += o.split) pieces.push(block.subarray(i, i + o.split));
  const prio = o.priority === true ? Buffer.from([0x80, 0, 0, 3, 15]) : Buffer.alloc(0);
  const first = padded(pieces[0], o.pad, prio);
  let flags = first.flags | (o.endStream === true ? FLAG.END_STREAM : 0) | (o.priority === true ? FLAG.PRIORITY : 0);
  if (pieces.length === 1) flags |= FLAG.END_HEADERS;
  const out = [frame(FRAME.HEADERS, flags, streamId, first.payload)];
  for (let i = 1; i < pieces.length; i++) out.push(frame(FRAME.CONTINUATION, i === pieces.length - 1 ? FLAG.END_HEADERS : 0, streamId, pieces[i]));
  return Buffer.concat(out);
}

export function data(streamId: number, payload: Uint8Array | string, o: { endStream?: boolean; pad?: number } = {}): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const p = padded(body, o.pad);
  return frame(FRAME.DATA, p.flags | (o.endStream === true ? FLAG.END_STREAM : 0), streamId, p.payload);
}

export function rstStream(streamId: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, p);
}

export function goaway(lastStreamId: number, code: number, debug = ''): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastStreamId, 0);
  p.writeUInt32BE(code, 4);
  return frame(FRAME.GOAWAY, 0, 0, Buffer.concat([p, Buffer.from(debug)]));
}

export function pushPromise(streamId: number, promised: number, block: Uint8Array, pad?: number): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(promised);
  const p = padded(block, pad, id);
  return frame(FRAME.PUSH_PROMISE, p.flags | FLAG.END_HEADERS, streamId, p.payload);
}

export const ping = (ack = false): Buffer => frame(FRAME.PING, ack ? FLAG.ACK : 0, 0, Buffer.alloc(8, 7));

export function windowUpdate(streamId: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment);
  return frame(FRAME.WINDOW_UPDATE, 0, streamId, p);
}

export function priority(streamId: number): Buffer {
  return frame(FRAME.PRIORITY, 0, streamId, Buffer.from([0, 0, 0, 0, 16]));
}

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
