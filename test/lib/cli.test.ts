/** The shared flag parsers: an absent flag gets its default, an empty one is a usage error naming it. */
import t from 'tap';
import { flagValue, parsePort } from '../../lib/cli.ts';
import { commandPort } from '../../lib/server-flags.ts';
import { parseWebhookArgs } from '../../webhook/cli.ts';

const usage = (message: string | RegExp) => ({ code: 'CLI_ERR_USAGE', message });

void t.test('parsePort: absent gets the fallback, empty is an error, not the fallback', async (t) => {
  t.equal(parsePort('--grpc-port', undefined, 9400), 9400, 'absent: the default');
  t.equal(parsePort('--grpc-port', '0', 9400), 0);
  t.equal(parsePort('--grpc-port', ' 65535 ', 9400), 65535);
  t.throws(() => parsePort('--grpc-port', '', 9400), usage('--grpc-port needs a value (a port number 0-65535), got ""'));
  t.throws(() => parsePort('--grpc-port', '  ', 9400), usage(/^--grpc-port needs a value/));
  t.throws(() => parsePort('--port', '', undefined), usage(/^--port needs a value/), 'no fallback: still "needs a value"');
  t.throws(() => parsePort('--port', undefined), usage(/^--port is required/));
  t.throws(() => parsePort('--port', '65536', 1), usage('--port must be a port number 0-65535, got "65536"'));
  t.throws(() => parsePort('--port', '1e3', 1), usage(/got "1e3"/));
});

void t.test('parsePort with allowZero: false: 0 is refused, the range says 1-65535', async (t) => {
  t.equal(parsePort('--pod-port', '1', 8080, { allowZero: false }), 1);
  t.equal(parsePort('--pod-port', undefined, 8080, { allowZero: false }), 8080);
  t.throws(() => parsePort('--pod-port', '0', 8080, { allowZero: false }), usage('--pod-port must be a port number 1-65535, got "0"'));
  t.throws(() => parsePort('--pod-port', '', 8080, { allowZero: false }), usage('--pod-port needs a value (a port number 1-65535), got ""'));
});

void t.test('flagValue: absent stays absent, empty or blank is an error naming the flag', async (t) => {
  t.equal(flagValue('--namespace', undefined, 'a namespace'), undefined);
  t.equal(flagValue('--namespace', 'shop', 'a namespace'), 'shop');
  t.throws(() => flagValue('--namespace', '', 'a namespace'), usage('--namespace needs a value (a namespace), got ""'));
  t.throws(() => flagValue('--namespace', ' \t', 'a namespace'), usage(/--namespace needs a value/));
});

void t.test('commands that share parsePort: `webhook --port \'\'` and the controller\'s ports are usage errors', async (t) => {
  t.throws(() => commandPort('controller', '--grpc-port', '', 9443), usage('meshtap controller: --grpc-port needs a value (a port number 0-65535), got ""'));
  t.equal(commandPort('controller', '--grpc-port', undefined, 9443), 9443, 'absent: the default');
  t.throws(() => parseWebhookArgs(['--cert-dir', '/d', '--port', '']), usage(/^meshtap webhook: --port needs a value/));
  t.match(parseWebhookArgs(['--cert-dir', '/d']), { port: 9443 }, 'absent: the default');
});
