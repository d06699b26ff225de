/** With --backend auto, init uses the backend `iptables --version` names, for apply and cleanup. */
import t from 'tap';
import { PodNetwork } from '../../../lab/netns.ts';
import { natState, runCommand, runInitIn, type Backend } from './helpers/init-harness.ts';

const other = (backend: Backend): Backend => (backend === 'nft' ? 'legacy' : 'nft');

void t.test('auto picks the backend "iptables --version" names', async (t) => {
  const net = new PodNetwork();
  t.teardown(() => net.destroy());
  await net.create();
  const pod = await net.addPod('a');
  const { stdout: version } = await runCommand('iptables', ['--version']);
  const expected: Backend = version.includes('nf_tables') ? 'nft' : 'legacy';
  const applied = await runInitIn(pod.netns, []);
  t.equal(applied.code, 0, 'init with --backend auto succeeds', { stderr: applied.stderr });
  t.match(applied.stdout, `(${expected} backend, iptables-restore)`, `reports the ${expected} backend`);
  t.match(await natState(pod.netns, expected), /MESHTAP_OUTPUT/, `rules are in the ${expected} backend`);
  t.notMatch(await natState(pod.netns, other(expected)), /MESHTAP/, `and not in the ${other(expected)} backend`);
  const cleaned = await runInitIn(pod.netns, ['--cleanup']);
  t.equal(cleaned.code, 0, 'cleanup with auto succeeds');
  t.notMatch(await natState(pod.netns, expected), /MESHTAP/, 'cleanup removed them');
});
