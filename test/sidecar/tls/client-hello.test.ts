import fc from 'fast-check';
import t from 'tap';
import { parseClientHello } from '../../../sidecar/tls/client-hello.ts';
import { alpnExt, clientHelloBody, firstRecord, handshakeRecord, recording, refragment, sniExt } from './fixtures.ts';

const tls12 = firstRecord(recording('node-tls12-alpn').client);
const tls13 = firstRecord(recording('node-tls13-alpn').client);
const openssl = firstRecord(recording('openssl-tls12-unknown-ca').client);

void t.test('recorded ClientHellos parse to what the clients offered', async (t) => {
  const a = parseClientHello(tls12);
  t.match(a, { ok: true, sni: 'api.example.test', alpn: ['h2', 'http/1.1'], versions: ['TLSv1.2'] });
  t.ok(a.ok && a.cipherSuites.includes(0xc02f), 'offers ECDHE-RSA-AES128-GCM');
  const b = parseClientHello(tls13);
  t.match(b, { ok: true, sni: 'api.example.test', alpn: ['h2', 'http/1.1'] });
  t.ok(b.ok && b.versions[0] === 'TLSv1.3' && b.versions.includes('TLSv1.2'), 'supported_versions, in order');
  t.ok(b.ok && b.cipherSuites.includes(0x1302));
  t.match(parseClientHello(openssl), { ok: true, sni: 'x.test', alpn: [], versions: ['TLSv1.2'] });
});

void t.test('trailing records after the ClientHello do not matter', async (t) => {
  const whole = recording('node-tls12-alpn').client;
  t.same(parseClientHello(whole), parseClientHello(tls12));
});

void t.test('every prefix is need-more, the whole is the same answer', async (t) => {
  for (const [name, rec] of [['tls12', tls12], ['tls13', tls13], ['openssl', openssl]] as const) {
    const full = parseClientHello(rec);
    let wrong = 0;
    for (let i = 0; i < rec.length; i++) {
      const r = parseClientHello(rec.subarray(0, i));
      if (r.ok || r.reason !== 'need-more') wrong++;
    }
    t.equal(wrong, 0, `${name}: no prefix parses or fails`);
    t.equal(full.ok, true, name);
  }
});

void t.test('a handshake message fragmented across many records', async (t) => {
  const want = parseClientHello(tls13);
  for (const size of [1, 2, 3, 7, 100, 512, 1000]) {
    const frag = refragment(tls13, size);
    t.same(parseClientHello(frag), want, `records of ${size} bytes`);
    t.match(parseClientHello(frag.subarray(0, frag.length - 1)), { ok: false, reason: 'need-more' }, `records of ${size}, cut`);
  }
  // Every prefix of a 3-byte-record framing (record header and handshake header split too).
  const small = refragment(tls12, 3);
  let wrong = 0;
  for (let i = 0; i < small.length; i++) {
    const r = parseClientHello(small.subarray(0, i));
    if (r.ok || r.reason !== 'need-more') wrong++;
  }
  t.equal(wrong, 0);
});

void t.test('not TLS', async (t) => {
  for (const s of ['GET / HTTP/1.1\r\n\r\n', 'PRI * HTTP/2.0\r\n', '\x80\x2e\x01\x00\x02', '\x16\x02\x00\x00\x05\x01']) {
    t.match(parseClientHello(Buffer.from(s, 'latin1')), { ok: false, reason: 'not-tls' }, JSON.stringify(s));
  }
  t.match(parseClientHello(Buffer.alloc(0)), { ok: false, reason: 'need-more' });
  t.match(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x50, 0x00])), { ok: false, reason: 'not-tls', detail: /length/ }, 'record too long');
});

void t.test('malformed hellos say why', async (t) => {
  const ok = (exts: Array<[number, Buffer]>) => parseClientHello(handshakeRecord(1, clientHelloBody(exts)));
  t.match(ok([[0, sniExt('a.test')], [16, alpnExt(['h2'])]]), { ok: true, sni: 'a.test', alpn: ['h2'], versions: ['TLSv1.2'] });
  t.match(ok([[43, Buffer.from([6, 0x3a, 0x3a, 0x03, 0x04, 0x03, 0x03])]]), { ok: true, versions: ['TLSv1.3', 'TLSv1.2'] }, 'GREASE dropped');
  t.match(ok([[0, sniExt('a\x01b')]]), { ok: false, reason: 'malformed', detail: /server_name/ });
  t.match(ok([[16, alpnExt(['h2', ''])]]), { ok: false, reason: 'malformed', detail: /alpn/ });
  t.match(ok([[16, Buffer.from([0, 5, 2, 0x68])]]), { ok: false, reason: 'malformed', detail: /alpn/ });
  t.match(ok([[16, alpnExt(['h2'])], [16, alpnExt(['h2'])]]), { ok: false, reason: 'malformed', detail: /duplicate/ });
  t.match(ok([[43, Buffer.from([3, 3, 4, 3])]]), { ok: false, reason: 'malformed', detail: /supported_versions/ });

  const body = clientHelloBody([[0, sniExt('a.test')]]);
  const badExtLen = Buffer.from(body);
  badExtLen.writeUInt16BE(body.readUInt16BE(43) + 1, 43); // after version, random, session id, 2 suites, compression
  t.match(parseClientHello(handshakeRecord(1, badExtLen)), { ok: false, reason: 'malformed', detail: /extensions length/ });
  t.match(parseClientHello(handshakeRecord(1, body.subarray(0, 20))), { ok: false, reason: 'malformed', detail: /random/ });
  t.match(parseClientHello(handshakeRecord(2, body)), { ok: false, reason: 'malformed', detail: /not a ClientHello/ });
  t.match(parseClientHello(Buffer.from([0x16, 3, 1, 0, 0, 0x16, 3, 1])), { ok: false, reason: 'malformed', detail: /empty handshake record/ });
  // An application-data record in the middle of a fragmented ClientHello.
  const frag = refragment(tls12, 50);
  const mixed = Buffer.concat([frag.subarray(0, 55), Buffer.from([0x17, 3, 3, 0, 1, 0]), frag.subarray(55)]);
  t.match(parseClientHello(mixed), { ok: false, reason: 'malformed', detail: /inside a fragmented handshake/ });
  // A handshake length beyond any sane hello.
  t.match(parseClientHello(Buffer.from([0x16, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff])), { ok: false, reason: 'malformed', detail: /exceeds/ });
});

void t.test('every truncation of the body (with honest lengths) is malformed, never a throw', async (t) => {
  const body = tls13.subarray(9);
  let bad = 0;
  for (let i = 0; i < body.length; i++) {
    const r = parseClientHello(handshakeRecord(1, body.subarray(0, i)));
    // A hello cut exactly before its extensions is a valid extension-less hello.
    if (r.ok === false && r.reason !== 'malformed') bad++;
  }
  t.equal(bad, 0);
});

void t.test('arbitrary bytes never throw', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      const r = parseClientHello(b);
      return typeof r.ok === 'boolean';
    }),
    { numRuns: 3000 },
  );
  // Mutations of a real hello: flip one byte anywhere.
  let threw = 0;
  for (let i = 0; i < tls12.length; i++) {
    const m = Buffer.from(tls12);
    m[i] ^= 0xff;
    try {
      parseClientHello(m);
    } catch {
      threw++;
    }
  }
  t.equal(threw, 0);
});
