/**
 * A TCP relay on loopback that records every chunk of every connection with its direction
 * and arrival time: real clients talk through it to a real server, and the recorded bytes are
 * then fed to a capture session exactly as the sidecar would have seen them.
 */
import net from 'node:net';

export interface RelayChunk {
  from: 'client' | 'server';
  data: Buffer;
  at: bigint;
}

export interface RecordingRelay {
  port: number;
  /** One list per accepted connection, chunks in arrival order. */
  connections: RelayChunk[][];
  /** Resolves once every connection relayed so far has closed on both sides: all its chunks are recorded. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** A free TCP port on loopback (for servers that must be told theirs). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startRecordingRelay(target: number): Promise<RecordingRelay> {
  const connections: RelayChunk[][] = [];
  const sockets = new Set<net.Socket>();
  let waiters: Array<() => void> = [];
  const closed = (s: net.Socket): void => {
    sockets.delete(s);
    if (sockets.size > 0) return;
    for (const w of waiters) w();
    waiters = [];
  };
  const server = net.createServer((client) => {
    const log: RelayChunk[] = [];
    connections.push(log);
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (d) => {
      log.push({ from: 'client', data: Buffer.from(d), at: process.hrtime.bigint() });
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      log.push({ from: 'server', data: Buffer.from(d), at: process.hrtime.bigint() });
      client.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => closed(client));
    upstream.on('close', () => closed(upstream));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    settled: () => (sockets.size === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
