/**
 * `meshtap wait-ready`'s admin port: a bad value is named by where it came from (`--admin-port`
 * or `MESHTAP_ADMIN_PORT`), with the range the check enforces (1-65535: 0 is no sidecar's port).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { run } from '../../lib/wait-ready.ts';

function io(env: Record<string, string> = {}) {
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { io: { stdin: new PassThrough(), stdout: new PassThrough(), stderr, env }, err: () => err };
}

const usage = (message: string) => ({ code: 'CLI_ERR_USAGE', message });

void t.test('a bad MESHTAP_ADMIN_PORT is named as the variable, with the range checked', async (t) => {
  await t.rejects(run([], io({ MESHTAP_ADMIN_PORT: 'abc' }).io), usage('MESHTAP_ADMIN_PORT must be a port number 1-65535, got "abc"'));
  await t.rejects(run([], io({ MESHTAP_ADMIN_PORT: '0' }).io), usage('MESHTAP_ADMIN_PORT must be a port number 1-65535, got "0"'));
  await t.rejects(run([], io({ MESHTAP_ADMIN_PORT: '65536' }).io), usage('MESHTAP_ADMIN_PORT must be a port number 1-65535, got "65536"'));
});

void t.test('a bad --admin-port is named as the flag, with the same range for every value', async (t) => {
  await t.rejects(run(['--admin-port', 'abc'], io().io), usage('--admin-port must be a port number 1-65535, got "abc"'));
  await t.rejects(run(['--admin-port', '0'], io().io), usage('--admin-port must be a port number 1-65535, got "0"'));
  await t.rejects(run(['--admin-port', ''], io().io), usage('--admin-port needs a value (a port number 1-65535), got ""'));
  // The flag wins over the variable, so a bad flag is the flag's fault whatever the variable says.
  await t.rejects(run(['--admin-port', 'abc'], io({ MESHTAP_ADMIN_PORT: '15020' }).io), usage('--admin-port must be a port number 1-65535, got "abc"'));
});

void t.test('the flag wins over a bad variable; an empty or blank variable is unset', async (t) => {
  const server = createServer((_req, res) => res.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const port = String((server.address() as AddressInfo).port);
  t.equal(await run(['--admin-port', port, '--timeout-seconds', '5'], io({ MESHTAP_ADMIN_PORT: 'abc' }).io), 0, 'the flag is used, the variable not read');
  t.equal(await run(['--timeout-seconds', '5'], io({ MESHTAP_ADMIN_PORT: port }).io), 0, 'the variable gives the port');
  for (const blank of ['', '  ']) {
    const c = io({ MESHTAP_ADMIN_PORT: blank });
    // Unset: the default port, whatever answers there (a usage error would reject instead).
    const code = await run(['--timeout-seconds', '0'], c.io);
    t.ok(code === 0 || code === 1, `MESHTAP_ADMIN_PORT=${JSON.stringify(blank)}: the default port is probed`);
    if (code === 1) t.match(c.err(), /127\.0\.0\.1:15020\/ready/);
  }
});
