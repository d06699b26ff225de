import t from 'tap';
import { PodNetwork, execInNetns, listNetns, sh } from '../../lab/netns.ts';

void t.test('pods on a bridge reach each other and are removed without trace', async (t) => {
  const net = new PodNetwork();
  t.teardown(() => net.destroy());
  await net.create();
  const a = await net.addPod('a');
  const b = await net.addPod('b');
  const ping = await execInNetns(a.netns, 'ping', ['-c', '1', '-W', '2', b.ip]).catch((e: Error) => ({ stdout: e.message, stderr: '' }));
  t.match(ping.stdout, /1 received/, 'a reaches b over the bridge');
  t.same((await listNetns(net.prefix)).sort(), [a.netns, b.netns].sort());
  await net.destroy();
  t.same(await listNetns(net.prefix), [], 'namespaces removed');
  const links = await sh('ip', ['-o', 'link', 'show']);
  t.notMatch(links.stdout, new RegExp(`${net.prefix}`), 'links and bridge removed');
});
