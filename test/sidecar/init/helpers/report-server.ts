/**
 * Stand-in listeners for the traffic tests: `name:port` arguments, one TCP server each on all
 * IPv4 addresses (`name:port@::`: on all IPv6 addresses only). Every accepted connection is answered with one JSON line saying which server took
 * it and the socket's addresses, then closed. Prints "ready" once every server listens.
 */
import net from 'node:net';

const specs = process.argv.slice(2).map((arg) => {
  const [spec, host = '0.0.0.0'] = arg.split('@');
  const [name, port] = spec.split(':');
  return { name, port: Number(port), host };
});

await Promise.all(
  specs.map(
    ({ name, port, host }) =>
      new Promise<void>((resolve, reject) => {
        const server = net.createServer((socket) => {
          socket.on('error', () => undefined);
          socket.end(
            `${JSON.stringify({
              server: name,
              localAddress: socket.localAddress,
              localPort: socket.localPort,
              remoteAddress: socket.remoteAddress,
            })}\n`,
          );
        });
        server.once('error', reject);
        server.listen({ port, host, ipv6Only: host.includes(':') }, () => resolve());
      }),
  ),
);
process.stdout.write('ready\n');
