/**
 * The bench's load generator, run inside the client pod as an ordinary uid.
 *
 *   load.ts fixed URL RATE CONNECTIONS SECONDS BODY_BYTES [WARMUP_SECONDS]
 *   load.ts saturate URL CONNECTIONS SECONDS BODY_BYTES [WARMUP_SECONDS]
 *   load.ts pipeline URL CONNECTIONS DEPTH SECONDS BODY_BYTES [WARMUP_SECONDS]
 *
 * fixed: open loop. Request i is due at start + i/RATE whether or not earlier ones have
 * answered; latency runs from the due time, so a stall shows in every request it delayed
 * (no coordinated omission). Requests wait for one of CONNECTIONS keep-alive sockets.
 * saturate: CONNECTIONS closed loops sending back to back; throughput is what completes.
 * pipeline: like saturate, but each connection keeps DEPTH requests in flight with HTTP/1.1
 * pipelining (written back to back without waiting for answers), over raw sockets since
 * Node's HTTP client never pipelines; latency runs from each request's write.
 * Prints `{"phase":"measure"}` when the warm-up ends, then one JSON line: counts and latency
 * percentiles in ms.
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';

interface Result {
  mode: string;
  seconds: number;
  sent: number;
  /** Requests issued including the warm-up: what the proxies saw. */
  total: number;
  ok: number;
  errors: number;
  throughput: number;
  latency_ms: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

const [mode, url, ...rest] = process.argv.slice(2);
const target = new URL(url);

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function summarize(kind: string, seconds: number, sent: number, total: number, ok: number, errors: number, latencies: number[]): Result {
  const sorted = Float64Array.from(latencies).sort();
  const mean = latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    mode: kind,
    seconds,
    sent,
    total,
    ok,
    errors,
    throughput: Math.round(ok / seconds),
    latency_ms: {
      p50: r(percentile(sorted, 0.5)),
      p90: r(percentile(sorted, 0.9)),
      p99: r(percentile(sorted, 0.99)),
      p999: r(percentile(sorted, 0.999)),
      max: r(sorted[sorted.length - 1] ?? NaN),
      mean: r(mean),
    },
  };
}

function once(agent: Agent, body: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
      },
      (res) => {
        let size = 0;
        res.on('data', (c: Buffer) => (size += c.length));
        res.on('end', () => resolve(res.statusCode === 200 && size === body.length));
        res.on('error', () => resolve(false));
      },
    );
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

async function fixed(rate: number, connections: number, seconds: number, body: Buffer, warmupSeconds: number): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const latencies: number[] = [];
  let sent = 0;
  let ok = 0;
  let errors = 0;
  let outstanding = 0;
  const total = Math.round(rate * (seconds + warmupSeconds));
  const warmup = Math.round(rate * warmupSeconds);
  const start = performance.now() + 50;
  const intervalMs = 1000 / rate;
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * intervalMs <= now) {
        const due = start + next * intervalMs;
        const measured = next >= warmup;
        if (next === warmup) process.stdout.write('{"phase":"measure"}\n');
        next++;
        if (measured) sent++;
        outstanding++;
        void once(agent, body).then((success) => {
          outstanding--;
          if (measured) {
            if (success) {
              ok++;
              latencies.push(performance.now() - due);
            } else errors++;
          }
          if (next >= total && outstanding === 0) resolve();
        });
      }
      if (next < total) setTimeout(tick, Math.max(0, Math.min(1, start + next * intervalMs - performance.now())));
    };
    tick();
  });
  agent.destroy();
  return summarize('fixed', seconds, sent, total, ok, errors, latencies);
}

async function saturate(connections: number, seconds: number, body: Buffer, warmupSeconds: number): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const latencies: number[] = [];
  let sent = 0;
  let ok = 0;
  let errors = 0;
  let total = 0;
  const begin = performance.now();
  const measureFrom = begin + warmupSeconds * 1000;
  const end = measureFrom + seconds * 1000;
  const marker = setTimeout(() => process.stdout.write('{"phase":"measure"}\n'), warmupSeconds * 1000);
  const worker = async () => {
    for (;;) {
      const started = performance.now();
      if (started >= end) return;
      total++;
      const success = await once(agent, body);
      if (started >= measureFrom) {
        sent++;
        if (success) {
          ok++;
          latencies.push(performance.now() - started);
        } else errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  clearTimeout(marker);
  agent.destroy();
  return summarize('saturate', seconds, sent, total, ok, errors, latencies);
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Splits complete responses off the front of `buf`: each is reported as ok when it is a 200 whose
 * body echoes `expectedBytes`. Returns the unconsumed rest, or undefined on a response it cannot
 * frame (no content-length), which ends the connection.
 */
function takeResponses(buf: Buffer, expectedBytes: number, onResponse: (ok: boolean) => void): Buffer | undefined {
  let at = 0;
  for (;;) {
    const end = buf.indexOf(HEADER_END, at);
    if (end < 0) break;
    const head = buf.toString('latin1', at, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) return undefined;
    const bodyEnd = end + 4 + Number(length[1]);
    if (buf.length < bodyEnd) break;
    onResponse(head.startsWith('HTTP/1.1 200') && Number(length[1]) === expectedBytes);
    at = bodyEnd;
  }
  return at === 0 ? buf : buf.subarray(at);
}

async function pipeline(connections: number, depth: number, seconds: number, body: Buffer, warmupSeconds: number): Promise<Result> {
  const head = Buffer.from(
    `POST ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\ncontent-type: application/octet-stream\r\ncontent-length: ${body.length}\r\n\r\n`,
  );
  const requestBytes = Buffer.concat([head, body]);
  const latencies: number[] = [];
  let sent = 0;
  let ok = 0;
  let errors = 0;
  let total = 0;
  const begin = performance.now();
  const measureFrom = begin + warmupSeconds * 1000;
  const end = measureFrom + seconds * 1000;
  const marker = setTimeout(() => process.stdout.write('{"phase":"measure"}\n'), warmupSeconds * 1000);

  const lane = () =>
    new Promise<void>((resolve) => {
      const inFlight: number[] = [];
      let rest: Buffer = Buffer.alloc(0);
      let socket: Socket;
      const send = (n: number) => {
        const now = performance.now();
        for (let i = 0; i < n; i++) {
          inFlight.push(now);
          total++;
          if (now >= measureFrom) sent++;
        }
        socket.write(n === 1 ? requestBytes : Buffer.concat(Array.from({ length: n }, () => requestBytes)));
      };
      const open = () => {
        rest = Buffer.alloc(0);
        socket = connect({ host: target.hostname, port: Number(target.port) }, () => send(depth));
        socket.setNoDelay(true);
        socket.on('data', (chunk: Buffer) => {
          const taken = takeResponses(rest.length ? Buffer.concat([rest, chunk]) : chunk, body.length, (success) => {
            const started = inFlight.shift()!;
            if (started >= measureFrom) {
              if (success) {
                ok++;
                latencies.push(performance.now() - started);
              } else errors++;
            }
            if (performance.now() < end) send(1);
          });
          if (taken === undefined) socket.destroy(new Error('unframed response'));
          else rest = taken;
          if (inFlight.length === 0) socket.end();
        });
        socket.on('error', () => undefined);
        socket.on('close', () => {
          // Requests still in flight on a dead connection failed; a new one takes over while time remains.
          for (const started of inFlight.splice(0)) if (started >= measureFrom) errors++;
          if (performance.now() < end) setTimeout(open, 10);
          else resolve();
        });
      };
      open();
    });
  await Promise.all(Array.from({ length: connections }, lane));
  clearTimeout(marker);
  return summarize('pipeline', seconds, sent, total, ok, errors, latencies);
}

async function main(): Promise<Result> {
  if (mode === 'fixed') {
    const [rate, connections, seconds, bodyBytes, warmup = '2'] = rest.map(Number);
    return fixed(rate, connections, seconds, Buffer.alloc(bodyBytes, 0x62), Number(warmup));
  }
  if (mode === 'saturate') {
    const [connections, seconds, bodyBytes, warmup = '1'] = rest.map(Number);
    return saturate(connections, seconds, Buffer.alloc(bodyBytes, 0x62), Number(warmup));
  }
  if (mode === 'pipeline') {
    const [connections, depth, seconds, bodyBytes, warmup = '1'] = rest.map(Number);
    return pipeline(connections, depth, seconds, Buffer.alloc(bodyBytes, 0x62), Number(warmup));
  }
  throw new Error(`unknown mode ${mode}`);
}

main().then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
