/** The lab's probes: whether a port listens, read from a process's own /proc tables (no traffic). */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import { listensOn, netnsOf, portListening, waitForProbe } from '../../lab/probe.ts';
import { waitFor } from '../helpers/wait-for.ts';

const TABLE = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1355 1 0000000000000000 100 0 0 10 0
   1: 0100F40A:3AA4 0300F40A:1F91 01 00000000:00000000 03:00000B1F 00000000     0        0 0 3 0000000000000000
`;

void t.test('listensOn: a LISTEN socket on the port, on any address; other states and ports are not', async (t) => {
  t.equal(listensOn(TABLE, 8080), true, '0.0.0.0:8080 listening');
  t.equal(listensOn(TABLE, 8081), false, 'a connection to 8081 is not a listener');
  t.equal(listensOn(TABLE, 14948), false, 'a connection from 14948 is not a listener');
  t.equal(listensOn('', 8080), false);
});

void t.test('portListening: this process\'s namespace, before and after a server listens', async (t) => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  t.equal(portListening(process.pid, port), true);
  t.equal(portListening(process.pid, port, true), false, 'a pod\'s process still in the node\'s namespace (not switched yet): nothing listens for it');
  t.ok(listensOn(readFileSync('/proc/self/net/tcp', 'utf8'), port), 'the same as the table says');
  server.close();
  await once(server, 'close');
  t.equal(portListening(process.pid, port), false, 'closed: not listening');
  t.equal(portListening(2 ** 22 + 17, port), undefined, 'a process that does not exist: cannot tell');
});

void t.test('waitForProbe: no probe is sent while the container\'s namespace has nothing on the port; probes once it does', async (t) => {
  // The container: a process in a network namespace of its own, where nothing listens.
  const container = spawn('unshare', ['--net', 'sleep', '30'], { stdio: 'ignore' });
  t.teardown(() => container.kill('SIGKILL'));
  await waitFor('the container in a namespace of its own', () => netnsOf(container.pid!) !== undefined && netnsOf(container.pid!) !== netnsOf('self'), 5000);
  // What the probe would reach: a server on the node's side, counting the probes that arrive.
  let connections = 0;
  const server = createServer((s) => {
    connections++;
    s.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const target = { ip: '127.0.0.1', port, netns: '', uid: 0, gid: 0, env: {} };

  const quiet = await waitForProbe({ tcpSocket: { port } }, { ...target, pid: container.pid! }, { deadline: Date.now() + 400, intervalMs: 20 });
  t.same(quiet, { ok: false, why: `timed out; last probe: nothing listens on port ${port} yet` });
  t.equal(connections, 0, 'no probe sent');

  // The same port listening in the container's namespace (here: this process's): probed.
  t.same(await waitForProbe({ tcpSocket: { port } }, { ...target, pid: process.pid }, { deadline: Date.now() + 2000, intervalMs: 20 }), { ok: true });
  // Without a pid to look at, as before: probed at once.
  t.same(await waitForProbe({ tcpSocket: { port } }, target, { deadline: Date.now() + 2000, intervalMs: 20 }), { ok: true });
  await waitFor('both probes to arrive', () => connections === 2, 5000);
  t.equal(connections, 2);
});
