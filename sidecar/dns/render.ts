/**
 * The readable JSON bodies of a DNS record: the question (`request.body`) and the answer
 * (`response.body`). Types, classes and rcodes by name; record data as `rdata.ts` renders it.
 */
import type { DnsFlags, DnsMessage, DnsRecord } from './codec.ts';
import { TYPE, className, opcodeName, rcodeName, recordTypeName, typeName } from './types.ts';

export type DnsTransport = 'udp' | 'tcp';

function setFlags(flags: DnsFlags, names: readonly (keyof DnsFlags)[]): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const name of names) out[name] = flags[name] === true;
  return out;
}

function renderRecord(r: DnsRecord): Record<string, unknown> {
  if (r.type === TYPE.OPT) {
    // EDNS: class and ttl are not a class and a ttl (RFC 6891 §6.1.3).
    return {
      name: r.name === '' ? '.' : r.name,
      type: 'OPT',
      udp_payload_size: r.class,
      extended_rcode: r.ttl >>> 24,
      version: (r.ttl >>> 16) & 0xff,
      do: (r.ttl & 0x8000) !== 0,
      options: r.data,
    };
  }
  return { name: r.name === '' ? '.' : r.name, type: recordTypeName(r.type), class: className(r.class), ttl: r.ttl, data: r.data };
}

export function renderQuery(message: DnsMessage, transport: DnsTransport): string {
  const body: Record<string, unknown> = {
    id: message.id,
    transport,
    opcode: opcodeName(message.flags.opcode),
    questions: message.questions.map((q) => ({ name: q.name === '' ? '.' : q.name, type: typeName(q.type), class: className(q.class) })),
    flags: setFlags(message.flags, ['rd', 'ad', 'cd']),
  };
  if (message.additional.length > 0) body.additional = message.additional.map(renderRecord);
  return JSON.stringify(body);
}

export function renderAnswer(message: DnsMessage): string {
  return JSON.stringify({
    id: message.id,
    rcode: rcodeName(message.rcode),
    flags: setFlags(message.flags, ['aa', 'tc', 'rd', 'ra', 'ad', 'cd']),
    answers: message.answers.map(renderRecord),
    authority: message.authority.map(renderRecord),
    additional: message.additional.map(renderRecord),
  });
}
