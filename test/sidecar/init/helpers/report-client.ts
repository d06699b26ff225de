/**
 * TCP connections for the traffic tests. Argument: a JSON array of `{host, port, localAddress?}`.
 * Connects to each (concurrently) and prints a JSON array, in the same order, of what each
 * server answered (see report-server.ts) or `{error}` with the error code.
 */
import net from 'node:net';

interface Target {
  host: string;
  port: number;
  localAddress?: string;
}

function connect({ host, port, localAddress }: Target): Promise<unknown> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, localAddress, timeout: 3000 });
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('timeout', () => socket.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(answer));
      } catch {
        resolve({ error: `unreadable answer ${JSON.stringify(answer)}` });
      }
    });
  });
}

const targets = JSON.parse(process.argv[2] ?? '[]') as Target[];
process.stdout.write(`${JSON.stringify(await Promise.all(targets.map(connect)))}\n`);
