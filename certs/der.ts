/**
 * The few DER encodings a PKCS#10 request needs (X.690): built with Node's Buffer, so the
 * sidecar makes its CSR without loading an ASN.1 library.
 */

/** A tag, its definite length and the content. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.byteLength;
  let head: number[];
  if (n < 0x80) head = [tag, n];
  else {
    const bytes: number[] = [];
    for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
    head = [tag, 0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from(head), content]);
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Uint8Array[]): Buffer => tlv(0x31, Buffer.concat(items));
/** `[n]` constructed, context-specific (IMPLICIT over a SET or SEQUENCE). */
export const contextConstructed = (n: number, ...items: Uint8Array[]): Buffer => tlv(0xa0 | n, Buffer.concat(items));
export const utf8String = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);
/** A bit string of whole bytes (no unused bits). */
export const bitString = (bytes: Uint8Array): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), bytes]));

/** A non-negative integer below 2^31. */
export function smallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** 31) throw new RangeError(`smallInteger: ${value} is out of range`);
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  // A leading 1 bit would read as negative.
  if (bytes.length === 0 || bytes[0] >= 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

/** An object identifier from its dotted form (`1.2.840.113549.1.1.11`). */
export function objectId(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new RangeError(`objectId: ${dotted} is not dotted decimal`);
    return Number(a);
  });
  if (arcs.length < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40)) throw new RangeError(`objectId: ${dotted} is not an object identifier`);
  const out: number[] = [];
  const arc = (value: number): void => {
    const groups = [value & 0x7f];
    for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) groups.unshift(0x80 | (rest & 0x7f));
    out.push(...groups);
  };
  arc(arcs[0] * 40 + arcs[1]);
  for (const a of arcs.slice(2)) arc(a);
  return tlv(0x06, Buffer.from(out));
}

/** PEM armour around DER, 64 characters a line, LF line ends (as OpenSSL writes it). */
export function pem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
