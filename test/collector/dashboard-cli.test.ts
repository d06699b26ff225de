/** `meshtap dashboard`'s flags: refused before any cluster is asked. */
import t from 'tap';
import { run } from '../../collector/dashboard/cli.ts';

const io = {
  stdin: process.stdin,
  stdout: { write: () => true } as unknown as NodeJS.WritableStream,
  stderr: { write: () => true } as unknown as NodeJS.WritableStream,
  // Never reached by these cases; if one were, it would fail on this rather than use a real cluster.
  env: { KUBECONFIG: '/nonexistent/kubeconfig' },
};

void t.test('--pod-port 0 is refused: a pod\'s port is a real one', async (t) => {
  await t.rejects(run(['--pod-port', '0'], io), { code: 'CLI_ERR_USAGE', message: '--pod-port must be a port number 1-65535, got "0"' });
  await t.rejects(run(['--pod-port', '65536'], io), { code: 'CLI_ERR_USAGE', message: /--pod-port must be a port number 1-65535/ });
});

void t.test('empty values are usage errors naming the flag, not the defaults', async (t) => {
  for (const flag of ['--pod-port', '--port', '--namespace', '--selector', '--kubeconfig', '--context']) {
    await t.rejects(run([flag, ''], io), { code: 'CLI_ERR_USAGE', message: new RegExp(`^${flag} needs a value`) }, `${flag} ''`);
  }
});

void t.test('valid ports get as far as the kubeconfig', async (t) => {
  await t.rejects(run(['--pod-port', '8080', '--port', '0'], io), { code: 'CLI_ERR_USAGE', message: /a kubeconfig is needed/ });
});
