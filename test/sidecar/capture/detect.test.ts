import t from 'tap';
import { detectProtocol } from '../../../sidecar/capture/detect.ts';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const clientHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

const table: Array<[string, Uint8Array, string]> = [
  ['empty', b(''), 'need-more'],
  ['GET request line', b('GET / HTTP/1.1\r\n'), 'http1'],
  ['method and space are enough', b('POST '), 'http1'],
  ['DELETE', b('DELETE /x HTTP/1.1\r\n'), 'http1'],
  ['WebDAV PROPFIND', b('PROPFIND /d HTTP/1.1\r\n'), 'http1'],
  ['prefix of a method', b('GE'), 'need-more'],
  ['method without its space yet', b('OPTIONS'), 'need-more'],
  ['unknown method, complete request line', b('FROB /x HTTP/1.1\r\n'), 'http1'],
  ['unknown method, line not complete yet', b('FROB /x HT'), 'need-more'],
  ['redis inline command', b('SET key value\r\n'), 'tcp'],
  ['redis RESP', b('*1\r\n$4\r\nPING\r\n'), 'tcp'],
  ['lower-case method is not HTTP', b('get / HTTP/1.1\r\n'), 'tcp'],
  ['HTTP/2 preface', b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'http2'],
  ['HTTP/2 preface and a frame', Buffer.concat([b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]), 'http2'],
  ['part of the HTTP/2 preface', b('PRI * HTTP/2'), 'need-more'],
  ['P could be PUT, POST, PATCH or PRI', b('P'), 'need-more'],
  ['TLS ClientHello', clientHello, 'tls'],
  ['TLS 1.0 record version', Buffer.from([0x16, 0x03, 0x00, 0x00, 0x10, 0x01]), 'tls'],
  ['start of a TLS record', Buffer.from([0x16, 0x03, 0x01]), 'need-more'],
  ['TLS handshake that is not a ClientHello', Buffer.from([0x16, 0x03, 0x03, 0x00, 0x10, 0x02]), 'tcp'],
  ['0x16 with a wrong version', Buffer.from([0x16, 0x02, 0x01, 0x00, 0x10, 0x01]), 'tcp'],
  ['postgres startup', Buffer.from([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f]), 'tcp'],
  ['binary', Buffer.from([0xff, 0x00, 0x13]), 'tcp'],
  ['a very long token line without an end', b('A'.repeat(9000)), 'tcp'],
];

for (const [name, input, want] of table) {
  t.equal(detectProtocol(input), want, name);
}
