/** The mesh ALPN check is a view over the one ClientHello parser; edge cases of that view. */
import t from 'tap';
import { MESH_ALPN, classifyClientHello } from '../../../sidecar/mtls/client-hello-alpn.ts';
import { alpnExt, clientHelloBody, handshakeRecord, refragment, sniExt } from '../tls/fixtures.ts';

const hello = (exts: Array<[number, Buffer]>): Buffer => handshakeRecord(1, clientHelloBody(exts));

void t.test('ALPN offer decides mesh or app TLS, wherever the protocol is in the list', async (t) => {
  t.equal(classifyClientHello(hello([[16, alpnExt([MESH_ALPN])]])), 'mesh');
  t.equal(classifyClientHello(hello([[0, sniExt('payment.shop')], [16, alpnExt(['h2', 'http/1.1', MESH_ALPN])]])), 'mesh');
  t.equal(classifyClientHello(hello([[16, alpnExt(['h2', 'meshtap/10'])]])), 'app-tls', 'a longer name with the same prefix is not ours');
  t.equal(classifyClientHello(hello([[0, sniExt('payment.shop')]])), 'app-tls', 'no ALPN at all');
  t.equal(classifyClientHello(hello([[16, alpnExt(['other/1'])]]), 'other/1'), 'mesh', 'the protocol is a parameter');
});

void t.test('a hello spread over several records is read whole', async (t) => {
  const whole = hello([[0, sniExt('payment.shop')], [16, alpnExt(['h2', MESH_ALPN])]]);
  const split = refragment(whole, 40);
  t.ok(split.length > whole.length, 'really several records');
  t.equal(classifyClientHello(split), 'mesh');
  for (let n = 0; n < split.length; n++) t.equal(classifyClientHello(split.subarray(0, n)), 'need-more', `${n} bytes`);
});

void t.test('not TLS, and TLS the parser cannot read', async (t) => {
  t.equal(classifyClientHello(Buffer.from('PRI * HTTP/2.0\r\n')), 'not-tls');
  t.equal(classifyClientHello(Buffer.from([0x16, 0x01])), 'not-tls', 'record version is not 3.x');
  const truncatedAlpn = hello([[16, Buffer.from([0, 9, 3, 0x68])]]);
  t.equal(classifyClientHello(truncatedAlpn), 'app-tls', 'malformed: passed through, never terminated');
});
