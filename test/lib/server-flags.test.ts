import t from 'tap';
import { parseCommandArgs } from '../../lib/cli.ts';
import { SERVER_FLAGS, commandPort, requireFlag, resolveServerFlags } from '../../lib/server-flags.ts';

const parse = (argv: string[]) => parseCommandArgs(argv, { ...SERVER_FLAGS }).values;

void t.test('defaults', async (t) => {
  t.same(resolveServerFlags('webhook', parse([])), {
    host: '0.0.0.0',
    configFile: undefined,
    namespacesFile: undefined,
    patchWebhookConfig: undefined,
    strictNamespaceLabels: false,
    serviceAccountDir: undefined,
    drainSeconds: 0,
    logLevel: 'info',
  });
});

void t.test('values given', async (t) => {
  const flags = resolveServerFlags(
    'controller',
    parse(['--host', '::1', '--config', 'c.yaml', '--namespaces', 'ns.yaml', '--patch-webhook-config', 'meshtap.io', '--strict-namespace-labels', '--service-account-dir', '/sa', '--drain-seconds', '300', '--log-level', 'silent']),
  );
  t.same(flags, {
    host: '::1',
    configFile: 'c.yaml',
    namespacesFile: 'ns.yaml',
    patchWebhookConfig: 'meshtap.io',
    strictNamespaceLabels: true,
    serviceAccountDir: '/sa',
    drainSeconds: 300,
    logLevel: 'silent',
  });
});

void t.test('bad values are usage errors naming the command and the flag', async (t) => {
  const usage = (message: RegExp) => ({ code: 'CLI_ERR_USAGE', message });
  t.throws(() => resolveServerFlags('webhook', { 'drain-seconds': '301' }), usage(/^meshtap webhook: --drain-seconds must be a whole number 0-300, got "301"$/));
  t.throws(() => resolveServerFlags('webhook', { 'drain-seconds': '1.5' }), usage(/--drain-seconds/));
  t.throws(() => resolveServerFlags('webhook', { 'drain-seconds': '-1' }), usage(/--drain-seconds/));
  t.throws(() => resolveServerFlags('controller', { 'log-level': 'loud' }), usage(/^meshtap controller: --log-level must be one of trace, debug, info, warn, error, fatal, silent, got "loud"$/));
  t.throws(() => resolveServerFlags('webhook', { 'patch-webhook-config': 'Meshtap' }), usage(/--patch-webhook-config must be a Kubernetes object name, got "Meshtap"/));
  t.throws(() => resolveServerFlags('webhook', { 'patch-webhook-config': 'a-' }), usage(/--patch-webhook-config/));
  t.throws(
    () => resolveServerFlags('webhook', { 'drain-seconds': 'x', 'log-level': 'loud', host: '' }),
    usage(/^meshtap webhook: --drain-seconds must be a whole number 0-300, got "x"; --log-level must be one of .*, got "loud"; --host needs a value, got ""$/),
    'every bad flag named at once, in a fixed order',
  );
  // Given empty is not "not given": an empty --config would have served the defaults.
  for (const flag of ['host', 'config', 'namespaces', 'service-account-dir'] as const) {
    t.throws(() => resolveServerFlags('webhook', { [flag]: '' }), usage(new RegExp(`^meshtap webhook: --${flag} needs a value, got ""$`)), `--${flag} ''`);
  }
  t.equal(resolveServerFlags('webhook', {}).host, '0.0.0.0', 'absent: the default');
});

void t.test('required flags and ports', async (t) => {
  t.equal(requireFlag('webhook', '--cert-dir', 'd', 'what'), 'd');
  t.throws(() => requireFlag('webhook', '--cert-dir', undefined, 'the directory holding tls.crt and tls.key'), {
    code: 'CLI_ERR_USAGE',
    message: 'meshtap webhook: --cert-dir is required (the directory holding tls.crt and tls.key)',
  });
  t.throws(() => requireFlag('webhook', '--cert-dir', '', 'x'), { code: 'CLI_ERR_USAGE' }, 'empty counts as missing');
  t.equal(commandPort('webhook', '--port', undefined, 9443), 9443);
  t.equal(commandPort('webhook', '--port', '0', 9443), 0);
  t.equal(commandPort('webhook', '--port', '65535', 9443), 65535);
  t.throws(() => commandPort('controller', '--grpc-port', '65536', 1), { code: 'CLI_ERR_USAGE', message: 'meshtap controller: --grpc-port must be a port number 0-65535, got "65536"' });
  t.throws(() => commandPort('controller', '--grpc-port', 'abc', 1), { message: /got "abc"/ });
});
