/**
 * HPACK (RFC 7541) header block decoder, one per connection direction.
 *
 * A capture cannot ask for a header block again: the decoder's dynamic table must follow the
 * encoder's exactly, block after block, or every later block on the connection decodes wrong.
 * So every block is decoded, in order, even when the stream it belongs to is not recorded, and
 * a decoding error is fatal for the direction (the caller stops observing the connection).
 *
 * Names and values are octets kept as latin1 strings (one char per octet), so sizes are their
 * lengths and nothing is lost to UTF-8 decoding.
 */
import { huffmanDecode, HuffmanError } from './hpack-huffman.ts';

export type HeaderField = [name: string, value: string];

/** RFC 7541 Appendix A. Index 0 is unused. */
// prettier-ignore
export const STATIC_TABLE: readonly HeaderField[] = [
  ['', ''],
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''],
  ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''],
  ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];

const STATIC_COUNT = STATIC_TABLE.length - 1;

/** SETTINGS_HEADER_TABLE_SIZE before any SETTINGS (RFC 9113 §6.5.2). */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;

/** Per-entry overhead in the table size accounting (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;

export interface HpackDecoderOptions {
  /**
   * Largest dynamic table this decoder agrees to hold, whatever the peer's SETTINGS allow:
   * a memory bound per connection direction. A size update above it is a decoding error.
   */
  maxTableSize?: number;
  /**
   * Dynamic table size in effect from the start (both the current size and the SETTINGS bound).
   * Default 4096, as HTTP/2 begins; RFC 7541's response examples start at 256.
   */
  initialTableSize?: number;
}

export const DEFAULT_MAX_TABLE_SIZE = 1024 * 1024;

export interface DecodedBlock {
  /** Fields in order, up to the kept limit. */
  fields: HeaderField[];
  /** Fields decoded but not kept (over the kept limit). */
  omitted: number;
  /** Names of fields sent as never-indexed (the encoder marked them sensitive). */
  neverIndexed: string[];
}

export type DecodeResult = { ok: true; block: DecodedBlock } | { ok: false; error: string };

class DecodeError extends Error {}

export class HpackDecoder {
  /** Entries oldest first; dynamic index 1 is the last one. */
  private entries: HeaderField[] = [];
  private size = 0;
  /** Current maximum size, as set by dynamic table size updates. */
  private capacity = DEFAULT_HEADER_TABLE_SIZE;
  /** Largest size update the peer's SETTINGS_HEADER_TABLE_SIZE allows (ever advertised). */
  private allowed = DEFAULT_HEADER_TABLE_SIZE;
  private readonly hardMax: number;

  constructor(options: HpackDecoderOptions = {}) {
    this.hardMax = options.maxTableSize ?? DEFAULT_MAX_TABLE_SIZE;
    if (options.initialTableSize !== undefined) {
      this.capacity = options.initialTableSize;
      this.allowed = options.initialTableSize;
    }
  }

  /**
   * The decoding side advertised SETTINGS_HEADER_TABLE_SIZE = `n`. The encoder may use any value
   * advertised so far (it may not have seen a later, smaller one yet when it encodes), so the
   * bound only grows; the encoder still has to announce every change with a size update.
   */
  allowTableSize(n: number): void {
    if (n > this.allowed) this.allowed = n;
  }

  get tableSize(): number {
    return this.size;
  }

  get tableCapacity(): number {
    return this.capacity;
  }

  /** Dynamic table, newest first (index 62 first): for tests and debugging. */
  tableEntries(): HeaderField[] {
    return this.entries.slice().reverse();
  }

  /**
   * Decode one complete header block. `keepBytes` bounds what is kept (name + value + 32 per
   * field): later fields are still decoded, so the table stays right, but only counted.
   */
  decode(block: Uint8Array, keepBytes = Number.POSITIVE_INFINITY): DecodeResult {
    try {
      return { ok: true, block: this.decodeBlock(block, keepBytes) };
    } catch (err) {
      if (err instanceof DecodeError || err instanceof HuffmanError) return { ok: false, error: `HPACK: ${err.message}` };
      throw err;
    }
  }

  private decodeBlock(buf: Uint8Array, keepBytes: number): DecodedBlock {
    const fields: HeaderField[] = [];
    const neverIndexed: string[] = [];
    let omitted = 0;
    let kept = 0;
    let pos = 0;
    let sawField = false;

    const int = (prefixBits: number): number => {
      if (pos >= buf.length) throw new DecodeError('header block ends inside an integer');
      const mask = (1 << prefixBits) - 1;
      let value = buf[pos++] & mask;
      if (value < mask) return value;
      let shift = 0;
      for (;;) {
        if (pos >= buf.length) throw new DecodeError('header block ends inside an integer');
        const b = buf[pos++];
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
        // Nothing legitimate needs more than 32 bits; longer continuations are an attack.
        if (shift > 28) throw new DecodeError('integer too large');
      }
      if (value > 0xffffffff) throw new DecodeError('integer too large');
      return value;
    };

    const str = (): string => {
      if (pos >= buf.length) throw new DecodeError('header block ends before a string');
      const huffman = (buf[pos] & 0x80) !== 0;
      const len = int(7);
      if (len > buf.length - pos) throw new DecodeError('string longer than the header block');
      const raw = buf.subarray(pos, pos + len);
      pos += len;
      const octets = huffman ? huffmanDecode(raw) : raw;
      return Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength).toString('latin1');
    };

    const field = (index: number): HeaderField => {
      if (index === 0) throw new DecodeError('index 0');
      if (index <= STATIC_COUNT) return STATIC_TABLE[index];
      const d = index - STATIC_COUNT;
      if (d > this.entries.length) throw new DecodeError(`index ${index} beyond the dynamic table (${this.entries.length} entries)`);
      return this.entries[this.entries.length - d];
    };

    const emit = (name: string, value: string): void => {
      const cost = name.length + value.length + ENTRY_OVERHEAD;
      if (omitted === 0 && kept + cost <= keepBytes) {
        fields.push([name, value]);
        kept += cost;
      } else {
        omitted++;
      }
    };

    while (pos < buf.length) {
      const b = buf[pos];
      if ((b & 0x80) !== 0) {
        // Indexed header field.
        const [name, value] = field(int(7));
        emit(name, value);
        sawField = true;
      } else if ((b & 0xc0) === 0x40) {
        // Literal with incremental indexing.
        const idx = int(6);
        const name = idx === 0 ? str() : field(idx)[0];
        const value = str();
        this.insert(name, value);
        emit(name, value);
        sawField = true;
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update: only before the first field of a block (RFC 7541 §4.2).
        if (sawField) throw new DecodeError('dynamic table size update after a header field');
        const n = int(5);
        if (n > this.allowed) throw new DecodeError(`dynamic table size update to ${n} above SETTINGS_HEADER_TABLE_SIZE ${this.allowed}`);
        if (n > this.hardMax) throw new DecodeError(`dynamic table size update to ${n} above the capture's limit ${this.hardMax}`);
        this.capacity = n;
        this.evict(0);
      } else {
        // Literal without indexing (0000) or never indexed (0001).
        const never = (b & 0x10) !== 0;
        const idx = int(4);
        const name = idx === 0 ? str() : field(idx)[0];
        const value = str();
        if (never) neverIndexed.push(name);
        emit(name, value);
        sawField = true;
      }
    }
    return { fields, omitted, neverIndexed };
  }

  private evict(room: number): void {
    while (this.entries.length > 0 && this.size + room > this.capacity) {
      const old = this.entries.shift() as HeaderField;
      this.size -= old[0].length + old[1].length + ENTRY_OVERHEAD;
    }
  }

  private insert(name: string, value: string): void {
    const cost = name.length + value.length + ENTRY_OVERHEAD;
    // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
    this.evict(cost);
    if (cost > this.capacity) return;
    this.entries.push([name, value]);
    this.size += cost;
  }
}
