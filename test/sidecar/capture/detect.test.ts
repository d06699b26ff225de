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
  ['redis inline command', b('SET key value\r\n'), 'redis'],
  ['redis inline command, line not complete yet', b('SET key va'), 'need-more'],
  ['redis inline PING', b('PING\r\n'), 'redis'],
  ['redis RESP', b('*1\r\n$4\r\nPING\r\n'), 'redis'],
  ['part of a RESP array', b('*1\r'), 'need-more'],
  ['a star that is not RESP', b('*hello\r\n'), 'tcp'],
  ['GET with a key is HTTP\'s first: a request line wins', b('GET / HTTP/1.1\r\n'), 'http1'],
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
  ['postgres SSLRequest', Buffer.from([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f]), 'postgres'],
  ['postgres startup v3.0', Buffer.concat([Buffer.from([0, 0, 0, 23, 0, 3, 0, 0]), b('user\0app\0\0'), Buffer.alloc(2)]).subarray(0, 23), 'postgres'],
  ['half a postgres length', Buffer.from([0, 0]), 'need-more'],
  ['zero bytes that are not postgres', Buffer.from([0, 0, 0, 8, 1, 2, 3, 4]), 'tcp'],
  ['binary', Buffer.from([0xff, 0x00, 0x13]), 'tcp'],
  ['a very long token line without an end', b('A'.repeat(9000)), 'tcp'],
];

for (const [name, input, want] of table) {
  t.equal(detectProtocol(input), want, name);
}

void t.test('server first: an HTTP/2 SETTINGS frame lets the client decide; banners are opaque', async (t) => {
  const { detectServerFirst } = await import('../../../sidecar/capture/detect.ts');
  const settings = Buffer.from([0, 0, 12, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100, 0, 4, 0, 0, 255, 255]);
  t.equal(detectServerFirst(settings), 'client-decides', 'a server SETTINGS frame');
  t.equal(detectServerFirst(settings.subarray(0, 5)), 'need-more', 'part of its header');
  t.equal(detectServerFirst(Buffer.from('220 smtp ready\r\n')), undefined, 'an SMTP banner');
  t.equal(detectServerFirst(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')), undefined, 'an SSH banner');
  t.equal(detectServerFirst(Buffer.from([0, 0, 12, 4, 0, 0, 0, 0, 1])), undefined, 'SETTINGS on a stream is not a preface');
  t.equal(detectServerFirst(Buffer.from([0, 0, 5, 4, 0, 0, 0, 0, 0])), undefined, 'a length that is not a multiple of 6');
});

void t.test('server first: a MySQL greeting names MySQL', async (t) => {
  const { detectServerFirst } = await import('../../../sidecar/capture/detect.ts');
  const version = Buffer.from('10.11.6-MariaDB-0+deb12u1\0');
  const payload = Buffer.concat([Buffer.from([10]), version, Buffer.from([7, 0, 0, 0]), Buffer.from('abcdefgh\0'), Buffer.from([0xfe, 0xf7, 8, 2, 0, 0xff, 0x81, 21]), Buffer.alloc(10), Buffer.from('ijklmnopqrst\0mysql_native_password\0')]);
  const greeting = Buffer.concat([Buffer.from([payload.length & 0xff, payload.length >> 8, 0, 0]), payload]);
  t.equal(detectServerFirst(greeting), 'mysql');
  t.equal(detectServerFirst(greeting.subarray(0, 6)), 'need-more', 'half a greeting');
});
