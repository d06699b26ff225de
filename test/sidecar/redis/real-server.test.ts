/**
 * Against a real redis-server: a relay in front of it records every chunk with its direction,
 * real redis-cli runs and a raw pipelining socket go through it, and the recordings are fed to
 * the session. Checks what a unit test cannot: that real clients and a real server pair up.
 */
import t from 'tap';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { createRedisSession } from '../../../sidecar/redis/session.ts';
import { startRedis } from '../../helpers/redis-server.ts';
import { cmd, plain, text } from './harness.ts';

interface Chunk {
  dir: 'c' | 's';
  data: Buffer;
}



/** Each accepted connection is piped to Redis; its chunks are recorded until both sides close. */
async function startRelay(target: number) {
  const connections: Array<{ chunks: Chunk[]; done: Promise<void> }> = [];
  const server = net.createServer((client) => {
    const chunks: Chunk[] = [];
    const upstream = net.connect(target, '127.0.0.1');
    const done = new Promise<void>((resolve) => {
      let open = 2;
      const closed = () => {
        if (--open === 0) resolve();
      };
      client.once('close', closed);
      upstream.once('close', closed);
    });
    connections.push({ chunks, done });
    client.on('data', (d: Buffer) => {
      chunks.push({ dir: 'c', data: Buffer.from(d) });
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      chunks.push({ dir: 's', data: Buffer.from(d) });
      client.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port, connections };
}

function replay(chunks: Chunk[]): Exchange[] {
  const got: Exchange[] = [];
  const s = createRedisSession({ maxBodyBytes: 64 * 1024, emit: (e) => got.push(e), event: () => undefined });
  chunks.forEach((c, i) => (c.dir === 'c' ? s.clientData(c.data, BigInt(i)) : s.serverData(c.data, BigInt(i))));
  s.close(BigInt(chunks.length), 'fin');
  return got;
}

const cli = (port: number, ...args: string[]) =>
  new Promise<string>((resolve) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 }, (_err, stdout) => resolve(stdout));
  });

void t.test('real redis-server through a recording relay', async (t) => {
  const redisPort = await startRedis(t);
  const relay = await startRelay(redisPort);
  t.teardown(() => new Promise<void>((r) => relay.server.close(() => r())));

  const session = async (run: () => Promise<unknown>): Promise<Exchange[]> => {
    const before = relay.connections.length;
    await run();
    const conns = relay.connections.slice(before);
    await Promise.all(conns.map((c) => c.done));
    return conns.flatMap((c) => replay(c.chunks));
  };

  const set = await session(() => cli(relay.port, 'SET', 'greeting', 'hello world'));
  t.same(set.map((e) => [e.method, e.path, text(e.request?.body), text(e.response?.body), e.error]), [
    ['SET', 'greeting', 'SET greeting "hello world"', 'OK', undefined],
  ]);

  const get = await session(() => cli(relay.port, 'GET', 'greeting'));
  t.same(get.map((e) => [e.method, e.path, text(e.response?.body)]), [['GET', 'greeting', '"hello world"']]);
  t.ok(get[0].bytes_out > 0 && get[0].bytes_in > 0);

  const wrongtype = await session(async () => {
    await cli(relay.port, 'RPUSH', 'mylist', 'a');
    await cli(relay.port, 'GET', 'mylist');
  });
  t.equal(wrongtype.length, 2);
  t.match(wrongtype[1], { method: 'GET', path: 'mylist', error: 'server_error', error_detail: /^WRONGTYPE Operation against a key holding the wrong kind of value/ });

  const secret = 'not-the-password-42';
  const auth = await session(() => cli(relay.port, 'AUTH', secret));
  t.equal(auth.length, 1);
  t.match(auth[0], { method: 'AUTH', error: 'server_error', redacted: ['request.body'], sensitive: ['password'] });
  t.equal(text(auth[0].request?.body), 'AUTH ****');
  t.notMatch(JSON.stringify(plain(auth)), secret);

  const pipelined = await session(async () => {
    const sock = net.connect(relay.port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(Buffer.concat([cmd('SET', 'p', '1'), cmd('INCR', 'p'), cmd('HELLO', '3'), cmd('GET', 'p'), cmd('HGETALL', 'nope')]));
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    for (let i = 0; i < 500 && !got.endsWith('$1\r\n2\r\n%0\r\n'); i++) await new Promise((r) => setTimeout(r, 20));
    sock.end();
  });
  t.same(pipelined.map((e) => [e.method, e.path, e.response?.headers['reply-type'], e.error]), [
    ['SET', 'p', 'simple', undefined],
    ['INCR', 'p', 'integer', undefined],
    ['HELLO', undefined, 'map', undefined],
    ['GET', 'p', 'bulk', undefined],
    ['HGETALL', 'nope', 'map', undefined],
  ]);
  t.match(text(pipelined[2].response?.body), /^1# "server" => "redis"\n2# "version" => "/);
  t.equal(text(pipelined[4].response?.body), '(empty hash)');

  const pubsub = await session(async () => {
    const sub = net.connect(relay.port, '127.0.0.1');
    await once(sub, 'connect');
    let got = '';
    sub.on('data', (d: Buffer) => (got += d.toString('latin1')));
    sub.write(cmd('SUBSCRIBE', 'news', 'sport'));
    for (let i = 0; i < 500 && !got.includes('sport'); i++) await new Promise((r) => setTimeout(r, 20));
    await cli(relay.port, 'PUBLISH', 'news', 'extra extra');
    for (let i = 0; i < 500 && !got.includes('extra extra'); i++) await new Promise((r) => setTimeout(r, 20));
    sub.end();
  });
  const names = pubsub.map((e) => [e.method, e.path]);
  t.same(names.slice(0, 2), [
    ['SUBSCRIBE', undefined],
    ['MESSAGE', 'news'],
  ]);
  t.equal(text(pubsub[1].response?.body), '"extra extra"');
  t.ok(names.some(([m]) => m === 'PUBLISH'), 'the publisher connection too');
  t.notOk(pubsub.some((e) => e.error !== undefined && e.error !== 'closed'), 'nothing unpaired');
});
