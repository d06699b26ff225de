/** A throwaway redis-server for tests: on a free loopback port, no persistence, stopped at teardown. */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { freePort } from './recording-relay.ts';
import { stopOnTeardown } from './server-process.ts';

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not listen on ${port}`);
}

/** Starts redis-server; its port once it accepts connections. */
export async function startRedis(t: { teardown(fn: () => unknown): void }): Promise<number> {
  const port = await freePort();
  const server = spawn('/usr/bin/redis-server', ['--save', '', '--appendonly', 'no', '--port', String(port), '--bind', '127.0.0.1'], { stdio: 'ignore' });
  stopOnTeardown(t, server, 'SIGTERM', 5000);
  await waitForPort(port);
  return port;
}
