/**
 * The HPACK Huffman code (RFC 7541 Appendix B) and its decoder.
 *
 * The code is canonical: within one code length, codes are consecutive in symbol order, and each
 * length starts where the previous one ended (shifted). So only the code length of each of the
 * 257 symbols (256 octets and EOS) is transcribed from the RFC; the codes themselves are
 * rebuilt from the lengths at load time (the tests check them against the RFC's printed codes).
 * Decoding walks the canonical code bit by bit: header strings are short and bounded by the
 * header block limit, so a table-driven decoder would buy little.
 */

/** Code length in bits of symbols 0..256 (256 = EOS), RFC 7541 Appendix B. */
// prettier-ignore
export const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  // 0-31: control octets
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  // 32-63: ' ' ! " # $ % & ' ( ) * + , - . /  0 1 2 3 4 5 6 7 8 9 : ; < = > ?
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  // 64-95: @ A-Z [ \ ] ^ _
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  // 96-127: ` a-z { | } ~ DEL
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  // 128-255
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  // 256: EOS
  30,
];

export const EOS = 256;
const MAX_LEN = 30;

/** Canonical codes (right-aligned) of symbols 0..256, and the tables the decoder walks. */
function build(): { codes: Uint32Array; firstCode: Int32Array; count: Int32Array; offset: Int32Array; sorted: Uint16Array } {
  const count = new Int32Array(MAX_LEN + 1);
  for (const len of HUFFMAN_CODE_LENGTHS) count[len]++;
  const firstCode = new Int32Array(MAX_LEN + 2);
  const offset = new Int32Array(MAX_LEN + 2);
  let code = 0;
  let pos = 0;
  for (let len = 1; len <= MAX_LEN; len++) {
    code = (code + count[len - 1]) << 1;
    firstCode[len] = code;
    offset[len] = pos;
    pos += count[len];
  }
  // Symbols ordered by (length, symbol): the canonical order.
  const sorted = new Uint16Array(HUFFMAN_CODE_LENGTHS.length);
  const next = Int32Array.from(offset);
  const codes = new Uint32Array(HUFFMAN_CODE_LENGTHS.length);
  for (let len = 1; len <= MAX_LEN; len++) {
    for (let sym = 0; sym < HUFFMAN_CODE_LENGTHS.length; sym++) {
      if (HUFFMAN_CODE_LENGTHS[sym] !== len) continue;
      codes[sym] = firstCode[len] + (next[len] - offset[len]);
      sorted[next[len]++] = sym;
    }
  }
  return { codes, firstCode, count, offset, sorted };
}

const TABLES = build();

/** The code of `symbol`, right-aligned, and its length: for tests and test-side encoders. */
export function huffmanCode(symbol: number): { code: number; length: number } {
  return { code: TABLES.codes[symbol], length: HUFFMAN_CODE_LENGTHS[symbol] };
}

export class HuffmanError extends Error {}

/**
 * Decode a Huffman-coded string literal into octets. Padding must be fewer than 8 bits and all
 * ones (a prefix of EOS); an EOS symbol inside the string is an error (RFC 7541 §5.2).
 */
export function huffmanDecode(input: Uint8Array): Uint8Array {
  const { firstCode, count, offset, sorted } = TABLES;
  // Every symbol is at least 5 bits, so the output is at most 8/5 of the input.
  const out = new Uint8Array(Math.ceil((input.length * 8) / 5));
  let n = 0;
  let code = 0;
  let len = 0;
  /** All bits of the symbol in progress are ones (a valid padding prefix so far). */
  let ones = true;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i];
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >> b) & 1;
      code = (code << 1) | bit;
      len++;
      if (bit === 0) ones = false;
      const idx = code - firstCode[len];
      if (idx >= 0 && idx < count[len]) {
        const sym = sorted[offset[len] + idx];
        if (sym === EOS) throw new HuffmanError('EOS symbol inside a Huffman-coded string');
        out[n++] = sym;
        code = 0;
        len = 0;
        ones = true;
      } else if (len >= MAX_LEN) {
        throw new HuffmanError('invalid Huffman code');
      }
    }
  }
  if (len > 7) throw new HuffmanError('Huffman padding longer than 7 bits');
  if (!ones) throw new HuffmanError('Huffman padding is not a prefix of EOS');
  return out.subarray(0, n);
}
