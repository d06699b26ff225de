/**
 * A minimal HTTP/1.1 → h2c upgrade server for the protocol system tests (node:http2 has no
 * `Upgrade: h2c` support): it answers the upgrade request with 101, then answers it again as
 * HTTP/2 stream 1 (status 200, body `upgraded <path>`), as RFC 7540 §3.2 describes, and
 * acknowledges the client's SETTINGS. Prints `{"ready":true}` once listening.
 */
import net from 'node:net';

const port = Number(process.argv[2]);

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

const SETTINGS = 4;
const HEADERS = 1;
const DATA = 0;

net
  .createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let upgraded = false;
    let acked = false;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const path = buffered.subarray(0, end).toString('latin1').split(' ')[1];
        buffered = buffered.subarray(end + 4);
        upgraded = true;
        socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
        socket.write(frame(SETTINGS, 0, 0, Buffer.alloc(0)));
        // `:status: 200` is entry 8 of the HPACK static table.
        socket.write(frame(HEADERS, 0x4, 1, Buffer.from([0x88])));
        socket.write(frame(DATA, 0x1, 1, Buffer.from(`upgraded ${path}`)));
      }
      // The client preface (24 bytes) and its SETTINGS frame: acknowledge once.
      if (!acked && buffered.length >= 24 + 9) {
        acked = true;
        socket.write(frame(SETTINGS, 0x1, 0, Buffer.alloc(0)));
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  })
  .listen(port, '0.0.0.0', () => console.log(JSON.stringify({ ready: true })));
