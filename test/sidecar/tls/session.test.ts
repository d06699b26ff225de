import t from 'tap';
import type { CaptureEvent, Exchange } from '../../../sidecar/capture/session.ts';
import { createAppTlsSession } from '../../../sidecar/tls/session.ts';
import { firstRecord, handshakeRecord, recording, type Recording } from './fixtures.ts';
import { type Capture, nodeClient, opensslClient, selfSigned, startRelay, startTlsServer } from './helpers.ts';

const SNI = 'api.example.test';
const ALPN = ['h2', 'http/1.1'];

function bytesOf(c: Capture): { out: number; in: number } {
  return { out: c.clientChunks.reduce((n, b) => n + b.length, 0), in: c.serverChunks.reduce((n, b) => n + b.length, 0) };
}

/** Replays a transcript into a fresh session on a fake clock (1 µs per chunk) and closes it. */
function replay(rec: Recording['transcript'], opts: { maxHelloBytes?: number } = {}): { exchange: Exchange; events: CaptureEvent[] } {
  const out: Exchange[] = [];
  const events: CaptureEvent[] = [];
  const s = createAppTlsSession({ maxBodyBytes: 0, emit: (e) => out.push(e), event: (e) => events.push(e) }, opts);
  let now = 1_000_000n;
  for (const { from, chunk } of rec) {
    now += 1000n;
    if (from === 'client') s.clientData(chunk, now);
    else s.serverData(chunk, now);
  }
  s.close(now + 1000n, 'fin');
  s.close(now + 2000n, 'fin');
  if (out.length !== 1) throw new Error(`expected one exchange, got ${out.length}`);
  return { exchange: out[0], events };
}

void t.test('live: Node TLS 1.3 and TLS 1.2 with SNI and ALPN, as Node negotiated them', async (t) => {
  const cert = await selfSigned(t, SNI);
  const server = await startTlsServer(t, { key: cert.key, cert: cert.cert, ALPNProtocols: ['http/1.1'] });
  const relay = await startRelay(t, server.port);
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const o = await nodeClient(relay.port, { servername: SNI, ALPNProtocols: ALPN, rejectUnauthorized: false, maxVersion });
    const c = relay.captures.at(-1)!;
    const ex = await c.exchange;
    t.equal(o.error, undefined, `${maxVersion}: client ok`);
    t.equal(o.data, 'hello');
    t.equal(o.protocol, maxVersion);
    t.equal(ex.protocol, 'tls');
    t.equal(ex.tls_info?.sni, SNI);
    t.equal(ex.tls_info?.version, o.protocol, `${maxVersion}: version as Node reports it`);
    t.equal(ex.tls_info?.cipher, o.cipher?.standardName, `${maxVersion}: cipher as Node reports it`);
    if (maxVersion === 'TLSv1.2') t.same(ex.tls_info?.alpn, [o.alpn], 'TLS 1.2: the selected protocol');
    else t.same(ex.tls_info?.alpn, ALPN, 'TLS 1.3: the offer (selection is encrypted)');
    t.equal(o.alpn, 'http/1.1');
    t.ok((ex.tls_info?.handshake_us ?? 0) > 0, 'handshake took time');
    t.ok((ex.tls_info?.handshake_us ?? 0) * 1000 <= Number(ex.end - ex.start), 'within the connection');
    t.equal(ex.tls_info?.error, undefined);
    t.equal(ex.error, undefined);
    t.equal(ex.close_reason, 'fin');
    t.same({ out: ex.bytes_out, in: ex.bytes_in }, bytesOf(c), 'every byte counted');
    t.same(c.events, []);
  }
});

void t.test('live: cipher choices across key types and suites', async (t) => {
  const rsa = await selfSigned(t, SNI, 'rsa');
  const ec = await selfSigned(t, SNI, 'ec');
  const cases = [
    { cert: ec, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305', want: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256' },
    { cert: ec, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384', want: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384' },
    { cert: rsa, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305', want: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256' },
    { cert: rsa, maxVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256', want: 'TLS_CHACHA20_POLY1305_SHA256' },
    { cert: ec, maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256', want: 'TLS_AES_128_GCM_SHA256' },
  ] as const;
  for (const k of cases) {
    const server = await startTlsServer(t, { key: k.cert.key, cert: k.cert.cert });
    const relay = await startRelay(t, server.port);
    const o = await nodeClient(relay.port, { servername: SNI, rejectUnauthorized: false, maxVersion: k.maxVersion, ciphers: k.ciphers });
    const ex = await relay.captures[0].exchange;
    t.equal(o.cipher?.standardName, k.want, `Node negotiated ${k.want}`);
    t.match(ex.tls_info, { version: k.maxVersion, cipher: o.cipher?.standardName, sni: SNI }, k.want);
    t.equal(ex.tls_info?.alpn, undefined, 'no ALPN offered, none recorded');
    t.equal(ex.tls_info?.error, undefined);
  }
});

void t.test('live: openssl s_client rejecting the server certificate sends unknown_ca', async (t) => {
  const cert = await selfSigned(t, SNI);
  const server = await startTlsServer(t, { key: cert.key, cert: cert.cert });
  const relay = await startRelay(t, server.port);
  for (const v of ['-tls1_2', '-tls1_3']) {
    const r = await opensslClient(relay.port, [v, '-verify_return_error', '-servername', SNI, '-alpn', 'h2,http/1.1']);
    t.not(r.code, 0, `${v}: s_client failed`);
    const ex = await relay.captures.at(-1)!.exchange;
    // What the server received, as OpenSSL decoded it on its side.
    const seen = server.clientErrors.at(-1);
    t.match(seen?.code, /ALERT_UNKNOWN_CA$/);
    t.equal(ex.tls_info?.error, 'alert:unknown_ca', v);
    t.ok(ex.notes?.includes('tls alert from client: fatal unknown_ca'));
    // The server selects no protocol: the record keeps the offer either way.
    t.match(ex.tls_info, { sni: SNI, version: v === '-tls1_2' ? 'TLSv1.2' : 'TLSv1.3', alpn: ALPN });
    t.ok(ex.notes?.some((n) => n.startsWith('alpn: offered by the client')));
    t.ok((ex.tls_info?.handshake_us ?? 0) > 0);
  }
});

void t.test('live: alerts from the server', async (t) => {
  const cert = await selfSigned(t, SNI);
  const cases: { name: string; server: object; client: object }[] = [
    { name: 'missing client certificate', server: { requestCert: true, rejectUnauthorized: true, ca: cert.cert }, client: { maxVersion: 'TLSv1.2' } },
    { name: 'no common version', server: { minVersion: 'TLSv1.3' }, client: { maxVersion: 'TLSv1.2' } },
    { name: 'no common ALPN protocol', server: { ALPNProtocols: ['h2'] }, client: { ALPNProtocols: ['http/1.1'] } },
  ];
  for (const k of cases) {
    const server = await startTlsServer(t, { key: cert.key, cert: cert.cert, ...k.server });
    const relay = await startRelay(t, server.port);
    const o = await nodeClient(relay.port, { servername: SNI, rejectUnauthorized: false, ...k.client });
    const ex = await relay.captures[0].exchange;
    // Node's client names the alert it received: ERR_SSL_TLSV1_ALERT_<NAME> / ERR_SSL_SSLV3_ALERT_<NAME>.
    const m = /_ALERT_([A-Z_]+)$/.exec(o.error?.code ?? '');
    t.ok(m, `${k.name}: the client got an alert (${o.error?.code})`);
    t.equal(ex.tls_info?.error, `alert:${(m?.[1] ?? '').toLowerCase()}`, k.name);
    t.match(ex.notes, [/^tls alert from server: fatal /], k.name);
    t.equal(ex.tls_info?.sni, SNI);
  }
});

void t.test('live: a Node server refusing an untrusted client certificate', async (t) => {
  // Node checks the client's certificate after OpenSSL's handshake and resets the socket
  // without an alert: in TLS 1.2 the server never sends its ChangeCipherSpec and Finished.
  const cert = await selfSigned(t, SNI);
  const stranger = await selfSigned(t, 'stranger.test');
  const server = await startTlsServer(t, { key: cert.key, cert: cert.cert, requestCert: true, rejectUnauthorized: true, ca: cert.cert });
  const relay = await startRelay(t, server.port);
  const o = await nodeClient(relay.port, { servername: SNI, rejectUnauthorized: false, maxVersion: 'TLSv1.2', key: stranger.key, cert: stranger.cert });
  t.ok(o.error, `the client failed (${o.error?.code})`);
  const ex = await relay.captures[0].exchange;
  t.match(ex.tls_info, { sni: SNI, version: 'TLSv1.2', error: 'handshake_incomplete' });
});

void t.test('live: a Node client refusing the certificate after a TLS 1.3 handshake', async (t) => {
  // Node verifies the server's certificate itself and closes without an alert: the server
  // flight was answered by nothing, so the handshake is recorded as never completed.
  const cert = await selfSigned(t, SNI);
  const server = await startTlsServer(t, { key: cert.key, cert: cert.cert });
  const relay = await startRelay(t, server.port);
  const o = await nodeClient(relay.port, { servername: SNI, maxVersion: 'TLSv1.3' });
  t.match(o.error?.code, /SELF_SIGNED/);
  const ex = await relay.captures[0].exchange;
  t.match(ex.tls_info, { sni: SNI, version: 'TLSv1.3', error: 'handshake_incomplete' });
});

void t.test('recordings: the ClientHello split at every point gives the same record', async (t) => {
  for (const name of ['node-tls12-alpn', 'node-tls13-alpn', 'openssl-tls12-unknown-ca']) {
    const rec = recording(name);
    const base = replay(rec.transcript).exchange;
    const [first, ...rest] = rec.transcript;
    let diff = 0;
    for (let i = 1; i < first.chunk.length; i++) {
      const split = [{ from: first.from, chunk: first.chunk.subarray(0, i) }, { from: first.from, chunk: first.chunk.subarray(i) }, ...rest];
      // The extra chunk shifts the fake clock by 1 µs from the second chunk on.
      const { exchange } = replay(split);
      if (JSON.stringify({ ...exchange.tls_info, handshake_us: 0 }) !== JSON.stringify({ ...base.tls_info, handshake_us: 0 })) diff++;
      if (exchange.tls_info?.handshake_us !== (base.tls_info?.handshake_us ?? 0) + 1) diff++;
      if (exchange.bytes_out !== base.bytes_out) diff++;
    }
    t.equal(diff, 0, name);
    t.ok(base.tls_info?.version, `${name}: has a version`);
  }
});

void t.test('recordings: every chunk split into single bytes', async (t) => {
  for (const name of ['node-tls12-alpn', 'node-tls13-alpn', 'openssl-tls12-unknown-ca']) {
    const rec = recording(name);
    const base = replay(rec.transcript).exchange;
    const bytes = rec.transcript.flatMap(({ from, chunk }) => [...chunk].map((b) => ({ from, chunk: Buffer.from([b]) })));
    const { exchange } = replay(bytes);
    t.same({ ...exchange.tls_info, handshake_us: 0 }, { ...base.tls_info, handshake_us: 0 }, name);
    t.same([exchange.bytes_out, exchange.bytes_in], [base.bytes_out, base.bytes_in]);
  }
  t.same(replay(recording('node-tls12-alpn').transcript).exchange.tls_info, {
    sni: SNI, alpn: ['http/1.1'], version: 'TLSv1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', handshake_us: 3,
  }, 'TLS 1.2 ends at the later Finished: the 4th chunk, 3 µs after the first');
  t.same(replay(recording('node-tls13-alpn').transcript).exchange.tls_info, {
    sni: SNI, alpn: ALPN, version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', handshake_us: 2,
  }, "TLS 1.3 ends at the client's Finished: the 3rd chunk, 2 µs after the first");
});

void t.test('handshakes that never complete', async (t) => {
  const rec = recording('node-tls13-alpn');
  const ch = firstRecord(rec.client);
  const noServer = replay([{ from: 'client', chunk: ch }]).exchange;
  t.match(noServer.tls_info, { sni: SNI, alpn: ALPN, error: 'no_server_hello' });
  t.equal(noServer.tls_info?.handshake_us, undefined, 'no end point, no time');
  t.match(replay([{ from: 'client', chunk: ch.subarray(0, 100) }]).exchange.tls_info, { error: 'incomplete_client_hello' });
  t.match(replay([]).exchange, { tls_info: { error: 'no_client_hello' }, bytes_in: 0, bytes_out: 0 });
  const onlyHellos = replay(rec.transcript.slice(0, 2)).exchange;
  t.match(onlyHellos.tls_info, { version: 'TLSv1.3', error: 'handshake_incomplete', handshake_us: 1 }, 'timed to the ServerHello');
  const halfServer = replay([{ from: 'client', chunk: ch }, { from: 'server', chunk: rec.server.subarray(0, 40) }]).exchange;
  t.match(halfServer.tls_info, { error: 'incomplete_server_hello' });
});

void t.test('a TLS 1.3 client answering with an encrypted alert-sized record', async (t) => {
  const rec = recording('node-tls13-alpn');
  const ccs = Buffer.from([0x14, 3, 3, 0, 1, 1]);
  const encAlert = Buffer.concat([Buffer.from([0x17, 3, 3, 0, 19]), Buffer.alloc(19, 0xaa)]);
  const { exchange } = replay([rec.transcript[0], rec.transcript[1], { from: 'client', chunk: Buffer.concat([ccs, encAlert]) }]);
  t.match(exchange.tls_info, { version: 'TLSv1.3', error: 'alert:encrypted' });
});

void t.test('garbage, foreign protocols and bugs never throw and still emit one exchange', async (t) => {
  const http = replay([{ from: 'client', chunk: Buffer.from('GET / HTTP/1.1\r\n\r\n') }, { from: 'server', chunk: Buffer.from('HTTP/1.1 200 OK\r\n\r\n') }]);
  t.match(http.exchange, { protocol: 'tls', tls_info: { error: 'not_tls' }, bytes_out: 18, bytes_in: 19 });
  t.match(http.events, [{ kind: 'parse_error', side: 'client', detail: /not-tls/ }]);

  const rec = recording('node-tls12-alpn');
  const badServer = replay([rec.transcript[0], { from: 'server', chunk: handshakeRecord(2, Buffer.alloc(12)) }]);
  t.match(badServer.exchange.tls_info, { sni: SNI, error: 'malformed_server_hello' });
  t.match(badServer.events, [{ kind: 'parse_error', side: 'server' }]);
  t.match(replay([rec.transcript[0], { from: 'server', chunk: Buffer.from('SSH-2.0-x\r\n') }]).exchange.tls_info, { error: 'server_not_tls' });

  // A "ClientHello" that never ends is dropped at the bound.
  const huge = Buffer.from([0x16, 3, 1, 0x40, 0x00, 1, 0x00, 0xff, 0xff, ...Buffer.alloc(20000)]);
  t.match(replay([{ from: 'client', chunk: huge }], { maxHelloBytes: 4096 }).exchange.tls_info, { error: 'client_hello_too_large' });

  let threw = 0;
  for (let seed = 1; seed <= 300; seed++) {
    let x = seed;
    const rnd = (): number => (x = (x * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    const chunk = (n: number): Buffer => Buffer.from(Array.from({ length: n }, rnd));
    try {
      const mutated = rec.transcript.map(({ from, chunk: c }) => {
        const m = Buffer.from(c);
        m[rnd() % m.length] = rnd();
        return { from, chunk: m };
      });
      replay([...mutated, { from: 'client', chunk: chunk(50) }]);
      replay([{ from: 'server', chunk: chunk(30) }, { from: 'client', chunk: chunk(rnd()) }]);
    } catch {
      threw++;
    }
  }
  t.equal(threw, 0);

  // A sink that throws, and an event sink that throws, stay inside the session.
  const s = createAppTlsSession({ maxBodyBytes: 0, emit: () => { throw new Error('sink'); }, event: () => { throw new Error('events'); } });
  s.clientData(Buffer.from('not tls at all'), 1n);
  s.serverData(Buffer.from('nor this'), 2n);
  s.close(3n, 'reset');
  t.pass('no throw');
  const out: Exchange[] = [];
  const r = createAppTlsSession({ maxBodyBytes: 0, emit: (e) => out.push(e), event: () => {} });
  r.clientData(firstRecord(rec.client), 10n);
  r.close(20n, 'reset');
  r.clientData(Buffer.alloc(5), 30n);
  t.match(out, [{ error: 'reset', close_reason: 'reset', start: 10n, end: 20n }]);
  t.equal(out.length, 1);
});
