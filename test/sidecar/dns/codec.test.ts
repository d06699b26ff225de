/**
 * The DNS decoder: hand-made messages for the edge cases (compression, pointer loops, labels
 * that need escaping, EDNS), property tests against dns-packet as the reference encoder, and
 * fuzzing: random and truncated bytes never throw and always give a value.
 */
import t from 'tap';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { decodeMessage, messageId } from '../../../sidecar/dns/codec.ts';
import { MAX_POINTER_JUMPS, readName } from '../../../sidecar/dns/names.ts';
import { ipv6Text } from '../../../sidecar/dns/rdata.ts';
import { renderAnswer, renderQuery } from '../../../sidecar/dns/render.ts';
import { className, rcodeName, typeName } from '../../../sidecar/dns/types.ts';

function header(id: number, flags: number, counts: [number, number, number, number]): number[] {
  return [id >> 8, id & 0xff, flags >> 8, flags & 0xff, ...counts.flatMap((c) => [c >> 8, c & 0xff])];
}

const label = (s: string) => [s.length, ...Buffer.from(s, 'latin1')];

void t.test('names: compression, escaping, limits, loops', async (t) => {
  // "www.example.com" at 12, then "mail" + pointer to "example.com" at 16.
  const bytes = Uint8Array.from([...header(1, 0, [0, 0, 0, 0]), ...label('www'), ...label('example'), ...label('com'), 0, ...label('mail'), 0xc0, 16]);
  t.same(readName(bytes, 12), { ok: true, name: 'www.example.com', next: 29 });
  t.same(readName(bytes, 29), { ok: true, name: 'mail.example.com', next: 36 }, 'a compressed name ends after its first pointer');
  t.same(readName(Uint8Array.from([0]), 0), { ok: true, name: '', next: 1 }, 'the root is empty');
  t.same(readName(Uint8Array.from([...label('a.b'), ...label('x\\y'), ...label('\u0000\u00ff '), 0]), 0), { ok: true, name: 'a\\.b.x\\\\y.\\000\\255\\032', next: 13 }, 'dots, backslashes and non-printables are escaped like dig');
  const self = Uint8Array.from([...header(1, 0, [0, 0, 0, 0]), 0xc0, 12]);
  t.match(readName(self, 12), { ok: false, error: /does not point backwards/ }, 'a pointer to itself');
  const forward = Uint8Array.from([...header(1, 0, [0, 0, 0, 0]), 0xc0, 14, 0]);
  t.match(readName(forward, 12), { ok: false, error: /does not point backwards/ }, 'a pointer forwards');
  // Two names pointing at each other: the backwards rule ends it at the second hop.
  const loop = Uint8Array.from([...label('a'), 0xc0, 4, ...label('b'), 0xc0, 0]);
  t.match(readName(loop, 4), { ok: false, error: /does not point backwards/ }, 'a pointer loop');
  // A long backwards chain of pointers with no labels.
  const chain: number[] = [0];
  for (let i = 1; i <= MAX_POINTER_JUMPS + 5; i++) chain.push(0xc0, i === 1 ? 0 : 1 + (i - 2) * 2);
  t.match(readName(Uint8Array.from(chain), chain.length - 2), { ok: false, error: /more than 64 compression pointers/ }, 'chains are capped');
  const long = Uint8Array.from([...Array.from({ length: 5 }, () => label('x'.repeat(63))).flat(), 0]);
  t.match(readName(long, 0), { ok: false, error: /longer than 255 bytes/ });
  t.match(readName(Uint8Array.from([0x40, 0]), 0), { ok: false, error: /unsupported label type 0x40/ });
  t.match(readName(Uint8Array.from([3, 0x61]), 0), { ok: false, error: /label runs past the end/ });
  t.match(readName(Uint8Array.from([0xc0]), 0), { ok: false, error: /pointer cut short/ });
  t.match(readName(Uint8Array.from([1, 0x61]), 0), { ok: false, error: /runs past the end of the message/ });
});

void t.test('names of numbers', async (t) => {
  t.same([1, 28, 33, 12, 16, 5, 15, 2, 6, 65].map(typeName), ['A', 'AAAA', 'SRV', 'PTR', 'TXT', 'CNAME', 'MX', 'NS', 'SOA', 'HTTPS']);
  t.equal(typeName(64), 'TYPE64');
  t.equal(typeName(255), 'TYPE255');
  t.same([0, 1, 2, 3, 4, 5, 6, 23].map(rcodeName), ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'RCODE6', 'RCODE23']);
  t.same([1, 3, 255, 7].map(className), ['IN', 'CH', 'ANY', 'CLASS7']);
  const v6 = (s: string) => ipv6Text(Uint8Array.from(Buffer.from(s.replace(/:/g, ''), 'hex')), 0);
  t.equal(v6('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
  t.equal(v6('0000:0000:0000:0000:0000:0000:0000:0000'), '::');
  t.equal(v6('2001:0db8:0000:0001:0000:0000:0000:0001'), '2001:db8:0:1::1', 'the longest zero run is compressed');
  t.equal(v6('2001:0db8:0001:0001:0001:0001:0000:0001'), '2001:db8:1:1:1:1:0:1', 'a single zero group is not');
  t.equal(v6('0000:0000:0001:0000:0000:0000:0000:0000'), '0:0:1::');
});

void t.test('a whole answer, with every rendered type and EDNS', async (t) => {
  const packet = dnsPacket.encode({
    type: 'response',
    id: 0xbeef,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | 3,
    questions: [{ name: 'Example.COM', type: 'A', class: 'IN' }],
    answers: [
      { name: 'example.com', type: 'A', ttl: 60, data: '93.184.216.34' },
      { name: 'example.com', type: 'AAAA', ttl: 61, data: '2606:2800:220:1:248:1893:25c8:1946' },
      { name: 'example.com', type: 'MX', ttl: 62, data: { preference: 5, exchange: 'mx.example.com' } },
      { name: '_x._tcp.example.com', type: 'SRV', ttl: 63, data: { priority: 1, weight: 2, port: 443, target: 'a.example.com' } },
      { name: 'example.com', type: 'TXT', ttl: 64, data: ['a "quoted" text', Buffer.from([1, 2])] },
      { name: 'www.example.com', type: 'CNAME', ttl: 65, data: 'example.com' },
      { name: '4.3.2.1.in-addr.arpa', type: 'PTR', ttl: 66, data: 'host.example.com' },
      { name: 'example.com', type: 'CAA', ttl: 67, data: { flags: 0, tag: 'issue', value: 'ca.example' } },
    ],
    authorities: [
      { name: 'example.com', type: 'NS', ttl: 70, data: 'ns1.example.com' },
      { name: 'example.com', type: 'SOA', ttl: 71, data: { mname: 'ns1.example.com', rname: 'hostmaster.example.com', serial: 2026120401, refresh: 7200, retry: 900, expire: 1209600, minimum: 300 } },
    ],
    additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: dnsPacket.DNSSEC_OK, options: [] } as unknown as dnsPacket.Answer],
  });
  const result = decodeMessage(packet);
  if (!result.ok) throw new Error(result.error);
  const m = result.message;
  t.equal(m.id, 0xbeef);
  t.equal(messageId(packet), 0xbeef);
  t.same([m.flags.qr, m.flags.aa, m.flags.tc, m.flags.rd, m.flags.ra], [true, true, false, true, true]);
  t.equal(m.rcode, 3);
  const body = JSON.parse(renderAnswer(m)) as { rcode: string; answers: { type: string; data: unknown; ttl: number }[]; authority: { data: unknown }[]; additional: Record<string, unknown>[] };
  t.equal(body.rcode, 'NXDOMAIN');
  t.same(
    body.answers.map((a) => [a.type, a.ttl, a.data]),
    [
      ['A', 60, '93.184.216.34'],
      ['AAAA', 61, '2606:2800:220:1:248:1893:25c8:1946'],
      ['MX', 62, { preference: 5, exchange: 'mx.example.com' }],
      ['SRV', 63, { priority: 1, weight: 2, port: 443, target: 'a.example.com' }],
      ['TXT', 64, ['a \\"quoted\\" text', '\\001\\002']],
      ['CNAME', 65, 'example.com'],
      ['PTR', 66, 'host.example.com'],
      ['TYPE257', 67, '0005697373756563612e6578616d706c65'],
    ],
    'addresses, names, MX, SRV, TXT readable; unknown types as hex',
  );
  t.same(body.authority.map((a) => a.data), [
    'ns1.example.com',
    { mname: 'ns1.example.com', rname: 'hostmaster.example.com', serial: 2026120401, refresh: 7200, retry: 900, expire: 1209600, minimum: 300 },
  ]);
  t.same(body.additional, [{ name: '.', type: 'OPT', udp_payload_size: 1232, extended_rcode: 0, version: 0, do: true, options: '' }]);
  const q = decodeMessage(dnsPacket.encode({ type: 'query', id: 9, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'a.b', type: 'SRV', class: 'IN' }] }));
  if (!q.ok) throw new Error(q.error);
  t.same(JSON.parse(renderQuery(q.message, 'tcp')), { id: 9, transport: 'tcp', opcode: 'QUERY', questions: [{ name: 'a.b', type: 'SRV', class: 'IN' }], flags: { rd: true, ad: false, cd: false } });
});

void t.test('HTTPS and SVCB: priority, target and the parameters as hex', async (t) => {
  // HTTPS 1 . alpn=h2: priority 1, root target, key 1 (alpn) length 3, "\x02h2".
  const rdata = [0, 1, 0, 0, 1, 0, 3, 2, 0x68, 0x32];
  const bytes = Uint8Array.from([...header(5, 0x8180, [1, 1, 0, 0]), ...label('svc'), 0, 0, 65, 0, 1, 0xc0, 12, 0, 65, 0, 1, 0, 0, 0, 30, 0, rdata.length, ...rdata]);
  const r = decodeMessage(bytes);
  if (!r.ok) throw new Error(r.error);
  t.equal(typeName(r.message.questions[0].type), 'HTTPS');
  t.same(r.message.answers[0].data, { priority: 1, target: '.', params: '000100030268' + '32' });
});

void t.test('malformed messages are values, not exceptions', async (t) => {
  t.match(decodeMessage(new Uint8Array(5)), { ok: false, error: /shorter than the 12-byte header/ });
  t.equal(messageId(new Uint8Array(1)), undefined);
  t.match(decodeMessage(Uint8Array.from(header(1, 0, [1, 0, 0, 0]))), { ok: false, error: /question 0/ }, 'a count the bytes do not hold');
  t.match(decodeMessage(Uint8Array.from([...header(1, 0, [0, 1, 0, 0]), 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 9, 1])), { ok: false, error: /answer 0: data of 9 bytes runs past the end/ });
  t.match(decodeMessage(Uint8Array.from([...header(1, 0, [0xffff, 0xffff, 0xffff, 0xffff])])), { ok: false }, 'huge counts end at the bytes');
  // A record whose data is malformed for its type falls back to hex.
  const badA = decodeMessage(Uint8Array.from([...header(1, 0x8000, [0, 1, 0, 0]), 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3]));
  t.match(badA, { ok: true, message: { answers: [{ data: '010203' }] } });
  t.ok(decodeMessage(Uint8Array.from([...header(1, 0, [0, 0, 0, 0]), 0xde, 0xad])).ok, 'trailing bytes are tolerated');
});

// ---------------------------------------------------------------------------------------------
// Properties against dns-packet

const labelArb = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
const nameArb = fc.array(labelArb, { minLength: 1, maxLength: 5 }).map((l) => l.join('.'));
const ipv4Arb = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const ttlArb = fc.nat(2 ** 31 - 1);
const answerArb = fc.oneof(
  fc.record({ name: nameArb, type: fc.constant('A' as const), ttl: ttlArb, data: ipv4Arb }),
  fc.record({ name: nameArb, type: fc.constant('AAAA' as const), ttl: ttlArb, data: fc.ipV6() }),
  fc.record({ name: nameArb, type: fc.constant('CNAME' as const), ttl: ttlArb, data: nameArb }),
  fc.record({ name: nameArb, type: fc.constant('NS' as const), ttl: ttlArb, data: nameArb }),
  fc.record({ name: nameArb, type: fc.constant('PTR' as const), ttl: ttlArb, data: nameArb }),
  fc.record({ name: nameArb, type: fc.constant('MX' as const), ttl: ttlArb, data: fc.record({ preference: fc.nat(65535), exchange: nameArb }) }),
  fc.record({
    name: nameArb,
    type: fc.constant('SRV' as const),
    ttl: ttlArb,
    data: fc.record({ priority: fc.nat(65535), weight: fc.nat(65535), port: fc.nat(65535), target: nameArb }),
  }),
  fc.record({ name: nameArb, type: fc.constant('TXT' as const), ttl: ttlArb, data: fc.array(fc.stringMatching(/^[a-zA-Z0-9 =.-]{0,40}$/), { minLength: 1, maxLength: 3 }) }),
);
const packetArb = fc.record({
  id: fc.nat(65535),
  rcode: fc.nat(5),
  aa: fc.boolean(),
  tc: fc.boolean(),
  rd: fc.boolean(),
  ra: fc.boolean(),
  // dns-packet 5 has no name for HTTPS (65): the hand-made tests above cover it.
  questions: fc.array(fc.record({ name: nameArb, type: fc.constantFrom('A', 'AAAA', 'MX', 'SRV', 'TXT', 'PTR', 'NS', 'SOA', 'CNAME') }), { minLength: 1, maxLength: 2 }),
  answers: fc.array(answerArb, { maxLength: 6 }),
  authorities: fc.array(answerArb, { maxLength: 2 }),
});

/** What dns-packet decoded, with IPv6 in RFC 5952 text (the WHATWG URL parser's canonical form). */
function expectedData(a: { type: string; data?: unknown }): unknown {
  if (a.type === 'AAAA') return new URL(`http://[${a.data as string}]/`).hostname.slice(1, -1);
  if (a.type === 'TXT') return (a.data as Buffer[]).map((b) => b.toString('latin1'));
  return a.data;
}

void t.test('property: what dns-packet encodes decodes to the same fields', async (t) => {
  fc.assert(
    fc.property(packetArb, (p) => {
      const flags = (p.aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | (p.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) | (p.rd ? dnsPacket.RECURSION_DESIRED : 0) | (p.ra ? dnsPacket.RECURSION_AVAILABLE : 0) | p.rcode;
      // dns-packet turns TXT strings into buffers in place: encode a copy.
      const copy = structuredClone(p);
      const bytes = dnsPacket.encode({
        type: 'response',
        id: p.id,
        flags,
        questions: copy.questions.map((q) => ({ ...q, type: q.type as 'A', class: 'IN' as const })),
        answers: copy.answers as dnsPacket.Answer[],
        authorities: copy.authorities as dnsPacket.Answer[],
      });
      const r = decodeMessage(bytes);
      if (!r.ok) throw new Error(r.error);
      const m = r.message;
      const reference = dnsPacket.decode(bytes);
      t.equal(m.id, reference.id);
      const same =
        m.id === p.id &&
        m.rcode === p.rcode &&
        m.flags.qr &&
        m.flags.aa === p.aa &&
        m.flags.tc === p.tc &&
        m.flags.rd === p.rd &&
        m.flags.ra === p.ra &&
        JSON.stringify(m.questions.map((q) => [q.name, typeName(q.type), className(q.class)])) === JSON.stringify(p.questions.map((q) => [q.name, q.type, 'IN'])) &&
        JSON.stringify(m.answers.map((a) => [a.name, typeName(a.type), a.ttl, a.data])) === JSON.stringify(reference.answers!.map((a) => [a.name, a.type, (a as { ttl?: number }).ttl, expectedData(a as { type: string; data?: unknown })])) &&
        JSON.stringify(m.authority.map((a) => [a.name, typeName(a.type), a.ttl, a.data])) === JSON.stringify(reference.authorities!.map((a) => [a.name, a.type, (a as { ttl?: number }).ttl, expectedData(a as { type: string; data?: unknown })])) &&
        m.answers.length === p.answers.length;
      if (!same) throw new Error(`mismatch: ${JSON.stringify({ decoded: m, input: p })}`);
    }),
    { numRuns: 300 },
  );
  t.pass('300 random packets decode to what was encoded');
});

// ---------------------------------------------------------------------------------------------
// Fuzzing

void t.test('fuzz: random bytes never throw', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const r = decodeMessage(bytes);
      return typeof r.ok === 'boolean' && (r.ok || typeof r.error === 'string');
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 random inputs');
});

void t.test('fuzz: every truncation and random corruption of real packets never throws', async (t) => {
  fc.assert(
    fc.property(packetArb, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), (p, flips) => {
      const bytes = Uint8Array.from(
        dnsPacket.encode({ type: 'response', id: p.id, questions: p.questions.map((q) => ({ ...q, type: q.type as 'A' })), answers: p.answers as dnsPacket.Answer[] }),
      );
      for (let cut = 0; cut <= bytes.length; cut++) decodeMessage(bytes.subarray(0, cut));
      // Flipped bytes land in names, pointers and lengths alike.
      const corrupt = Uint8Array.from(bytes);
      for (const [at, value] of flips) corrupt[at % corrupt.length] = value;
      const r = decodeMessage(corrupt);
      if (r.ok) JSON.parse(renderAnswer(r.message));
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('every prefix and corruption of 300 packets');
});
