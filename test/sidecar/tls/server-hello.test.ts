import fc from 'fast-check';
import t from 'tap';
import { cipherSuiteName, isGrease, versionName } from '../../../sidecar/tls/names.ts';
import { parseServerHello } from '../../../sidecar/tls/server-hello.ts';
import { handshakeRecord, recording, refragment } from './fixtures.ts';

const tls12 = recording('node-tls12-alpn').server;
const tls13 = recording('node-tls13-alpn').server;
const rejected = recording('openssl-tls12-unknown-ca');

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

function serverHelloBody(opts: { suite: number; version?: number; alpn?: string; random?: Buffer }): Buffer {
  const exts: Buffer[] = [];
  if (opts.version !== undefined) exts.push(u16(43), u16(2), u16(opts.version));
  if (opts.alpn !== undefined) {
    const n = Buffer.from(opts.alpn);
    exts.push(u16(16), u16(n.length + 3), u16(n.length + 1), Buffer.from([n.length]), n);
  }
  const ext = Buffer.concat(exts);
  return Buffer.concat([u16(0x0303), opts.random ?? Buffer.alloc(32, 1), Buffer.from([0]), u16(opts.suite), Buffer.from([0]), u16(ext.length), ext]);
}

void t.test('recorded server flights', async (t) => {
  t.same(parseServerHello(tls12), {
    ok: true, kind: 'server-hello', version: 'TLSv1.2', cipherSuite: 0xc02f,
    cipher: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', alpn: 'http/1.1', helloRetryRequest: false,
  });
  t.same(parseServerHello(tls13), {
    ok: true, kind: 'server-hello', version: 'TLSv1.3', cipherSuite: 0x1302, cipher: 'TLS_AES_256_GCM_SHA384', helloRetryRequest: false,
  }, 'TLS 1.3: no ALPN in clear');
  t.match(parseServerHello(rejected.server), { ok: true, kind: 'server-hello', version: 'TLSv1.2' });
});

void t.test('every prefix of the ServerHello is need-more', async (t) => {
  for (const [name, flight] of [['tls12', tls12], ['tls13', tls13]] as const) {
    // Record header (5) + handshake header (4) + the ServerHello's 24-bit length.
    const end = 9 + (flight.readUInt32BE(5) & 0xffffff);
    t.ok(end < flight.length, 'more follows the ServerHello');
    let wrong = 0;
    for (let i = 0; i < end; i++) {
      const r = parseServerHello(flight.subarray(0, i));
      if (r.ok || r.reason !== 'need-more') wrong++;
    }
    t.equal(wrong, 0, name);
    t.match(parseServerHello(flight.subarray(0, end)), { ok: true, kind: 'server-hello' }, `${name}: exactly the message`);
    t.same(parseServerHello(refragment(flight.subarray(0, 5 + flight.readUInt16BE(3)), 4)), parseServerHello(flight), `${name}: 4-byte records`);
  }
});

void t.test('plaintext alerts, named', async (t) => {
  // The client's alert in the recorded rejection: 21 3 3 0 2 | 2 48.
  const alertAt = rejected.client.indexOf(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02]));
  t.ok(alertAt > 0);
  t.same(parseServerHello(rejected.client.subarray(alertAt)), {
    ok: true, kind: 'alert', alert: { level: 'fatal', description: 48, name: 'unknown_ca' }, helloRetryRequest: false,
  });
  for (const [d, name] of [[40, 'handshake_failure'], [42, 'bad_certificate'], [70, 'protocol_version'], [120, 'no_application_protocol'], [200, 'alert_200']] as const) {
    t.match(parseServerHello(Buffer.from([0x15, 3, 3, 0, 2, 2, d])), { ok: true, kind: 'alert', alert: { name, description: d } });
  }
  t.match(parseServerHello(Buffer.from([0x15, 3, 3, 0, 2, 1, 0])), { alert: { level: 'warning', name: 'close_notify' } });
  t.match(parseServerHello(Buffer.from([0x15, 3, 3, 0, 2, 2])), { ok: false, reason: 'need-more' });
  t.match(parseServerHello(Buffer.from([0x15, 3, 3, 0, 26, ...Buffer.alloc(26)])), { ok: false, reason: 'malformed', detail: /encrypted/ });
});

void t.test('HelloRetryRequest, then the real ServerHello', async (t) => {
  const hrr = handshakeRecord(2, serverHelloBody({ suite: 0x1301, version: 0x0304, random: HRR_RANDOM }), 0x0303);
  const sh = handshakeRecord(2, serverHelloBody({ suite: 0x1303, version: 0x0304 }), 0x0303);
  const ccs = Buffer.from([0x14, 3, 3, 0, 1, 1]);
  t.match(parseServerHello(Buffer.concat([hrr, ccs])), { ok: false, reason: 'need-more' });
  t.same(parseServerHello(Buffer.concat([hrr, ccs, sh])), {
    ok: true, kind: 'server-hello', version: 'TLSv1.3', cipherSuite: 0x1303, cipher: 'TLS_CHACHA20_POLY1305_SHA256', helloRetryRequest: true,
  });
  t.match(parseServerHello(Buffer.concat([hrr, hrr])), { ok: false, reason: 'malformed', detail: /second HelloRetryRequest/ });
  t.match(parseServerHello(Buffer.concat([hrr, Buffer.from([0x15, 3, 3, 0, 2, 2, 47])])), { ok: true, kind: 'alert', helloRetryRequest: true });
});

void t.test('malformed and foreign server bytes', async (t) => {
  t.match(parseServerHello(Buffer.from('HTTP/1.1 400 Bad Request\r\n')), { ok: false, reason: 'not-tls' });
  t.match(parseServerHello(Buffer.from([0x17, 3, 3, 0, 1, 0])), { ok: false, reason: 'not-tls' });
  t.match(parseServerHello(Buffer.from([0x16, 9, 3, 0, 1, 0])), { ok: false, reason: 'not-tls' });
  t.match(parseServerHello(handshakeRecord(11, Buffer.alloc(8))), { ok: false, reason: 'malformed', detail: /type 11 before the ServerHello/ });
  t.match(parseServerHello(Buffer.from([0x14, 3, 3, 0, 1, 1])), { ok: false, reason: 'not-tls' });
  t.match(parseServerHello(handshakeRecord(2, Buffer.alloc(10))), { ok: false, reason: 'malformed', detail: /random/ });
  const twoAlpn = serverHelloBody({ suite: 0xc02f, alpn: 'h2' });
  twoAlpn[twoAlpn.length - 4] = 9; // list length no longer matches one name
  t.match(parseServerHello(handshakeRecord(2, twoAlpn)), { ok: false, reason: 'malformed', detail: /alpn/ });
  t.match(parseServerHello(handshakeRecord(2, serverHelloBody({ suite: 0xc030, alpn: 'h2' }))), { ok: true, alpn: 'h2', version: 'TLSv1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384' });
  t.match(parseServerHello(handshakeRecord(2, serverHelloBody({ suite: 0x1234 }))), { ok: true, cipher: '0x1234' });
  let bad = 0;
  const body = tls12.subarray(9, 9 + (tls12.readUInt32BE(5) & 0xffffff));
  for (let i = 0; i < body.length; i++) {
    const r = parseServerHello(handshakeRecord(2, body.subarray(0, i)));
    if (!r.ok && r.reason !== 'malformed') bad++;
  }
  t.equal(bad, 0, 'every truncated body is malformed (or a valid extension-less hello)');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => typeof parseServerHello(b).ok === 'boolean'), { numRuns: 3000 });
});

void t.test('names', async (t) => {
  t.equal(versionName(0x0304), 'TLSv1.3');
  t.equal(versionName(0x0301), 'TLSv1');
  t.equal(versionName(0x7f1c), '0x7f1c');
  t.equal(cipherSuiteName(0xcca9), 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256');
  t.same([0x0a0a, 0xfafa, 0x1a1a, 0x0a1a, 0x0304].map(isGrease), [true, true, true, false, false]);
});
