/**
 * The application of the system tests' client pod: one command per run, run as an ordinary
 * uid inside the client namespace (so its connections are redirected), result as one JSON line.
 *
 *   fetch URL [METHOD] [BODY]          Node's fetch
 *   pipeline HOST PORT                 three GETs written at once on one raw socket
 *   upload URL BYTES                   POST BYTES random bytes; reports their digest and the answer
 *   download URL                       GET; reports the digest of what arrived and x-sha256
 *   reset-mid-response URL             GET, then resets the connection after the first bytes
 *   half-close HOST PORT BYTES         send, shut down writing, read the answer
 *   banner HOST PORT                   time from connect to the server's first bytes
 *   banners HOST PORT COUNT            COUNT fresh connections one after another, each: read the banner, send a
 *                                      line, shut down writing, read to the end; the answers that were not
 *                                      banner, echo, bye (with the error, if any)
 *   many URL COUNT BYTES               COUNT sequential echo POSTs of BYTES random bytes each
 *   adversarial URL ROUNDS             POSTs of bodies built to make detectors slow ('a' x 60 000 + '@', long
 *                                      digit runs, 'eyJ.' runs, deep JSON), every kind ROUNDS times, sequentially
 *   probe URL MS                       GETs one after another on a second connection for MS ms; the slowest
 *   grpc HOST PORT MARK                @grpc/grpc-js calls to shop.Inventory (test/fixtures/grpc/shop.proto):
 *                                      unary, a NOT_FOUND error, server/client/bidi streaming, gzip, 1 MiB
 *   ws URL MARK                        a WebSocket client: a text and a binary message echoed, then close
 *   pg HOST PORT PASSWORD MARK         node-postgres: a table, inserts with bound parameters, a select, a failing query
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function dial(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function readToEnd(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

async function main(argv: string[]): Promise<unknown> {
  const [command, ...args] = argv;
  switch (command) {
    case 'grpc': {
      const [host, port, mark] = args;
      const { grpcCalls } = await import('./grpc-client.ts');
      return grpcCalls(`${host}:${port}`, mark);
    }
    case 'pg': {
      const [host, port, password, mark] = args;
      const { default: pg } = await import('pg');
      const client = new pg.Client({ host, port: Number(port), user: 'postgres', password, database: 'postgres', ssl: false });
      await client.connect();
      await client.query(`CREATE TABLE IF NOT EXISTS orders_${mark} (id serial PRIMARY KEY, item text, qty int)`);
      await client.query({ name: `add_${mark}`, text: `INSERT INTO orders_${mark} (item, qty) VALUES ($1, $2)`, values: [`tea-${mark}`, 3] });
      await client.query({ name: `add_${mark}`, text: `INSERT INTO orders_${mark} (item, qty) VALUES ($1, $2)`, values: ['cup', 1] });
      const rows = (await client.query(`SELECT item, qty FROM orders_${mark} WHERE qty >= $1 ORDER BY id`, [1])).rows;
      let failed = '';
      try {
        await client.query(`SELECT * FROM missing_${mark}`);
      } catch (err) {
        failed = (err as { code?: string }).code ?? 'unknown';
      }
      await client.end();
      return { rows, failed };
    }
    case 'ws': {
      const [url, mark] = args;
      const { WebSocket } = await import('ws');
      const ws = new WebSocket(url, { perMessageDeflate: false });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const echoes: string[] = [];
      const done = new Promise<void>((resolve) =>
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          echoes.push(isBinary ? `binary:${data.toString('hex')}` : data.toString());
          if (echoes.length === 2) resolve();
        }),
      );
      ws.send(`hello ${mark}`);
      ws.send(Buffer.from([1, 2, 3, 254]));
      await done;
      ws.close(1000, `bye ${mark}`);
      await new Promise((resolve) => ws.once('close', resolve));
      return { echoes };
    }
    case 'fetch': {
      const [url, method = 'GET', body] = args;
      const res = await fetch(url, { method, body, headers: body ? { 'content-type': 'application/json' } : undefined });
      return { status: res.status, body: await res.text() };
    }
    case 'pipeline': {
      const [host, port] = args;
      const socket = await dial(host, Number(port));
      const requests = ['/echo?n=1', '/slow?ms=150', '/echo?n=3']
        .map((path, i) => `POST ${path} HTTP/1.1\r\nhost: ${host}\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nbody${i}`)
        .join('');
      socket.write(requests);
      // Three answers of known small bodies: wait until the last one is in, then close.
      const chunks: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        socket.on('data', (c: Buffer) => {
          chunks.push(c);
          const text = Buffer.concat(chunks).toString();
          if ((text.match(/HTTP\/1\.1 /g) ?? []).length === 3 && text.endsWith('body2')) resolve();
        });
        socket.once('error', reject);
      });
      socket.end();
      return { responses: Buffer.concat(chunks).toString() };
    }
    case 'upload': {
      const [url, size] = args;
      const body = randomBytes(Number(size));
      const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
      return { status: res.status, sent_sha256: sha256(body), answer: await res.json() };
    }
    case 'download': {
      const [url] = args;
      const res = await fetch(url);
      const body = Buffer.from(await res.arrayBuffer());
      return { status: res.status, size: body.length, sha256: sha256(body), header_sha256: res.headers.get('x-sha256') };
    }
    case 'reset-mid-response': {
      const [url] = args;
      return await new Promise((resolve, reject) => {
        const req = request(url, { agent: false }, (res) => {
          let received = 0;
          res.on('data', (c: Buffer) => {
            received += c.length;
            if (received >= 64 * 1024 && !req.socket?.destroyed) {
              req.socket?.resetAndDestroy();
              resolve({ status: res.statusCode, received_before_reset: received });
            }
          });
          res.on('error', () => undefined);
        });
        req.on('error', (err) => (req.socket?.destroyed ? undefined : reject(err)));
        req.end();
      });
    }
    case 'half-close': {
      const [host, port, size] = args;
      const socket = await dial(host, Number(port));
      const body = randomBytes(Number(size));
      const answer = readToEnd(socket);
      socket.write(body.subarray(0, body.length >> 1));
      socket.end(body.subarray(body.length >> 1));
      return { sent: `${body.length} ${sha256(body)}`, answer: (await answer).toString() };
    }
    case 'banner': {
      const [host, port] = args;
      const started = performance.now();
      const socket = await dial(host, Number(port));
      const connected = performance.now();
      const first = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
      const bannerMs = performance.now() - connected;
      const rest = readToEnd(socket);
      socket.end('HELO test\r\n');
      return { connect_ms: connected - started, banner_ms: bannerMs, text: first.toString() + (await rest).toString() };
    }
    case 'banners': {
      const [host, port, count] = args;
      const failures: string[] = [];
      for (let i = 0; i < Number(count); i++) {
        try {
          const socket = await dial(host, Number(port));
          const rest = readToEnd(socket);
          socket.end(`HELO ${i}\r\n`);
          const text = (await rest).toString();
          if (text !== `220 meshtap-test ready\r\nHELO ${i}\r\n221 bye\r\n`) failures.push(`#${i}: ${JSON.stringify(text)}`);
        } catch (err) {
          failures.push(`#${i}: ${(err as Error).message}`);
        }
      }
      return { count: Number(count), failures };
    }
    case 'many': {
      const [url, count, size] = args;
      let ok = 0;
      // The first request also loads fetch and opens the connection (through both sidecars and
      // their mTLS handshake): reported on its own, not as the slowest.
      let firstMs = 0;
      let slowestMs = 0;
      for (let i = 0; i < Number(count); i++) {
        const body = randomBytes(Number(size));
        const started = performance.now();
        const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
        const echoed = Buffer.from(await res.arrayBuffer());
        if (i === 0) firstMs = performance.now() - started;
        else slowestMs = Math.max(slowestMs, performance.now() - started);
        if (res.status === 200 && echoed.equals(body)) ok++;
      }
      return { ok, slowest_ms: slowestMs, first_ms: firstMs };
    }
    case 'adversarial': {
      const [url, rounds] = args;
      const bodies = [
        { type: 'text/plain', body: 'a'.repeat(60_000) + '@' },
        { type: 'application/json', body: JSON.stringify({ note: 'a'.repeat(60_000) + '@', password: 'hunter2' }) },
        { type: 'text/plain', body: '4'.repeat(60_000) },
        { type: 'text/plain', body: '1 2 3 4 5 6 7 8 9 0 '.repeat(3000) },
        { type: 'text/plain', body: 'eyJ.'.repeat(15_000) },
        { type: 'application/json', body: '['.repeat(30_000) + ']'.repeat(30_000) },
        { type: 'application/x-www-form-urlencoded', body: 'a=' + '%'.repeat(60_000) },
      ];
      let ok = 0;
      let sent = 0;
      for (let r = 0; r < Number(rounds); r++) {
        for (const { type, body } of bodies) {
          sent++;
          const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': type } });
          const echoed = await res.text();
          if (res.status === 200 && echoed === body) ok++;
        }
      }
      return { ok, sent };
    }
    case 'probe': {
      const [url, ms] = args;
      const until = performance.now() + Number(ms);
      let ok = 0;
      // As in 'many': the first request, which loads fetch and connects, is reported on its own.
      let firstMs = -1;
      let slowestMs = 0;
      while (performance.now() < until) {
        const started = performance.now();
        const res = await fetch(url);
        await res.arrayBuffer();
        if (firstMs < 0) firstMs = performance.now() - started;
        else slowestMs = Math.max(slowestMs, performance.now() - started);
        if (res.status === 200) ok++;
      }
      return { ok, slowest_ms: slowestMs, first_ms: firstMs };
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
