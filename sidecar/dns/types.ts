/** Names of DNS numbers: record types, classes, response codes, opcodes. */

/** The query types records name in `method`; any other is `TYPE<n>` (RFC 3597's form). */
const QUERY_TYPES: Readonly<Record<number, string>> = Object.freeze({
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  65: 'HTTPS',
});

export const TYPE = Object.freeze({ A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DNAME: 39, OPT: 41, SVCB: 64, HTTPS: 65 });

export function typeName(type: number): string {
  return QUERY_TYPES[type] ?? `TYPE${type}`;
}

/** In answer bodies the EDNS pseudo-record is named, since every modern answer carries one. */
export function recordTypeName(type: number): string {
  return type === TYPE.OPT ? 'OPT' : typeName(type);
}

const CLASSES: Readonly<Record<number, string>> = Object.freeze({ 1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY' });

export function className(cls: number): string {
  return CLASSES[cls] ?? `CLASS${cls}`;
}

const RCODES: readonly string[] = Object.freeze(['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED']);

export function rcodeName(rcode: number): string {
  return RCODES[rcode] ?? `RCODE${rcode}`;
}

const OPCODES: readonly string[] = Object.freeze(['QUERY', 'IQUERY', 'STATUS', 'OPCODE3', 'NOTIFY', 'UPDATE']);

export function opcodeName(opcode: number): string {
  return OPCODES[opcode] ?? `OPCODE${opcode}`;
}
