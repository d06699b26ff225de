import { readFileSync } from 'node:fs';

const dir = new URL('../../fixtures/tls/', import.meta.url);

export interface Recording {
  /** Every chunk in the order a relay between the two saw it. */
  transcript: { from: 'client' | 'server'; chunk: Buffer }[];
  client: Buffer;
  server: Buffer;
}

/** A recorded connection: lines of `> hex` (client → server) and `< hex` (server → client). */
export function recording(name: string): Recording {
  const text = readFileSync(new URL(`${name}.transcript`, dir), 'utf8');
  const transcript = text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => ({ from: l[0] === '>' ? ('client' as const) : ('server' as const), chunk: Buffer.from(l.slice(2), 'hex') }));
  const side = (from: string): Buffer => Buffer.concat(transcript.filter((x) => x.from === from).map((x) => x.chunk));
  return { transcript, client: side('client'), server: side('server') };
}

/** The first record of a direction: for a client, the one holding the ClientHello. */
export function firstRecord(b: Buffer): Buffer {
  return b.subarray(0, 5 + b.readUInt16BE(3));
}

/** Re-frames the handshake bytes of one record into records of at most `size` bytes each. */
export function refragment(record: Buffer, size: number): Buffer {
  const head = record.subarray(0, 3);
  const body = record.subarray(5);
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const part = body.subarray(i, i + size);
    const h = Buffer.alloc(5);
    head.copy(h);
    h.writeUInt16BE(part.length, 3);
    out.push(h, part);
  }
  return Buffer.concat(out);
}

/** Wraps a handshake message (type + body) in one handshake record. */
export function handshakeRecord(type: number, body: Buffer, version = 0x0301): Buffer {
  const msg = Buffer.concat([Buffer.from([type, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  const h = Buffer.from([0x16, version >> 8, version & 0xff, msg.length >> 8, msg.length & 0xff]);
  return Buffer.concat([h, msg]);
}

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);

/** A ClientHello body with the given extensions (type, data). */
export function clientHelloBody(exts: Array<[number, Buffer]>, suites = [0x1301, 0xc02f]): Buffer {
  const extBytes = Buffer.concat(exts.map(([type, data]) => Buffer.concat([u16(type), u16(data.length), data])));
  return Buffer.concat([
    u16(0x0303), Buffer.alloc(32, 7), Buffer.from([0]),
    u16(suites.length * 2), ...suites.map(u16),
    Buffer.from([1, 0]),
    u16(extBytes.length), extBytes,
  ]);
}

export function sniExt(host: string): Buffer {
  const name = Buffer.from(host, 'latin1');
  const entry = Buffer.concat([Buffer.from([0]), u16(name.length), name]);
  return Buffer.concat([u16(entry.length), entry]);
}

export function alpnExt(protos: string[]): Buffer {
  const list = Buffer.concat(protos.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])));
  return Buffer.concat([u16(list.length), list]);
}
