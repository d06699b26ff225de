import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { run } from '../../../sidecar/cli.ts';
import { readOriginalDst } from '../../../sidecar/original-dst.ts';

function io(env: Record<string, string>) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr, env }, out: () => out, err: () => err };
}

void t.test('meshtap sidecar --help lists the environment', async (t) => {
  const c = io({});
  t.equal(await run(['--help'], c.io), 0);
  for (const name of ['POD_IP', 'MESHTAP_COLLECTOR_ADDR', 'MESHTAP_CAPTURE', 'MESHTAP_DRAIN_SECONDS', 'MESHTAP_TRUST_DOMAIN']) t.match(c.out(), name);
});

void t.test('a bad value exits 2 with the variable, the value and the expectation', async (t) => {
  const c = io({ POD_NAME: 'a', POD_NAMESPACE: 'b', POD_IP: '10.0.0.1', MESHTAP_INBOUND_PORT: 'abc' });
  t.equal(await run([], c.io), 2);
  t.equal(c.err(), 'meshtap sidecar: SC_ERR_CONFIG: MESHTAP_INBOUND_PORT="abc": expected a TCP port 1-65535\nRun "meshtap sidecar --help" for its options.\n');
  t.equal(c.out(), '');
});

void t.test('an unknown flag is a usage error', async (t) => {
  await t.rejects(run(['--port', '1'], io({}).io), { code: 'CLI_ERR_USAGE' });
});

void t.test('a connection that was not redirected has no usable original destination', async (t) => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const accepted = once(server, 'connection');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [socket] = (await accepted) as [Socket];
  const result = readOriginalDst(socket);
  // Without NAT the kernel either has no entry or reports the address itself; both are handled.
  if (result.ok) t.same(result.dst, { ip: '127.0.0.1', port: (server.address() as AddressInfo).port });
  else t.equal(result.reason, 'getsockopt');
  socket.destroy();
  client.destroy();
});
