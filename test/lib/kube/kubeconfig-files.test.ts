import { writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import t from 'tap';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeconfigPaths, loadKubeconfigFiles } from '../../../lib/kube/kubeconfig-files.ts';
import { loadKubeConfig } from '../../../lib/kube/inventory/kube.ts';

const kubeconfig = (o: { clusters: Array<[string, string]>; users: string[]; contexts: Array<[string, string, string]>; current?: string }): string =>
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    ...o.clusters.flatMap(([name, server]) => [`- name: ${name}`, '  cluster:', `    server: ${server}`]),
    'users:',
    ...o.users.flatMap((name) => [`- name: ${name}`, '  user:', `    token: token-of-${name}`]),
    'contexts:',
    ...o.contexts.flatMap(([name, cluster, user]) => [`- name: ${name}`, '  context:', `    cluster: ${cluster}`, `    user: ${user}`]),
    ...(o.current !== undefined ? [`current-context: ${o.current}`] : []),
    '',
  ].join('\n');

void t.test('a KUBECONFIG list merges as kubectl merges it: first file wins a name and the current context; missing files skipped', async (t) => {
  const dir = t.testdir();
  const a = join(dir, 'a.yaml');
  const b = join(dir, 'b.yaml');
  writeFileSync(a, kubeconfig({ clusters: [['prod', 'https://10.0.0.1:6443']], users: ['alice'], contexts: [['prod', 'prod', 'alice']], current: 'prod' }));
  writeFileSync(b, kubeconfig({ clusters: [['prod', 'https://10.9.9.9:6443'], ['lab', 'https://10.0.0.2:6443']], users: ['alice', 'bob'], contexts: [['lab', 'lab', 'bob']], current: 'lab' }));
  const missing = join(dir, 'missing.yaml');
  const list = [missing, a, '', b].join(delimiter);
  t.same(kubeconfigPaths(list), [missing, a, b]);

  const kc = new KubeConfig();
  loadKubeconfigFiles(kc, list);
  t.equal(kc.getCurrentContext(), 'prod', "the first file's current context");
  t.equal(kc.getCurrentCluster()?.server, 'https://10.0.0.1:6443', "the first file's cluster of a name both define");
  t.same(kc.getContexts().map((c) => c.name), ['prod', 'lab'], 'contexts of both files');
  t.equal(kc.getUser('bob')?.token, 'token-of-bob', 'a user only the second file has');
  kc.setCurrentContext('lab');
  t.equal(kc.getCurrentCluster()?.server, 'https://10.0.0.2:6443');

  const noCurrent = join(dir, 'no-current.yaml');
  writeFileSync(noCurrent, kubeconfig({ clusters: [['x', 'https://10.0.0.3:6443']], users: ['x'], contexts: [['x', 'x', 'x']] }));
  const second = new KubeConfig();
  loadKubeconfigFiles(second, [noCurrent, b].join(delimiter));
  t.equal(second.getCurrentContext(), 'lab', 'the first file that sets a current context');

  const one = new KubeConfig();
  loadKubeconfigFiles(one, b);
  t.equal(one.getCurrentContext(), 'lab', 'a single path is a list of one');

  const inventory = loadKubeConfig({ kubeconfig: list }, {});
  t.equal(inventory.getCurrentCluster()?.server, 'https://10.0.0.1:6443', "the collector's and controller's client reads the list too");
});

void t.test('a list of files none of which exists, or a file that is no kubeconfig, is an error naming the path', async (t) => {
  const dir = t.testdir();
  const x = join(dir, 'x.yaml');
  const y = join(dir, 'y.yaml');
  t.throws(() => loadKubeconfigFiles(new KubeConfig(), x), { message: `${x}: no such file` });
  t.throws(() => loadKubeconfigFiles(new KubeConfig(), [x, y].join(delimiter)), { message: `none of the kubeconfig files exists: ${x}, ${y}` });
  writeFileSync(x, kubeconfig({ clusters: [['c', 'https://10.0.0.1:6443']], users: ['u'], contexts: [['c', 'c', 'u']], current: 'c' }));
  writeFileSync(y, 'clusters: [unclosed\n');
  t.throws(() => loadKubeconfigFiles(new KubeConfig(), [x, y].join(delimiter)), { message: new RegExp(`^${y.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `) });
});
