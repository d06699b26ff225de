/**
 * Domain names on the wire (RFC 1035 §4.1.4): labels, and compression pointers that may only
 * point backwards. A hostile message can chain pointers or loop them; every read here is
 * bounds-checked and a name costs at most `MAX_NAME_BYTES` of output and `MAX_POINTER_JUMPS`
 * jumps, so decoding any message is linear in its size and never throws.
 */

/** The longest name the wire format allows (RFC 1035 §3.1), in wire bytes. */
export const MAX_NAME_BYTES = 255;
/** More than any honest encoder needs (a name has at most 127 labels); stops pointer chains. */
export const MAX_POINTER_JUMPS = 64;

export type NameResult = { readonly ok: true; readonly name: string; readonly next: number } | { readonly ok: false; readonly error: string };

/**
 * A label as people read it (dig's presentation format): letters, digits, `-` and `_` as they
 * are, `.` and `\` escaped, any other byte as `\DDD`, so no byte sequence renders ambiguously.
 */
function labelText(bytes: Uint8Array, start: number, length: number): string {
  let out = '';
  for (let i = start; i < start + length; i++) {
    const b = bytes[i];
    if (b === 0x2e || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b > 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${String(b).padStart(3, '0')}`;
  }
  return out;
}

/**
 * Reads the name at `offset`. `next` is where the data after the name starts (after the first
 * pointer, if the name was compressed). The root is `""`; other names have no trailing dot.
 */
export function readName(bytes: Uint8Array, offset: number): NameResult {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let wireBytes = 0;
  let jumps = 0;
  // Every pointer must point before the lowest position read so far: chains can only go
  // backwards, so a loop is impossible even before the jump limit.
  let lowest = offset;
  for (;;) {
    if (pos >= bytes.length) return { ok: false, error: `name at ${offset} runs past the end of the message` };
    const len = bytes[pos];
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= bytes.length) return { ok: false, error: `name at ${offset}: compression pointer cut short` };
      const target = ((len & 0x3f) << 8) | bytes[pos + 1];
      if (target >= lowest) return { ok: false, error: `name at ${offset}: compression pointer to ${target} does not point backwards` };
      if (++jumps > MAX_POINTER_JUMPS) return { ok: false, error: `name at ${offset}: more than ${MAX_POINTER_JUMPS} compression pointers` };
      if (next < 0) next = pos + 2;
      lowest = target;
      pos = target;
      continue;
    }
    if (kind !== 0) return { ok: false, error: `name at ${offset}: unsupported label type 0x${kind.toString(16)}` };
    wireBytes += len + 1;
    if (wireBytes > MAX_NAME_BYTES) return { ok: false, error: `name at ${offset} is longer than ${MAX_NAME_BYTES} bytes` };
    if (len === 0) {
      return { ok: true, name: labels.join('.'), next: next < 0 ? pos + 1 : next };
    }
    if (pos + 1 + len > bytes.length) return { ok: false, error: `name at ${offset}: label runs past the end of the message` };
    labels.push(labelText(bytes, pos + 1, len));
    pos += 1 + len;
  }
}
